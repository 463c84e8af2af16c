package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
)

const tokenColumns = `hash, account_id, purpose, data, created_at, expires_at`

func scanToken(s scanner) (*kinwatch.Token, error) {
	var t kinwatch.Token
	if err := s.Scan(&t.Hash, &t.AccountID, &t.Purpose, &t.Data, &t.CreatedAt, &t.ExpiresAt); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	return &t, nil
}

// CreateToken stores t. A zero t.CreatedAt becomes the current time. The hash, the purpose and
// the expiry are required (EINVALID); the account must exist (ENOTFOUND).
func (db *DB) CreateToken(ctx context.Context, t *kinwatch.Token) error {
	if err := checkToken(t); err != nil {
		return err
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.Hash, t.AccountID, t.Purpose, t.Data, t.CreatedAt, t.ExpiresAt)
	if err != nil {
		return fmt.Errorf("postgres: create token: %w", accountConstraint(err))
	}
	return nil
}

func checkToken(t *kinwatch.Token) error {
	switch {
	case t.AccountID == "":
		return kinwatch.Errorf(kinwatch.EINVALID, "a token needs an account id")
	case len(t.Hash) == 0:
		return kinwatch.Errorf(kinwatch.EINVALID, "a token needs a hash")
	case t.Purpose == "":
		return kinwatch.Errorf(kinwatch.EINVALID, "a token needs a purpose")
	case t.ExpiresAt.IsZero():
		return kinwatch.Errorf(kinwatch.EINVALID, "a token needs an expiry")
	}
	return nil
}

// ConsumeToken deletes and returns, in one statement, the token with this hash and purpose that
// is still valid at now (ExpiresAt after now); ENOTFOUND if there is none. Of two concurrent
// consumers only one gets the token. A token of another purpose is left alone.
func (db *DB) ConsumeToken(ctx context.Context, hash []byte, purpose string, now time.Time) (*kinwatch.Token, error) {
	if len(hash) == 0 {
		return nil, notFound("token")
	}
	t, err := scanToken(db.pool.QueryRow(ctx, `DELETE FROM tokens WHERE hash = $1 AND purpose = $2 AND expires_at > $3
		RETURNING `+tokenColumns, hash, purpose, now))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("token")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: consume token: %w", err)
	}
	return t, nil
}

// DeleteTokens removes an account's tokens of one purpose; having none is not an error.
func (db *DB) DeleteTokens(ctx context.Context, accountID, purpose string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM tokens WHERE account_id = $1 AND purpose = $2`, accountID, purpose); err != nil {
		return fmt.Errorf("postgres: delete tokens: %w", err)
	}
	return nil
}
