package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The device statements take NULL for "not reported": the insert branch then uses the column's
// default and the update branch keeps the stored value. last_seen never moves backwards, so a
// late batch cannot make a watch look older than it is (greatest ignores NULL). What describes
// the child (battery, signal, steps, the SIM) is written only to a bound watch's row whose child
// has the service consent (bit 1, kinwatch.PurposeService): a new row is pending, and an update
// the gateway queued before an unbinding cannot undo its reset.
const (
	upsertDevice = `INSERT INTO devices (` + deviceColumns + `)
		VALUES ($1, 'pending', coalesce($2::text, ''), coalesce($3::boolean, false), coalesce($4::boolean, false),
			$5::timestamptz, coalesce($6::timestamptz, $5::timestamptz), -1, -1, 0, coalesce($10::text, ''), '',
			coalesce($12::boolean, false), 0)
		ON CONFLICT (id) DO UPDATE SET
			manufacturer = coalesce($2::text, devices.manufacturer),
			has_index = coalesce($3::boolean, devices.has_index),
			online = coalesce($4::boolean, devices.online),
			last_seen = greatest(devices.last_seen, $6::timestamptz),
			battery = CASE WHEN devices.state = 'bound' AND devices.consent & 1 = 1 THEN coalesce($7::integer, devices.battery) ELSE devices.battery END,
			signal = CASE WHEN devices.state = 'bound' AND devices.consent & 1 = 1 THEN coalesce($8::integer, devices.signal) ELSE devices.signal END,
			steps = CASE WHEN devices.state = 'bound' AND devices.consent & 1 = 1 THEN coalesce($9::bigint, devices.steps) ELSE devices.steps END,
			firmware = coalesce($10::text, devices.firmware),
			iccid = CASE WHEN devices.state = 'bound' AND devices.consent & 1 = 1 THEN coalesce($11::text, devices.iccid) ELSE devices.iccid END,
			encrypted = coalesce($12::boolean, devices.encrypted)`
	// ensureDevice registers a device that only data records name. Its update never happens
	// (WHERE false), but ON CONFLICT DO UPDATE locks the existing row all the same, as the upsert
	// does: every device row of a batch is locked, in id order, before its state is read.
	ensureDevice = `INSERT INTO devices (id, first_seen, last_seen) VALUES ($1, $2, $2)
		ON CONFLICT (id) DO UPDATE SET state = devices.state WHERE false`
	// boundDevices reads the bound watches' current consent. It needs no FOR SHARE: the device
	// statements before it locked the rows already, so a consent change waits for the batch.
	boundDevices = `SELECT id, family_id, consent FROM devices WHERE id = ANY($1) AND state = 'bound'`
)

