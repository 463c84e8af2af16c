package postgres

import (
	"context"
	"fmt"
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
	devices, err := kinwatch.FoldBatch(recs, storable)
	if err != nil {
		return err
	}
	now := time.Now()
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		// Devices first: the data rows reference them.
		for _, d := range devices {
			if d.Updated {
				b.Queue(upsertDevice, deviceArgs(d, now, make([]any, 0, 12))...)
			} else {
				b.Queue(ensureDevice, d.ID, now)
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

// deviceArgs returns the upsertDevice arguments for c, nil for what no update reported.
func deviceArgs(c *kinwatch.DeviceChange, now time.Time, args []any) []any {
	first := c.First
	if first.IsZero() {
		first = now
	}
	args = append(args[:0], c.ID, orNil(c.Manufacturer), boolOrNil(c.HasIndex), boolOrNil(c.Online), first, nullTime(c.Last),
		nil, nil, nil, orNil(c.Firmware), orNil(c.ICCID), boolOrNil(c.Encrypted))
	if c.Battery != nil {
		args[6] = int64(*c.Battery)
	}
	if c.Signal != nil {
		args[7] = int64(*c.Signal)
	}
	if c.Steps != nil {
		args[8] = *c.Steps
	}
	return args
}

func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func boolOrNil(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

// storable reports whether t fits a timestamptz (4713 BC to 294276 AD).
func storable(t time.Time) bool {
	y := t.UTC().Year()
	return y >= -4712 && y <= 294275
}
