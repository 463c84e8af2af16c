package storetest

import (
	"context"
	"strings"
	"testing"

	"kinwatch"
	"kinwatch/migration"
)

// Migratable is a store whose schema is migrated explicitly.
type Migratable interface {
	kinwatch.Store
	Migrate(ctx context.Context) error
	MigrationStatus(ctx context.Context) ([]migration.Status, error)
}

// MigrationTarget is one fresh, unmigrated database.
type MigrationTarget struct {
	// Open opens another handle on this database.
	Open func(t *testing.T) Migratable
	// MarkFuture records migration 9999 "from_the_future", as a newer kinwatch would.
	MarkFuture func(t *testing.T)
}

// RunMigrations checks the migration contract every store keeps: Open does not migrate, Migrate
// applies everything once and is idempotent, a schema from a newer binary is refused by name, and
// two processes migrating at once both succeed. fresh returns a new empty database each call.
func RunMigrations(t *testing.T, fresh func(t *testing.T) MigrationTarget) {
	t.Run("Migrate", func(t *testing.T) { testMigrate(t, fresh(t)) })
	t.Run("MigrateConcurrently", func(t *testing.T) { testMigrateConcurrently(t, fresh(t)) })
}

func testMigrate(t *testing.T, target MigrationTarget) {
	ctx := t.Context()
	db := target.Open(t)
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
	target.MarkFuture(t)
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
func testMigrateConcurrently(t *testing.T, target MigrationTarget) {
	a, b := target.Open(t), target.Open(t)
	errs := make(chan error, 2)
	for _, db := range []Migratable{a, b} {
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
