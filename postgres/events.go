package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"kinwatch"

	"github.com/jackc/pgx/v5"
)

const eventColumns = `id, device_id, time, type, alarm, data, subject`

const insertEvent = `INSERT INTO events (` + eventColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`

// insertAlarm stores an alarm, to be notified, unless the same alarm (kind and subject) of the
// same watch was stored within kinwatch.AlarmRepeatWindow of it ($8 and $9 bound the window): a
// resend changes nothing.
const insertAlarm = `INSERT INTO events (` + eventColumns + `, notify) SELECT $1, $2, $3, $4, $5, $6, $7, true
	WHERE NOT EXISTS (SELECT 1 FROM events WHERE device_id = $2 AND type = 'alarm' AND alarm = $5 AND time > $8 AND time < $9 AND subject = $7)`

func eventArgs(e *kinwatch.Event, id string) []any {
	var data any
	if len(e.Data) > 0 {
		data = []byte(e.Data)
	}
	return []any{id, e.DeviceID, e.Time, e.Type, e.Alarm, data, e.Subject}
}

func scanEvent(s scanner) (*kinwatch.Event, error) {
	var (
		e    kinwatch.Event
		data []byte
	)
	if err := s.Scan(&e.ID, &e.DeviceID, &e.Time, &e.Type, &e.Alarm, &data, &e.Subject); err != nil {
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

// Event returns one of a device's events.
func (db *DB) Event(ctx context.Context, deviceID, id string) (*kinwatch.Event, error) {
	e, err := scanEvent(db.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM events WHERE id = $1 AND device_id = $2`, id, deviceID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("event")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: event: %w", err)
	}
	return e, nil
}
