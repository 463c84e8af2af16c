package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"kinwatch"
)

const deviceColumns = `id, state, manufacturer, has_index, online, first_seen, last_seen, battery, signal, steps, firmware, iccid, encrypted, consent`

// deviceRead is what reads select: the columns and the family.
const deviceRead = deviceColumns + `, coalesce(family_id, '')`

func scanDevice(s scanner) (*kinwatch.Device, error) {
	var (
		d           kinwatch.Device
		first, last int64
	)
	if err := s.Scan(&d.ID, &d.State, &d.Manufacturer, &d.HasIndex, &d.Online, &first, &last,
		&d.Battery, &d.Signal, &d.Steps, &d.Firmware, &d.ICCID, &d.Encrypted, &d.Consent, &d.FamilyID); err != nil {
		return nil, err
	}
	d.FirstSeen, d.LastSeen = fromNanos(first), fromNanos(last)
	return &d, nil
}

// Device returns the registry entry of the watch with the given id.
func (db *DB) Device(ctx context.Context, id string) (*kinwatch.Device, error) {
	d, err := scanDevice(db.read.QueryRowContext(ctx, `SELECT `+deviceRead+` FROM devices WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("device")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: device: %w", err)
	}
	return d, nil
}

// Devices lists devices in id order, which makes After a stable cursor.
func (db *DB) Devices(ctx context.Context, f kinwatch.DeviceFilter) ([]*kinwatch.Device, error) {
	q := `SELECT ` + deviceRead + ` FROM devices WHERE id > ?`
	args := []any{f.After}
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, string(f.State))
	}
	if f.Online != nil {
		q += ` AND online = ?`
		args = append(args, *f.Online)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, limit(f.Limit))

	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: devices: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: devices: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: devices: %w", err)
	}
	return out, nil
}

// SetDeviceState changes a device's state.
func (db *DB) SetDeviceState(ctx context.Context, id string, state kinwatch.DeviceState) error {
	switch state {
	case kinwatch.DevicePending, kinwatch.DeviceBound, kinwatch.DeviceBlocked:
	default:
		return kinwatch.Errorf(kinwatch.EINVALID, "unknown device state %q", state)
	}
	res, err := db.write.ExecContext(ctx, `UPDATE devices SET state = ? WHERE id = ?`, string(state), id)
	if err != nil {
		return fmt.Errorf("sqlite: set device state: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: set device state: %w", err)
	} else if n == 0 {
		return notFound("device")
	}
	return nil
}

// MarkAllOffline marks offline every device last seen at or before at. A device seen after at has
// already reconnected to this process and stays online; the zero time marks every device.
func (db *DB) MarkAllOffline(ctx context.Context, at time.Time) error {
	if err := checkTime(at); err != nil {
		return err
	}
	var err error
	if at.IsZero() {
		_, err = db.write.ExecContext(ctx, `UPDATE devices SET online = 0 WHERE online = 1`)
	} else {
		_, err = db.write.ExecContext(ctx, `UPDATE devices SET online = 0 WHERE online = 1 AND last_seen <= ?`, nanos(at))
	}
	if err != nil {
		return fmt.Errorf("sqlite: mark all offline: %w", err)
	}
	return nil
}

// SilentWatches lists the bound watches silent for silence without the offline alarm of it.
func (db *DB) SilentWatches(ctx context.Context, now time.Time, silence time.Duration, limit int) ([]*kinwatch.Device, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+deviceRead+` FROM devices WHERE state = 'bound' AND consent & 1 = 1 AND last_seen < ?
		AND (offline_alarm_for IS NULL OR offline_alarm_for != last_seen) ORDER BY last_seen, id LIMIT ?`, nanos(now.Add(-silence)), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: silent watches: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: silent watches: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// MarkOfflineAlarmed records that the offline alarm of the silence since lastSeen was raised.
func (db *DB) MarkOfflineAlarmed(ctx context.Context, deviceID string, lastSeen time.Time) error {
	if _, err := db.write.ExecContext(ctx, `UPDATE devices SET offline_alarm_for = last_seen WHERE id = ? AND last_seen = ?`, deviceID, nanos(lastSeen)); err != nil {
		return fmt.Errorf("sqlite: mark offline alarmed: %w", err)
	}
	return nil
}
