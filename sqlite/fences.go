package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"kinwatch"
)

// PutFence creates or replaces a fence of a watch of familyID, in one transaction that checks the
// watch is still in the family and below MaxFences.
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
	return db.inTx(ctx, "put fence", func(tx *sql.Tx) error {
		var n int
		err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM fences WHERE device_id = ?1 AND id != ?2)
			FROM devices WHERE id = ?1 AND family_id = ?3`, f.DeviceID, f.ID, familyID).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("watch")
		}
		if err != nil {
			return err
		}
		if n >= kinwatch.MaxFences {
			return kinwatch.Errorf(kinwatch.ECONFLICT, "a watch has at most %d safe zones", kinwatch.MaxFences)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO fences (id, device_id, sealed, state, created_at, updated_at) VALUES (?1, ?2, ?3, '', ?4, ?5)
			ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed, state = '', updated_at = excluded.updated_at WHERE fences.device_id = ?2`,
			f.ID, f.DeviceID, sealed, nanos(f.CreatedAt), nanos(f.UpdatedAt))
		if err != nil {
			return err
		}
		return changedOne(res, "fence") // an id of another watch's fence
	})
}

// Fences lists a watch's fences, oldest first, opened.
func (db *DB) Fences(ctx context.Context, deviceID string) ([]*kinwatch.GeoFence, error) {
	family, err := db.deviceFamily(ctx, deviceID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: fences: %w", err)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT id, device_id, sealed, state, created_at, updated_at FROM fences WHERE device_id = ? ORDER BY created_at, id`, deviceID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: fences: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.GeoFence
	for rows.Next() {
		var (
			f                kinwatch.GeoFence
			sealed           []byte
			created, updated int64
		)
		if err := rows.Scan(&f.ID, &f.DeviceID, &sealed, &f.State, &created, &updated); err != nil {
			return nil, fmt.Errorf("sqlite: fences: %w", err)
		}
		f.CreatedAt, f.UpdatedAt = fromNanos(created), fromNanos(updated)
		if f.Definition, err = kinwatch.OpenFence(ctx, db.keys, family, f.ID, sealed); err != nil {
			return nil, err
		}
		out = append(out, &f)
	}
	return out, rows.Err()
}

// DeleteFence deletes one of a watch's fences.
func (db *DB) DeleteFence(ctx context.Context, deviceID, id string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM fences WHERE id = ? AND device_id = ?`, id, deviceID)
	if err != nil {
		return fmt.Errorf("sqlite: delete fence: %w", err)
	}
	return changedOne(res, "fence")
}

// SaveFenceState records a fence's tracker state, unless the fence was replaced since version.
func (db *DB) SaveFenceState(ctx context.Context, deviceID, id, state string, version time.Time) error {
	res, err := db.write.ExecContext(ctx, `UPDATE fences SET state = ? WHERE id = ? AND device_id = ? AND updated_at = ?`, state, id, deviceID, nanos(version))
	if err != nil {
		return fmt.Errorf("sqlite: save fence state: %w", err)
	}
	return changedOne(res, "fence")
}
