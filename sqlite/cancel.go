package sqlite

import (
	"context"
	"database/sql"

	"kinwatch"
)

// CancelAccount deletes the account and everything that is only its, in one transaction.
func (db *DB) CancelAccount(ctx context.Context, id string) (*kinwatch.Cancellation, error) {
	c := &kinwatch.Cancellation{Handovers: map[string]string{}}
	err := db.inTx(ctx, "cancel account", func(tx *sql.Tx) error {
		var avatar string
		if err := tx.QueryRowContext(ctx, `SELECT avatar FROM accounts WHERE id = ?`, id).Scan(&avatar); err != nil {
			if err == sql.ErrNoRows {
				return notFound("account")
			}
			return err
		}
		if avatar != "" {
			c.BlobKeys = append(c.BlobKeys, avatar)
		}
		exports, err := queryStrings(ctx, tx, `SELECT blob_key FROM export_jobs WHERE account_id = ? AND blob_key != ''`, id)
		if err != nil {
			return err
		}
		c.BlobKeys = append(c.BlobKeys, exports...)
		families, err := queryStrings(ctx, tx, `SELECT family_id FROM members WHERE account_id = ? ORDER BY family_id`, id)
		if err != nil {
			return err
		}
		for _, fam := range families {
			if err := db.leaveFamily(ctx, tx, id, fam, c); err != nil {
				return err
			}
		}
		// Commands it sent to watches of families it left before, and its own consent ledger.
		// Families it leaves keep the record of its reads, without naming it.
		for _, q := range []string{`UPDATE access_log SET accessor_id = '' WHERE accessor_id = ? AND staff = 0`,
			`DELETE FROM commands WHERE requested_by = ?`, `DELETE FROM consents WHERE account_id = ? AND device_id IS NULL`,
			`DELETE FROM data_keys WHERE owner = 'account:' || ?`, `DELETE FROM accounts WHERE id = ?`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	db.keys.Forget(kinwatch.AccountOwner(id))
	for _, fam := range c.Deleted {
		db.keys.Forget(kinwatch.FamilyOwner(fam))
	}
	return c, nil
}

// leaveFamily takes the account out of one family in tx: the family goes on with its other
// members (the one who joined first becomes admin if the account was), or, with nobody left, is
// deleted with its watches' data and keys.
func (db *DB) leaveFamily(ctx context.Context, tx *sql.Tx, account, family string, c *kinwatch.Cancellation) error {
	var role string
	if err := tx.QueryRowContext(ctx, `SELECT role FROM members WHERE family_id = ? AND account_id = ?`, family, account).Scan(&role); err != nil {
		return err
	}
	others, err := queryStrings(ctx, tx, `SELECT account_id FROM members WHERE family_id = ? AND account_id != ?
		ORDER BY CASE role WHEN 'guardian' THEN 0 ELSE 1 END, joined_at, account_id`, family, account)
	if err != nil {
		return err
	}
	if len(others) == 0 {
		watches, err := queryStrings(ctx, tx, `SELECT id FROM devices WHERE family_id = ? ORDER BY id`, family)
		if err != nil {
			return err
		}
		for _, w := range watches {
			keys, err := unbind(ctx, tx, w)
			if err != nil {
				return err
			}
			c.BlobKeys = append(c.BlobKeys, keys...)
			c.Unbound = append(c.Unbound, w)
		}
		// Members, invitations, join requests, challenges and the family's consent entries go
		// with the family (ON DELETE CASCADE); its keys are shredded.
		for _, q := range []string{`DELETE FROM families WHERE id = ?`, `DELETE FROM data_keys WHERE owner = 'family:' || ?`} {
			if _, err := tx.ExecContext(ctx, q, family); err != nil {
				return err
			}
		}
		c.Deleted = append(c.Deleted, family)
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM members WHERE family_id = ? AND account_id = ?`, family, account); err != nil {
		return err
	}
	if role == string(kinwatch.RoleAdmin) {
		// Someone must be able to manage the watches; a guardian is preferred to a viewer.
		if _, err := tx.ExecContext(ctx, `UPDATE members SET role = 'admin' WHERE family_id = ? AND account_id = ?`, family, others[0]); err != nil {
			return err
		}
		c.Handovers[family] = others[0]
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM commands WHERE requested_by = ? AND device_id IN (SELECT id FROM devices WHERE family_id = ?)`, account, family); err != nil {
		return err
	}
	c.Left = append(c.Left, family)
	return nil
}
