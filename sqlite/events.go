package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"kinwatch"
)

const eventColumns = `id, device_id, time, type, alarm, data, subject`

const insertEvent = `INSERT INTO events (` + eventColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?)`

// insertAlarm stores an alarm, to be notified, unless the same alarm (kind and subject) of the
// same watch was stored within kinwatch.AlarmRepeatWindow of it (?8 and ?9 bound the window): a
// resend changes nothing.
const insertAlarm = `INSERT INTO events (` + eventColumns + `, notify) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, 1
	WHERE NOT EXISTS (SELECT 1 FROM events WHERE device_id = ?2 AND type = 'alarm' AND alarm = ?5 AND time > ?8 AND time < ?9 AND subject = ?7)`

// alarmArgs are insertAlarm's arguments.
func alarmArgs(e *kinwatch.Event, id string, args []any) []any {
	args = eventArgs(e, id, args)
	return append(args, nanos(e.Time.Add(-kinwatch.AlarmRepeatWindow)), nanos(e.Time.Add(kinwatch.AlarmRepeatWindow)))
}

func eventArgs(e *kinwatch.Event, id string, args []any) []any {
	var data any
	if len(e.Data) > 0 {
		data = string(e.Data)
	}
	return append(args[:0], id, e.DeviceID, nanos(e.Time), e.Type, e.Alarm, data, e.Subject)
}

// Events returns a device's events in [From, To), newest first, optionally of one type.
func (db *DB) Events(ctx context.Context, f kinwatch.EventFilter) ([]*kinwatch.Event, error) {
	if f.DeviceID == "" {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "a device id is required")
	}
	from, to := window(f.From, f.To)
	q := `SELECT ` + eventColumns + ` FROM events WHERE device_id = ? AND time >= ? AND time <= ? AND (time < ? OR id < ?)`
	args := []any{f.DeviceID, from, to, to, f.BeforeID}
	if f.Type != "" {
		q += ` AND type = ?`
		args = append(args, f.Type)
	}
	q += ` ORDER BY time DESC, id DESC LIMIT ?`
	args = append(args, limit(f.Limit))

	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.Event
	for rows.Next() {
		var (
			e    kinwatch.Event
			t    int64
			data sql.NullString
		)
		if err := rows.Scan(&e.ID, &e.DeviceID, &t, &e.Type, &e.Alarm, &data, &e.Subject); err != nil {
			return nil, fmt.Errorf("sqlite: events: %w", err)
		}
		e.Time = fromNanos(t)
		if data.Valid {
			e.Data = json.RawMessage(data.String)
		}
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: events: %w", err)
	}
	return out, nil
}

// Event returns one of a device's events.
func (db *DB) Event(ctx context.Context, deviceID, id string) (*kinwatch.Event, error) {
	var (
		e    kinwatch.Event
		t    int64
		data sql.NullString
	)
	err := db.read.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ? AND device_id = ?`, id, deviceID).
		Scan(&e.ID, &e.DeviceID, &t, &e.Type, &e.Alarm, &data, &e.Subject)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("event")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: event: %w", err)
	}
	e.Time = fromNanos(t)
	if data.Valid {
		e.Data = json.RawMessage(data.String)
	}
	return &e, nil
}
