package sqlite_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"kinwatch"
	"kinwatch/envelope"
	"kinwatch/sqlite"
	"kinwatch/storetest"
)

func open(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path, envelope.NewMaster())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func openMigrated(t testing.TB) *sqlite.DB {
	t.Helper()
	db := open(t, filepath.Join(t.TempDir(), "kinwatch.db"))
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) kinwatch.Store { return openMigrated(t) })
}

func TestMigrations(t *testing.T) {
	storetest.RunMigrations(t, func(t *testing.T) storetest.MigrationTarget {
		path := filepath.Join(t.TempDir(), "kinwatch.db")
		return storetest.MigrationTarget{
			Open: func(t *testing.T) storetest.Migratable { return open(t, path) },
			// Another process writes the future migration, as a newer binary would.
			MarkFuture: func(t *testing.T) {
				execSQL(t, path, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from_the_future', 0)`)
			},
		}
	})
}

func TestOpenOptions(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		path, wantErr string
	}{
		{filepath.Join(dir, "a.db"), ""},
		{filepath.Join(dir, "b.db") + "?sync=full", ""},
		{filepath.Join(dir, "c.db") + "?sync=normal", ""},
		{filepath.Join(dir, "d.db") + "?sync=off", "sync must be normal or full"},
		{filepath.Join(dir, "e.db") + "?journal=delete", "unknown option"},
		{":memory:", "in-memory"},
		{"", "path is required"},
	} {
		db, err := sqlite.Open(t.Context(), tc.path, envelope.NewMaster())
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("Open(%q): %v", tc.path, err)
				continue
			}
			if err := db.Ping(t.Context()); err != nil {
				t.Errorf("Ping(%q): %v", tc.path, err)
			}
			db.Close()
			continue
		}
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded, want an error containing %q", tc.path, tc.wantErr)
		} else if !strings.Contains(err.Error(), tc.wantErr) || kinwatch.ErrorCode(err) != kinwatch.EINVALID {
			t.Errorf("Open(%q) = %v, want an invalid error containing %q", tc.path, err, tc.wantErr)
		}
	}
}

// BenchmarkTrack reads a year of one-minute positions for a history view.
func BenchmarkTrack(b *testing.B) { storetest.BenchTrack(b, openMigrated(b)) }

func BenchmarkUnbind(b *testing.B) { storetest.BenchUnbind(b, openMigrated(b)) }

func BenchmarkWriteBatch(b *testing.B) {
	for _, size := range []int{500, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			storetest.BenchWriteBatch(b, openMigrated(b), size)
		})
	}
}

// execSQL runs query on its own connection, as another process would.
func execSQL(t *testing.T, path, query string) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
