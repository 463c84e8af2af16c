package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"kinwatch"
)

const identityColumns = `provider, subject, account_id, email, created_at`

func scanIdentity(s scanner) (*kinwatch.Identity, error) {
	var (
		id      kinwatch.Identity
		created int64
	)
	if err := s.Scan(&id.Provider, &id.Subject, &id.AccountID, &id.Email, &created); err != nil {
		return nil, err
	}
	id.CreatedAt = fromNanos(created)
	return &id, nil
}

// CreateIdentity links an identity; a zero CreatedAt becomes the current time. ECONFLICT if the
// provider's subject is linked to any account or the account already has a link to the provider;
// ENOTFOUND if the account does not exist.
func (db *DB) CreateIdentity(ctx context.Context, id *kinwatch.Identity) error {
	if id.Provider == "" || id.Subject == "" || id.AccountID == "" {
		return kinwatch.Errorf(kinwatch.EINVALID, "an identity needs a provider, a subject and an account id")
	}
	if err := checkTime(id.CreatedAt); err != nil {
		return err
	}
	if id.CreatedAt.IsZero() {
		id.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	_, err := db.write.ExecContext(ctx, `INSERT INTO identities (`+identityColumns+`) VALUES (?, ?, ?, ?, ?)`,
		id.Provider, id.Subject, id.AccountID, id.Email, nanos(id.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: create identity: %w", accountConstraint(err))
	}
	return nil
}

// Identity returns the link of a provider's subject.
func (db *DB) Identity(ctx context.Context, provider, subject string) (*kinwatch.Identity, error) {
	id, err := scanIdentity(db.read.QueryRowContext(ctx, `SELECT `+identityColumns+` FROM identities
		WHERE provider = ? AND subject = ?`, provider, subject))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("identity")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: identity: %w", err)
	}
	return id, nil
}

// Identities lists an account's links, ordered by provider.
func (db *DB) Identities(ctx context.Context, accountID string) ([]*kinwatch.Identity, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+identityColumns+` FROM identities
		WHERE account_id = ? ORDER BY provider`, accountID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: identities: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.Identity
	for rows.Next() {
		id, err := scanIdentity(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: identities: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: identities: %w", err)
	}
	return out, nil
}

// DeleteIdentity unlinks the account from the provider; ENOTFOUND if it has no link there.
func (db *DB) DeleteIdentity(ctx context.Context, accountID, provider string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM identities WHERE account_id = ? AND provider = ?`, accountID, provider)
	if err != nil {
		return fmt.Errorf("sqlite: delete identity: %w", err)
	}
	return changedOne(res, "identity")
}
