package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"kinwatch"
)

// The device statements take NULL for "not reported": the insert branch then uses the column's
// default and the update branch keeps the stored value. last_seen never moves backwards, so a
// late batch cannot make a watch look older than it is. What describes the child (battery,
// signal, steps, the SIM) is written only to a bound watch's row whose child has the service
// consent (bit 1, kinwatch.PurposeService): a new row is pending, and an update the gateway
// queued before an unbinding cannot undo its reset.
const (
	upsertDevice = `INSERT INTO devices (` + deviceColumns + `)
		VALUES (?1, 'pending', coalesce(?2, ''), coalesce(?3, 0), coalesce(?4, 0), ?5, coalesce(?6, ?5),
			-1, -1, 0, coalesce(?10, ''), '', coalesce(?12, 0), 0)
		ON CONFLICT (id) DO UPDATE SET
			manufacturer = coalesce(?2, manufacturer),
			has_index = coalesce(?3, has_index),
			online = coalesce(?4, online),
			last_seen = max(last_seen, coalesce(?6, last_seen)),
			battery = iif(state = 'bound' AND consent & 1 = 1, coalesce(?7, battery), battery),
			signal = iif(state = 'bound' AND consent & 1 = 1, coalesce(?8, signal), signal),
			steps = iif(state = 'bound' AND consent & 1 = 1, coalesce(?9, steps), steps),
			firmware = coalesce(?10, firmware),
			iccid = iif(state = 'bound' AND consent & 1 = 1, coalesce(?11, iccid), iccid),
			encrypted = coalesce(?12, encrypted)`
	ensureDevice = `INSERT INTO devices (id, first_seen, last_seen) VALUES (?1, ?2, ?2) ON CONFLICT (id) DO NOTHING`
	// boundDevices takes the batch's device ids as a JSON array: one statement, prepared once,
	// whatever the number of devices. The transaction holds the only write lock, so no Unbind can
	// change a state or a consent between this read and the commit.
	boundDevices = `SELECT id, family_id, consent FROM devices WHERE id IN (SELECT value FROM json_each(?1)) AND state = 'bound'`
)

// batchStmts are prepared once on the writer connection; inside a transaction tx.Stmt reuses them
// without preparing again because the writer pool has exactly that one connection.
type batchStmts struct {
	upsertDevice, ensureDevice, boundDevices, position, event, alarm, health, media *sql.Stmt
}

func (s *batchStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.upsertDevice, s.ensureDevice, s.boundDevices, s.position, s.event, s.alarm, s.health, s.media} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// batchStatements prepares lazily: Open must work on a database that Migrate has not created yet.
func (db *DB) batchStatements(ctx context.Context) (*batchStmts, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.stmts != nil {
		return db.stmts, nil
	}
	s := &batchStmts{}
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&s.upsertDevice, upsertDevice},
		{&s.ensureDevice, ensureDevice},
		{&s.boundDevices, boundDevices},
		{&s.position, insertPosition},
		{&s.event, insertEvent},
		{&s.alarm, insertAlarm},
		{&s.health, insertHealth},
		{&s.media, insertMedia},
	} {
		st, err := db.write.PrepareContext(ctx, p.sql)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("sqlite: prepare batch statements (has Migrate run?): %w", err)
		}
		*p.dst = st
	}
	db.stmts = s
	return s, nil
}

