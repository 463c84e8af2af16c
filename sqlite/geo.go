package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"kinwatch"
)

// PutCellTowers inserts or replaces towers in one transaction; an imported tower replaces a
// learned one, a learned one never replaces an imported one.
func (db *DB) PutCellTowers(ctx context.Context, towers []kinwatch.CellTower) error {
	if len(towers) == 0 {
		return nil
	}
	return db.inTx(ctx, "put cell towers", func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO cell_towers (mcc, mnc, lac, cid, lat, lon, range_m, samples, source, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (mcc, mnc, lac, cid) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, range_m = excluded.range_m,
				samples = excluded.samples, source = excluded.source, updated_at = excluded.updated_at, m2 = 0
			WHERE cell_towers.source = 'learned' OR excluded.source = 'import'`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, t := range towers {
			if _, err := st.ExecContext(ctx, t.MCC, t.MNC, t.LAC, t.CID, t.Lat, t.Lon, t.Range, t.Samples, t.Source, nanos(t.UpdatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
}

// CellTowers returns the known towers among keys.
func (db *DB) CellTowers(ctx context.Context, keys []kinwatch.CellKey) (map[kinwatch.CellKey]kinwatch.CellTower, error) {
	out := make(map[kinwatch.CellKey]kinwatch.CellTower, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	st, err := db.readStmt(ctx, `SELECT lat, lon, range_m, samples, source, updated_at FROM cell_towers WHERE mcc = ? AND mnc = ? AND lac = ? AND cid = ?`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: cell towers: %w", err)
	}
	for _, k := range keys {
		t := kinwatch.CellTower{CellKey: k}
		var updated int64
		err := st.QueryRowContext(ctx, k.MCC, k.MNC, k.LAC, k.CID).Scan(&t.Lat, &t.Lon, &t.Range, &t.Samples, &t.Source, &updated)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: cell towers: %w", err)
		}
		t.UpdatedAt = fromNanos(updated)
		out[k] = t
	}
	return out, nil
}

// AccessPoints returns the learned access points among macs.
func (db *DB) AccessPoints(ctx context.Context, macs []string) (map[string]kinwatch.AccessPoint, error) {
	out := make(map[string]kinwatch.AccessPoint, len(macs))
	if len(macs) == 0 {
		return out, nil
	}
	list, err := json.Marshal(macs)
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT mac, lat, lon, m2, samples FROM wifi_aps WHERE mac IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		return nil, fmt.Errorf("sqlite: access points: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ap kinwatch.AccessPoint
			m2 float64
		)
		if err := rows.Scan(&ap.MAC, &ap.Lat, &ap.Lon, &m2, &ap.Samples); err != nil {
			return nil, fmt.Errorf("sqlite: access points: %w", err)
		}
		ap.Spread = kinwatch.Spread(m2, ap.Samples)
		out[ap.MAC] = ap
	}
	return out, rows.Err()
}

// Learn folds sightings into the learned access points and cells in one transaction.
func (db *DB) Learn(ctx context.Context, sightings []kinwatch.Sighting, at time.Time) error {
	if len(sightings) == 0 {
		return nil
	}
	return db.inTx(ctx, "learn", func(tx *sql.Tx) error {
		for _, s := range sightings {
			if s.MAC != "" {
				var (
					lat, lon, m2 float64
					n            int
				)
				err := tx.QueryRowContext(ctx, `SELECT lat, lon, m2, samples FROM wifi_aps WHERE mac = ?`, s.MAC).Scan(&lat, &lon, &m2, &n)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
				lat, lon, m2, n = kinwatch.LearnFix(lat, lon, m2, n, s.Lat, s.Lon)
				if _, err := tx.ExecContext(ctx, `INSERT INTO wifi_aps (mac, lat, lon, m2, samples, updated_at) VALUES (?, ?, ?, ?, ?, ?)
					ON CONFLICT (mac) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, m2 = excluded.m2, samples = excluded.samples,
						updated_at = excluded.updated_at`, s.MAC, lat, lon, m2, n, nanos(at)); err != nil {
					return err
				}
				continue
			}
			k := s.Cell
			var (
				lat, lon, m2 float64
				n            int
				source       string
			)
			err := tx.QueryRowContext(ctx, `SELECT lat, lon, m2, samples, source FROM cell_towers WHERE mcc = ? AND mnc = ? AND lac = ? AND cid = ?`,
				k.MCC, k.MNC, k.LAC, k.CID).Scan(&lat, &lon, &m2, &n, &source)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if source == kinwatch.TowerImported {
				continue // an imported tower is not moved by what the fleet saw
			}
			lat, lon, m2, n = kinwatch.LearnFix(lat, lon, m2, n, s.Lat, s.Lon)
			if _, err := tx.ExecContext(ctx, `INSERT INTO cell_towers (mcc, mnc, lac, cid, lat, lon, range_m, samples, m2, source, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'learned', ?)
				ON CONFLICT (mcc, mnc, lac, cid) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, range_m = excluded.range_m,
					samples = excluded.samples, m2 = excluded.m2, updated_at = excluded.updated_at WHERE cell_towers.source = 'learned'`,
				k.MCC, k.MNC, k.LAC, k.CID, lat, lon, kinwatch.LearnedRange(m2, n), n, m2, nanos(at)); err != nil {
				return err
			}
		}
		return nil
	})
}
