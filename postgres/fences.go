package postgres

import (
	"context"
	"fmt"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
)

// PutFence creates or replaces a fence of a watch of familyID, in one transaction that locks the
// watch (still in the family) and checks MaxFences.
func (db *DB) PutFence(ctx context.Context, familyID string, f *kinwatch.GeoFence) error {
	if f.ID == "" || f.DeviceID == "" || len(f.Definition) == 0 {
		return kinwatch.Errorf(kinwatch.EINVALID, "a fence needs an id, a watch and a definition")
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	if f.UpdatedAt.IsZero() {
		f.UpdatedAt = f.CreatedAt
	}
	sealed, err := kinwatch.SealFence(ctx, db.keys, familyID, f.ID, f.Definition)
	if err != nil {
		return err
	}
	return db.inTx(ctx, "put fence", func(tx pgx.Tx) error {
		if err := lockFamilyWatch(ctx, tx, familyID, f.DeviceID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM fences WHERE device_id = $1 AND id != $2`, f.DeviceID, f.ID).Scan(&n); err != nil {
			return err
		}
		if n >= kinwatch.MaxFences {
			return kinwatch.Errorf(kinwatch.ECONFLICT, "a watch has at most %d safe zones", kinwatch.MaxFences)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO fences (id, device_id, sealed, state, created_at, updated_at) VALUES ($1, $2, $3, '', $4, $5)
			ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed, state = '', updated_at = excluded.updated_at WHERE fences.device_id = $2`,
			f.ID, f.DeviceID, sealed, f.CreatedAt, f.UpdatedAt)
		if err != nil {
			return err
		}
		return changedOne(tag, "fence")
	})
}

// Fences lists a watch's fences, oldest first, opened.
func (db *DB) Fences(ctx context.Context, deviceID string) ([]*kinwatch.GeoFence, error) {
	family, err := db.deviceFamily(ctx, deviceID)
	if err != nil {
		return nil, fmt.Errorf("postgres: fences: %w", err)
	}
	rows, err := db.pool.Query(ctx, `SELECT id, device_id, sealed, state, created_at, updated_at FROM fences WHERE device_id = $1 ORDER BY created_at, id`, deviceID)
	if err != nil {
		return nil, fmt.Errorf("postgres: fences: %w", err)
	}
	type row struct {
		f      kinwatch.GeoFence
		sealed []byte
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.f.ID, &x.f.DeviceID, &x.sealed, &x.f.State, &x.f.CreatedAt, &x.f.UpdatedAt)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: fences: %w", err)
	}
	out := make([]*kinwatch.GeoFence, len(got))
	for i := range got {
		f := &got[i].f
		f.CreatedAt, f.UpdatedAt = f.CreatedAt.UTC(), f.UpdatedAt.UTC()
		if f.Definition, err = kinwatch.OpenFence(ctx, db.keys, family, f.ID, got[i].sealed); err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

// DeleteFence deletes one of a watch's fences.
func (db *DB) DeleteFence(ctx context.Context, deviceID, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM fences WHERE id = $1 AND device_id = $2`, id, deviceID)
	if err != nil {
		return fmt.Errorf("postgres: delete fence: %w", err)
	}
	return changedOne(tag, "fence")
}

// SaveFenceState records a fence's tracker state, unless the fence was replaced since version.
func (db *DB) SaveFenceState(ctx context.Context, deviceID, id, state string, version time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE fences SET state = $1 WHERE id = $2 AND device_id = $3 AND updated_at = $4`, state, id, deviceID, version)
	if err != nil {
		return fmt.Errorf("postgres: save fence state: %w", err)
	}
	return changedOne(tag, "fence")
}
