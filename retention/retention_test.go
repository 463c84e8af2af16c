package retention_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/envelope"
	"kinwatch/fileblob"
	"kinwatch/postgres"
	"kinwatch/postgres/pgtest"
	"kinwatch/retention"
	"kinwatch/sqlite"
	"kinwatch/storetest"
)

// stores opens a fresh migrated store of each kind.
func stores(t *testing.T) map[string]func(t *testing.T) kinwatch.Store {
	return map[string]func(t *testing.T) kinwatch.Store{
		"sqlite": func(t *testing.T) kinwatch.Store {
			db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "k.db"), envelope.NewMaster())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			return db
		},
		"postgres": func(t *testing.T) kinwatch.Store {
			db, err := postgres.Open(t.Context(), pgtest.URL(t), envelope.NewMaster())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			return db
		},
	}
}

// TestRetention: with a controlled clock, the job deletes each class once it is older than the
// operator's period, a family's shorter choice applies to that family only, the content of
// deleted voice messages leaves the blob store, and what is younger stays.
func TestRetention(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			testRetention(t, open(t))
		})
	}
}

func testRetention(t *testing.T, st kinwatch.Store) {
	ctx := context.Background()
	blobs, err := fileblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	famA := storetest.BoundWatches(t, st, "a1")
	storetest.BoundWatches(t, st, "b1")
	if err := st.SetFamilyRetention(ctx, famA, map[kinwatch.RetentionClass]int{kinwatch.RetainLocation: 7}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	var recs []kinwatch.Record
	voiceKeys := map[string]time.Duration{}
	for _, dev := range []string{"a1", "b1"} {
		// One record of each class at each age.
		for _, age := range []time.Duration{day, 10 * day, 40 * day, 100 * day, 200 * day} {
			at := now.Add(-age)
			key := dev + "/audio/" + kinwatch.NewID() + ".amr"
			if err := blobs.Put(ctx, key, []byte("#!AMR")); err != nil {
				t.Fatal(err)
			}
			voiceKeys[key] = age
			recs = append(recs,
				kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: dev, Time: at, HasCoords: true, Lat: 1, Lon: 2}},
				kinwatch.Record{Health: &kinwatch.HealthReading{ID: kinwatch.NewID(), DeviceID: dev, Time: at, HeartRate: 80}},
				kinwatch.Record{Event: &kinwatch.Event{ID: kinwatch.NewID(), DeviceID: dev, Time: at, Type: kinwatch.EventAlarm, Alarm: "sos"}},
				kinwatch.Record{Media: &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: dev, Kind: kinwatch.MediaAudio, ContentType: "audio/amr", Key: key, Size: 5, Time: at}},
			)
		}
	}
	if err := st.WriteBatch(ctx, recs); err != nil {
		t.Fatal(err)
	}
	deleted := map[kinwatch.RetentionClass]int{}
	job := &retention.Job{Store: st, Blobs: blobs, Policy: kinwatch.DefaultRetention(), Now: func() time.Time { return now },
		Batch: 2, Pause: time.Millisecond, Deleted: func(c kinwatch.RetentionClass, n int) { deleted[c] += n }}
	done, err := job.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	count := func(dev string) (pos, health, events, voice int) {
		ps, _ := st.Positions(ctx, kinwatch.PositionFilter{DeviceID: dev})
		hs, _ := st.HealthReadings(ctx, dev, kinwatch.Page{})
		es, _ := st.Events(ctx, kinwatch.EventFilter{DeviceID: dev})
		ms, _ := st.MediaList(ctx, dev, kinwatch.Page{})
		return len(ps), len(hs), len(es), len(ms)
	}
	// Defaults: location and health 90 days, events 180, voice 30; family A keeps location 7 days.
	for _, tc := range []struct {
		dev                        string
		pos, health, events, voice int
	}{
		{"a1", 1, 3, 4, 2},
		{"b1", 3, 3, 4, 2},
	} {
		p, h, e, v := count(tc.dev)
		if p != tc.pos || h != tc.health || e != tc.events || v != tc.voice {
			t.Errorf("%s kept positions %d health %d events %d voice %d; want %d %d %d %d", tc.dev, p, h, e, v, tc.pos, tc.health, tc.events, tc.voice)
		}
	}
	if done[kinwatch.RetainLocation] != 6 || deleted[kinwatch.RetainLocation] != 6 || done[kinwatch.RetainVoice] != 6 {
		t.Errorf("counted %v (callback %v); want 6 positions and 6 voice messages", done, deleted)
	}
	for key, age := range voiceKeys {
		_, err := blobs.Get(ctx, key)
		if gone := kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND; gone != (age > 30*day) {
			t.Errorf("voice content %s days old: gone %v", key, gone)
		}
	}
	// Nothing more to do at the same time; a day later the next ages pass.
	if done, err := job.RunOnce(ctx); err != nil || done[kinwatch.RetainLocation]+done[kinwatch.RetainVoice] != 0 {
		t.Errorf("second run at the same time deleted %v (%v)", done, err)
	}
}
