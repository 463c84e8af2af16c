package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
)

const sessionColumns = `id, account_id, token_hash, kind, user_agent, ip, created_at, last_used_at, expires_at`

// sessionRow receives one row of sessionColumns (see accountRow).
type sessionRow struct{ ss kinwatch.Session }

func (r *sessionRow) dest() []any {
	ss := &r.ss
	return []any{&ss.ID, &ss.AccountID, &ss.TokenHash, &ss.Kind, &ss.UserAgent, &ss.IP, &ss.CreatedAt, &ss.LastUsedAt, &ss.ExpiresAt}
}

func (r *sessionRow) session() *kinwatch.Session {
	ss := r.ss
	ss.CreatedAt, ss.LastUsedAt, ss.ExpiresAt = ss.CreatedAt.UTC(), ss.LastUsedAt.UTC(), ss.ExpiresAt.UTC()
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
	if s.ID == "" {
		s.ID = kinwatch.NewID()
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	if s.LastUsedAt.IsZero() {
		s.LastUsedAt = s.CreatedAt
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		s.ID, s.AccountID, s.TokenHash, s.Kind, s.UserAgent, s.IP, s.CreatedAt, s.LastUsedAt, s.ExpiresAt)
	if err != nil {
		return fmt.Errorf("postgres: create session: %w", accountConstraint(err))
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
	s, err := scanSession(db.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE token_hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("session")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: session by token: %w", err)
	}
	return s, nil
}

// SessionAccount finds a session by the SHA-256 of its token, expired or not, with its account:
// what authenticating a request needs, in one round trip.
func (db *DB) SessionAccount(ctx context.Context, hash []byte) (*kinwatch.Session, *kinwatch.Account, error) {
	if len(hash) == 0 {
		return nil, nil, notFound("session")
	}
	var (
		sr sessionRow
		ar accountRow
	)
	err := db.pool.QueryRow(ctx, `SELECT s.*, a.* FROM (SELECT `+sessionColumns+` FROM sessions WHERE token_hash = $1) s
		JOIN (SELECT `+accountColumns+` FROM accounts) a ON a.id = s.account_id`, hash).Scan(append(sr.dest(), ar.dest()...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, notFound("session")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: session and account: %w", err)
	}
	return sr.session(), ar.account(), nil
}

// TouchSession records a use of the session at at from ip. LastUsedAt never moves backwards, so
// two requests recorded out of order leave the later time.
func (db *DB) TouchSession(ctx context.Context, id string, at time.Time, ip string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE sessions SET last_used_at = greatest(last_used_at, $1), ip = $2 WHERE id = $3`,
		at, ip, id)
	if err != nil {
		return fmt.Errorf("postgres: touch session: %w", accountConstraint(err))
	}
	return changedOne(tag, "session")
}

// Sessions lists an account's sessions, expired ones included, most recently used first.
func (db *DB) Sessions(ctx context.Context, accountID string) ([]*kinwatch.Session, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE account_id = $1 ORDER BY last_used_at DESC, id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("postgres: sessions: %w", err)
	}
	out, err := collect(rows, scanSession)
	if err != nil {
		return nil, fmt.Errorf("postgres: sessions: %w", err)
	}
	return out, nil
}

// DeleteSession revokes one of the account's sessions. Another account's session is ENOTFOUND,
// as if it did not exist.
func (db *DB) DeleteSession(ctx context.Context, accountID, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1 AND account_id = $2`, id, accountID)
	if err != nil {
		return fmt.Errorf("postgres: delete session: %w", err)
	}
	return changedOne(tag, "session")
}

// DeleteSessions revokes all of the account's sessions except keepID ("" keeps none) and returns
// how many it revoked.
func (db *DB) DeleteSessions(ctx context.Context, accountID, keepID string) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE account_id = $1 AND id <> $2`, accountID, keepID)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// DeleteExpired removes the sessions, tokens and bind challenges that no longer work at now: those
// whose ExpiresAt is now or earlier, the same cut ConsumeToken and the caller's session check apply.
func (db *DB) DeleteExpired(ctx context.Context, now time.Time) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for _, q := range []string{`DELETE FROM sessions WHERE expires_at <= $1`, `DELETE FROM tokens WHERE expires_at <= $1`,
			`DELETE FROM bind_challenges WHERE expires_at <= $1`} {
			if _, err := tx.Exec(ctx, q, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: delete expired: %w", err)
	}
	return nil
}
