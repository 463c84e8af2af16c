package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
)

// The device statements take NULL for "not reported": the insert branch then uses the column's
// default and the update branch keeps the stored value. last_seen never moves backwards, so a
// late batch cannot make a watch look older than it is (greatest ignores NULL).
const (
	upsertDevice = `INSERT INTO devices (` + deviceColumns + `)
		VALUES ($1, 'pending', coalesce($2::text, ''), coalesce($3::boolean, false), coalesce($4::boolean, false),
			$5::timestamptz, coalesce($6::timestamptz, $5::timestamptz), coalesce($7::integer, -1), coalesce($8::integer, -1),
			coalesce($9::bigint, 0), coalesce($10::text, ''), coalesce($11::text, ''), coalesce($12::boolean, false))
		ON CONFLICT (id) DO UPDATE SET
			manufacturer = coalesce($2::text, devices.manufacturer),
			has_index = coalesce($3::boolean, devices.has_index),
			online = coalesce($4::boolean, devices.online),
			last_seen = greatest(devices.last_seen, $6::timestamptz),
			battery = coalesce($7::integer, devices.battery),
			signal = coalesce($8::integer, devices.signal),
			steps = coalesce($9::bigint, devices.steps),
			firmware = coalesce($10::text, devices.firmware),
			iccid = coalesce($11::text, devices.iccid),
			encrypted = coalesce($12::boolean, devices.encrypted)`
	ensureDevice = `INSERT INTO devices (id, first_seen, last_seen) VALUES ($1, $2, $2) ON CONFLICT (id) DO NOTHING`
)

// WriteBatch stores recs in one transaction: all of them or, on any error, none. Devices and the
// low-volume records go in one pipelined round trip, positions through COPY.
func (db *DB) WriteBatch(ctx context.Context, recs []kinwatch.Record) error {
	if len(recs) == 0 {
		return nil
	}
	devices, err := foldDevices(recs)
	if err != nil {
		return err
	}
	now := time.Now()
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		// Devices first: the data rows reference them.
		for _, d := range devices {
			if d.update {
				b.Queue(upsertDevice, d.args(now, make([]any, 0, 12))...)
			} else {
				b.Queue(ensureDevice, d.id, now)
			}
		}
		positions := 0
		for i := range recs {
			switch r := &recs[i]; {
			case r.Position != nil:
				positions++
			case r.Event != nil:
				b.Queue(insertEvent, eventArgs(r.Event, recordID(r.Event.ID))...)
			case r.Health != nil:
				b.Queue(insertHealth, healthArgs(r.Health, recordID(r.Health.ID))...)
			case r.Media != nil:
				b.Queue(insertMedia, mediaArgs(r.Media, recordID(r.Media.ID))...)
			}
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if positions == 0 {
			return nil
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"positions"}, positionCopyColumns, newPositionRows(recs))
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: write batch: %w", constraint(err))
	}
	return nil
}

// recordID gives a record without an id a fresh one. The record itself is left alone: the caller
// may share it with other readers (a live feed) while the batch is written.
func recordID(id string) string {
	if id == "" {
		return kinwatch.NewID()
	}
	return id
}

// deviceChange is what one batch does to one device row: its DeviceUpdates folded in record order
// (the latest reported value of each field wins), so the row is written once per batch.
type deviceChange struct {
	id                            string
	update                        bool      // false: only data records name the device; create it if missing, change nothing
	first, last                   time.Time // earliest and latest update time, zero if no update had one
	manufacturer, firmware, iccid string
	hasIndex, encrypted           bool // DeviceUpdate can only report these as true
	online                        *bool
	battery, signal               *int
	steps                         *int64
}

