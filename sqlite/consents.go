package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"kinwatch"
)

// RecordConsents appends entries to the ledger and applies them to the subject's current consent
// in one transaction. A child's watch must still be bound in the entries' family.
func (db *DB) RecordConsents(ctx context.Context, entries []*kinwatch.Consent) (kinwatch.Purposes, error) {
	if err := kinwatch.CheckConsents(entries); err != nil {
		return 0, err
	}
	for _, c := range entries {
		if err := checkTime(c.Time); err != nil {
			return 0, err
		}
	}
	first := entries[0]
	var now kinwatch.Purposes
	err := db.inTx(ctx, "record consents", func(tx *sql.Tx) error {
		var current int64
		var err error
		if first.DeviceID != "" {
			err = tx.QueryRowContext(ctx, `SELECT consent FROM devices WHERE id = ? AND family_id = ? AND state = 'bound'`,
				first.DeviceID, first.FamilyID).Scan(&current)
		} else {
			err = tx.QueryRowContext(ctx, `SELECT consent FROM accounts WHERE id = ?`, first.AccountID).Scan(&current)
		}
		if errors.Is(err, sql.ErrNoRows) {
			if first.DeviceID != "" {
				return notFound("watch")
			}
			return notFound("account")
		}
		if err != nil {
			return err
		}
		for _, c := range entries {
			if _, err := tx.ExecContext(ctx, `INSERT INTO consents (id, account_id, family_id, device_id, purpose, granted,
					policy_version, method, statement, time) VALUES (?, ?, nullif(?, ''), nullif(?, ''), ?, ?, ?, ?, ?, ?)`,
				c.ID, c.AccountID, c.FamilyID, c.DeviceID, string(c.Purpose), c.Granted, c.PolicyVersion, c.Method, c.Statement, nanos(c.Time)); err != nil {
				return err
			}
		}
		now = kinwatch.Purposes(current).Apply(entries)
		if first.DeviceID != "" {
			_, err = tx.ExecContext(ctx, `UPDATE devices SET consent = ? WHERE id = ?`, int64(now), first.DeviceID)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE accounts SET consent = ? WHERE id = ?`, int64(now), first.AccountID)
		}
		return err
	})
	return now, err
}

const consentColumns = `id, coalesce(account_id, ''), coalesce(family_id, ''), coalesce(device_id, ''), purpose, granted,
	policy_version, method, statement, time`

// AccountConsents lists an account's own ledger, newest first.
func (db *DB) AccountConsents(ctx context.Context, accountID string, p kinwatch.Page) ([]*kinwatch.Consent, error) {
	return db.consents(ctx, `account_id = ?1 AND device_id IS NULL`, accountID, p)
}

// ChildConsents lists the ledger of the child wearing a watch, newest first.
func (db *DB) ChildConsents(ctx context.Context, deviceID string, p kinwatch.Page) ([]*kinwatch.Consent, error) {
	return db.consents(ctx, `device_id = ?1`, deviceID, p)
}

func (db *DB) consents(ctx context.Context, where, subject string, p kinwatch.Page) ([]*kinwatch.Consent, error) {
	_, before := window(time.Time{}, p.Before)
	rows, err := db.read.QueryContext(ctx, `SELECT `+consentColumns+` FROM consents
		WHERE `+where+` AND time <= ?2 AND (time < ?2 OR id < ?3) ORDER BY time DESC, id DESC LIMIT ?4`,
		subject, before, p.BeforeID, limit(p.Limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: consents: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.Consent
	for rows.Next() {
		var (
			c kinwatch.Consent
			t int64
		)
		if err := rows.Scan(&c.ID, &c.AccountID, &c.FamilyID, &c.DeviceID, &c.Purpose, &c.Granted,
			&c.PolicyVersion, &c.Method, &c.Statement, &t); err != nil {
			return nil, fmt.Errorf("sqlite: consents: %w", err)
		}
		c.Time = fromNanos(t)
		out = append(out, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: consents: %w", err)
	}
	return out, nil
}