// WriteBatch stores recs in one transaction: all of them or, on any error, none. The data records
// of a watch that is not bound are dropped (their entries in recs are set to the zero Record once
// the batch commits, so the caller passes on only what was stored); its device updates are
// stored. The devices and their states take one pipelined round trip, the low-volume records
// another, positions go through COPY.
//
// Every device row of the batch is locked before its state is read, so an Unbind running at the
// same time either waits for the batch to commit and then deletes what it wrote, or commits first
// and the batch sees the watch pending. The locks are taken in id order, one device at a time, so
// concurrent batches wait for each other instead of deadlocking.
func (db *DB) WriteBatch(ctx context.Context, recs []kinwatch.Record) error {
	if len(recs) == 0 {
		return nil
	}
	devices, err := kinwatch.FoldBatch(recs, storable)
	if err != nil {
		return err
	}
	now := time.Now()
	var (
		bound      map[string]kinwatch.Bound
		duplicates []int // alarms stored already
	)
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
		bound, duplicates = nil, nil
		if slices.ContainsFunc(recs, func(r kinwatch.Record) bool { return r.Device == nil }) {
			ids := make([]string, len(devices))
			for i, d := range devices {
				ids[i] = d.ID
			}
			bound = make(map[string]kinwatch.Bound, len(devices))
			b.Queue(boundDevices, ids).Query(func(rows pgx.Rows) error {
				var (
					id, family string
					consent    int64
				)
				_, err := pgx.ForEachRow(rows, []any{&id, &family, &consent}, func() error {
					bound[id] = kinwatch.Bound{Owner: kinwatch.FamilyOwner(family), Consent: kinwatch.Purposes(consent)}
					return nil
				})
				return err
			})
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}

		// A watch nobody is responsible for keeps only its registry entry, and a child's data is
		// kept only for the purposes a guardian consented to. Data the gateway queued before a
		// guardian unbound the watch or withdrew consent reaches this point after that and is
		// dropped here.
		b = &pgx.Batch{}
		positions := 0
		for i := range recs {
			r := &recs[i]
			if r.Device != nil || !kinwatch.Keeps(bound, r) {
				continue
			}
			switch {
			case r.Position != nil:
				positions++
			case r.Event != nil && r.Event.Type == kinwatch.EventAlarm:
				// The statements of the batch run in order in the transaction, so a resend in the
				// same batch finds the first.
				i := i
				args := append(eventArgs(r.Event, recordID(r.Event.ID)), r.Event.Time.Add(-kinwatch.AlarmRepeatWindow), r.Event.Time.Add(kinwatch.AlarmRepeatWindow))
				b.Queue(insertAlarm, args...).Exec(func(ct pgconn.CommandTag) error {
					if ct.RowsAffected() == 0 {
						duplicates = append(duplicates, i)
					}
					return nil
				})
			case r.Event != nil:
				b.Queue(insertEvent, eventArgs(r.Event, recordID(r.Event.ID))...)
			case r.Health != nil:
				b.Queue(insertHealth, healthArgs(r.Health, recordID(r.Health.ID))...)
			case r.Media != nil:
				b.Queue(insertMedia, mediaArgs(r.Media, recordID(r.Media.ID))...)
			}
		}
		if b.Len() > 0 {
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
		}
		if positions == 0 {
			return nil
		}
		rows, err := db.sealPositions(context.WithValue(ctx, txKey{}, tx), recs, bound, positions)
		if err != nil {
			return err
		}
		if _, err = tx.CopyFrom(ctx, pgx.Identifier{"positions"}, positionCopyColumns, rows); err != nil {
			return err
		}
		return renewLateDays(ctx, tx, kinwatch.LateTrackDays(recs, bound, time.Now()))
	})
	if err != nil {
		return fmt.Errorf("postgres: write batch: %w", constraint(err))
	}
	for i := range recs {
		if r := &recs[i]; !kinwatch.Keeps(bound, r) {
			recs[i] = kinwatch.Record{}
		}
	}
	for _, i := range duplicates {
		recs[i] = kinwatch.Record{}
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

// renewLateDays gives the days a batch stored positions of late new generations, in LateTrackDays'
// order, which the triggers on positions use too (so that batches and deletions lock the same
// days in the same order), and deletes their cached rows.
func renewLateDays(ctx context.Context, tx pgx.Tx, late []kinwatch.LateTrackDay) error {
	if len(late) == 0 {
		return nil
	}
	devices, days := make([]string, len(late)), make([]int64, len(late))
	for i, d := range late {
		devices[i], days[i] = d.DeviceID, d.Day
	}
	if _, err := tx.Exec(ctx, `INSERT INTO track_day_gen (device_id, day, gen)
		SELECT device_id, day, (random() * 9e18)::bigint FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS l(device_id, day, n)
		ORDER BY n ON CONFLICT (device_id, day) DO UPDATE SET gen = excluded.gen`, devices, days); err != nil {
		return fmt.Errorf("late days: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM track_days t USING unnest($1::text[], $2::bigint[]) AS l(device_id, day)
		WHERE t.device_id = l.device_id AND t.day = l.day`, devices, days); err != nil {
		return fmt.Errorf("late days: %w", err)
	}
	return nil
}
