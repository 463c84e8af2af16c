// Package sqlite is kinwatch.Store on one SQLite file, through modernc.org/sqlite (pure Go, no cgo).
//
// It owns the SQLite schema, its migrations and every SQL statement run against the file. It must
// not hold policy (who may see a device): callers decide, the store records. The one exception:
// only a bound watch's data records are stored (see kinwatch.Store.WriteBatch), because only the
// batch's own transaction can order that check against an Unbind. Other processes may open the
// same file (kinwatch migrate while the server runs): SQLite's file locks and busy_timeout
// arbitrate between them.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"kinwatch/envelope"
	"net/url"
	"strings"
	"sync"
	"time"

	"kinwatch"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// readConns bounds the read pool. Reads are short, and each connection keeps its own page cache.
const readConns = 4

// DB is the store. Open it, call Migrate once per process start, and Close it.
//
// Writes go through one connection: SQLite admits one writer at a time, and waiting in Go's
// connection pool is cheaper and fairer than spinning on SQLITE_BUSY. Reads use a separate
// query_only pool so that, in WAL mode, they read the last committed snapshot without waiting for a
// long batch to commit.
type DB struct {
	write *sql.DB
	read  *sql.DB

	mu    sync.Mutex // guards stmts and reads
	stmts *batchStmts
	reads map[string]*sql.Stmt // hot read queries, prepared once (see readStmt)

	keys *envelope.Keyring // seals precise locations with the family's key
}

var _ kinwatch.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path. It does not migrate; call Migrate.
// master wraps the data keys that seal sensitive data; without it nothing sealed can be read, so
// it must be the same master (or a rotation of it) every time.
//
// path may end in "?sync=full". The default, synchronous=NORMAL in WAL mode, fsyncs only at
// checkpoints: a committed batch survives a crash of the process but the last commits before a
// power loss or kernel panic may be lost (the file itself stays consistent). sync=full fsyncs the
// WAL on every commit, which makes every acknowledged write survive power loss at the price of
// one fsync per batch.
func Open(ctx context.Context, path string, master *envelope.Master) (*DB, error) {
	if master == nil {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "sqlite: a master key is required")
	}
	name, query, _ := strings.Cut(path, "?")
	if name == "" || name == ":memory:" || strings.HasPrefix(name, "file::memory:") {
		// The writer and the read pool are separate connections; each would see its own empty
		// in-memory database.
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "sqlite: a database file path is required (in-memory databases are not supported)")
	}
	syncMode := "NORMAL"
	opts, err := url.ParseQuery(query)
	if err != nil {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "sqlite: bad options in %q: %v", path, err)
	}
	for k, v := range opts {
		switch {
		case k == "sync" && len(v) == 1 && (v[0] == "normal" || v[0] == "full"):
			syncMode = strings.ToUpper(v[0])
		case k == "sync":
			return nil, kinwatch.Errorf(kinwatch.EINVALID, "sqlite: sync must be normal or full, not %q", strings.Join(v, ","))
		default:
			return nil, kinwatch.Errorf(kinwatch.EINVALID, "sqlite: unknown option %q (known: sync)", k)
		}
	}

	// _txlock=immediate takes the write lock at BEGIN: a deferred transaction that reads first
	// and writes later can fail with SQLITE_BUSY_SNAPSHOT when another process committed in
	// between, which busy_timeout does not retry.
	//
	// A batch dirties a page in the positions id index per row (the ids are random), so a
	// 1000-position batch writes about as many pages as the default checkpoint interval: every
	// commit would also checkpoint. Checkpointing every 10000 pages (about 40 MB of WAL) writes a
	// page that several batches touched to the database once, and measured 20-60% more
	// positions/s; journal_size_limit gives the space back after a checkpoint.
	write, err := sql.Open("sqlite", name+"?_txlock=immediate&_busy_timeout=5000&_foreign_keys=1"+
		"&_journal_mode=WAL&_synchronous="+syncMode+
		"&_pragma=cache_size(-32768)&_pragma=wal_autocheckpoint(10000)&_pragma=journal_size_limit(67108864)")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", name, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	// The writer connects first: it creates the file and switches it to WAL, which readers need.
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", name, err)
	}

	read, err := sql.Open("sqlite", name+"?_busy_timeout=5000&_query_only=1")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", name, err)
	}
	read.SetMaxOpenConns(readConns)
	read.SetMaxIdleConns(readConns)
	if err := read.PingContext(ctx); err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", name, err)
	}
	db := &DB{write: write, read: read}
	db.keys = envelope.NewKeyring(master, db.loadKeys)
	return db, nil
}

