package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/app"
	"kinwatch/config"
)

// TestStaffOpenPositionsWithAReason: an operator sees a bound watch's positions only with a
// stated reason and a name, and the family's access log shows who, when and why.
func TestStaffOpenPositionsWithAReason(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = dir
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	fam, err := app.BindDevices(ctx, st, []string{"5500000009"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteBatch(ctx, []kinwatch.Record{{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: "5500000009",
		Time: time.Now().UTC(), Lat: 52.123456, Lon: 13.4, HasCoords: true}}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	for _, args := range [][]string{
		{"--positions", "5500000009"},
		{"--positions", "5500000009", "--reason", "because"},
		{"--positions", "5500000009", "--reason", "support ticket 42: positions missing"},
	} {
		code, out, errOut := runIn(ctx, "", append([]string{"watches", "--data-dir", dir}, args...)...)
		if code != 2 || strings.Contains(out, "52.123456") || !strings.Contains(errOut, "--reason") {
			t.Errorf("%v: exit %d, out %q, err %q; want a usage error and no positions", args, code, out, errOut)
		}
	}
	code, out, errOut := runIn(ctx, "", "watches", "--data-dir", dir, "--positions", "5500000009",
		"--reason", "support ticket 42: positions missing", "--operator", "olga")
	if code != 0 || !strings.Contains(out, "52.123456") {
		t.Fatalf("with a reason: exit %d, %s %s", code, out, errOut)
	}

	st, err = app.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log, err := st.AccessLog(ctx, fam, kinwatch.Page{})
	if err != nil || len(log) != 1 {
		t.Fatalf("access log: %d entries, %v; want 1", len(log), err)
	}
	if a := log[0]; !a.Staff || a.AccessorID != "olga" || a.Reason != "support ticket 42: positions missing" || a.What != kinwatch.AccessLocationHistory {
		t.Errorf("recorded %+v", a)
	}
}
