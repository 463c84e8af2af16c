package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/storetest"
)

// A long history read caches its complete past days, one sealed row each (the coordinates are not
// in it in the clear), and unbinding the watch leaves no row behind.
func TestTrackDaysCachedAndForgotten(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kinwatch.db")
	db := open(t, path)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.BoundWatches(t, db, "w1")
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(-6 * 24 * time.Hour)
	var recs []kinwatch.Record
	for i := range 6*24 + 5 { // six complete days and a few hours of today
		at := start.Add(time.Duration(i) * time.Hour)
		recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewTimeID(at), DeviceID: "w1", Time: at, HasCoords: true,
			Lat: 47.123456, Lon: 8.654321, Source: kinwatch.SourceGPS}})
	}
	if err := db.WriteBatch(ctx, recs); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := db.Track(ctx, "w1", time.Time{}, time.Time{}, func(*kinwatch.TrackPoint) error { n++; return nil }); err != nil || n != len(recs) {
		t.Fatalf("Track: %d points, %v", n, err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var days, points int
	if err := raw.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(points), 0) FROM track_days WHERE device_id = 'w1'`).Scan(&days, &points); err != nil {
		t.Fatal(err)
	}
	if days != 6 || points != 6*24 {
		t.Errorf("cached %d days of %d points; want 6 days (not today) of 144", days, points)
	}
	var blob []byte
	raw.QueryRowContext(ctx, `SELECT sealed FROM track_days LIMIT 1`).Scan(&blob)
	if strings.Contains(string(blob), "47.123456") || len(blob) < 24*41 {
		t.Errorf("a cached day is not sealed (%d bytes)", len(blob))
	}
	if _, err := db.Unbind(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM track_days`).Scan(&days); err != nil || days != 0 {
		t.Errorf("after unbinding: %d cached days, %v", days, err)
	}
}
