package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
)

// RecordConsents appends entries to the ledger and applies them to the subject's current consent
// in one transaction. The subject's row is locked first, so concurrent changes apply one after
// the other and a storage batch sees the consent before or after, never half of it. A child's
// watch must still be bound in the entries' family.
func (db *DB) RecordConsents(ctx context.Context, entries []*kinwatch.Consent) (kinwatch.Purposes, error) {
	if err := kinwatch.CheckConsents(entries); err != nil {
		return 0, err
	}
	first := entries[0]
	var now kinwatch.Purposes
	err := db.inTx(ctx, "record consents", func(tx pgx.Tx) error {
		var current int64
		var err error
		if first.DeviceID != "" {
			err = tx.QueryRow(ctx, `SELECT consent FROM devices WHERE id = $1 AND family_id = $2 AND state = 'bound' FOR UPDATE`,
				first.DeviceID, first.FamilyID).Scan(&current)
		} else {
			err = tx.QueryRow(ctx, `SELECT consent FROM accounts WHERE id = $1 FOR UPDATE`, first.AccountID).Scan(&current)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			if first.DeviceID != "" {
				return notFound("watch")
			}
			return notFound("account")
		}
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		for _, c := range entries {
			b.Queue(`INSERT INTO consents (id, account_id, family_id, device_id, purpose, granted,
					policy_version, method, statement, time) VALUES ($1, $2, nullif($3, ''), nullif($4, ''), $5, $6, $7, $8, $9, $10)`,
				c.ID, c.AccountID, c.FamilyID, c.DeviceID, string(c.Purpose), c.Granted, c.PolicyVersion, c.Method, c.Statement, c.Time)
		}
		now = kinwatch.Purposes(current).Apply(entries)
		if first.DeviceID != "" {
			b.Queue(`UPDATE devices SET consent = $1 WHERE id = $2`, int64(now), first.DeviceID)
		} else {
			b.Queue(`UPDATE accounts SET consent = $1 WHERE id = $2`, int64(now), first.AccountID)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return now, err
}

const consentColumns = `id, coalesce(account_id, ''), coalesce(family_id, ''), coalesce(device_id, ''), purpose, granted,
	policy_version, method, statement, time`

func scanConsent(s scanner) (*kinwatch.Consent, error) {
	var c kinwatch.Consent
	var purpose string
	if err := s.Scan(&c.ID, &c.AccountID, &c.FamilyID, &c.DeviceID, &purpose, &c.Granted,
		&c.PolicyVersion, &c.Method, &c.Statement, &c.Time); err != nil {
		return nil, err
	}
	c.Purpose, c.Time = kinwatch.Purpose(purpose), c.Time.UTC()
	return &c, nil
}

// AccountConsents lists an account's own ledger, newest first.
func (db *DB) AccountConsents(ctx context.Context, accountID string, p kinwatch.Page) ([]*kinwatch.Consent, error) {
	return db.consents(ctx, `account_id = $1 AND device_id IS NULL`, accountID, p)
}

// ChildConsents lists the ledger of the child wearing a watch, newest first.
func (db *DB) ChildConsents(ctx context.Context, deviceID string, p kinwatch.Page) ([]*kinwatch.Consent, error) {
	return db.consents(ctx, `device_id = $1`, deviceID, p)
}

func (db *DB) consents(ctx context.Context, where, subject string, p kinwatch.Page) ([]*kinwatch.Consent, error) {
	_, before := window(time.Time{}, p.Before)
	rows, err := db.pool.Query(ctx, `SELECT `+consentColumns+` FROM consents
		WHERE `+where+` AND time <= $2 AND (time < $2 OR id < $3) ORDER BY time DESC, id DESC LIMIT $4`,
		subject, before, p.BeforeID, limit(p.Limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: consents: %w", err)
	}
	out, err := collect(rows, scanConsent)
	if err != nil {
		return nil, fmt.Errorf("postgres: consents: %w", err)
	}
	return out, nil
}
