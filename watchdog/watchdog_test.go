package watchdog_test

import (
	"log/slog"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/storetest"
	"kinwatch/watchdog"
)

// A watch silent for longer than After raises "offline" once, however often the watchdog looks
// and however many processes run one; heard from again and silent again, it raises it again.
func TestOfflineOncePerSilence(t *testing.T) {
	ctx := t.Context()
	db := storetest.SQLite(t)
	fam := storetest.BoundWatches(t, db, "w1", "w2")
	seen := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	heard := func(id string, at time.Time) {
		if err := db.WriteBatch(ctx, []kinwatch.Record{{Device: &kinwatch.DeviceUpdate{ID: id, Time: at}}}); err != nil {
			t.Fatal(err)
		}
	}
	heard("w1", seen)
	heard("w2", time.Now().UTC()) // reporting: not offline
	now := time.Now()
	dogs := []*watchdog.Watchdog{
		{Store: db, Bus: storetest.DirectBus{Store: db}, After: 2 * time.Hour, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }},
		{Store: db, Bus: storetest.DirectBus{Store: db}, After: 2 * time.Hour, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now.Add(time.Second) }},
	}
	if n, err := dogs[0].Check(ctx); err != nil || n != 1 {
		t.Fatalf("Check = %d, %v; want 1", n, err)
	}
	for _, d := range dogs {
		if n, err := d.Check(ctx); err != nil || n != 0 {
			t.Fatalf("Check again = %d, %v; want 0", n, err)
		}
	}
	offline := func(id string) []*kinwatch.Event {
		es, err := db.Events(ctx, kinwatch.EventFilter{DeviceID: id, Type: kinwatch.EventAlarm})
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	es := offline("w1")
	if len(es) != 1 || es[0].Alarm != kinwatch.AlarmOffline || !es[0].Time.Equal(seen.Add(2*time.Hour)) {
		t.Fatalf("alarms = %+v", es)
	}
	if len(offline("w2")) != 0 {
		t.Error("a reporting watch was called offline")
	}
	// The family deletes the alarm: it is not raised again for the same silence.
	if _, _, err := db.DeleteRecords(ctx, kinwatch.RecordDeletion{Kind: kinwatch.RecordEvents, DeviceID: "w1", FamilyID: fam, ID: es[0].ID}); err != nil {
		t.Fatal(err)
	}
	if n, err := dogs[0].Check(ctx); err != nil || n != 0 {
		t.Fatalf("Check after the alarm was deleted = %d, %v; want 0", n, err)
	}
	// A server that just started does not call its watches offline for its own outage.
	fresh := &watchdog.Watchdog{Store: db, Bus: storetest.DirectBus{Store: db}, After: 2 * time.Hour, Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return now }, Started: now.Add(-time.Hour)}
	heard("w2", now.Add(-4*time.Hour)) // w2 has been silent since before the outage
	if n, err := fresh.Check(ctx); err != nil || n != 0 {
		t.Fatalf("Check right after a start = %d, %v; want 0", n, err)
	}
	heard("w2", time.Now().UTC())
	// Heard from again, then silent for long enough again.
	heard("w1", seen.Add(30*time.Minute))
	now = now.Add(time.Hour)
	if n, err := dogs[0].Check(ctx); err != nil || n != 1 {
		t.Fatalf("Check after a new silence = %d, %v; want 1", n, err)
	}
	if len(offline("w1")) != 1 { // the first was deleted
		t.Errorf("offline alarms = %d, want 1", len(offline("w1")))
	}
}
