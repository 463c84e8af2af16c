package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
)

// purgeQueries select, per class, the ids of at most $3 records older than $1, of the watches of
// family $2 (” for every watch). A LATERAL walk of each watch's (device_id, time) index range
// finds them without reading the whole table.
var purgeQueries = map[kinwatch.RetentionClass]struct{ table, ids string }{
	kinwatch.RetainLocation: {"positions", `SELECT x.id FROM devices d CROSS JOIN LATERAL (SELECT id FROM positions
		WHERE device_id = d.id AND time < $1 LIMIT $3) x WHERE ($2 = '' OR d.family_id = $2) LIMIT $3`},
	kinwatch.RetainHealth: {"health_readings", `SELECT x.id FROM devices d CROSS JOIN LATERAL (SELECT id FROM health_readings
		WHERE device_id = d.id AND time < $1 LIMIT $3) x WHERE ($2 = '' OR d.family_id = $2) LIMIT $3`},
	kinwatch.RetainEvents: {"events", `SELECT x.id FROM devices d CROSS JOIN LATERAL (SELECT id FROM events
		WHERE device_id = d.id AND time < $1 LIMIT $3) x WHERE ($2 = '' OR d.family_id = $2) LIMIT $3`},
	kinwatch.RetainVoice: {"media", `SELECT x.id FROM devices d CROSS JOIN LATERAL (SELECT id FROM media
		WHERE device_id = d.id AND kind = 'audio' AND time < $1 LIMIT $3) x WHERE ($2 = '' OR d.family_id = $2) LIMIT $3`},
	kinwatch.RetainPhotos: {"media", `SELECT x.id FROM devices d CROSS JOIN LATERAL (SELECT id FROM media
		WHERE device_id = d.id AND kind = 'image' AND time < $1 LIMIT $3) x WHERE ($2 = '' OR d.family_id = $2) LIMIT $3`},
	kinwatch.RetainCommands: {"commands", `SELECT x.id FROM devices d CROSS JOIN LATERAL (SELECT id FROM commands
		WHERE device_id = d.id AND state IN ('acknowledged', 'failed', 'expired') AND coalesce(done_at, created_at) < $1 LIMIT $3) x
		WHERE ($2 = '' OR d.family_id = $2) LIMIT $3`},
	kinwatch.RetainLoginRecords: {"sessions", `SELECT id FROM sessions WHERE last_used_at < $1 AND $2 = '' LIMIT $3`},
	kinwatch.RetainAccessLog:    {"access_log", `SELECT id FROM access_log WHERE time < $1 AND ($2 = '' OR family_id = $2) LIMIT $3`},
}

// Purge deletes at most limit records of class older than before, in one transaction.
func (db *DB) Purge(ctx context.Context, class kinwatch.RetentionClass, familyID string, before time.Time, limit int) (int, []string, error) {
	q, ok := purgeQueries[class]
	if !ok {
		return 0, nil, kinwatch.Errorf(kinwatch.EINVALID, "unknown retention class %q", class)
	}
	if class == kinwatch.RetainLoginRecords && familyID != "" {
		return 0, nil, kinwatch.Errorf(kinwatch.EINVALID, "login records belong to accounts, not families")
	}
	if limit < 1 {
		return 0, nil, kinwatch.Errorf(kinwatch.EINVALID, "a purge needs a limit")
	}
	var (
		n    int
		keys []string
	)
	err := db.inTx(ctx, "purge "+string(class), func(tx pgx.Tx) error {
		del := `DELETE FROM ` + q.table + ` WHERE id IN (` + q.ids + `)`
		if q.table == "media" {
			rows, err := tx.Query(ctx, del+` RETURNING key`, before, familyID, limit)
			if err != nil {
				return err
			}
			keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
			n = len(keys)
			return err
		}
		tag, err := tx.Exec(ctx, del, before, familyID, limit)
		n = int(tag.RowsAffected())
		return err
	})
	return n, keys, err
}

// FamilyRetentions returns the retention of every family that chose one.
func (db *DB) FamilyRetentions(ctx context.Context) (map[string]map[kinwatch.RetentionClass]int, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, retention FROM families WHERE retention != '{}'::jsonb`)
	if err != nil {
		return nil, fmt.Errorf("postgres: family retentions: %w", err)
	}
	defer rows.Close()
	out := map[string]map[kinwatch.RetentionClass]int{}
	for rows.Next() {
		var (
			id string
			js []byte
		)
		if err := rows.Scan(&id, &js); err != nil {
			return nil, fmt.Errorf("postgres: family retentions: %w", err)
		}
		var days map[kinwatch.RetentionClass]int
		if err := json.Unmarshal(js, &days); err != nil {
			return nil, fmt.Errorf("postgres: family %s retention: %w", id, err)
		}
		out[id] = days
	}
	return out, rows.Err()
}

// SetFamilyRetention replaces a family's retention choice.
func (db *DB) SetFamilyRetention(ctx context.Context, familyID string, days map[kinwatch.RetentionClass]int) error {
	js, err := json.Marshal(days)
	if err != nil || len(days) == 0 {
		js = []byte("{}")
	}
	tag, err := db.pool.Exec(ctx, `UPDATE families SET retention = $1 WHERE id = $2`, string(js), familyID)
	if err != nil {
		return fmt.Errorf("postgres: set family retention: %w", err)
	}
	return changedOne(tag, "family")
}

// FamilyRetention returns one family's retention choice.
func (db *DB) FamilyRetention(ctx context.Context, familyID string) (map[kinwatch.RetentionClass]int, error) {
	var js []byte
	err := db.pool.QueryRow(ctx, `SELECT retention FROM families WHERE id = $1`, familyID).Scan(&js)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("family")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: family retention: %w", err)
	}
	days := map[kinwatch.RetentionClass]int{}
	if err := json.Unmarshal(js, &days); err != nil {
		return nil, fmt.Errorf("postgres: family retention: %w", err)
	}
	return days, nil
}
