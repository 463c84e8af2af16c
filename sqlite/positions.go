package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"kinwatch"
)

const positionColumns = `id, device_id, type, time, received, valid, source, lat, lon, has_coords, speed, course, altitude, accuracy, satellites, signal, battery, steps, rolls, status, alarms, worn, static, network, sealed`

const insertPosition = `INSERT INTO positions (` + positionColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// network is the JSON shape of the network column of positions written before they were sealed.
type network struct {
	Cells []kinwatch.Cell `json:"cells,omitempty"`
	WiFi  []kinwatch.WiFi `json:"wifi,omitempty"`
}

// positionArgs returns the insert's arguments. The precise part (coordinates, altitude, accuracy,
// network) is in sealed only; its columns keep zeros.
func positionArgs(p *kinwatch.Position, id string, sealed []byte, args []any) []any {
	var worn any
	if p.Worn != nil {
		worn = *p.Worn
	}
	return append(args[:0], id, p.DeviceID, p.Type, nanos(p.Time), nullNanos(p.Received), p.Valid, p.Source,
		0.0, 0.0, p.HasCoords, p.Speed, p.Course, 0.0, 0.0, int64(p.Satellites),
		int64(p.Signal), int64(p.Battery), p.Steps, int64(p.Rolls), p.Status, int64(p.Alarms), worn, p.Static, nil, sealed)
}

// sealPosition seals p's precise part with owner's key, bound to the row's id.
func (db *DB) sealPosition(ctx context.Context, secrets *kinwatch.PositionSecrets, owner, id string, p *kinwatch.Position) ([]byte, error) {
	plain, err := secrets.Plaintext(p)
	if err != nil {
		return nil, err
	}
	sealed, err := db.keys.Seal(ctx, owner, []byte(id), plain)
	return sealed, kinwatch.SealError(err)
}

// sealedPosition is a row as read: the position and its sealed part, still closed.
type sealedPosition struct {
	p      *kinwatch.Position
	sealed []byte
}

func scanPosition(s scanner) (sealedPosition, error) {
	var (
		p        kinwatch.Position
		t        int64
		received sql.NullInt64
		worn     sql.NullBool
		alarms   int64
		net      []byte
		sealed   []byte
	)
	if err := s.Scan(&p.ID, &p.DeviceID, &p.Type, &t, &received, &p.Valid, &p.Source, &p.Lat, &p.Lon,
		&p.HasCoords, &p.Speed, &p.Course, &p.Altitude, &p.Accuracy, &p.Satellites, &p.Signal, &p.Battery,
		&p.Steps, &p.Rolls, &p.Status, &alarms, &worn, &p.Static, &net, &sealed); err != nil {
		return sealedPosition{}, err
	}
	p.Time, p.Received = fromNanos(t), fromNullNanos(received)
	p.Alarms = kinwatch.Alarms(alarms)
	if worn.Valid {
		p.Worn = &worn.Bool
	}
	if len(net) > 0 {
		var n network
		if err := json.Unmarshal(net, &n); err != nil {
			return sealedPosition{}, fmt.Errorf("position %s: network column: %w", p.ID, err)
		}
		p.Cells, p.WiFi = n.Cells, n.WiFi
	}
	return sealedPosition{&p, sealed}, nil
}

