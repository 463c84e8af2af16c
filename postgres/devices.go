package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
)

const deviceColumns = `id, state, manufacturer, has_index, online, first_seen, last_seen, battery, signal, steps, firmware, iccid, encrypted, consent`

// deviceRead is what reads select: the columns and the family.
const deviceRead = deviceColumns + `, coalesce(family_id, '')`

func scanDevice(s scanner) (*kinwatch.Device, error) {
	var (
		d     kinwatch.Device
		state string
	)
	if err := s.Scan(&d.ID, &state, &d.Manufacturer, &d.HasIndex, &d.Online, &d.FirstSeen, &d.LastSeen,
		&d.Battery, &d.Signal, &d.Steps, &d.Firmware, &d.ICCID, &d.Encrypted, &d.Consent, &d.FamilyID); err != nil {
		return nil, err
	}
	d.State = kinwatch.DeviceState(state)
	d.FirstSeen, d.LastSeen = d.FirstSeen.UTC(), d.LastSeen.UTC()
	return &d, nil
}

// Device returns the registry entry of the watch with the given id.
func (db *DB) Device(ctx context.Context, id string) (*kinwatch.Device, error) {
	d, err := scanDevice(db.pool.QueryRow(ctx, `SELECT `+deviceRead+` FROM devices WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("device")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: device: %w", err)
	}
	return d, nil
}

// Devices lists devices in id order, which makes After a stable cursor.
func (db *DB) Devices(ctx context.Context, f kinwatch.DeviceFilter) ([]*kinwatch.Device, error) {
	q := `SELECT ` + deviceRead + ` FROM devices WHERE id > $1`
	args := []any{f.After}
	if f.State != "" {
		args = append(args, string(f.State))
		q += ` AND state = $` + strconv.Itoa(len(args))
	}
	if f.Online != nil {
		args = append(args, *f.Online)
		q += ` AND online = $` + strconv.Itoa(len(args))
	}
	args = append(args, limit(f.Limit))
	q += ` ORDER BY id LIMIT $` + strconv.Itoa(len(args))

	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: devices: %w", err)
	}
	out, err := collect(rows, scanDevice)
	if err != nil {
		return nil, fmt.Errorf("postgres: devices: %w", err)
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
	tag, err := db.pool.Exec(ctx, `UPDATE devices SET state = $1 WHERE id = $2`, string(state), id)
	if err != nil {
		return fmt.Errorf("postgres: set device state: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("device")
	}
	return nil
}

// MarkAllOffline marks offline every device last seen at or before at. A device seen after at has
// already reconnected to this process and stays online; the zero time marks every device.
func (db *DB) MarkAllOffline(ctx context.Context, at time.Time) error {
	var err error
	if at.IsZero() {
		_, err = db.pool.Exec(ctx, `UPDATE devices SET online = false WHERE online`)
	} else {
		_, err = db.pool.Exec(ctx, `UPDATE devices SET online = false WHERE online AND last_seen <= $1`, at)
	}
	if err != nil {
		return fmt.Errorf("postgres: mark all offline: %w", err)
	}
	return nil
}

// SilentWatches lists the bound watches silent for silence without the offline alarm of it.
func (db *DB) SilentWatches(ctx context.Context, now time.Time, silence time.Duration, limit int) ([]*kinwatch.Device, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+deviceRead+` FROM devices WHERE state = 'bound' AND consent & 1 = 1 AND last_seen < $1
		AND (offline_alarm_for IS NULL OR offline_alarm_for != last_seen) ORDER BY last_seen, id LIMIT $2`, now.Add(-silence), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: silent watches: %w", err)
	}
	out, err := collect(rows, scanDevice)
	if err != nil {
		return nil, fmt.Errorf("postgres: silent watches: %w", err)
	}
	return out, nil
}

// MarkOfflineAlarmed records that the offline alarm of the silence since lastSeen was raised.
func (db *DB) MarkOfflineAlarmed(ctx context.Context, deviceID string, lastSeen time.Time) error {
	if _, err := db.pool.Exec(ctx, `UPDATE devices SET offline_alarm_for = last_seen WHERE id = $1 AND last_seen = $2`, deviceID, lastSeen); err != nil {
		return fmt.Errorf("postgres: mark offline alarmed: %w", err)
	}
	return nil
}