// WriteBatch stores recs in one transaction: all of them or, on any error, none. The data records
// of a watch that is not bound are dropped (their entries in recs are set to the zero Record once
// the batch commits, so the caller passes on only what was stored); its device updates are stored.
func (db *DB) WriteBatch(ctx context.Context, recs []kinwatch.Record) error {
	if len(recs) == 0 {
		return nil
	}
	devices, err := kinwatch.FoldBatch(recs, representable)
	if err != nil {
		return err
	}
	st, err := db.batchStatements(ctx)
	if err != nil {
		return err
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: write batch: %w", err)
	}
	defer tx.Rollback()
	dropped, err := db.writeRecords(ctx, tx, st, devices, recs, time.Now())
	if err != nil {
		return fmt.Errorf("sqlite: write batch: %w", constraint(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: write batch: %w", err)
	}
	for _, i := range dropped {
		recs[i] = kinwatch.Record{}
	}
	return nil
}

// writeRecords writes the batch in tx and returns the indexes of the records it dropped (data of
// watches that are not bound).
func (db *DB) writeRecords(ctx context.Context, tx *sql.Tx, st *batchStmts, devices []*kinwatch.DeviceChange, recs []kinwatch.Record, now time.Time) (dropped []int, err error) {
	// The driver starts a goroutine per statement to watch a cancellable context. A row insert
	// takes microseconds, so the statements run uncancellable and the loop checks ctx between
	// records instead; database/sql also rolls tx back as soon as ctx ends.
	stop := ctx
	ctx = context.WithoutCancel(ctx)
	args := make([]any, 0, 24)
	upsert, ensure := tx.StmtContext(ctx, st.upsertDevice), tx.StmtContext(ctx, st.ensureDevice)
	// Devices first: the data rows reference them.
	for _, d := range devices {
		var err error
		if d.Updated {
			_, err = upsert.ExecContext(ctx, deviceArgs(d, now, args)...)
		} else {
			_, err = ensure.ExecContext(ctx, d.ID, nanos(now))
		}
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", d.ID, err)
		}
	}
	// A watch nobody is responsible for keeps only its registry entry, and a child's data is kept
	// only for the purposes a guardian consented to. Data the gateway queued before a guardian
	// unbound the watch or withdrew consent reaches this point after that and is dropped here.
	bound, err := boundSet(ctx, tx.StmtContext(ctx, st.boundDevices), devices, recs)
	if err != nil {
		return nil, fmt.Errorf("device states: %w", err)
	}

	var position, event, alarm, health, media *sql.Stmt // bound to tx on first use
	var secrets kinwatch.PositionSecrets
	for i := range recs {
		if err := stop.Err(); err != nil {
			return nil, err
		}
		r := &recs[i]
		if !kinwatch.Keeps(bound, r) {
			dropped = append(dropped, i)
			continue
		}
		var err error
		switch {
		case r.Position != nil:
			if position == nil {
				position = tx.StmtContext(ctx, st.position)
			}
			id := recordID(r.Position.ID)
			var sealed []byte
			if sealed, err = db.sealPosition(ctx, &secrets, bound[r.Position.DeviceID].Owner, id, r.Position); err == nil {
				_, err = position.ExecContext(ctx, positionArgs(r.Position, id, sealed, args)...)
			}
		case r.Event != nil && r.Event.Type == kinwatch.EventAlarm:
			if alarm == nil {
				alarm = tx.StmtContext(ctx, st.alarm)
			}
			var res sql.Result
			if res, err = alarm.ExecContext(ctx, alarmArgs(r.Event, recordID(r.Event.ID), args)...); err == nil {
				if n, _ := res.RowsAffected(); n == 0 {
					dropped = append(dropped, i) // the same alarm, stored already
				}
			}
		case r.Event != nil:
			if event == nil {
				event = tx.StmtContext(ctx, st.event)
			}
			_, err = event.ExecContext(ctx, eventArgs(r.Event, recordID(r.Event.ID), args)...)
		case r.Health != nil:
			if health == nil {
				health = tx.StmtContext(ctx, st.health)
			}
			_, err = health.ExecContext(ctx, healthArgs(r.Health, recordID(r.Health.ID), args)...)
		case r.Media != nil:
			if media == nil {
				media = tx.StmtContext(ctx, st.media)
			}
			_, err = media.ExecContext(ctx, mediaArgs(r.Media, recordID(r.Media.ID), args)...)
		}
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
	}
	for _, d := range kinwatch.LateTrackDays(recs, bound, time.Now()) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO track_day_gen (device_id, day, gen) VALUES (?1, ?2, random())
			ON CONFLICT (device_id, day) DO UPDATE SET gen = random()`, d.DeviceID, d.Day); err != nil {
			return nil, fmt.Errorf("late day: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM track_days WHERE device_id = ? AND day = ?`, d.DeviceID, d.Day); err != nil {
			return nil, fmt.Errorf("late day: %w", err)
		}
	}
	return dropped, nil
}

// boundSet returns the family and current consent of the batch's bound devices, nil when no
// record needs to know.
func boundSet(ctx context.Context, q *sql.Stmt, devices []*kinwatch.DeviceChange, recs []kinwatch.Record) (map[string]kinwatch.Bound, error) {
	if !slices.ContainsFunc(recs, func(r kinwatch.Record) bool { return r.Device == nil }) {
		return nil, nil
	}
	ids := make([]string, len(devices))
	for i, d := range devices {
		ids[i] = d.ID
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, string(list))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	bound := make(map[string]kinwatch.Bound, len(devices))
	for rows.Next() {
		var (
			id, family string
			consent    int64
		)
		if err := rows.Scan(&id, &family, &consent); err != nil {
			return nil, err
		}
		bound[id] = kinwatch.Bound{Owner: kinwatch.FamilyOwner(family), Consent: kinwatch.Purposes(consent)}
	}
	return bound, rows.Err()
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
	args = append(args[:0], c.ID, orNil(c.Manufacturer), boolOrNil(c.HasIndex), boolOrNil(c.Online), nanos(first), nullNanos(c.Last),
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

// representable reports whether t fits the INTEGER nanosecond columns (years 1678 to 2261).
func representable(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 1678 && y <= 2261
}
