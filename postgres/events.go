package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"kinwatch"
)

const eventColumns = `id, device_id, time, type, alarm, data`

const insertEvent = `INSERT INTO events (` + eventColumns + `) VALUES ($1, $2, $3, $4, $5, $6)`

// insertAlarm stores an alarm unless the same alarm of the same watch was stored within
// kinwatch.AlarmRepeatWindow of it ($7 and $8 bound the window): a resend changes nothing.
const insertAlarm = `INSERT INTO events (` + eventColumns + `) SELECT $1, $2, $3, $4, $5, $6
	WHERE NOT EXISTS (SELECT 1 FROM events WHERE device_id = $2 AND type = 'alarm' AND alarm = $5 AND time > $7 AND time < $8)`

func eventArgs(e *kinwatch.Event, id string) []any {
	var data any
	if len(e.Data) > 0 {
		data = []byte(e.Data)
	}
	return []any{id, e.DeviceID, e.Time, e.Type, e.Alarm, data}
}

func scanEvent(s scanner) (*kinwatch.Event, error) {
	var (
		e    kinwatch.Event
		data []byte
	)
	if err := s.Scan(&e.ID, &e.DeviceID, &e.Time, &e.Type, &e.Alarm, &data); err != nil {
		return nil, err
	}
	e.Time = e.Time.UTC()
	if data != nil {
		e.Data = json.RawMessage(data)
	}
	return &e, nil
}

// Events returns a device's events in [From, To), newest first, optionally of one type.
func (db *DB) Events(ctx context.Context, f kinwatch.EventFilter) ([]*kinwatch.Event, error) {
	if f.DeviceID == "" {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "a device id is required")
	}
	from, to := window(f.From, f.To)
	q := `SELECT ` + eventColumns + ` FROM events WHERE device_id = $1 AND time >= $2 AND time <= $3 AND (time < $3 OR id < $4)`
	args := []any{f.DeviceID, from, to, f.BeforeID}
	if f.Type != "" {
		args = append(args, f.Type)
		q += ` AND type = $` + strconv.Itoa(len(args))
	}
	args = append(args, limit(f.Limit))
	q += ` ORDER BY time DESC, id DESC LIMIT $` + strconv.Itoa(len(args))

	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: events: %w", err)
	}
	out, err := collect(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("postgres: events: %w", err)
	}
	return out, nil
}
