// Package postgres is kinwatch.Store on PostgreSQL, through pgx's native interface and a
// connection pool.
//
// It owns the PostgreSQL schema, its migrations and every SQL statement run against it. It must not
// hold policy (who may see a device): callers decide, the store records. The one exception: only a
// bound watch's data records are stored (see kinwatch.Store.WriteBatch), because only the batch's
// own transaction can order that check against an Unbind. Several kinwatch processes may share one
// database; migrations serialize on an advisory lock and batches lock device rows in id order, so
// they neither race nor deadlock.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"kinwatch/envelope"
	"strings"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is the store. Open it, call Migrate once per process start, and Close it.
type DB struct {
	pool *pgxpool.Pool
	keys *envelope.Keyring // seals precise locations with the family's key
}

var _ kinwatch.Store = (*DB)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value DSN; pgxpool's
// pool_max_conns and friends apply) and checks it answers. It does not migrate; call Migrate.
// master wraps the data keys that seal sensitive data; without it nothing sealed can be read, so
// it must be the same master (or a rotation of it) every time.
func Open(ctx context.Context, url string, master *envelope.Master) (*DB, error) {
	if master == nil {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "postgres: a master key is required")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx masks the password in its parse errors.
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "postgres: bad connection string: %v", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	db := &DB{pool: pool}
	db.keys = envelope.NewKeyring(master, db.loadKeys)
	return db, nil
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Analyze refreshes the planner's statistics (autovacuum does so on its own schedule; after a bulk
// load it has not yet).
func (db *DB) Analyze(ctx context.Context) error {
	if _, err := db.pool.Exec(ctx, `ANALYZE`); err != nil {
		return fmt.Errorf("postgres: analyze: %w", err)
	}
	return nil
}

// Close waits for borrowed connections to come back and closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// nullTime maps the zero time ("never") to NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func fromNullTime(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// window turns an optional [from, to) into bounds that always apply (±infinity when open), so one
// statement and one index range scan serve every combination.
func window(from, to time.Time) (lo, hi pgtype.Timestamptz) {
	lo = pgtype.Timestamptz{Time: from, Valid: true}
	if from.IsZero() {
		lo = pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
	}
	hi = pgtype.Timestamptz{Time: to, Valid: true}
	if to.IsZero() {
		hi = pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}
	}
	return lo, hi
}

// limit turns the domain's "0 means no limit" into LIMIT NULL.
func limit(n int) any {
	if n <= 0 {
		return nil
	}
	return int64(n)
}

func notFound(what string) error {
	return kinwatch.Errorf(kinwatch.ENOTFOUND, "%s not found", what)
}

// constraint turns the constraint violations a caller can cause into coded errors, keeping the
// server's text for the log. Anything else comes back unchanged.
func constraint(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "23505": // unique_violation
		return &kinwatch.Error{Code: kinwatch.ECONFLICT, Message: "a record with this id already exists", Err: err}
	case "23503": // foreign_key_violation
		return &kinwatch.Error{Code: kinwatch.ENOTFOUND, Message: "device not found", Err: err}
	}
	// Data exceptions (class 22: bad encoding, a NUL in JSON, out of range) and other integrity
	// violations (class 23) are the record's fault: retrying cannot help.
	if strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23") {
		return &kinwatch.Error{Code: kinwatch.EINVALID, Message: "a record holds a value the database cannot store", Err: err}
	}
	return err
}

// scanner is a pgx.Row or pgx.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// collect scans every row with scan.
func collect[T any](rows pgx.Rows, scan func(scanner) (*T, error)) ([]*T, error) {
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
