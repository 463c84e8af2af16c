package cli_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/app"
	"kinwatch/config"
)

// TestStatsAreKAnonymous: groups smaller than k are never shown, and no watch id appears.
func TestStatsAreKAnonymous(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = dir
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 7 {
		ids = append(ids, fmt.Sprintf("77000000%02d", i))
	}
	if _, err := app.BindDevices(ctx, st, ids); err != nil {
		t.Fatal(err)
	}
	var recs []kinwatch.Record
	for i, id := range ids {
		fw := "G36_V1.2" // five watches
		if i >= 5 {
			fw = fmt.Sprintf("rare-%d", i) // one watch each
		}
		recs = append(recs, kinwatch.Record{Device: &kinwatch.DeviceUpdate{ID: id, Time: time.Now(), Firmware: fw}})
	}
	if err := st.WriteBatch(ctx, recs); err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, out, errOut := runIn(ctx, "", "stats", "--data-dir", dir, "--k", "3")
	if code != 0 {
		t.Fatalf("stats: %d %s", code, errOut)
	}
	if !strings.Contains(out, "G36_V1.2") || !strings.Contains(out, "5") {
		t.Errorf("the big group is missing:\n%s", out)
	}
	if strings.Contains(out, "rare-") || !strings.Contains(out, "withheld") {
		t.Errorf("a group smaller than k is shown, or its withholding not said:\n%s", out)
	}
	for _, id := range ids {
		if strings.Contains(out, id) {
			t.Errorf("watch id %s in the output", id)
		}
	}
	if code, _, _ := runIn(ctx, "", "stats", "--data-dir", dir, "--k", "1"); code != 2 {
		t.Errorf("--k 1: exit %d, want 2", code)
	}
}
