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
	cfg, st, fam := boundDataDir(t, dir, "5500000009")
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

	st, err := app.OpenStore(ctx, cfg)
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

// TestStaffCommandsToAFamilysWatch: staff send a command to a watch a family holds only with a
// reason, which the family's access log shows; the child is told as for a guardian's request.
func TestStaffCommandsToAFamilysWatch(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfg, st, fam := boundDataDir(t, dir, "5500000010")
	st.Close()
	if code, _, errOut := runIn(ctx, "", "command", "--data-dir", dir, "--device", "5500000010", "locate_now"); code != 2 || !strings.Contains(errOut, "--reason") {
		t.Fatalf("without a reason: exit %d %s", code, errOut)
	}
	if code, out, errOut := runIn(ctx, "", "command", "--data-dir", dir, "--device", "5500000010", "--reason", "the family asked support to find the watch",
		"--operator", "olga", "locate_now"); code != 0 || !strings.Contains(out, "queued") {
		t.Fatalf("with a reason: exit %d %s %s", code, out, errOut)
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pending, _ := st.PendingCommands(ctx, "5500000010")
	if len(pending) != 2 || pending[0].Keyword != "MESSAGE" || pending[1].Keyword != "CR" || pending[1].RequestedBy != "staff:olga" {
		t.Errorf("queued %d commands; want the child's notice, then CR by staff:olga", len(pending))
	}
	log, _ := st.AccessLog(ctx, fam, kinwatch.Page{})
	if len(log) != 1 || !log[0].Staff || log[0].What != "command CR" || log[0].AccessorID != "olga" {
		t.Errorf("access log %+v", log)
	}
}

// boundDataDir opens the store of a data directory (its master key created there) and binds ids
// into a new family with every consent; it returns the configuration, the open store and the
// family's id.
func boundDataDir(t *testing.T, dir string, ids ...string) (config.Config, kinwatch.Store, string) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dir
	st, err := app.OpenStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	fam, err := app.BindDevices(context.Background(), st, ids)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	return cfg, st, fam
}
