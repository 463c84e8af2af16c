package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"kinwatch/storetest"
)

// sqliteRaw reads and changes the database file directly, as another process would.
type sqliteRaw struct{ db *sql.DB }

func (r sqliteRaw) CachedDays(t *testing.T, deviceID string) map[int64]int {
	t.Helper()
	rows, err := r.db.QueryContext(t.Context(), `SELECT day, points FROM track_days WHERE device_id = ?`, deviceID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var day int64
		var n int
		if err := rows.Scan(&day, &n); err != nil {
			t.Fatal(err)
		}
		out[day] = n
	}
	return out
}

func (r sqliteRaw) MovePosition(t *testing.T, id string, to time.Time) {
	t.Helper()
	if _, err := r.db.ExecContext(t.Context(), `UPDATE positions SET time = ? WHERE id = ?`, to.UnixNano(), id); err != nil {
		t.Fatal(err)
	}
}

func (r sqliteRaw) DayGens(t *testing.T, deviceID string) map[int64]bool {
	t.Helper()
	rows, err := r.db.QueryContext(t.Context(), `SELECT day FROM track_day_gen WHERE device_id = ?`, deviceID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var day int64
		if err := rows.Scan(&day); err != nil {
			t.Fatal(err)
		}
		out[day] = true
	}
	return out
}

func (r sqliteRaw) DropDayGen(t *testing.T, deviceID string, day int64) {
	t.Helper()
	if _, err := r.db.ExecContext(t.Context(), `DELETE FROM track_day_gen WHERE device_id = ? AND day = ?`, deviceID, day); err != nil {
		t.Fatal(err)
	}
}

func (r sqliteRaw) StaleCachedDay(t *testing.T, deviceID string, day int64) {
	t.Helper()
	if _, err := r.db.ExecContext(t.Context(), `UPDATE track_days SET gen = gen + 1 WHERE device_id = ? AND day = ?`, deviceID, day); err != nil {
		t.Fatal(err)
	}
}

func (r sqliteRaw) AddDayGen(t *testing.T, deviceID string, day int64) {
	t.Helper()
	if _, err := r.db.ExecContext(t.Context(), `INSERT INTO track_day_gen (device_id, day, gen) VALUES (?, ?, 1)`, deviceID, day); err != nil {
		t.Fatal(err)
	}
}

func TestTrackCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kinwatch.db")
	db := open(t, path)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	storetest.RunTrackCache(t, db, sqliteRaw{raw})
}
