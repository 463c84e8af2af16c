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

// purgeQueries select, per class, the ids of at most ?3 records older than ?1, of the watches of
// family ?2 (” for every watch). The devices are the outer loop (CROSS JOIN fixes the order), so
// each watch's (device_id, time) index range is read instead of the whole table.
var purgeQueries = map[kinwatch.RetentionClass]struct{ table, ids string }{
	kinwatch.RetainLocation: {"positions", `SELECT p.id FROM devices d CROSS JOIN positions p ON p.device_id = d.id
		WHERE p.time < ?1 AND (?2 = '' OR d.family_id = ?2) LIMIT ?3`},
	kinwatch.RetainHealth: {"health_readings", `SELECT h.id FROM devices d CROSS JOIN health_readings h ON h.device_id = d.id
		WHERE h.time < ?1 AND (?2 = '' OR d.family_id = ?2) LIMIT ?3`},
	kinwatch.RetainEvents: {"events", `SELECT e.id FROM devices d CROSS JOIN events e ON e.device_id = d.id
		WHERE e.time < ?1 AND (?2 = '' OR d.family_id = ?2) LIMIT ?3`},
	kinwatch.RetainVoice: {"media", `SELECT m.id FROM devices d CROSS JOIN media m ON m.device_id = d.id
		WHERE m.kind = 'audio' AND m.time < ?1 AND (?2 = '' OR d.family_id = ?2) LIMIT ?3`},
	kinwatch.RetainPhotos: {"media", `SELECT m.id FROM devices d CROSS JOIN media m ON m.device_id = d.id
		WHERE m.kind = 'image' AND m.time < ?1 AND (?2 = '' OR d.family_id = ?2) LIMIT ?3`},
	kinwatch.RetainCommands: {"commands", `SELECT c.id FROM devices d CROSS JOIN commands c ON c.device_id = d.id
		WHERE c.state IN ('acknowledged', 'failed', 'expired') AND coalesce(c.done_at, c.created_at) < ?1
		AND (?2 = '' OR d.family_id = ?2) LIMIT ?3`},
	kinwatch.RetainLoginRecords: {"sessions", `SELECT id FROM sessions WHERE last_used_at < ?1 AND ?2 = '' LIMIT ?3`},
	kinwatch.RetainAccessLog:    {"access_log", `SELECT id FROM access_log WHERE time < ?1 AND (?2 = '' OR family_id = ?2) LIMIT ?3`},
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
	err := db.inTx(ctx, "purge "+string(class), func(tx *sql.Tx) error {
		del := `DELETE FROM ` + q.table + ` WHERE id IN (` + q.ids + `)`
		if q.table == "media" {
			rows, err := tx.QueryContext(ctx, del+` RETURNING key`, nanos(before), familyID, limit)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					return err
				}
				keys = append(keys, k)
			}
			n = len(keys)
			return rows.Err()
		}
		res, err := tx.ExecContext(ctx, del, nanos(before), familyID, limit)
		if err != nil {
			return err
		}
		m, err := res.RowsAffected()
		n = int(m)
		return err
	})
	return n, keys, err
}

// FamilyRetentions returns the retention of every family that chose one.
func (db *DB) FamilyRetentions(ctx context.Context) (map[string]map[kinwatch.RetentionClass]int, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, retention FROM families WHERE retention != '{}'`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: family retentions: %w", err)
	}
	defer rows.Close()
	out := map[string]map[kinwatch.RetentionClass]int{}
	for rows.Next() {
		var id, js string
		if err := rows.Scan(&id, &js); err != nil {
			return nil, fmt.Errorf("sqlite: family retentions: %w", err)
		}
		var days map[kinwatch.RetentionClass]int
		if err := json.Unmarshal([]byte(js), &days); err != nil {
			return nil, fmt.Errorf("sqlite: family %s retention: %w", id, err)
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
	res, err := db.write.ExecContext(ctx, `UPDATE families SET retention = ? WHERE id = ?`, string(js), familyID)
	if err != nil {
		return fmt.Errorf("sqlite: set family retention: %w", err)
	}
	return changedOne(res, "family")
}

// FamilyRetention returns one family's retention choice.
func (db *DB) FamilyRetention(ctx context.Context, familyID string) (map[kinwatch.RetentionClass]int, error) {
	var js string
	err := db.read.QueryRowContext(ctx, `SELECT retention FROM families WHERE id = ?`, familyID).Scan(&js)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("family")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: family retention: %w", err)
	}
	days := map[kinwatch.RetentionClass]int{}
	if err := json.Unmarshal([]byte(js), &days); err != nil {
		return nil, fmt.Errorf("sqlite: family retention: %w", err)
	}
	return days, nil
}
