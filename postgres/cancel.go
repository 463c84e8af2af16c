package postgres

import (
	"context"
	"errors"

	"kinwatch"

	"github.com/jackc/pgx/v5"
)

// CancelAccount deletes the account and everything that is only its, in one transaction. The
// account's row is locked first, then each family's member rows, so a concurrent invitation or
// role change waits.
func (db *DB) CancelAccount(ctx context.Context, id string) (*kinwatch.Cancellation, error) {
	c := &kinwatch.Cancellation{Handovers: map[string]string{}}
	err := db.inTx(ctx, "cancel account", func(tx pgx.Tx) error {
		var avatar string
		if err := tx.QueryRow(ctx, `SELECT avatar FROM accounts WHERE id = $1 FOR UPDATE`, id).Scan(&avatar); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("account")
			}
			return err
		}
		if avatar != "" {
			c.BlobKeys = append(c.BlobKeys, avatar)
		}
		rows, err := tx.Query(ctx, `SELECT blob_key FROM export_jobs WHERE account_id = $1 AND blob_key != ''`, id)
		if err != nil {
			return err
		}
		exports, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		c.BlobKeys = append(c.BlobKeys, exports...)
		rows, err = tx.Query(ctx, `SELECT family_id FROM members WHERE account_id = $1 ORDER BY family_id`, id)
		if err != nil {
			return err
		}
		families, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, fam := range families {
			if err := db.leaveFamily(ctx, tx, id, fam, c); err != nil {
				return err
			}
		}
		// Families it leaves keep the record of its reads, without naming it.
		for _, q := range []string{`UPDATE access_log SET accessor_id = '' WHERE accessor_id = $1 AND NOT staff`,
			`DELETE FROM commands WHERE requested_by = $1`, `DELETE FROM consents WHERE account_id = $1 AND device_id IS NULL`,
			`DELETE FROM data_keys WHERE owner = 'account:' || $1`, `DELETE FROM accounts WHERE id = $1`} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
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
func (db *DB) leaveFamily(ctx context.Context, tx pgx.Tx, account, family string, c *kinwatch.Cancellation) error {
	rows, err := tx.Query(ctx, `SELECT account_id, role FROM members WHERE family_id = $1
		ORDER BY CASE role WHEN 'guardian' THEN 0 ELSE 1 END, joined_at, account_id FOR UPDATE`, family)
	if err != nil {
		return err
	}
	type member struct{ id, role string }
	members, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (member, error) {
		var m member
		err := r.Scan(&m.id, &m.role)
		return m, err
	})
	if err != nil {
		return err
	}
	var role string
	var others []string
	for _, m := range members {
		if m.id == account {
			role = m.role
		} else {
			others = append(others, m.id)
		}
	}
	if len(others) == 0 {
		rows, err := tx.Query(ctx, `SELECT id FROM devices WHERE family_id = $1 ORDER BY id FOR UPDATE`, family)
		if err != nil {
			return err
		}
		watches, err := pgx.CollectRows(rows, pgx.RowTo[string])
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
		for _, q := range []string{`DELETE FROM families WHERE id = $1`, `DELETE FROM data_keys WHERE owner = 'family:' || $1`} {
			if _, err := tx.Exec(ctx, q, family); err != nil {
				return err
			}
		}
		c.Deleted = append(c.Deleted, family)
		return nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM members WHERE family_id = $1 AND account_id = $2`, family, account); err != nil {
		return err
	}
	if role == string(kinwatch.RoleAdmin) {
		if _, err := tx.Exec(ctx, `UPDATE members SET role = 'admin' WHERE family_id = $1 AND account_id = $2`, family, others[0]); err != nil {
			return err
		}
		c.Handovers[family] = others[0]
	}
	if _, err := tx.Exec(ctx, `DELETE FROM commands WHERE requested_by = $1 AND device_id IN (SELECT id FROM devices WHERE family_id = $2)`, account, family); err != nil {
		return err
	}
	c.Left = append(c.Left, family)
	return nil
}
