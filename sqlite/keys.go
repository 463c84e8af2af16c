package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"kinwatch"
	"kinwatch/envelope"
)

// loadKeys is the keyring's Loader: every version of owner's data keys.
func (db *DB) loadKeys(ctx context.Context, owner string) ([]envelope.DataKey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT owner, version, master_id, wrapped, created_at FROM data_keys WHERE owner = ? ORDER BY version`, owner)
	if err != nil {
		return nil, fmt.Errorf("sqlite: data keys: %w", err)
	}
	defer rows.Close()
	var out []envelope.DataKey
	for rows.Next() {
		var (
			k       envelope.DataKey
			created int64
		)
		if err := rows.Scan(&k.Owner, &k.Version, &k.MasterID, &k.Wrapped, &created); err != nil {
			return nil, fmt.Errorf("sqlite: data keys: %w", err)
		}
		k.CreatedAt = fromNanos(created)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: data keys: %w", err)
	}
	return out, nil
}

// Keys is the keyring sealing this store's sensitive data; services seal what they keep outside
// the database (media content, pictures) with it too.
func (db *DB) Keys() *envelope.Keyring { return db.keys }

// createKey stores a new data key of owner in tx (version 1 if it has none, else the next).
func (db *DB) createKey(ctx context.Context, tx *sql.Tx, owner string) error {
	var version int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) + 1 FROM data_keys WHERE owner = ?`, owner).Scan(&version); err != nil {
		return err
	}
	k, err := db.keys.NewDataKey(owner, version)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO data_keys (owner, version, master_id, wrapped, created_at) VALUES (?, ?, ?, ?, ?)`,
		k.Owner, k.Version, k.MasterID, k.Wrapped, nanos(time.Now()))
	return err
}

// RotateKey gives owner a new data key version: new data is sealed with it, older data still
// opens with the older versions.
func (db *DB) RotateKey(ctx context.Context, owner string) error {
	err := db.inTx(ctx, "rotate data key", func(tx *sql.Tx) error { return db.createKey(ctx, tx, owner) })
	db.keys.Forget(owner)
	return err
}

// ShredKeys deletes every data key of owner: whatever was sealed with them is unreadable from now
// on, wherever a copy of it lives.
func (db *DB) ShredKeys(ctx context.Context, owner string) error {
	_, err := db.write.ExecContext(ctx, `DELETE FROM data_keys WHERE owner = ?`, owner)
	db.keys.Forget(owner)
	if err != nil {
		return fmt.Errorf("sqlite: shred keys: %w", err)
	}
	return nil
}

// RewrapKeys re-wraps every data key that another master key wrapped with the current one, and
// returns how many it changed. After it, the old master keys can be removed from the key file.
func (db *DB) RewrapKeys(ctx context.Context) (int, error) {
	n := 0
	err := db.inTx(ctx, "rewrap data keys", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT owner, version, master_id, wrapped, created_at FROM data_keys WHERE master_id != ?`, db.keys.Master().CurrentID())
		if err != nil {
			return err
		}
		var keys []envelope.DataKey
		for rows.Next() {
			var k envelope.DataKey
			var created int64
			if err := rows.Scan(&k.Owner, &k.Version, &k.MasterID, &k.Wrapped, &created); err != nil {
				rows.Close()
				return err
			}
			keys = append(keys, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, k := range keys {
			nk, changed, err := db.keys.Rewrap(k)
			if err != nil {
				return kinwatch.Errorf(kinwatch.EINVALID, "data key of %s version %d: %v", k.Owner, k.Version, err)
			}
			if !changed {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE data_keys SET master_id = ?, wrapped = ? WHERE owner = ? AND version = ?`,
				nk.MasterID, nk.Wrapped, nk.Owner, nk.Version); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// ensureFamilyKeys gives every family that has no data key one (families made before data keys
// existed).
func (db *DB) ensureFamilyKeys(ctx context.Context) error {
	return db.inTx(ctx, "family keys", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM families f WHERE NOT EXISTS (SELECT 1 FROM data_keys k WHERE k.owner = 'family:' || f.id)`)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if err := db.createKey(ctx, tx, kinwatch.FamilyOwner(id)); err != nil {
				return err
			}
		}
		return nil
	})
}

// EnsureKey creates owner's first data key if it has none.
func (db *DB) EnsureKey(ctx context.Context, owner string) error {
	return db.inTx(ctx, "ensure data key", func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM data_keys WHERE owner = ?`, owner).Scan(&n); err != nil || n > 0 {
			return err
		}
		return db.createKey(ctx, tx, owner)
	})
}
