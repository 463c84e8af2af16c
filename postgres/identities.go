package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
)

const identityColumns = `provider, subject, account_id, email, created_at`

func scanIdentity(s scanner) (*kinwatch.Identity, error) {
	var id kinwatch.Identity
	if err := s.Scan(&id.Provider, &id.Subject, &id.AccountID, &id.Email, &id.CreatedAt); err != nil {
		return nil, err
	}
	id.CreatedAt = id.CreatedAt.UTC()
	return &id, nil
}

// CreateIdentity links an identity; a zero CreatedAt becomes the current time. ECONFLICT if the
// provider's subject is linked to any account or the account already has a link to the provider;
// ENOTFOUND if the account does not exist.
func (db *DB) CreateIdentity(ctx context.Context, id *kinwatch.Identity) error {
	if id.Provider == "" || id.Subject == "" || id.AccountID == "" {
		return kinwatch.Errorf(kinwatch.EINVALID, "an identity needs a provider, a subject and an account id")
	}
	if id.CreatedAt.IsZero() {
		id.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO identities (`+identityColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		id.Provider, id.Subject, id.AccountID, id.Email, id.CreatedAt)
	if err != nil {
		return fmt.Errorf("postgres: create identity: %w", accountConstraint(err))
	}
	return nil
}

// Identity returns the link of a provider's subject.
func (db *DB) Identity(ctx context.Context, provider, subject string) (*kinwatch.Identity, error) {
	id, err := scanIdentity(db.pool.QueryRow(ctx, `SELECT `+identityColumns+` FROM identities
		WHERE provider = $1 AND subject = $2`, provider, subject))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("identity")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: identity: %w", err)
	}
	return id, nil
}

// Identities lists an account's links, ordered by provider.
func (db *DB) Identities(ctx context.Context, accountID string) ([]*kinwatch.Identity, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+identityColumns+` FROM identities
		WHERE account_id = $1 ORDER BY provider`, accountID)
	if err != nil {
		return nil, fmt.Errorf("postgres: identities: %w", err)
	}
	out, err := collect(rows, scanIdentity)
	if err != nil {
		return nil, fmt.Errorf("postgres: identities: %w", err)
	}
	return out, nil
}

// DeleteIdentity unlinks the account from the provider; ENOTFOUND if it has no link there.
func (db *DB) DeleteIdentity(ctx context.Context, accountID, provider string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM identities WHERE account_id = $1 AND provider = $2`, accountID, provider)
	if err != nil {
		return fmt.Errorf("postgres: delete identity: %w", err)
	}
	return changedOne(tag, "identity")
}
