package storetest

import (
	"path/filepath"
	"testing"

	"kinwatch/envelope"
	"kinwatch/sqlite"
)

// SQLite opens a migrated SQLite store in the test's temporary directory, closed when the test
// ends: the store for tests of what sits on top of one.
func SQLite(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "kinwatch.db"), envelope.NewMaster())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}
