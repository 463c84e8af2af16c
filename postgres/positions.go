package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

const positionColumns = `id, device_id, type, time, received, valid, source, lat, lon, has_coords, speed, course, altitude, accuracy, satellites, signal, battery, steps, rolls, status, alarms, worn, static, network, sealed`

// positionCopyColumns is positionColumns for CopyFrom, in the same order.
var positionCopyColumns = []string{"id", "device_id", "type", "time", "received", "valid", "source", "lat", "lon",
	"has_coords", "speed", "course", "altitude", "accuracy", "satellites", "signal", "battery", "steps", "rolls",
	"status", "alarms", "worn", "static", "network", "sealed"}

// network is the JSON shape of the network column of positions written before they were sealed.
type network struct {
	Cells []kinwatch.Cell `json:"cells,omitempty"`
	WiFi  []kinwatch.WiFi `json:"wifi,omitempty"`
}

// positionRows feeds a batch's kept positions to CopyFrom. pgx encodes each row before asking for
// the next, so one values array serves every row. The precise part (coordinates, altitude,
// accuracy, network) is in sealed only; its columns keep zeros.
type positionRows struct {
	recs   []kinwatch.Record
	kept   []int    // indexes of the positions to store
	ids    []string // their ids
	sealed [][]byte // their sealed parts
	i      int
	alarms int32
	vals   [25]any
}

// sealPositions seals the batch's kept positions before the COPY starts: the keyring may have to
// load a family's key, through the transaction (ctx carries it), which is busy once COPY runs.
func (db *DB) sealPositions(ctx context.Context, recs []kinwatch.Record, bound map[string]kinwatch.Bound, n int) (*positionRows, error) {
	r := &positionRows{recs: recs, kept: make([]int, 0, n), ids: make([]string, 0, n), sealed: make([][]byte, 0, n), i: -1}
	var secrets kinwatch.PositionSecrets
	for i := range recs {
		rec := &recs[i]
		if rec.Position == nil || !kinwatch.Keeps(bound, rec) {
			continue
		}
		id := recordID(rec.Position.ID)
		plain, err := secrets.Plaintext(rec.Position)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		sealed, err := db.keys.Seal(ctx, bound[rec.Position.DeviceID].Owner, []byte(id), plain)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, kinwatch.SealError(err))
		}
		r.kept, r.ids, r.sealed = append(r.kept, i), append(r.ids, id), append(r.sealed, sealed)
	}
	return r, nil
}

func (r *positionRows) Next() bool {
	r.i++
	return r.i < len(r.kept)
}

// zero is what the precise columns hold once sealed.
var zero float64

func (r *positionRows) Values() ([]any, error) {
	p := r.recs[r.kept[r.i]].Position
	r.alarms = int32(p.Alarms)
	var received, worn any
	if !p.Received.IsZero() {
		received = (*timeRef)(&p.Received)
	}
	if p.Worn != nil {
		worn = (*boolRef)(p.Worn)
	}
	z := (*floatRef)(&zero)
	r.vals = [25]any{(*textRef)(&r.ids[r.i]), (*textRef)(&p.DeviceID), (*textRef)(&p.Type), (*timeRef)(&p.Time), received,
		(*boolRef)(&p.Valid), (*textRef)(&p.Source), z, z, (*boolRef)(&p.HasCoords),
		(*floatRef)(&p.Speed), (*floatRef)(&p.Course), z, z,
		(*intRef)(&p.Satellites), (*intRef)(&p.Signal), (*intRef)(&p.Battery), (*int64Ref)(&p.Steps), (*intRef)(&p.Rolls),
		(*textRef)(&p.Status), (*int32Ref)(&r.alarms), worn, (*boolRef)(&p.Static), nil, r.sealed[r.i]}
	return r.vals[:], nil
}

func (r *positionRows) Err() error { return nil }

// The copy values point into the records through these types, which pgx encodes by calling their
// methods. A plain value would be copied into an interface (an allocation for most values) and a
// plain pointer dereferenced by reflection (another), for each of the 24 columns of every row.
type (
	textRef  string
	floatRef float64
	intRef   int
	int32Ref int32
	int64Ref int64
	boolRef  bool
	timeRef  time.Time
)

