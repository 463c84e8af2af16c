package postgres

import (
	"context"
	"fmt"
	"time"

	"kinwatch"
	"kinwatch/envelope"

	"github.com/jackc/pgx/v5"
)

// txKey marks a context whose key loads must go through the transaction it carries: a storage
// batch seals while it holds a connection and row locks, and waiting for a second connection from
// a pool that other such batches exhaust would deadlock.
type txKey struct{}

// loadKeys is the keyring's Loader: every version of owner's data keys.
func (db *DB) loadKeys(ctx context.Context, owner string) ([]envelope.DataKey, error) {
	var q interface {
		Query(context.Context, string, ...any) (pgx.Rows, error)
	} = db.pool
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		q = tx
	}
	rows, err := q.Query(ctx, `SELECT owner, version, master_id, wrapped, created_at FROM data_keys WHERE owner = $1 ORDER BY version`, owner)
	if err != nil {
		return nil, fmt.Errorf("postgres: data keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, scanDataKey)
	if err != nil {
		return nil, fmt.Errorf("postgres: data keys: %w", err)
	}
	return keys, nil
}

func scanDataKey(row pgx.CollectableRow) (envelope.DataKey, error) {
	var k envelope.DataKey
	err := row.Scan(&k.Owner, &k.Version, &k.MasterID, &k.Wrapped, &k.CreatedAt)
	return k, err
}

// Keys is the keyring sealing this store's sensitive data; services seal what they keep outside
// the database (media content, pictures) with it too.
func (db *DB) Keys() *envelope.Keyring { return db.keys }

// createKey stores a new data key of owner in tx (version 1 if it has none, else the next). The
// advisory lock makes two concurrent rotations of one owner take turns.
func (db *DB) createKey(ctx context.Context, tx pgx.Tx, owner string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('kinwatch.data_key.' || $1))`, owner); err != nil {
		return err
	}
	var version int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) + 1 FROM data_keys WHERE owner = $1`, owner).Scan(&version); err != nil {
		return err
	}
	k, err := db.keys.NewDataKey(owner, version)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO data_keys (owner, version, master_id, wrapped, created_at) VALUES ($1, $2, $3, $4, $5)`,
		k.Owner, k.Version, k.MasterID, k.Wrapped, time.Now())
	return err
}

// RotateKey gives owner a new data key version: new data is sealed with it, older data still
// opens with the older versions.
func (db *DB) RotateKey(ctx context.Context, owner string) error {
	err := db.inTx(ctx, "rotate data key", func(tx pgx.Tx) error { return db.createKey(ctx, tx, owner) })
	db.keys.Forget(owner)
	return err
}

// ShredKeys deletes every data key of owner: whatever was sealed with them is unreadable from now
// on, wherever a copy of it lives.
func (db *DB) ShredKeys(ctx context.Context, owner string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM data_keys WHERE owner = $1`, owner)
	db.keys.Forget(owner)
	if err != nil {
		return fmt.Errorf("postgres: shred keys: %w", err)
	}
	return nil
}

// RewrapKeys re-wraps every data key that another master key wrapped with the current one, and
// returns how many it changed. After it, the old master keys can be removed from the key file.
func (db *DB) RewrapKeys(ctx context.Context) (int, error) {
	n := 0
	err := db.inTx(ctx, "rewrap data keys", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT owner, version, master_id, wrapped, created_at FROM data_keys WHERE master_id != $1 FOR UPDATE`,
			db.keys.Master().CurrentID())
		if err != nil {
			return err
		}
		keys, err := pgx.CollectRows(rows, scanDataKey)
		if err != nil {
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
			if _, err := tx.Exec(ctx, `UPDATE data_keys SET master_id = $1, wrapped = $2 WHERE owner = $3 AND version = $4`,
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
	return db.inTx(ctx, "family keys", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM families f WHERE NOT EXISTS (SELECT 1 FROM data_keys k WHERE k.owner = 'family:' || f.id)`)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
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
	return db.inTx(ctx, "ensure data key", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('kinwatch.data_key.' || $1))`, owner); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM data_keys WHERE owner = $1`, owner).Scan(&n); err != nil || n > 0 {
			return err
		}
		return db.createKey(ctx, tx, owner)
	})
}
