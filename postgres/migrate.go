package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"kinwatch/migration"
)

// Migrations are forward-only: a file that has shipped is never edited, a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one schema migration and when this database applied it.
type Migration = migration.Status

// migrations returns the embedded migrations in order.
func migrations() ([]migration.File, error) {
	ms, err := migration.Load(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL
)`

// lockMigrations serializes Migrate across processes until the transaction ends. The key is per
// schema, so databases that hold several kinwatch schemas (tests do) migrate them in parallel. A
// transaction-scoped lock cannot outlive a cancelled Migrate on a pooled connection.
const lockMigrations = `SELECT pg_advisory_xact_lock(hashtext('kinwatch.migrate.' || coalesce(current_schema(), '')))`

// Migrate applies the migrations this database lacks, each in its own transaction recorded in
// schema_migrations. Running it again is a no-op. It refuses a database that a newer kinwatch has
// migrated further than this binary knows: running old code on a newer schema could corrupt it.
func (db *DB) Migrate(ctx context.Context) error {
	known, err := migrations()
	if err != nil {
		return err
	}
	for _, m := range known {
		if err := db.apply(ctx, m, len(known)); err != nil {
			return err
		}
	}
	if err := db.ensureFamilyKeys(ctx); err != nil {
		return err
	}
	if err := db.sealLegacyPositions(ctx); err != nil {
		return err
	}
	return db.sealLegacyChildProfiles(ctx)
}

func (db *DB) apply(ctx context.Context, m migration.File, latest int) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockMigrations); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
			return err
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return err
		}
		if current > latest {
			return errNewer{current, latest}
		}
		if current >= m.Version {
			return nil
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())`, m.Version, m.Name)
		return err
	})
	var newer errNewer
	if errors.As(err, &newer) {
		return fmt.Errorf("postgres: the database is at schema version %d but this kinwatch knows only versions up to %d: run a newer kinwatch", newer.current, newer.latest)
	}
	if err != nil {
		return fmt.Errorf("postgres: migration %04d_%s: %w", m.Version, m.Name, err)
	}
	return nil
}

type errNewer struct{ current, latest int }

func (e errNewer) Error() string { return "schema is newer than this binary" }

// MigrationStatus lists the migrations this binary knows with when each was applied, followed by
// any applied by a newer binary.
func (db *DB) MigrationStatus(ctx context.Context) ([]Migration, error) {
	known, err := migrations()
	if err != nil {
		return nil, err
	}
	out := make([]Migration, len(known))
	for i, m := range known {
		out[i] = Migration{Version: m.Version, Name: m.Name}
	}
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("postgres: migration status: %w", err)
	}
	if !exists {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("postgres: migration status: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			v    int
			name string
			at   pgtype.Timestamptz
		)
		if err := rows.Scan(&v, &name, &at); err != nil {
			return nil, fmt.Errorf("postgres: migration status: %w", err)
		}
		if v >= 1 && v <= len(out) {
			out[v-1].AppliedAt = fromNullTime(at)
		} else {
			out = append(out, Migration{Version: v, Name: name, AppliedAt: fromNullTime(at)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: migration status: %w", err)
	}
	return out, nil
}
