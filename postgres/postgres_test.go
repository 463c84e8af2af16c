package postgres_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/envelope"
	"kinwatch/postgres"
	"kinwatch/postgres/pgtest"
	"kinwatch/storetest"

	"github.com/jackc/pgx/v5"
)

func open(t testing.TB, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), url, envelope.NewMaster())
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

func TestMigrations(t *testing.T) {
	storetest.RunMigrations(t, func(t *testing.T) storetest.MigrationTarget {
		url := pgtest.URL(t)
		return storetest.MigrationTarget{
			Open: func(t *testing.T) storetest.Migratable { return open(t, url) },
			MarkFuture: func(t *testing.T) {
				conn, err := pgx.Connect(t.Context(), url)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(t.Context())
				if _, err := conn.Exec(t.Context(), `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from_the_future', now())`); err != nil {
					t.Fatal(err)
				}
			},
		}
	})
}

func TestOpenErrors(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://u:secret@127.0.0.1:5432/test?sslmode=bogus", envelope.NewMaster())
	if kinwatch.ErrorCode(err) != kinwatch.EINVALID || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open(bad URL) = %v; want an invalid error that does not show the password", err)
	}
	// Port 1 on loopback refuses at once.
	if _, err := postgres.Open(t.Context(), "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", envelope.NewMaster()); err == nil {
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

// TestUnstorableValuesAreInvalid: values PostgreSQL refuses (text that is not UTF-8) are the
// record's fault, reported as EINVALID so the writer isolates them instead of
// retrying the batch forever.
func TestUnstorableValuesAreInvalid(t *testing.T) {
	db := openMigrated(t)
	now := time.Now()
	// Only a bound watch's positions are stored, so only they reach the database.
	storetest.BoundWatches(t, db, "1")
	for _, p := range []*kinwatch.Position{
		{ID: kinwatch.NewID(), DeviceID: "1", Time: now, Type: "UD\xff"},
	} {
		err := db.WriteBatch(t.Context(), []kinwatch.Record{{Position: p}})
		if kinwatch.ErrorCode(err) != kinwatch.EINVALID {
			t.Errorf("%+v: err %v, want EINVALID", p, err)
		}
	}
}