// Ping checks both pools can reach the file.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := db.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Analyze refreshes the query planner's statistics (PRAGMA optimize decides which tables need it).
func (db *DB) Analyze(ctx context.Context) error {
	if _, err := db.write.ExecContext(ctx, `PRAGMA optimize=0x10002`); err != nil {
		return fmt.Errorf("sqlite: analyze: %w", err)
	}
	return nil
}

// Close releases the statements and both pools. The writer closes last so that it, the only
// connection allowed to write, checkpoints the WAL into the main file.
func (db *DB) Close() error {
	db.mu.Lock()
	var errs []error
	if db.stmts != nil {
		errs = append(errs, db.stmts.close())
		db.stmts = nil
	}
	for q, st := range db.reads {
		errs = append(errs, st.Close())
		delete(db.reads, q)
	}
	db.mu.Unlock()
	errs = append(errs, db.read.Close(), db.write.Close())
	return errors.Join(errs...)
}

// readStmt returns query prepared on the read pool, preparing it on first use. Every request asks
// the hot queries (authentication, "where are my children"); compiling their SQL each time costs
// more than running them.
func (db *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if st := db.reads[query]; st != nil {
		return st, nil
	}
	st, err := db.read.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if db.reads == nil {
		db.reads = make(map[string]*sql.Stmt)
	}
	db.reads[query] = st
	return st, nil
}

// Times are stored as INTEGER unix nanoseconds, NULL for the zero time (see the first migration).

func nanos(t time.Time) int64 { return t.UnixNano() }

func nullNanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// checkTime rejects times the INTEGER nanosecond columns cannot hold (before 1678 or after 2261);
// the zero time is allowed and means "never".
func checkTime(t time.Time) error {
	if !t.IsZero() && !representable(t) {
		return kinwatch.Errorf(kinwatch.EINVALID, "time %s is out of range", t.Format(time.RFC3339))
	}
	return nil
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromNullNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNanos(n.Int64)
}

// limit turns the domain's "0 means no limit" into SQLite's LIMIT -1.
func limit(n int) int64 {
	if n <= 0 {
		return -1
	}
	return int64(n)
}

// notFound is the error for a missing row; what names the kind of object for the client.
func notFound(what string) error {
	return kinwatch.Errorf(kinwatch.ENOTFOUND, "%s not found", what)
}

// constraint turns the constraint violations a caller can cause into coded errors, keeping the
// driver's text for the log. Anything else comes back unchanged.
func constraint(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return &kinwatch.Error{Code: kinwatch.ECONFLICT, Message: "a record with this id already exists", Err: err}
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return &kinwatch.Error{Code: kinwatch.ENOTFOUND, Message: "device not found", Err: err}
	}
	// Other constraint failures and values of the wrong type or size are the record's fault:
	// retrying cannot help.
	if c := se.Code() & 0xff; c == sqlite3.SQLITE_CONSTRAINT || c == sqlite3.SQLITE_MISMATCH || c == sqlite3.SQLITE_TOOBIG {
		return &kinwatch.Error{Code: kinwatch.EINVALID, Message: "a record holds a value the database cannot store", Err: err}
	}
	return err
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}
