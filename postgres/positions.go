package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

const positionColumns = `id, device_id, type, time, received, valid, source, lat, lon, has_coords, speed, course, altitude, accuracy, satellites, signal, battery, steps, rolls, status, alarms, worn, static, network`

// positionCopyColumns is positionColumns for CopyFrom, in the same order.
var positionCopyColumns = []string{"id", "device_id", "type", "time", "received", "valid", "source", "lat", "lon",
	"has_coords", "speed", "course", "altitude", "accuracy", "satellites", "signal", "battery", "steps", "rolls",
	"status", "alarms", "worn", "static", "network"}

// network is the JSON shape of the network column: what the watch heard besides satellites.
type network struct {
	Cells []kinwatch.Cell `json:"cells,omitempty"`
	WiFi  []kinwatch.WiFi `json:"wifi,omitempty"`
}

// positionRows feeds a batch's positions of the bound devices to CopyFrom. pgx encodes each row
// before asking for the next, so one values array, one id and one JSON buffer serve every row.
type positionRows struct {
	recs   []kinwatch.Record
	bound  map[string]kinwatch.Purposes
	i      int // index of the current record
	id     string
	alarms int32
	buf    bytes.Buffer
	enc    *json.Encoder
	vals   [24]any
	err    error
}

func newPositionRows(recs []kinwatch.Record, bound map[string]kinwatch.Purposes) *positionRows {
	r := &positionRows{recs: recs, bound: bound, i: -1}
	r.enc = json.NewEncoder(&r.buf)
	r.enc.SetEscapeHTML(false)
	return r
}

func (r *positionRows) Next() bool {
	for r.i++; r.i < len(r.recs); r.i++ {
		if rec := &r.recs[r.i]; rec.Position != nil && kinwatch.Keeps(r.bound, rec) {
			return true
		}
	}
	return false
}

func (r *positionRows) Values() ([]any, error) {
	p := r.recs[r.i].Position
	r.id = recordID(p.ID)
	r.alarms = int32(p.Alarms)
	var net any // nil: NULL
	if len(p.Cells) > 0 || len(p.WiFi) > 0 {
		r.buf.Reset()
		if err := r.enc.Encode(network{Cells: p.Cells, WiFi: p.WiFi}); err != nil {
			r.err = fmt.Errorf("record %d: %w", r.i, err)
			return nil, r.err
		}
		net = bytes.TrimSuffix(r.buf.Bytes(), []byte("\n"))
	}
	var received, worn any
	if !p.Received.IsZero() {
		received = (*timeRef)(&p.Received)
	}
	if p.Worn != nil {
		worn = (*boolRef)(p.Worn)
	}
	r.vals = [24]any{(*textRef)(&r.id), (*textRef)(&p.DeviceID), (*textRef)(&p.Type), (*timeRef)(&p.Time), received,
		(*boolRef)(&p.Valid), (*textRef)(&p.Source), (*floatRef)(&p.Lat), (*floatRef)(&p.Lon), (*boolRef)(&p.HasCoords),
		(*floatRef)(&p.Speed), (*floatRef)(&p.Course), (*floatRef)(&p.Altitude), (*floatRef)(&p.Accuracy),
		(*intRef)(&p.Satellites), (*intRef)(&p.Signal), (*intRef)(&p.Battery), (*int64Ref)(&p.Steps), (*intRef)(&p.Rolls),
		(*textRef)(&p.Status), (*int32Ref)(&r.alarms), worn, (*boolRef)(&p.Static), net}
	return r.vals[:], nil
}

func (r *positionRows) Err() error { return r.err }

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

func scanPosition(s scanner) (*kinwatch.Position, error) {
	var (
		p        kinwatch.Position
		received pgtype.Timestamptz
		alarms   int32
		net      []byte
	)
	if err := s.Scan(&p.ID, &p.DeviceID, &p.Type, &p.Time, &received, &p.Valid, &p.Source, &p.Lat, &p.Lon,
		&p.HasCoords, &p.Speed, &p.Course, &p.Altitude, &p.Accuracy, &p.Satellites, &p.Signal, &p.Battery,
		&p.Steps, &p.Rolls, &p.Status, &alarms, &p.Worn, &p.Static, &net); err != nil {
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
	return &p, nil
}

// LatestPosition returns the device's position with the newest watch time.
func (db *DB) LatestPosition(ctx context.Context, deviceID string) (*kinwatch.Position, error) {
	p, err := scanPosition(db.pool.QueryRow(ctx,
		`SELECT `+positionColumns+` FROM positions WHERE device_id = $1 ORDER BY time DESC LIMIT 1`, deviceID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("position")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: latest position: %w", err)
	}
	return p, nil
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
	ps, err := collect(rows, scanPosition)
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
	out, err := collect(rows, scanPosition)
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
	out, err := collect(rows, scanPosition)
	if err != nil {
		return nil, fmt.Errorf("postgres: positions: %w", err)
	}
	return out, nil
}
