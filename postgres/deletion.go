package postgres

import (
	"context"
	"fmt"

	"kinwatch"

	"github.com/jackc/pgx/v5"
)

var deletionTables = map[string]string{
	kinwatch.RecordPositions: "positions",
	kinwatch.RecordEvents:    "events",
	kinwatch.RecordHealth:    "health_readings",
	kinwatch.RecordMedia:     "media",
}

// DeleteRecords deletes one record, or a time range of records, of a watch.
func (db *DB) DeleteRecords(ctx context.Context, d kinwatch.RecordDeletion) (int, []string, error) {
	table, ok := deletionTables[d.Kind]
	if !ok {
		return 0, nil, kinwatch.Errorf(kinwatch.EINVALID, "records of kind %q cannot be deleted", d.Kind)
	}
	where, args := `device_id = $1 AND id = $2`, []any{d.DeviceID, d.ID, d.FamilyID}
	if d.ID == "" {
		from, to := window(d.From, d.To)
		where, args = `device_id = $1 AND time >= $2 AND time < $3`, []any{d.DeviceID, from, to, d.FamilyID}
	}
	where += ` AND EXISTS (SELECT 1 FROM devices WHERE id = $1 AND family_id = $` + fmt.Sprint(len(args)) + `)`
	var (
		n    int
		keys []string
	)
	err := db.inTx(ctx, "delete "+d.Kind, func(tx pgx.Tx) error {
		if table == "media" {
			rows, err := tx.Query(ctx, `DELETE FROM media WHERE `+where+` RETURNING key`, args...)
			if err != nil {
				return err
			}
			keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
			n = len(keys)
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE `+where, args...)
		n = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, nil, fmt.Errorf("postgres: delete records: %w", err)
	}
	if d.ID != "" && n == 0 {
		return 0, nil, notFound("record")
	}
	return n, keys, nil
}