func (v *textRef) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: string(*v), Valid: true}, nil
}
func (v *floatRef) Float64Value() (pgtype.Float8, error) {
	return pgtype.Float8{Float64: float64(*v), Valid: true}, nil
}
func (v *intRef) Int64Value() (pgtype.Int8, error) {
	return pgtype.Int8{Int64: int64(*v), Valid: true}, nil
}
func (v *int32Ref) Int64Value() (pgtype.Int8, error) {
	return pgtype.Int8{Int64: int64(*v), Valid: true}, nil
}
func (v *int64Ref) Int64Value() (pgtype.Int8, error) {
	return pgtype.Int8{Int64: int64(*v), Valid: true}, nil
}
func (v *boolRef) BoolValue() (pgtype.Bool, error) {
	return pgtype.Bool{Bool: bool(*v), Valid: true}, nil
}
func (v *timeRef) TimestamptzValue() (pgtype.Timestamptz, error) {
	return pgtype.Timestamptz{Time: time.Time(*v), Valid: true}, nil
}

// sealedPosition is a row as read: the position and its sealed part, still closed.
type sealedPosition struct {
	p      *kinwatch.Position
	sealed []byte
}

func scanPosition(s scanner) (*sealedPosition, error) {
	var (
		p        kinwatch.Position
		received pgtype.Timestamptz
		alarms   int32
		net      []byte
		sealed   []byte
	)
	if err := s.Scan(&p.ID, &p.DeviceID, &p.Type, &p.Time, &received, &p.Valid, &p.Source, &p.Lat, &p.Lon,
		&p.HasCoords, &p.Speed, &p.Course, &p.Altitude, &p.Accuracy, &p.Satellites, &p.Signal, &p.Battery,
		&p.Steps, &p.Rolls, &p.Status, &alarms, &p.Worn, &p.Static, &net, &sealed); err != nil {
		return nil, err
	}
	p.Time, p.Received = p.Time.UTC(), fromNullTime(received)
	p.Alarms = kinwatch.Alarms(alarms)
	if len(net) > 0 {
		var n network
		if err := json.Unmarshal(net, &n); err != nil {
			return nil, fmt.Errorf("position %s: network column: %w", p.ID, err)
		}
		p.Cells, p.WiFi = n.Cells, n.WiFi
	}
	return &sealedPosition{&p, sealed}, nil
}