// scanPositions reads rows and opens their sealed parts: the owner of a watch's positions is the
// family it is bound into (positions of an earlier binding were deleted when it ended).
func (db *DB) scanPositions(ctx context.Context, rows *sql.Rows) ([]*kinwatch.Position, error) {
	defer rows.Close()
	var read []sealedPosition
	for rows.Next() {
		sp, err := scanPosition(rows)
		if err != nil {
			return nil, err
		}
		read = append(read, sp)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	out := make([]*kinwatch.Position, len(read))
	owners := map[string]string{}
	for i, sp := range read {
		out[i] = sp.p
		if sp.sealed == nil {
			continue
		}
		owner, ok := owners[sp.p.DeviceID]
		if !ok {
			var family sql.NullString
			if err := db.read.QueryRowContext(ctx, `SELECT family_id FROM devices WHERE id = ?`, sp.p.DeviceID).Scan(&family); err != nil {
				return nil, err
			}
			owner = kinwatch.FamilyOwner(family.String)
			owners[sp.p.DeviceID] = owner
		}
		plain, err := db.keys.Open(ctx, owner, []byte(sp.p.ID), sp.sealed)
		if err != nil {
			return nil, kinwatch.Errorf(kinwatch.EUNAVAILABLE, "position %s does not open (its watch changed family meanwhile, or its key was shredded): %v", sp.p.ID, err)
		}
		if err := kinwatch.OpenPositionSecret(plain, sp.p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LatestPosition returns the device's position with the newest watch time.
func (db *DB) LatestPosition(ctx context.Context, deviceID string) (*kinwatch.Position, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+positionColumns+` FROM positions WHERE device_id = ? ORDER BY time DESC LIMIT 1`, deviceID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: latest position: %w", err)
	}
	ps, err := db.scanPositions(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: latest position: %w", err)
	}
	if len(ps) == 0 {
		return nil, notFound("position")
	}
	return ps[0], nil
}

// LatestPositions returns the newest position of each listed device that has one. Each device's
// newest row is found through the (device_id, time) index, all in one statement.
func (db *DB) LatestPositions(ctx context.Context, deviceIDs []string) (map[string]*kinwatch.Position, error) {
	out := make(map[string]*kinwatch.Position, len(deviceIDs))
	if len(deviceIDs) == 0 {
		return out, nil
	}
	ids, err := json.Marshal(deviceIDs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: latest positions: %w", err)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+positionColumns+` FROM positions WHERE id IN (
		SELECT (SELECT p.id FROM positions p WHERE p.device_id = j.value ORDER BY p.time DESC LIMIT 1) FROM json_each(?) j)`, string(ids))
	if err != nil {
		return nil, fmt.Errorf("sqlite: latest positions: %w", err)
	}
	ps, err := db.scanPositions(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: latest positions: %w", err)
	}
	for _, p := range ps {
		out[p.DeviceID] = p
	}
	return out, nil
}

const accountLatestQuery = `SELECT ` + positionColumns + ` FROM positions WHERE id IN (
	SELECT (SELECT p.id FROM positions p WHERE p.device_id = d.id ORDER BY p.time DESC LIMIT 1)
	FROM members m JOIN devices d ON d.family_id = m.family_id WHERE m.account_id = ?) ORDER BY device_id`

// AccountLatestPositions returns the newest position of each watch of the account's families, in
// watch ID order: the membership, the watches and each one's newest row in one statement.
func (db *DB) AccountLatestPositions(ctx context.Context, accountID string) ([]*kinwatch.Position, error) {
	st, err := db.readStmt(ctx, accountLatestQuery)
	if err != nil {
		return nil, fmt.Errorf("sqlite: account latest positions: %w", err)
	}
	rows, err := st.QueryContext(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: account latest positions: %w", err)
	}
	out, err := db.scanPositions(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: account latest positions: %w", err)
	}
	return out, nil
}

// Positions returns a device's positions in [From, To) by watch time, newest first.
func (db *DB) Positions(ctx context.Context, f kinwatch.PositionFilter) ([]*kinwatch.Position, error) {
	if f.DeviceID == "" {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "a device id is required")
	}
	from, to := window(f.From, f.To)
	rows, err := db.read.QueryContext(ctx, `SELECT `+positionColumns+` FROM positions
		WHERE device_id = ?1 AND time >= ?2 AND time <= ?3 AND (time < ?3 OR id < ?4) ORDER BY time DESC, id DESC LIMIT ?5`,
		f.DeviceID, from, to, f.BeforeID, limit(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: positions: %w", err)
	}
	out, err := db.scanPositions(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: positions: %w", err)
	}
	return out, nil
}

// window turns an optional [from, to) into bounds that always apply, so one statement (and one
// index range scan) serves every combination.
func window(from, to time.Time) (int64, int64) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !from.IsZero() {
		lo = from.UnixNano()
	}
	if !to.IsZero() {
		hi = to.UnixNano()
	}
	return lo, hi
}

// sealLegacyPositions seals the positions written before positions were sealed, in batches, with
// their family's key.
func (db *DB) sealLegacyPositions(ctx context.Context) error {
	var secrets kinwatch.PositionSecrets
	for {
		n := 0
		err := db.inTx(ctx, "seal positions", func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT p.id, d.family_id, p.lat, p.lon, p.altitude, p.accuracy, p.network
				FROM positions p JOIN devices d ON d.id = p.device_id
				WHERE p.sealed IS NULL AND d.family_id IS NOT NULL LIMIT 1000`)
			if err != nil {
				return err
			}
			type row struct {
				id, family string
				p          kinwatch.Position
				net        []byte
			}
			var legacy []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.id, &r.family, &r.p.Lat, &r.p.Lon, &r.p.Altitude, &r.p.Accuracy, &r.net); err != nil {
					rows.Close()
					return err
				}
				legacy = append(legacy, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, r := range legacy {
				if len(r.net) > 0 {
					var nw network
					if err := json.Unmarshal(r.net, &nw); err != nil {
						return fmt.Errorf("position %s: network column: %w", r.id, err)
					}
					r.p.Cells, r.p.WiFi = nw.Cells, nw.WiFi
				}
				sealed, err := db.sealPosition(ctx, &secrets, kinwatch.FamilyOwner(r.family), r.id, &r.p)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `UPDATE positions SET sealed = ?, lat = 0, lon = 0, altitude = 0, accuracy = 0, network = NULL WHERE id = ?`, sealed, r.id); err != nil {
					return err
				}
			}
			n = len(legacy)
			return nil
		})
		if err != nil || n == 0 {
			return err
		}
	}
}

