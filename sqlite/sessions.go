package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"kinwatch"
)

const sessionColumns = `id, account_id, token_hash, kind, user_agent, ip, created_at, last_used_at, expires_at`

// sessionRow receives one row of sessionColumns (see accountRow).
type sessionRow struct {
	ss                     kinwatch.Session
	created, used, expires int64
}

func (r *sessionRow) dest() []any {
	ss := &r.ss
	return []any{&ss.ID, &ss.AccountID, &ss.TokenHash, &ss.Kind, &ss.UserAgent, &ss.IP, &r.created, &r.used, &r.expires}
}

func (r *sessionRow) session() *kinwatch.Session {
	ss := r.ss
	ss.CreatedAt, ss.LastUsedAt, ss.ExpiresAt = fromNanos(r.created), fromNanos(r.used), fromNanos(r.expires)
	return &ss
}

func scanSession(s scanner) (*kinwatch.Session, error) {
	var r sessionRow
	if err := s.Scan(r.dest()...); err != nil {
		return nil, err
	}
	return r.session(), nil
}

// CreateSession stores s. An empty s.ID gets a new one, a zero s.CreatedAt the current time and a
// zero s.LastUsedAt s.CreatedAt. The token hash, the kind and the expiry are required (EINVALID);
// the account must exist (ENOTFOUND).
func (db *DB) CreateSession(ctx context.Context, s *kinwatch.Session) error {
	if err := checkSession(s); err != nil {
		return err
	}
	if err := cmp.Or(checkTime(s.CreatedAt), checkTime(s.LastUsedAt), checkTime(s.ExpiresAt)); err != nil {
		return err
	}
	if s.ID == "" {
		s.ID = kinwatch.NewID()
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	if s.LastUsedAt.IsZero() {
		s.LastUsedAt = s.CreatedAt
	}
	_, err := db.write.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.AccountID, s.TokenHash, s.Kind, s.UserAgent, s.IP, nanos(s.CreatedAt), nanos(s.LastUsedAt), nanos(s.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlite: create session: %w", accountConstraint(err))
	}
	return nil
}

func checkSession(s *kinwatch.Session) error {
	switch {
	case s.AccountID == "":
		return kinwatch.Errorf(kinwatch.EINVALID, "a session needs an account id")
	case len(s.TokenHash) == 0:
		return kinwatch.Errorf(kinwatch.EINVALID, "a session needs a token hash")
	case s.Kind != kinwatch.SessionCookie && s.Kind != kinwatch.SessionBearer:
		return kinwatch.Errorf(kinwatch.EINVALID, "unknown session kind %q", s.Kind)
	case s.ExpiresAt.IsZero():
		return kinwatch.Errorf(kinwatch.EINVALID, "a session needs an expiry")
	}
	return nil
}

// SessionByToken finds a session by the SHA-256 of its token, expired or not: the caller decides
// what an expired session means.
func (db *DB) SessionByToken(ctx context.Context, hash []byte) (*kinwatch.Session, error) {
	if len(hash) == 0 {
		return nil, notFound("session")
	}
	s, err := scanSession(db.read.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE token_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("session")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: session by token: %w", err)
	}
	return s, nil
}

// SessionAccount finds a session by the SHA-256 of its token, expired or not, with its account:
// what authenticating a request needs. In-process there is no round trip to save: two prepared
// lookups by index took a quarter of the time of one prepared join (49 µs against 199 µs with
// 10,000 accounts), so this is what it does; PostgreSQL joins.
func (db *DB) SessionAccount(ctx context.Context, hash []byte) (*kinwatch.Session, *kinwatch.Account, error) {
	if len(hash) == 0 {
		return nil, nil, notFound("session")
	}
	st, err := db.readStmt(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE token_hash = ?`)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: session and account: %w", err)
	}
	ss, err := scanSession(st.QueryRowContext(ctx, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, notFound("session")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: session and account: %w", err)
	}
	if st, err = db.readStmt(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = ?`); err != nil {
		return nil, nil, fmt.Errorf("sqlite: session and account: %w", err)
	}
	a, err := scanAccount(st.QueryRowContext(ctx, ss.AccountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, notFound("session") // the account went between the two reads
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: session and account: %w", err)
	}
	return ss, a, nil
}

// TouchSession records a use of the session at at from ip. LastUsedAt never moves backwards, so
// two requests recorded out of order leave the later time.
func (db *DB) TouchSession(ctx context.Context, id string, at time.Time, ip string) error {
	if err := checkTime(at); err != nil {
		return err
	}
	res, err := db.write.ExecContext(ctx, `UPDATE sessions SET last_used_at = max(last_used_at, ?), ip = ? WHERE id = ?`,
		nanos(at), ip, id)
	if err != nil {
		return fmt.Errorf("sqlite: touch session: %w", err)
	}
	return changedOne(res, "session")
}

// Sessions lists an account's sessions, expired ones included, most recently used first.
func (db *DB) Sessions(ctx context.Context, accountID string) ([]*kinwatch.Session, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE account_id = ? ORDER BY last_used_at DESC, id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: sessions: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: sessions: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: sessions: %w", err)
	}
	return out, nil
}

// DeleteSession revokes one of the account's sessions. Another account's session is ENOTFOUND,
// as if it did not exist.
func (db *DB) DeleteSession(ctx context.Context, accountID, id string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM sessions WHERE id = ? AND account_id = ?`, id, accountID)
	if err != nil {
		return fmt.Errorf("sqlite: delete session: %w", err)
	}
	return changedOne(res, "session")
}

// DeleteSessions revokes all of the account's sessions except keepID ("" keeps none) and returns
// how many it revoked.
func (db *DB) DeleteSessions(ctx context.Context, accountID, keepID string) (int, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = ? AND id <> ?`, accountID, keepID)
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete sessions: %w", err)
	}
	return int(n), nil
}

// DeleteExpired removes the sessions, tokens and bind challenges that no longer work at now: those
// whose ExpiresAt is now or earlier, the same cut ConsumeToken and the caller's session check apply.
func (db *DB) DeleteExpired(ctx context.Context, now time.Time) error {
	if err := checkTime(now); err != nil {
		return err
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: delete expired: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{`DELETE FROM sessions WHERE expires_at <= ?`, `DELETE FROM tokens WHERE expires_at <= ?`,
		`DELETE FROM bind_challenges WHERE expires_at <= ?`} {
		if _, err := tx.ExecContext(ctx, q, nanos(now)); err != nil {
			return fmt.Errorf("sqlite: delete expired: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: delete expired: %w", err)
	}
	return nil
}