// positions reads rows and opens their sealed parts: the owner of a watch's positions is the
// family it is bound into (positions of an earlier binding were deleted when it ended).
func (db *DB) positions(ctx context.Context, rows pgx.Rows) ([]*kinwatch.Position, error) {
	read, err := collect(rows, scanPosition)
	if err != nil {
		return nil, err
	}
	out := make([]*kinwatch.Position, len(read))
	owners := map[string]string{}
	for i, sp := range read {
		out[i] = sp.p
		if sp.sealed == nil {
			continue
		}
		owner, ok := owners[sp.p.DeviceID]
		if !ok {
			var family pgtype.Text
			if err := db.pool.QueryRow(ctx, `SELECT family_id FROM devices WHERE id = $1`, sp.p.DeviceID).Scan(&family); err != nil {
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
	rows, err := db.pool.Query(ctx, `SELECT `+positionColumns+` FROM positions WHERE device_id = $1 ORDER BY time DESC LIMIT 1`, deviceID)
	if err != nil {
		return nil, fmt.Errorf("postgres: latest position: %w", err)
	}
	ps, err := db.positions(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: latest position: %w", err)
	}
	if len(ps) == 0 {
		return nil, notFound("position")
	}
	return ps[0], nil
}

// LatestPositions returns the newest position of each listed device that has one: a LATERAL
// join walks the (device_id, time) index once per device, in one statement.
func (db *DB) LatestPositions(ctx context.Context, deviceIDs []string) (map[string]*kinwatch.Position, error) {
	out := make(map[string]*kinwatch.Position, len(deviceIDs))
	if len(deviceIDs) == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT p.* FROM unnest($1::text[]) AS d (id)
		CROSS JOIN LATERAL (SELECT `+positionColumns+` FROM positions WHERE device_id = d.id ORDER BY time DESC LIMIT 1) p`, deviceIDs)
	if err != nil {
		return nil, fmt.Errorf("postgres: latest positions: %w", err)
	}
	ps, err := db.positions(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: latest positions: %w", err)
	}
	for _, p := range ps {
		out[p.DeviceID] = p
	}
	return out, nil
}

// AccountLatestPositions returns the newest position of each watch of the account's families, in
// watch ID order: the membership and the watches, then a LATERAL walk of the (device_id, time)
// index per watch, in one statement.
func (db *DB) AccountLatestPositions(ctx context.Context, accountID string) ([]*kinwatch.Position, error) {
	rows, err := db.pool.Query(ctx, `SELECT p.* FROM members m JOIN devices d ON d.family_id = m.family_id
		CROSS JOIN LATERAL (SELECT `+positionColumns+` FROM positions WHERE device_id = d.id ORDER BY time DESC LIMIT 1) p
		WHERE m.account_id = $1 ORDER BY d.id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("postgres: account latest positions: %w", err)
	}
	out, err := db.positions(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: account latest positions: %w", err)
	}
	return out, nil
}

// Positions returns a device's positions in [From, To) by watch time, newest first.
func (db *DB) Positions(ctx context.Context, f kinwatch.PositionFilter) ([]*kinwatch.Position, error) {
	if f.DeviceID == "" {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "a device id is required")
	}
	from, to := window(f.From, f.To)
	rows, err := db.pool.Query(ctx, `SELECT `+positionColumns+` FROM positions
		WHERE device_id = $1 AND time >= $2 AND time <= $3 AND (time < $3 OR id < $4) ORDER BY time DESC, id DESC LIMIT $5`,
		f.DeviceID, from, to, f.BeforeID, limit(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: positions: %w", err)
	}
	out, err := db.positions(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: positions: %w", err)
	}
	return out, nil
}

// sealLegacyPositions seals the positions written before positions were sealed, in batches, with
// their family's key.
func (db *DB) sealLegacyPositions(ctx context.Context) error {
	var secrets kinwatch.PositionSecrets
	for {
		n := 0
		err := db.inTx(ctx, "seal positions", func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT p.id, d.family_id, p.lat, p.lon, p.altitude, p.accuracy, p.network
				FROM positions p JOIN devices d ON d.id = p.device_id
				WHERE p.sealed IS NULL AND d.family_id IS NOT NULL LIMIT 1000 FOR UPDATE OF p`)
			if err != nil {
				return err
			}
			type row struct {
				id, family string
				p          kinwatch.Position
				net        []byte
			}
			legacy, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
				var x row
				err := r.Scan(&x.id, &x.family, &x.p.Lat, &x.p.Lon, &x.p.Altitude, &x.p.Accuracy, &x.net)
				return x, err
			})
			if err != nil {
				return err
			}
			b := &pgx.Batch{}
			for _, r := range legacy {
				if len(r.net) > 0 {
					var nw network
					if err := json.Unmarshal(r.net, &nw); err != nil {
						return fmt.Errorf("position %s: network column: %w", r.id, err)
					}
					r.p.Cells, r.p.WiFi = nw.Cells, nw.WiFi
				}
				plain, err := secrets.Plaintext(&r.p)
				if err != nil {
					return err
				}
				sealed, err := db.keys.Seal(ctx, kinwatch.FamilyOwner(r.family), []byte(r.id), plain)
				if err != nil {
					return err
				}
				b.Queue(`UPDATE positions SET sealed = $1, lat = 0, lon = 0, altitude = 0, accuracy = 0, network = NULL WHERE id = $2`, sealed, r.id)
			}
			n = len(legacy)
			if n == 0 {
				return nil
			}
			return tx.SendBatch(ctx, b).Close()
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
		return fmt.Errorf("postgres: track: %w", err)
	}
	owner := kinwatch.FamilyOwner(family)
	lo, hi := window(from, to)
	var first, last pgtype.Timestamptz
	if err := db.pool.QueryRow(ctx, `SELECT min(time), max(time) FROM positions WHERE device_id = $1 AND time >= $2 AND time < $3`,
		deviceID, boundUp(from, lo), boundUp(to, hi)).Scan(&first, &last); err != nil {
		return fmt.Errorf("postgres: track: %w", err)
	}
	if !first.Valid {
		return nil
	}
	c := trackCache{db}
	f, l := first.Time.UnixNano(), last.Time.UnixNano()
	if kinwatch.TrackSpan(from, to, f, l) < kinwatch.MinCachedSpan {
		return c.TrackRange(ctx, owner, deviceID, f, l+1, each)
	}
	nlo, nhi := int64(math.MinInt64), int64(math.MaxInt64)
	if !from.IsZero() {
		nlo = from.UnixNano()
	}
	if !to.IsZero() {
		nhi = to.UnixNano()
	}
	return kinwatch.TrackCached(ctx, c, db.keys, owner, deviceID, nlo, nhi, f, l, time.Now(), each)
}

// boundUp is a window bound as a query argument: infinity for the zero time, else rounded up to
// the microsecond (see microsUp).
func boundUp(t time.Time, inf pgtype.Timestamptz) any {
	if t.IsZero() {
		return inf
	}
	return microsUp(t.UnixNano())
}

// microsUp is the time of ns rounded up to the microsecond: stored times are whole microseconds,
// so "time >= microsUp(ns)" is exactly "time >= ns" (PostgreSQL would round to the nearest).
func microsUp(ns int64) time.Time {
	if r := ns % 1000; r > 0 {
		ns += 1000 - r
	}
	return time.Unix(0, ns)
}

// trackCache is the day cache of history reads on PostgreSQL.
type trackCache struct{ db *DB }

// CachedDays reads the cached days in [d0, d1] that are still of their day's generation.
func (c trackCache) CachedDays(ctx context.Context, deviceID string, d0, d1 int64) (map[int64][]byte, error) {
	rows, err := c.db.pool.Query(ctx, `SELECT t.day, t.sealed FROM track_days t
		JOIN track_day_gen g ON g.device_id = t.device_id AND g.day = t.day AND g.gen = t.gen
		WHERE t.device_id = $1 AND t.day >= $2 AND t.day <= $3`, deviceID, d0, d1)
	if err != nil {
		return nil, fmt.Errorf("postgres: track days: %w", err)
	}
	out := map[int64][]byte{}
	var (
		day    int64
		sealed []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&day, &sealed}, func() error {
		out[day] = slices.Clone(sealed)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: track days: %w", err)
	}
	return out, nil
}

// DayGens returns the generations of the device's days in [d0, d1] (committed ones: a change in
// flight shows at StoreDays), first giving one to each day that has positions and none yet (a
// day whose positions came as the current day's). Best effort: a writer changing such a day
// right now holds its generation's row, and the chunk is left without (lock_timeout), so not
// cached this time.
func (c trackCache) DayGens(ctx context.Context, deviceID string, d0, d1 int64) (map[int64]int64, error) {
	const missing = `FROM generate_series($2::bigint, $3::bigint) AS d(day)
		WHERE NOT EXISTS (SELECT 1 FROM track_day_gen g WHERE g.device_id = $1 AND g.day = d.day)
		AND EXISTS (SELECT 1 FROM positions p WHERE p.device_id = $1 AND p.time >= to_timestamp(d.day * 86400) AND p.time < to_timestamp((d.day + 1) * 86400))`
	var need bool
	if err := c.db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 `+missing+`)`, deviceID, d0, d1).Scan(&need); err != nil {
		return nil, fmt.Errorf("postgres: track day generations: %w", err)
	}
	if need {
		err := pgx.BeginFunc(ctx, c.db.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '200ms'`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO track_day_gen (device_id, day, gen)
				SELECT $1, d.day, (random() * 9e18)::bigint `+missing+` ORDER BY d.day ON CONFLICT (device_id, day) DO NOTHING`, deviceID, d0, d1)
			return err
		})
		if err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("postgres: track day generations: %w", err)
		}
	}
	rows, err := c.db.pool.Query(ctx, `SELECT day, gen FROM track_day_gen WHERE device_id = $1 AND day >= $2 AND day <= $3`, deviceID, d0, d1)
	if err != nil {
		return nil, fmt.Errorf("postgres: track day generations: %w", err)
	}
	out := map[int64]int64{}
	var day, gen int64
	_, err = pgx.ForEachRow(rows, []any{&day, &gen}, func() error {
		out[day] = gen
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: track day generations: %w", err)
	}
	return out, nil
}

// StoreDays caches built days, each only if its generation is still the one read before its
// positions, in one transaction that holds the generations' row locks while it writes: a writer
// that changed a day and has not committed holds that lock, and the day is left out (SKIP LOCKED:
// a history view does not wait for writers); one that comes later waits for this commit, then
// deletes the row (and if its snapshot is older than the row, renews the generation, which takes
// the row out of use).
func (c trackCache) StoreDays(ctx context.Context, deviceID string, days []*kinwatch.BuiltDay) error {
	want := make(map[int64]*kinwatch.BuiltDay, len(days))
	ds := make([]int64, 0, len(days))
	for _, d := range days {
		want[d.Day] = d
		ds = append(ds, d.Day)
	}
	return pgx.BeginFunc(ctx, c.db.pool, func(tx pgx.Tx) error {
		// Another read storing the same day holds its row until it commits: wait that long, not more.
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '500ms'`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT day, gen FROM track_day_gen WHERE device_id = $1 AND day = ANY($2)
			ORDER BY day FOR SHARE SKIP LOCKED`, deviceID, ds)
		if err != nil {
			return err
		}
		var (
			day, gen int64
			keep     []int64
			gens     []int64
			points   []int32
			sealed   [][]byte
		)
		if _, err := pgx.ForEachRow(rows, []any{&day, &gen}, func() error {
			if d := want[day]; d != nil && d.Gen == gen { // else changed since it was read
				keep, gens, points, sealed = append(keep, day), append(gens, gen), append(points, int32(d.Points)), append(sealed, d.Sealed)
			}
			return nil
		}); err != nil {
			return err
		}
		if len(keep) == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO track_days (device_id, day, gen, points, sealed)
			SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::int[], $5::bytea[])
			ON CONFLICT (device_id, day) DO UPDATE SET gen = excluded.gen, points = excluded.points, sealed = excluded.sealed`,
			deviceID, keep, gens, points, sealed)
		return err
	})
}

// PruneTrackDays deletes cached days that are no longer of their day's generation (left by a
// change that did not delete them: a writer at REPEATABLE READ whose snapshot is older than the
// row, or one from outside kinwatch), then the generations of days without positions (a build
// racing the deletion of its day's last position can leave one). A day whose generation goes is
// not cached until a build gives it a new one.
func (db *DB) PruneTrackDays(ctx context.Context) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM track_days t WHERE NOT EXISTS (SELECT 1 FROM track_day_gen g
		WHERE g.device_id = t.device_id AND g.day = t.day AND g.gen = t.gen)`)
	if err != nil {
		return 0, fmt.Errorf("postgres: prune track days: %w", err)
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM track_day_gen g WHERE NOT EXISTS (SELECT 1 FROM positions p
		WHERE p.device_id = g.device_id AND p.time >= to_timestamp(g.day * 86400) AND p.time < to_timestamp((g.day + 1) * 86400))`); err != nil {
		return 0, fmt.Errorf("postgres: prune track day generations: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// TrackRange streams the positions with coordinates in [lo, hi) nanoseconds, oldest first.
func (c trackCache) TrackRange(ctx context.Context, owner, deviceID string, lo, hi int64, each func(*kinwatch.TrackPoint) error) error {
	rows, err := c.db.pool.Query(ctx, `SELECT id, time, source, steps, lat, lon, accuracy, sealed FROM positions
		WHERE device_id = $1 AND time >= $2 AND time < $3 AND has_coords ORDER BY time, id`, deviceID, microsUp(lo), microsUp(hi))
	if err != nil {
		return fmt.Errorf("postgres: track: %w", err)
	}
	defer rows.Close()
	var (
		p      kinwatch.TrackPoint
		id     string
		sealed []byte
		aad    []byte
	)
	for rows.Next() {
		if err := rows.Scan(&id, &p.Time, &p.Source, &p.Steps, &p.Lat, &p.Lon, &p.Accuracy, &sealed); err != nil {
			return fmt.Errorf("postgres: track: %w", err)
		}
		p.Time = p.Time.UTC()
		if sealed != nil {
			aad = append(aad[:0], id...)
			plain, err := c.db.keys.Open(ctx, owner, aad, sealed)
			if err != nil {
				return kinwatch.Errorf(kinwatch.EUNAVAILABLE, "position %s does not open: %v", id, err)
			}
			var ok bool
			if p.Lat, p.Lon, p.Accuracy, ok = kinwatch.OpenPositionCoords(plain); !ok {
				return fmt.Errorf("postgres: track: position %s: unknown sealed layout", id)
			}
		}
		if err := each(&p); err != nil {
			return err
		}
	}
	return rows.Err()
}