// Track streams a device's positions with coordinates in [from, to), oldest first, opening only
// their coordinates. A window of several days goes through the day cache (kinwatch.TrackCached).
func (db *DB) Track(ctx context.Context, deviceID string, from, to time.Time, each func(*kinwatch.TrackPoint) error) error {
	family, err := db.deviceFamily(ctx, deviceID)
	if err != nil {
		return fmt.Errorf("sqlite: track: %w", err)
	}
	owner := kinwatch.FamilyOwner(family)
	lo, hi := window(from, to)
	var first, last sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT min(time), max(time) FROM positions WHERE device_id = ? AND time >= ? AND time < ?`,
		deviceID, lo, hi).Scan(&first, &last); err != nil {
		return fmt.Errorf("sqlite: track: %w", err)
	}
	if !first.Valid {
		return nil
	}
	if kinwatch.TrackSpan(from, to, first.Int64, last.Int64) < kinwatch.MinCachedSpan {
		return db.trackRange(ctx, owner, deviceID, first.Int64, last.Int64+1, each)
	}
	return kinwatch.TrackCached(ctx, trackCache{db}, db.keys, owner, deviceID, lo, hi, first.Int64, last.Int64, time.Now(), each)
}

// trackCache is the day cache of history reads on SQLite.
type trackCache struct{ db *DB }

// CachedDays reads the cached days in [d0, d1] that are still of their day's generation.
func (c trackCache) CachedDays(ctx context.Context, deviceID string, d0, d1 int64) (map[int64][]byte, error) {
	rows, err := c.db.read.QueryContext(ctx, `SELECT t.day, t.sealed FROM track_days t
		JOIN track_day_gen g ON g.device_id = t.device_id AND g.day = t.day AND g.gen = t.gen
		WHERE t.device_id = ? AND t.day >= ? AND t.day <= ?`, deviceID, d0, d1)
	if err != nil {
		return nil, fmt.Errorf("sqlite: track days: %w", err)
	}
	defer rows.Close()
	out := map[int64][]byte{}
	for rows.Next() {
		var (
			day    int64
			sealed []byte
		)
		if err := rows.Scan(&day, &sealed); err != nil {
			return nil, fmt.Errorf("sqlite: track days: %w", err)
		}
		out[day] = sealed
	}
	return out, rows.Err()
}

// DayGens returns the generations of the device's days in [d0, d1], first giving one to each
// day that has positions and none yet (a day whose positions came as the current day's).
func (c trackCache) DayGens(ctx context.Context, deviceID string, d0, d1 int64) (map[int64]int64, error) {
	const missing = `WITH RECURSIVE d(day) AS (SELECT ?2 UNION ALL SELECT day + 1 FROM d WHERE day < ?3)
		SELECT day FROM d WHERE NOT EXISTS (SELECT 1 FROM track_day_gen g WHERE g.device_id = ?1 AND g.day = d.day)
		AND EXISTS (SELECT 1 FROM positions p WHERE p.device_id = ?1 AND p.time >= d.day * 86400000000000 AND p.time < (d.day + 1) * 86400000000000)`
	var need bool
	if err := c.db.read.QueryRowContext(ctx, `SELECT EXISTS (`+missing+`)`, deviceID, d0, d1).Scan(&need); err != nil {
		return nil, fmt.Errorf("sqlite: track day generations: %w", err)
	}
	if need {
		// In the write transaction: a change that comes after it renews what it gives.
		// Best effort: a day left without one (the database busy) is not cached this time.
		if err := c.db.inTx(ctx, "track day generations", func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO track_day_gen (device_id, day, gen) SELECT ?1, day, random() FROM (`+missing+`)
				WHERE true ON CONFLICT (device_id, day) DO NOTHING`, deviceID, d0, d1)
			return err
		}); err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("sqlite: track day generations: %w", err)
		}
	}
	rows, err := c.db.read.QueryContext(ctx, `SELECT day, gen FROM track_day_gen WHERE device_id = ? AND day >= ? AND day <= ?`, deviceID, d0, d1)
	if err != nil {
		return nil, fmt.Errorf("sqlite: track day generations: %w", err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var day, gen int64
		if err := rows.Scan(&day, &gen); err != nil {
			return nil, fmt.Errorf("sqlite: track day generations: %w", err)
		}
		out[day] = gen
	}
	return out, rows.Err()
}

