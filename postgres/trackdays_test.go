package postgres_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"kinwatch"
	"kinwatch/postgres/pgtest"
	"kinwatch/storetest"
)

// pgRaw reads and changes the database directly, as another process would.
type pgRaw struct{ conn *pgx.Conn }

func (r pgRaw) CachedDays(t *testing.T, deviceID string) map[int64]int {
	t.Helper()
	rows, err := r.conn.Query(t.Context(), `SELECT day, points FROM track_days WHERE device_id = $1`, deviceID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]int{}
	var (
		day int64
		n   int
	)
	if _, err := pgx.ForEachRow(rows, []any{&day, &n}, func() error { out[day] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func (r pgRaw) MovePosition(t *testing.T, id string, to time.Time) {
	t.Helper()
	if _, err := r.conn.Exec(t.Context(), `UPDATE positions SET time = $1 WHERE id = $2`, to, id); err != nil {
		t.Fatal(err)
	}
}

func (r pgRaw) DayGens(t *testing.T, deviceID string) map[int64]bool {
	t.Helper()
	rows, err := r.conn.Query(t.Context(), `SELECT day FROM track_day_gen WHERE device_id = $1`, deviceID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]bool{}
	var day int64
	if _, err := pgx.ForEachRow(rows, []any{&day}, func() error { out[day] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func (r pgRaw) DropDayGen(t *testing.T, deviceID string, day int64) {
	t.Helper()
	if _, err := r.conn.Exec(t.Context(), `DELETE FROM track_day_gen WHERE device_id = $1 AND day = $2`, deviceID, day); err != nil {
		t.Fatal(err)
	}
}

func rawConn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(t.Context()) })
	return conn
}

func TestTrackCache(t *testing.T) {
	url := pgtest.URL(t)
	db := open(t, url)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	storetest.RunTrackCache(t, db, pgRaw{rawConn(t, url)})
}

// A history read while another transaction has deleted (or added) positions of a day and not yet
// committed does not cache that day from what was committed: after the commit, reads show the
// change.
func TestTrackCacheWithChangesInFlight(t *testing.T) {
	ctx := t.Context()
	url := pgtest.URL(t)
	db := open(t, url)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.BoundWatches(t, db, "w1")
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(-6 * 24 * time.Hour)
	var recs []kinwatch.Record
	for i := range 6 * 24 {
		at := start.Add(time.Duration(i) * time.Hour)
		recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewTimeID(at), DeviceID: "w1", Time: at, HasCoords: true,
			Lat: 47, Lon: 8, Source: kinwatch.SourceGPS}})
	}
	if err := db.WriteBatch(ctx, recs); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		n := 0
		if err := db.Track(ctx, "w1", time.Time{}, time.Time{}, func(*kinwatch.TrackPoint) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	other := rawConn(t, url)
	for _, c := range []struct {
		what, sql string
		args      []any
		want      int
	}{
		{"a deletion of day 4", `DELETE FROM positions WHERE device_id = 'w1' AND time >= $1 AND time < $2`,
			[]any{start.Add(4 * 24 * time.Hour), start.Add(5 * 24 * time.Hour)}, 6*24 - 24},
		{"a late upload into day 2", `INSERT INTO positions SELECT * FROM jsonb_populate_record(NULL::positions,
			(SELECT to_jsonb(p) || jsonb_build_object('id', $1::text, 'time', $2::timestamptz, 'sealed', null, 'lat', 47, 'lon', 8) FROM positions p WHERE device_id = 'w1' LIMIT 1))`,
			[]any{kinwatch.NewID(), start.Add(2*24*time.Hour + 30*time.Minute)}, 6*24 - 24 + 1},
	} {
		tx, err := other.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, c.sql, c.args...); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		began := time.Now()
		before := count() // reads what is committed, and must not cache the changing day
		if time.Since(began) > 3*time.Second {
			t.Errorf("%s: the read waited for the other transaction", c.what)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if got := count(); got != c.want {
			t.Errorf("%s: %d points after the commit (%d before), want %d", c.what, got, before, c.want)
		}
	}
}