func (c *deviceChange) apply(u *kinwatch.DeviceUpdate) {
	c.update = true
	if !u.Time.IsZero() {
		if c.first.IsZero() || u.Time.Before(c.first) {
			c.first = u.Time
		}
		if u.Time.After(c.last) {
			c.last = u.Time
		}
	}
	c.manufacturer = cmp.Or(u.Manufacturer, c.manufacturer)
	c.firmware = cmp.Or(u.Firmware, c.firmware)
	c.iccid = cmp.Or(u.ICCID, c.iccid)
	c.hasIndex = c.hasIndex || u.HasIndex
	c.encrypted = c.encrypted || u.Encrypted
	if u.Online != nil {
		c.online = u.Online
	}
	if u.Battery != nil {
		c.battery = u.Battery
	}
	if u.Signal != nil {
		c.signal = u.Signal
	}
	if u.Steps != nil {
		c.steps = u.Steps
	}
}

// args returns the upsertDevice arguments, nil for what no update reported.
func (c *deviceChange) args(now time.Time, args []any) []any {
	first := c.first
	if first.IsZero() {
		first = now
	}
	args = append(args[:0], c.id, orNil(c.manufacturer), trueOrNil(c.hasIndex), nil, first, nullTime(c.last),
		nil, nil, nil, orNil(c.firmware), orNil(c.iccid), trueOrNil(c.encrypted))
	if c.online != nil {
		args[3] = *c.online
	}
	if c.battery != nil {
		args[6] = int64(*c.battery)
	}
	if c.signal != nil {
		args[7] = int64(*c.signal)
	}
	if c.steps != nil {
		args[8] = *c.steps
	}
	return args
}

func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func trueOrNil(b bool) any {
	if !b {
		return nil
	}
	return true
}

// foldDevices validates recs and folds their device updates, returning one change per device in
// id order. Every device a data record names is included, so the foreign keys hold and a watch
// whose data arrives first is registered (as pending) like one that sent an update. The id order
// keeps the lock order of concurrent batches fixed, so they wait for each other instead of
// deadlocking. The sqlite package folds the same way; storetest holds the two to the same
// behaviour.
func foldDevices(recs []kinwatch.Record) ([]*deviceChange, error) {
	byID := make(map[string]*deviceChange)
	get := func(id string) *deviceChange {
		c := byID[id]
		if c == nil {
			c = &deviceChange{id: id}
			byID[id] = c
		}
		return c
	}
	for i := range recs {
		r := &recs[i]
		deviceID, err := checkRecord(r)
		if err != nil {
			return nil, &kinwatch.Error{Code: kinwatch.EINVALID, Message: fmt.Sprintf("record %d: %s", i, err)}
		}
		if r.Device != nil {
			get(deviceID).apply(r.Device)
		} else if byID[deviceID] == nil {
			get(deviceID)
		}
	}
	out := make([]*deviceChange, 0, len(byID))
	for _, c := range byID {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *deviceChange) int { return cmp.Compare(a.id, b.id) })
	return out, nil
}

// checkRecord returns the device id r refers to, or why r cannot be stored. Checking the whole
// batch before writing keeps a bad record from costing a half-written transaction.
func checkRecord(r *kinwatch.Record) (string, error) {
	n := 0
	for _, set := range []bool{r.Position != nil, r.Event != nil, r.Health != nil, r.Device != nil, r.Media != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return "", fmt.Errorf("exactly one field must be set, not %d", n)
	}
	var (
		what, deviceID string
		t              time.Time
	)
	switch {
	case r.Device != nil:
		if r.Device.ID == "" {
			return "", errors.New("device update without a device id")
		}
		return r.Device.ID, nil
	case r.Position != nil:
		what, deviceID, t = "position", r.Position.DeviceID, r.Position.Time
	case r.Event != nil:
		what, deviceID, t = "event", r.Event.DeviceID, r.Event.Time
		if len(r.Event.Data) > 0 && !json.Valid(r.Event.Data) {
			return "", errors.New("event data is not valid JSON")
		}
	case r.Health != nil:
		what, deviceID, t = "health reading", r.Health.DeviceID, r.Health.Time
	case r.Media != nil:
		what, deviceID, t = "media", r.Media.DeviceID, r.Media.Time
	}
	switch {
	case deviceID == "":
		return "", fmt.Errorf("%s without a device id", what)
	case t.IsZero():
		return "", fmt.Errorf("%s without a time", what)
	}
	return deviceID, nil
}
