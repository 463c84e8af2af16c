package sqlite

import (
	"context"
	"fmt"
	"time"

	"kinwatch"
)

const healthColumns = `id, device_id, time, heart_rate, systolic, diastolic, spo2, temperature`

const insertHealth = `INSERT INTO health_readings (` + healthColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

func healthArgs(h *kinwatch.HealthReading, id string, args []any) []any {
	return append(args[:0], id, h.DeviceID, nanos(h.Time), int64(h.HeartRate), int64(h.Systolic),
		int64(h.Diastolic), int64(h.SpO2), h.Temperature)
}

// HealthReadings returns one page of a device's readings, newest first.
func (db *DB) HealthReadings(ctx context.Context, deviceID string, p kinwatch.Page) ([]*kinwatch.HealthReading, error) {
	_, before := window(time.Time{}, p.Before)
	rows, err := db.read.QueryContext(ctx, `SELECT `+healthColumns+` FROM health_readings
		WHERE device_id = ?1 AND time <= ?2 AND (time < ?2 OR id < ?3) ORDER BY time DESC, id DESC LIMIT ?4`,
		deviceID, before, p.BeforeID, limit(p.Limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: health readings: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.HealthReading
	for rows.Next() {
		var (
			h kinwatch.HealthReading
			t int64
		)
		if err := rows.Scan(&h.ID, &h.DeviceID, &t, &h.HeartRate, &h.Systolic, &h.Diastolic, &h.SpO2, &h.Temperature); err != nil {
			return nil, fmt.Errorf("sqlite: health readings: %w", err)
		}
		h.Time = fromNanos(t)
		out = append(out, &h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: health readings: %w", err)
	}
	return out, nil
}
