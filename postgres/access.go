package postgres

import (
	"context"
	"fmt"
	"time"

	"kinwatch"
)

// RecordAccess appends to the access log.
func (db *DB) RecordAccess(ctx context.Context, a *kinwatch.Access) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO access_log (id, family_id, device_id, accessor_id, staff, what, item, reason, time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, a.ID, a.FamilyID, a.DeviceID, a.AccessorID, a.Staff, a.What, a.Item, a.Reason, a.Time)
	if err != nil {
		return fmt.Errorf("postgres: record access: %w", constraint(err))
	}
	return nil
}

func scanAccess(s scanner) (*kinwatch.Access, error) {
	var a kinwatch.Access
	if err := s.Scan(&a.ID, &a.FamilyID, &a.DeviceID, &a.AccessorID, &a.Staff, &a.What, &a.Item, &a.Reason, &a.Time); err != nil {
		return nil, err
	}
	a.Time = a.Time.UTC()
	return &a, nil
}

// AccessLog lists a family's accesses, newest first.
func (db *DB) AccessLog(ctx context.Context, familyID string, p kinwatch.Page) ([]*kinwatch.Access, error) {
	_, before := window(time.Time{}, p.Before)
	rows, err := db.pool.Query(ctx, `SELECT id, family_id, device_id, accessor_id, staff, what, item, reason, time FROM access_log
		WHERE family_id = $1 AND time <= $2 AND (time < $2 OR id < $3) ORDER BY time DESC, id DESC LIMIT $4`,
		familyID, before, p.BeforeID, limit(p.Limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: access log: %w", err)
	}
	out, err := collect(rows, scanAccess)
	if err != nil {
		return nil, fmt.Errorf("postgres: access log: %w", err)
	}
	return out, nil
}
