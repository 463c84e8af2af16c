package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
)

// PutCellTowers inserts or replaces towers in one transaction; an imported tower replaces a
// learned one, a learned one never replaces an imported one.
func (db *DB) PutCellTowers(ctx context.Context, towers []kinwatch.CellTower) error {
	if len(towers) == 0 {
		return nil
	}
	return db.inTx(ctx, "put cell towers", func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, t := range towers {
			b.Queue(`INSERT INTO cell_towers (mcc, mnc, lac, cid, lat, lon, range_m, samples, source, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
				ON CONFLICT (mcc, mnc, lac, cid) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, range_m = excluded.range_m,
					samples = excluded.samples, source = excluded.source, updated_at = excluded.updated_at, m2 = 0
				WHERE cell_towers.source = 'learned' OR excluded.source = 'import'`,
				t.MCC, t.MNC, t.LAC, t.CID, t.Lat, t.Lon, t.Range, t.Samples, t.Source, t.UpdatedAt)
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

// CellTowers returns the known towers among keys, in one round trip.
func (db *DB) CellTowers(ctx context.Context, keys []kinwatch.CellKey) (map[kinwatch.CellKey]kinwatch.CellTower, error) {
	out := make(map[kinwatch.CellKey]kinwatch.CellTower, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	mcc, mnc, lac, cid := make([]int32, len(keys)), make([]int32, len(keys)), make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		mcc[i], mnc[i], lac[i], cid[i] = int32(k.MCC), int32(k.MNC), k.LAC, k.CID
	}
	rows, err := db.pool.Query(ctx, `SELECT t.mcc, t.mnc, t.lac, t.cid, t.lat, t.lon, t.range_m, t.samples, t.source, t.updated_at
		FROM unnest($1::int[], $2::int[], $3::bigint[], $4::bigint[]) AS k (mcc, mnc, lac, cid)
		JOIN cell_towers t USING (mcc, mnc, lac, cid)`, mcc, mnc, lac, cid)
	if err != nil {
		return nil, fmt.Errorf("postgres: cell towers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t kinwatch.CellTower
		if err := rows.Scan(&t.MCC, &t.MNC, &t.LAC, &t.CID, &t.Lat, &t.Lon, &t.Range, &t.Samples, &t.Source, &t.UpdatedAt); err != nil {
			return nil, fmt.Errorf("postgres: cell towers: %w", err)
		}
		t.UpdatedAt = t.UpdatedAt.UTC()
		out[t.CellKey] = t
	}
	return out, rows.Err()
}

// AccessPoints returns the learned access points among macs.
func (db *DB) AccessPoints(ctx context.Context, macs []string) (map[string]kinwatch.AccessPoint, error) {
	out := make(map[string]kinwatch.AccessPoint, len(macs))
	if len(macs) == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT mac, lat, lon, m2, samples FROM wifi_aps WHERE mac = ANY($1)`, macs)
	if err != nil {
		return nil, fmt.Errorf("postgres: access points: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ap kinwatch.AccessPoint
			m2 float64
		)
		if err := rows.Scan(&ap.MAC, &ap.Lat, &ap.Lon, &m2, &ap.Samples); err != nil {
			return nil, fmt.Errorf("postgres: access points: %w", err)
		}
		ap.Spread = kinwatch.Spread(m2, ap.Samples)
		out[ap.MAC] = ap
	}
	return out, rows.Err()
}

// Learn folds sightings into the learned access points and cells in one transaction; the rows
// are locked as they are read, so concurrent learners add up instead of overwriting each other.
func (db *DB) Learn(ctx context.Context, sightings []kinwatch.Sighting, at time.Time) error {
	if len(sightings) == 0 {
		return nil
	}
	// Rows are locked in one order by every learner, so two never wait for each other.
	sightings = slices.Clone(sightings)
	slices.SortFunc(sightings, func(a, b kinwatch.Sighting) int {
		return cmp.Or(cmp.Compare(a.MAC, b.MAC), cmp.Compare(a.Cell.MCC, b.Cell.MCC), cmp.Compare(a.Cell.MNC, b.Cell.MNC),
			cmp.Compare(a.Cell.LAC, b.Cell.LAC), cmp.Compare(a.Cell.CID, b.Cell.CID))
	})
	return db.inTx(ctx, "learn", func(tx pgx.Tx) error {
		for _, s := range sightings {
			var (
				lat, lon, m2 float64
				n            int
				source       string
			)
			if s.MAC != "" {
				err := tx.QueryRow(ctx, `SELECT lat, lon, m2, samples FROM wifi_aps WHERE mac = $1 FOR UPDATE`, s.MAC).Scan(&lat, &lon, &m2, &n)
				if err != nil && !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
				lat, lon, m2, n = kinwatch.LearnFix(lat, lon, m2, n, s.Lat, s.Lon)
				if _, err := tx.Exec(ctx, `INSERT INTO wifi_aps (mac, lat, lon, m2, samples, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
					ON CONFLICT (mac) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, m2 = excluded.m2, samples = excluded.samples,
						updated_at = excluded.updated_at`, s.MAC, lat, lon, m2, n, at); err != nil {
					return err
				}
				continue
			}
			k := s.Cell
			err := tx.QueryRow(ctx, `SELECT lat, lon, m2, samples, source FROM cell_towers WHERE mcc = $1 AND mnc = $2 AND lac = $3 AND cid = $4 FOR UPDATE`,
				k.MCC, k.MNC, k.LAC, k.CID).Scan(&lat, &lon, &m2, &n, &source)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if source == kinwatch.TowerImported {
				continue // an imported tower is not moved by what the fleet saw
			}
			lat, lon, m2, n = kinwatch.LearnFix(lat, lon, m2, n, s.Lat, s.Lon)
			if _, err := tx.Exec(ctx, `INSERT INTO cell_towers (mcc, mnc, lac, cid, lat, lon, range_m, samples, m2, source, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'learned', $10)
				ON CONFLICT (mcc, mnc, lac, cid) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, range_m = excluded.range_m,
					samples = excluded.samples, m2 = excluded.m2, updated_at = excluded.updated_at WHERE cell_towers.source = 'learned'`,
				k.MCC, k.MNC, k.LAC, k.CID, lat, lon, kinwatch.LearnedRange(m2, n), n, m2, at); err != nil {
				return err
			}
		}
		return nil
	})
}
