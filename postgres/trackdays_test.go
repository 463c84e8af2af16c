package postgres_test

import (
	"strings"
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

func (r pgRaw) StaleCachedDay(t *testing.T, deviceID string, day int64) {
	t.Helper()
	if _, err := r.conn.Exec(t.Context(), `UPDATE track_days SET gen = gen + 1 WHERE device_id = $1 AND day = $2`, deviceID, day); err != nil {
		t.Fatal(err)
	}
}

func (r pgRaw) AddDayGen(t *testing.T, deviceID string, day int64) {
	t.Helper()
	if _, err := r.conn.Exec(t.Context(), `INSERT INTO track_day_gen (device_id, day, gen) VALUES ($1, $2, 1)`, deviceID, day); err != nil {
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
		// What WriteBatch does with a late position: the insert, then its day's new generation.
		{"a late upload into day 2", `INSERT INTO positions SELECT * FROM jsonb_populate_record(NULL::positions,
			(SELECT to_jsonb(p) || jsonb_build_object('id', $1::text, 'time', $2::timestamptz, 'sealed', null, 'lat', 47, 'lon', 8) FROM positions p WHERE device_id = 'w1' LIMIT 1));
			INSERT INTO track_day_gen (device_id, day, gen) SELECT 'w1', track_day($2::timestamptz), length($1::text)
				ON CONFLICT (device_id, day) DO UPDATE SET gen = track_day_gen.gen + 1`,
			[]any{kinwatch.NewID(), start.Add(2*24*time.Hour + 30*time.Minute)}, 6*24 - 24 + 1},
	} {
		tx, err := other.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range strings.Split(c.sql, ";\n") {
			if _, err := tx.Exec(ctx, q, c.args...); err != nil {
				t.Fatalf("%s: %v", c.what, err)
			}
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

// A writer at REPEATABLE READ whose snapshot is older than a cached row does not see the row to
// delete it; it renews the day's generation, which takes the row out of use, and PruneTrackDays
// deletes it. Deleting a device with positions, and TRUNCATE, leave nothing of the cache.
func TestTrackCacheWithOlderSnapshots(t *testing.T) {
	ctx := t.Context()
	url := pgtest.URL(t)
	db := open(t, url)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.BoundWatches(t, db, "w1", "w2")
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(-5 * 24 * time.Hour)
	var recs []kinwatch.Record
	for _, w := range []string{"w1", "w2"} {
		for i := range 5 * 24 {
			at := start.Add(time.Duration(i) * time.Hour)
			recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewTimeID(at), DeviceID: w, Time: at, HasCoords: true,
				Lat: 47, Lon: 8, Source: kinwatch.SourceGPS}})
		}
	}
	if err := db.WriteBatch(ctx, recs); err != nil {
		t.Fatal(err)
	}
	count := func(w string) int {
		n := 0
		if err := db.Track(ctx, w, time.Time{}, time.Time{}, func(*kinwatch.TrackPoint) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	raw := pgRaw{rawConn(t, url)}
	other := rawConn(t, url)
	tx, err := other.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT count(*) FROM track_days`); err != nil { // the snapshot is taken
		t.Fatal(err)
	}
	if n := count("w1"); n != 5*24 {
		t.Fatalf("%d points, want %d", n, 5*24)
	}
	if got := raw.CachedDays(t, "w1"); len(got) != 5 {
		t.Fatalf("cached days: %v", got)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM positions WHERE device_id = 'w1' AND time >= $1 AND time < $2`,
		start.Add(2*24*time.Hour), start.Add(2*24*time.Hour+6*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count("w1"); n != 5*24-6 {
		t.Errorf("after the older snapshot's deletion: %d points, want %d", n, 5*24-6)
	}
	// The read above cached day 2 anew over the row left behind; a row left behind that no read
	// replaces is what PruneTrackDays deletes: make one.
	if _, err := other.Exec(ctx, `UPDATE track_days SET gen = gen + 1 WHERE device_id = 'w1' AND day = $1`, kinwatch.TrackDay(start)); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PruneTrackDays(ctx); err != nil || n != 1 {
		t.Errorf("PruneTrackDays = %d, %v; want 1", n, err)
	}
	if got := raw.CachedDays(t, "w1"); len(got) != 4 {
		t.Errorf("after pruning, cached days: %v", got)
	}

	// Deleting a device deletes its positions, and the cache with them.
	if n := count("w2"); n != 5*24 {
		t.Fatalf("w2: %d points", n)
	}
	if _, err := other.Exec(ctx, `DELETE FROM devices WHERE id = 'w2'`); err != nil {
		t.Fatalf("deleting a device with positions: %v", err)
	}
	if got, gens := raw.CachedDays(t, "w2"), raw.DayGens(t, "w2"); len(got)+len(gens) != 0 {
		t.Errorf("after deleting the device: cached %v, generations %v", got, gens)
	}
	// TRUNCATE empties the cache.
	if _, err := other.Exec(ctx, `TRUNCATE positions`); err != nil {
		t.Fatal(err)
	}
	if got, gens := raw.CachedDays(t, "w1"), raw.DayGens(t, "w1"); len(got)+len(gens) != 0 {
		t.Errorf("after TRUNCATE: cached %v, generations %v", got, gens)
	}
}
