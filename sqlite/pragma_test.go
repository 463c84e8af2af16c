package sqlite

import (
	"kinwatch/envelope"
	"path/filepath"
	"testing"
)

// The durability and concurrency settings are applied through the DSN; a typo there would be
// silently ignored by SQLite, so read them back from the connections that use them.
func TestPragmas(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		option, sync string
	}{{"", "1"}, {"?sync=full", "2"}} {
		db, err := Open(t.Context(), filepath.Join(dir, "p.db")+tc.option, envelope.NewMaster())
		if err != nil {
			t.Fatal(err)
		}
		pragma := func(pool string, name string) string {
			conn := db.write
			if pool == "read" {
				conn = db.read
			}
			var v string
			if err := conn.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
				t.Fatalf("PRAGMA %s: %v", name, err)
			}
			return v
		}
		for _, p := range []struct{ pool, name, want string }{
			{"write", "journal_mode", "wal"},
			{"write", "synchronous", tc.sync},
			{"write", "foreign_keys", "1"},
			{"write", "busy_timeout", "5000"},
			{"read", "journal_mode", "wal"},
			{"read", "query_only", "1"},
			{"read", "busy_timeout", "5000"},
		} {
			if got := pragma(p.pool, p.name); got != p.want {
				t.Errorf("option %q, %s pool: PRAGMA %s = %s, want %s", tc.option, p.pool, p.name, got, p.want)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMigrationsAreNumbered(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
}
