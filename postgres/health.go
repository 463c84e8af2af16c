package postgres

import (
	"context"
	"fmt"
	"time"

	"kinwatch"
)

const healthColumns = `id, device_id, time, heart_rate, systolic, diastolic, spo2, temperature`

const insertHealth = `INSERT INTO health_readings (` + healthColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

func healthArgs(h *kinwatch.HealthReading, id string) []any {
	return []any{id, h.DeviceID, h.Time, h.HeartRate, h.Systolic, h.Diastolic, h.SpO2, h.Temperature}
}

func scanHealth(s scanner) (*kinwatch.HealthReading, error) {
	var h kinwatch.HealthReading
	if err := s.Scan(&h.ID, &h.DeviceID, &h.Time, &h.HeartRate, &h.Systolic, &h.Diastolic, &h.SpO2, &h.Temperature); err != nil {
		return nil, err
	}
	h.Time = h.Time.UTC()
	return &h, nil
}

// HealthReadings returns one page of a device's readings, newest first.
func (db *DB) HealthReadings(ctx context.Context, deviceID string, p kinwatch.Page) ([]*kinwatch.HealthReading, error) {
	_, before := window(time.Time{}, p.Before)
	rows, err := db.pool.Query(ctx, `SELECT `+healthColumns+` FROM health_readings
		WHERE device_id = $1 AND time <= $2 AND (time < $2 OR id < $3) ORDER BY time DESC, id DESC LIMIT $4`,
		deviceID, before, p.BeforeID, limit(p.Limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: health readings: %w", err)
	}
	out, err := collect(rows, scanHealth)
	if err != nil {
		return nil, fmt.Errorf("postgres: health readings: %w", err)
	}
	return out, nil
}
