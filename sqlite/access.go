package sqlite

import (
	"context"
	"fmt"
	"time"

	"kinwatch"
)

// RecordAccess appends to the access log.
func (db *DB) RecordAccess(ctx context.Context, a *kinwatch.Access) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO access_log (id, family_id, device_id, accessor_id, staff, what, item, reason, time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, a.FamilyID, a.DeviceID, a.AccessorID, a.Staff, a.What, a.Item, a.Reason, nanos(a.Time))
	if err != nil {
		return fmt.Errorf("sqlite: record access: %w", constraint(err))
	}
	return nil
}

// AccessLog lists a family's accesses, newest first.
func (db *DB) AccessLog(ctx context.Context, familyID string, p kinwatch.Page) ([]*kinwatch.Access, error) {
	_, before := window(time.Time{}, p.Before)
	rows, err := db.read.QueryContext(ctx, `SELECT id, family_id, device_id, accessor_id, staff, what, item, reason, time FROM access_log
		WHERE family_id = ?1 AND time <= ?2 AND (time < ?2 OR id < ?3) ORDER BY time DESC, id DESC LIMIT ?4`,
		familyID, before, p.BeforeID, limit(p.Limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: access log: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.Access
	for rows.Next() {
		var (
			a kinwatch.Access
			t int64
		)
		if err := rows.Scan(&a.ID, &a.FamilyID, &a.DeviceID, &a.AccessorID, &a.Staff, &a.What, &a.Item, &a.Reason, &t); err != nil {
			return nil, fmt.Errorf("sqlite: access log: %w", err)
		}
		a.Time = fromNanos(t)
		out = append(out, &a)
	}
	return out, rows.Err()
}
