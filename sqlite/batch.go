package sqlite

import (
	"cmp"
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
// late batch cannot make a watch look older than it is.
const (
	upsertDevice = `INSERT INTO devices (` + deviceColumns + `)
		VALUES (?1, 'pending', coalesce(?2, ''), coalesce(?3, 0), coalesce(?4, 0), ?5, coalesce(?6, ?5),
			coalesce(?7, -1), coalesce(?8, -1), coalesce(?9, 0), coalesce(?10, ''), coalesce(?11, ''), coalesce(?12, 0))
		ON CONFLICT (id) DO UPDATE SET
			manufacturer = coalesce(?2, manufacturer),
			has_index = coalesce(?3, has_index),
			online = coalesce(?4, online),
			last_seen = max(last_seen, coalesce(?6, last_seen)),
			battery = coalesce(?7, battery),
			signal = coalesce(?8, signal),
			steps = coalesce(?9, steps),
			firmware = coalesce(?10, firmware),
			iccid = coalesce(?11, iccid),
			encrypted = coalesce(?12, encrypted)`
	ensureDevice = `INSERT INTO devices (id, first_seen, last_seen) VALUES (?1, ?2, ?2) ON CONFLICT (id) DO NOTHING`
)

// batchStmts are prepared once on the writer connection; inside a transaction tx.Stmt reuses them
// without preparing again because the writer pool has exactly that one connection.
type batchStmts struct {
	upsertDevice, ensureDevice, position, event, health, media *sql.Stmt
}

func (s *batchStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.upsertDevice, s.ensureDevice, s.position, s.event, s.health, s.media} {
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
		{&s.position, insertPosition},
		{&s.event, insertEvent},
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

// WriteBatch stores recs in one transaction: all of them or, on any error, none.
func (db *DB) WriteBatch(ctx context.Context, recs []kinwatch.Record) error {
	if len(recs) == 0 {
		return nil
	}
	devices, err := foldDevices(recs)
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
	if err := writeRecords(ctx, tx, st, devices, recs, time.Now()); err != nil {
		return fmt.Errorf("sqlite: write batch: %w", constraint(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: write batch: %w", err)
	}
	return nil
}

func writeRecords(ctx context.Context, tx *sql.Tx, st *batchStmts, devices []*deviceChange, recs []kinwatch.Record, now time.Time) error {
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
		if d.update {
			_, err = upsert.ExecContext(ctx, d.args(now, args)...)
		} else {
			_, err = ensure.ExecContext(ctx, d.id, nanos(now))
		}
		if err != nil {
			return fmt.Errorf("device %s: %w", d.id, err)
		}
	}

	var position, event, health, media *sql.Stmt // bound to tx on first use
	var net *networkEncoder
	for i := range recs {
		if err := stop.Err(); err != nil {
			return err
		}
		var err error
		switch r := &recs[i]; {
		case r.Position != nil:
			if position == nil {
				position, net = tx.StmtContext(ctx, st.position), newNetworkEncoder()
			}
			var nv any
			if nv, err = net.value(r.Position); err == nil {
				_, err = position.ExecContext(ctx, positionArgs(r.Position, recordID(r.Position.ID), nv, args)...)
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
			return fmt.Errorf("record %d: %w", i, err)
		}
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
	args = append(args[:0], c.id, orNil(c.manufacturer), trueOrNil(c.hasIndex), nil, nanos(first), nullNanos(c.last),
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
// walks the devices index in order. The postgres package folds the same way; storetest holds the
// two to the same behaviour.
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
		if t := r.Device.Time; !t.IsZero() && !representable(t) {
			return "", fmt.Errorf("device update time %s is out of range", t.Format(time.RFC3339))
		}
		return r.Device.ID, nil
	case r.Position != nil:
		what, deviceID, t = "position", r.Position.DeviceID, r.Position.Time
		if rt := r.Position.Received; !rt.IsZero() && !representable(rt) {
			return "", fmt.Errorf("position received time %s is out of range", rt.Format(time.RFC3339))
		}
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
	case !representable(t):
		return "", fmt.Errorf("%s time %s is out of range", what, t.Format(time.RFC3339))
	}
	return deviceID, nil
}

// representable reports whether t fits the INTEGER nanosecond columns (years 1678 to 2261).
func representable(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 1678 && y <= 2261
}
