package postgres_test

import (
	"fmt"
	"strings"
	"testing"

	"kinwatch"
	"kinwatch/postgres"
	"kinwatch/postgres/pgtest"
	"kinwatch/storetest"

	"github.com/jackc/pgx/v5"
)

func open(t testing.TB, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openMigrated(t testing.TB) *postgres.DB {
	t.Helper()
	db := open(t, pgtest.URL(t))
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
	url := pgtest.URL(t)
	db := open(t, url)

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

	// A database migrated by a newer kinwatch is refused, not half-used.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from_the_future', now())`); err != nil {
		t.Fatal(err)
	}
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
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	errs := make(chan error, 2)
	for _, db := range []*postgres.DB{a, b} {
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

func TestOpenErrors(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://u:secret@127.0.0.1:5432/test?sslmode=bogus")
	if kinwatch.ErrorCode(err) != kinwatch.EINVALID || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open(bad URL) = %v; want an invalid error that does not show the password", err)
	}
	// Port 1 on loopback refuses at once.
	if _, err := postgres.Open(t.Context(), "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"); err == nil {
		t.Error("Open of an unreachable server succeeded")
	}
}

// pgtest's schemas must be isolated: two URLs never see each other's tables.
func TestPGTestIsolation(t *testing.T) {
	a, b := openMigrated(t), openMigrated(t)
	rec := []kinwatch.Record{{Device: &kinwatch.DeviceUpdate{ID: "3004010001"}}}
	if err := a.WriteBatch(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Device(t.Context(), "3004010001"); kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		t.Errorf("a device written through one pgtest URL is visible through another: %v", err)
	}
}

func BenchmarkWriteBatch(b *testing.B) {
	for _, size := range []int{500, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			storetest.BenchWriteBatch(b, openMigrated(b), size)
		})
	}
}
