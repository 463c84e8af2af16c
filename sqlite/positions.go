package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"kinwatch"
)

const positionColumns = `id, device_id, type, time, received, valid, source, lat, lon, has_coords, speed, course, altitude, accuracy, satellites, signal, battery, steps, rolls, status, alarms, worn, static, network`

const insertPosition = `INSERT INTO positions (` + positionColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// network is the JSON shape of the network column: what the watch heard besides satellites.
type network struct {
	Cells []kinwatch.Cell `json:"cells,omitempty"`
	WiFi  []kinwatch.WiFi `json:"wifi,omitempty"`
}

// networkEncoder encodes network columns into one reused buffer, so a batch allocates only the
// string handed to the driver for each row that has a network.
type networkEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

func newNetworkEncoder() *networkEncoder {
	e := &networkEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}

// value returns the column value: nil (SQL NULL) when the watch heard no network.
func (e *networkEncoder) value(p *kinwatch.Position) (any, error) {
	if len(p.Cells) == 0 && len(p.WiFi) == 0 {
		return nil, nil
	}
	e.buf.Reset()
	if err := e.enc.Encode(network{Cells: p.Cells, WiFi: p.WiFi}); err != nil {
		return nil, err
	}
	return string(bytes.TrimSuffix(e.buf.Bytes(), []byte("\n"))), nil
}

func positionArgs(p *kinwatch.Position, id string, net any, args []any) []any {
	var worn any
	if p.Worn != nil {
		worn = *p.Worn
	}
	return append(args[:0], id, p.DeviceID, p.Type, nanos(p.Time), nullNanos(p.Received), p.Valid, p.Source,
		p.Lat, p.Lon, p.HasCoords, p.Speed, p.Course, p.Altitude, p.Accuracy, int64(p.Satellites),
		int64(p.Signal), int64(p.Battery), p.Steps, int64(p.Rolls), p.Status, int64(p.Alarms), worn, p.Static, net)
}

func scanPosition(s scanner) (*kinwatch.Position, error) {
	var (
		p        kinwatch.Position
		t        int64
		received sql.NullInt64
		worn     sql.NullBool
		alarms   int64
		net      []byte
	)
	if err := s.Scan(&p.ID, &p.DeviceID, &p.Type, &t, &received, &p.Valid, &p.Source, &p.Lat, &p.Lon,
		&p.HasCoords, &p.Speed, &p.Course, &p.Altitude, &p.Accuracy, &p.Satellites, &p.Signal, &p.Battery,
		&p.Steps, &p.Rolls, &p.Status, &alarms, &worn, &p.Static, &net); err != nil {
		return nil, err
	}
	p.Time, p.Received = fromNanos(t), fromNullNanos(received)
	p.Alarms = kinwatch.Alarms(alarms)
	if worn.Valid {
		p.Worn = &worn.Bool
	}
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
	p, err := scanPosition(db.read.QueryRowContext(ctx,
		`SELECT `+positionColumns+` FROM positions WHERE device_id = ? ORDER BY time DESC LIMIT 1`, deviceID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("position")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: latest position: %w", err)
	}
	return p, nil
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
	defer rows.Close()
	for rows.Next() {
		p, err := scanPosition(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: latest positions: %w", err)
		}
		out[p.DeviceID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: latest positions: %w", err)
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
	defer rows.Close()
	var out []*kinwatch.Position
	for rows.Next() {
		p, err := scanPosition(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: account latest positions: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
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
	defer rows.Close()
	var out []*kinwatch.Position
	for rows.Next() {
		p, err := scanPosition(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: positions: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
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
