package sqlite_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"kinwatch"
	"kinwatch/sqlite"
	"kinwatch/storetest"
)

func open(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path)
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

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kinwatch.db")
	db := open(t, path)

	status, err := db.MigrationStatus(ctx)
	if err != nil {
		t.Fatalf("MigrationStatus before Migrate: %v", err)
	}
	if len(status) == 0 || !status[0].AppliedAt.IsZero() {
		t.Fatalf("status before Migrate = %+v; want known, unapplied migrations", status)
	}
	if err := db.WriteBatch(ctx, []kinwatch.Record{{Device: &kinwatch.DeviceUpdate{ID: "1"}}}); err == nil {
		t.Fatal("WriteBatch on an unmigrated database succeeded: Open must not migrate")
	}

	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	first, err := db.MigrationStatus(ctx)
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	for _, m := range first {
		if m.AppliedAt.IsZero() {
			t.Errorf("migration %04d_%s not applied", m.Version, m.Name)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	second, err := db.MigrationStatus(ctx)
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	if len(second) != len(first) || !second[len(second)-1].AppliedAt.Equal(first[len(first)-1].AppliedAt) {
		t.Errorf("second Migrate changed the record: %+v, then %+v", first, second)
	}

	// A database migrated by a newer kinwatch is refused, not half-used. Another process
	// writes the future migration, as a newer binary would.
	execSQL(t, path, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from_the_future', 0)`)
	err = db.Migrate(ctx)
	if err == nil || !strings.Contains(err.Error(), "9999") || !strings.Contains(err.Error(), "newer kinwatch") {
		t.Fatalf("Migrate on a newer schema = %v; want a clear refusal naming the version", err)
	}
	status, err = db.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last := status[len(status)-1]; last.Version != 9999 || last.Name != "from_the_future" {
		t.Errorf("MigrationStatus does not show the unknown migration: %+v", status)
	}
}

// The server and `kinwatch migrate` may start together: both must succeed and apply each
// migration once.
func TestMigrateConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kinwatch.db")
	a, b := open(t, path), open(t, path)
	errs := make(chan error, 2)
	for _, db := range []*sqlite.DB{a, b} {
		go func() { errs <- db.Migrate(t.Context()) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent Migrate: %v", err)
		}
	}
	status, err := a.MigrationStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range status {
		if m.Version != i+1 || m.AppliedAt.IsZero() {
			t.Errorf("after concurrent Migrate: %+v", status)
		}
	}
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
		db, err := sqlite.Open(t.Context(), tc.path)
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