// StoreDays caches built days, each only if it still has the generation read before its
// positions. The write transaction holds the database's write lock (this process's and any
// other's), so no change can come between the check and the write.
func (c trackCache) StoreDays(ctx context.Context, deviceID string, days []*kinwatch.BuiltDay) error {
	return c.db.inTx(ctx, "store track days", func(tx *sql.Tx) error {
		for _, d := range days {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO track_days (device_id, day, points, sealed, gen)
				SELECT ?1, ?2, ?3, ?4, ?5 WHERE (SELECT gen FROM track_day_gen WHERE device_id = ?1 AND day = ?2) = ?5`,
				deviceID, d.Day, d.Points, d.Sealed, d.Gen); err != nil {
				return err
			}
		}
		return nil
	})
}

// PruneTrackDays deletes cached days that are no longer of their day's generation (left by a
// change that did not delete them, e.g. from outside kinwatch), then the generations of days
// without positions, a batch at a time. A day whose generation goes is not cached until a build
// gives it a new one.
func (db *DB) PruneTrackDays(ctx context.Context) (int, error) {
	n, err := db.deleteInBatches(ctx, `DELETE FROM track_days WHERE (device_id, day) IN (SELECT t.device_id, t.day FROM track_days t
		WHERE NOT EXISTS (SELECT 1 FROM track_day_gen g WHERE g.device_id = t.device_id AND g.day = t.day AND g.gen = t.gen) LIMIT ?)`)
	if err != nil {
		return n, fmt.Errorf("sqlite: prune track days: %w", err)
	}
	if _, err := db.deleteInBatches(ctx, `DELETE FROM track_day_gen WHERE (device_id, day) IN (SELECT g.device_id, g.day FROM track_day_gen g
		WHERE NOT EXISTS (SELECT 1 FROM positions p WHERE p.device_id = g.device_id
			AND p.time >= g.day * 86400000000000 AND p.time < (g.day + 1) * 86400000000000) LIMIT ?)`); err != nil {
		return n, fmt.Errorf("sqlite: prune track day generations: %w", err)
	}
	return n, nil
}

// deleteInBatches runs del, a DELETE of at most ? rows, in write transactions of 500 rows until
// it deletes fewer, and returns how many it deleted.
func (db *DB) deleteInBatches(ctx context.Context, del string) (int, error) {
	const batch = 500
	total := 0
	for {
		var n int64
		err := db.inTx(ctx, "delete in batches", func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, del, batch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		total += int(n)
		if err != nil || n < batch {
			return total, err
		}
	}
}

// TrackRange streams [lo, hi) through the parallel slices.
func (c trackCache) TrackRange(ctx context.Context, owner, deviceID string, lo, hi int64, each func(*kinwatch.TrackPoint) error) error {
	return c.db.trackSlices(ctx, owner, deviceID, lo, hi, each)
}

// trackSlices streams [lo, hi) nanoseconds. A long range is read in slices on several read
// connections at once (SQLite reads one row at a time per connection, and a year is half a
// million rows): the first slice streams, the later ones are gathered meanwhile and passed on in
// order.
func (db *DB) trackSlices(ctx context.Context, owner, deviceID string, lo, hi int64, each func(*kinwatch.TrackPoint) error) error {
	parts := 1
	if span := time.Duration(hi - lo); span > trackSliceSpan {
		parts = max(1, min(3, readConns-1, int(span/trackSliceSpan)))
	}
	if parts == 1 {
		return db.trackRange(ctx, owner, deviceID, lo, hi, each)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type slice struct {
		pts  []kinwatch.TrackPoint
		err  error
		done chan struct{}
	}
	step := (hi - lo) / int64(parts)
	bound := func(i int) int64 {
		if i == parts {
			return hi
		}
		return lo + int64(i)*step
	}
	slices := make([]*slice, parts)
	for i := 1; i < parts; i++ {
		sl := &slice{done: make(chan struct{})}
		slices[i] = sl
		go func() {
			defer close(sl.done)
			sl.err = db.trackRange(ctx, owner, deviceID, bound(i), bound(i+1), func(p *kinwatch.TrackPoint) error {
				sl.pts = append(sl.pts, *p)
				return nil
			})
		}()
	}
	// On return (an error, or each refusing more) the gatherers stop through ctx; they are
	// waited for so that none outlives the call.
	defer func() {
		cancel()
		for _, sl := range slices[1:] {
			<-sl.done
		}
	}()
	if err := db.trackRange(ctx, owner, deviceID, bound(0), bound(1), each); err != nil {
		return err
	}
	for _, sl := range slices[1:] {
		<-sl.done
		if sl.err != nil {
			return sl.err
		}
		for i := range sl.pts {
			if err := each(&sl.pts[i]); err != nil {
				return err
			}
		}
		sl.pts = nil
	}
	return nil
}

// sourceName returns the position source without allocating for the known ones.
func sourceName(b []byte) string {
	for _, s := range [...]string{kinwatch.SourceGPS, kinwatch.SourceWiFi, kinwatch.SourceCell, kinwatch.SourceLastKnown, kinwatch.SourceNone} {
		if string(b) == s {
			return s
		}
	}
	return string(b)
}

// trackSliceSpan is the least time one slice of a parallel track read covers: below it, a second
// connection costs more than it saves.
const trackSliceSpan = 30 * 24 * time.Hour

// trackRange streams the positions with coordinates in [lo, hi) nanoseconds, oldest first.
func (db *DB) trackRange(ctx context.Context, owner, deviceID string, lo, hi int64, each func(*kinwatch.TrackPoint) error) error {
	rows, err := db.read.QueryContext(ctx, `SELECT id, time, source, steps, lat, lon, accuracy, sealed FROM positions
		WHERE device_id = ? AND time >= ? AND time < ? AND has_coords = 1 ORDER BY time, id`, deviceID, lo, hi)
	if err != nil {
		return fmt.Errorf("sqlite: track: %w", err)
	}
	defer rows.Close()
	// RawBytes: half a million rows are read without copying their id, source and sealed part.
	var (
		p                  kinwatch.TrackPoint
		id, source, sealed sql.RawBytes
		t                  int64
	)
	for rows.Next() {
		if err := rows.Scan(&id, &t, &source, &p.Steps, &p.Lat, &p.Lon, &p.Accuracy, &sealed); err != nil {
			return fmt.Errorf("sqlite: track: %w", err)
		}
		p.Time = fromNanos(t)
		p.Source = sourceName(source)
		if sealed != nil {
			aad := id
			plain, err := db.keys.Open(ctx, owner, aad, sealed)
			if err != nil {
				return kinwatch.Errorf(kinwatch.EUNAVAILABLE, "position %s does not open: %v", id, err)
			}
			var ok bool
			if p.Lat, p.Lon, p.Accuracy, ok = kinwatch.OpenPositionCoords(plain); !ok {
				return fmt.Errorf("sqlite: track: position %s: unknown sealed layout", id)
			}
		}
		if err := each(&p); err != nil {
			return err
		}
	}
	return rows.Err()
}
