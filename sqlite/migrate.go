package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

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
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`

// Migrate applies the migrations this database lacks, each in its own transaction recorded in
// schema_migrations. Running it again is a no-op. It refuses a database that a newer kinwatch has
// migrated further than this binary knows: running old code on a newer schema could corrupt it.
func (db *DB) Migrate(ctx context.Context) error {
	known, err := migrations()
	if err != nil {
		return err
	}
	if _, err := db.write.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("sqlite: create schema_migrations: %w", err)
	}
	var current int
	if err := db.write.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("sqlite: read schema version: %w", err)
	}
	if current > len(known) {
		return fmt.Errorf("sqlite: the database is at schema version %d but this kinwatch knows only versions up to %d: run a newer kinwatch", current, len(known))
	}
	for _, m := range known[current:] {
		if err := db.apply(ctx, m); err != nil {
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

func (db *DB) apply(ctx context.Context, m migration.File) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migration %04d_%s: %w", m.Version, m.Name, err)
	}
	defer tx.Rollback()
	// The transaction holds the write lock from BEGIN (_txlock=immediate), so checking again here
	// makes a concurrent Migrate in another process wait and then skip what this one applied.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: migration %04d_%s: %w", m.Version, m.Name, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("sqlite: migration %04d_%s: %w", m.Version, m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, nanos(time.Now())); err != nil {
		return fmt.Errorf("sqlite: migration %04d_%s: %w", m.Version, m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migration %04d_%s: %w", m.Version, m.Name, err)
	}
	return nil
}

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
	var exists int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("sqlite: migration status: %w", err)
	}
	if exists == 0 {
		return out, nil
	}
	rows, err := db.read.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migration status: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			v    int
			name string
			at   sql.NullInt64
		)
		if err := rows.Scan(&v, &name, &at); err != nil {
			return nil, fmt.Errorf("sqlite: migration status: %w", err)
		}
		if v >= 1 && v <= len(out) {
			out[v-1].AppliedAt = fromNullNanos(at)
		} else {
			out = append(out, Migration{Version: v, Name: name, AppliedAt: fromNullNanos(at)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: migration status: %w", err)
	}
	return out, nil
}
