package app

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/config"
)

// TestStreamAccessCarriesTheBinding: the live stream learns since when each watch is the family's,
// which is what keeps a resume from replaying a previous family's messages in any process.
func TestStreamAccessCarriesTheBinding(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir, cfg.WatchAddr, cfg.HTTPAddr = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0"
	a := New(cfg, slog.New(slog.DiscardHandler))
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	ctx := context.Background()
	acc := &kinwatch.Account{Email: "mum@example.org", Profile: kinwatch.Profile{Nickname: "Mum"}}
	if err := a.Store.CreateAccount(ctx, acc); err != nil {
		t.Fatal(err)
	}
	if err := a.Store.WriteBatch(ctx, []kinwatch.Record{{Device: &kinwatch.DeviceUpdate{ID: "8800000055", Time: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	boundAt := time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)
	fam := kinwatch.NewID()
	if err := a.Store.Bind(ctx, &kinwatch.Binding{DeviceID: "8800000055", FamilyID: fam, At: boundAt,
		NewFamily: &kinwatch.Family{ID: fam, Name: "F", CreatedAt: boundAt},
		Admin:     &kinwatch.Member{FamilyID: fam, AccountID: acc.ID, Role: kinwatch.RoleAdmin, JoinedAt: boundAt}}); err != nil {
		t.Fatal(err)
	}
	grants, err := a.streamAccess(ctx, acc.ID)
	if err != nil || len(grants) != 1 || grants[0].Device != "8800000055" || !grants[0].Since.Equal(boundAt) {
		t.Fatalf("grants %+v, %v; want the watch since %v", grants, err, boundAt)
	}
}
