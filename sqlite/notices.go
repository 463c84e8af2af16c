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

const noticeColumns = `n.id, n.kind, n.title, n.body, n.audience, n.created_at, n.created_by, n.effective_at`

// noticeRow receives a notice's columns (noticeColumns) and then extra ones.
type noticeRow struct {
	n         kinwatch.Notice
	created   int64
	effective sql.NullInt64
}

func (r *noticeRow) dest(extra ...any) []any {
	return append([]any{&r.n.ID, &r.n.Kind, &r.n.Title, &r.n.Body, &r.n.Audience, &r.created, &r.n.CreatedBy, &r.effective}, extra...)
}

func (r *noticeRow) notice() kinwatch.Notice {
	r.n.CreatedAt, r.n.EffectiveAt = fromNanos(r.created), fromNullNanos(r.effective)
	return r.n
}

// CreateNotice stores the notice and its recipients in one transaction.
func (db *DB) CreateNotice(ctx context.Context, n *kinwatch.Notice, accountIDs []string) error {
	ids, err := kinwatch.AddressNotice(n, accountIDs)
	if err != nil {
		return err
	}
	if err := checkTime(n.CreatedAt); err != nil {
		return err
	}
	if err := checkTime(n.EffectiveAt); err != nil {
		return err
	}
	var recipients int
	err = db.inTx(ctx, "create notice", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notices (id, kind, title, body, audience, created_at, created_by, effective_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, n.ID, string(n.Kind), n.Title, n.Body, n.Audience, nanos(n.CreatedAt), n.CreatedBy,
			nullNanos(n.EffectiveAt)); err != nil {
			return err
		}
		var res sql.Result
		var err error
		if ids == nil {
			res, err = tx.ExecContext(ctx, `INSERT INTO notice_recipients (notice_id, account_id) SELECT ?, id FROM accounts`, n.ID)
		} else {
			list, _ := json.Marshal(ids)
			res, err = tx.ExecContext(ctx, `INSERT INTO notice_recipients (notice_id, account_id)
				SELECT ?, id FROM accounts WHERE id IN (SELECT value FROM json_each(?))`, n.ID, string(list))
		}
		if err != nil {
			return err
		}
		added, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if ids != nil && int(added) != len(ids) {
			list, _ := json.Marshal(ids)
			var missing string
			if err := tx.QueryRowContext(ctx, `SELECT value FROM json_each(?) WHERE value NOT IN (SELECT id FROM accounts) LIMIT 1`,
				string(list)).Scan(&missing); err != nil {
				return err
			}
			return kinwatch.Errorf(kinwatch.ENOTFOUND, "account %s not found", missing)
		}
		recipients = int(added)
		return nil
	})
	if err != nil {
		return err
	}
	n.Recipients = recipients
	return nil
}

// Notices lists notices, newest first, with how many accounts each reached.
func (db *DB) Notices(ctx context.Context, lim int) ([]*kinwatch.Notice, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+noticeColumns+`, count(r.account_id), count(r.emailed_at), count(r.read_at)
		FROM notices n LEFT JOIN notice_recipients r ON r.notice_id = n.id
		GROUP BY n.id ORDER BY n.created_at DESC, n.id DESC LIMIT ?`, sqliteLimit(lim))
	if err != nil {
		return nil, fmt.Errorf("sqlite: notices: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.Notice
	for rows.Next() {
		var r noticeRow
		if err := rows.Scan(r.dest(&r.n.Recipients, &r.n.Emailed, &r.n.Read)...); err != nil {
			return nil, fmt.Errorf("sqlite: notices: %w", err)
		}
		n := r.notice()
		out = append(out, &n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: notices: %w", err)
	}
	return out, nil
}

// AccountNotices lists the account's notices, newest first.
func (db *DB) AccountNotices(ctx context.Context, accountID string, lim int) ([]*kinwatch.AccountNotice, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+noticeColumns+`, r.emailed_at, r.read_at
		FROM notice_recipients r JOIN notices n ON n.id = r.notice_id
		WHERE r.account_id = ? ORDER BY n.created_at DESC, n.id DESC LIMIT ?`, accountID, sqliteLimit(lim))
	if err != nil {
		return nil, fmt.Errorf("sqlite: account notices: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.AccountNotice
	for rows.Next() {
		var (
			r             noticeRow
			emailed, read sql.NullInt64
		)
		if err := rows.Scan(r.dest(&emailed, &read)...); err != nil {
			return nil, fmt.Errorf("sqlite: account notices: %w", err)
		}
		out = append(out, &kinwatch.AccountNotice{Notice: r.notice(), EmailedAt: fromNullNanos(emailed), ReadAt: fromNullNanos(read)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: account notices: %w", err)
	}
	return out, nil
}

// MarkNoticeRead records the first time the account read the notice.
func (db *DB) MarkNoticeRead(ctx context.Context, accountID, noticeID string, at time.Time) error {
	if err := checkTime(at); err != nil {
		return err
	}
	res, err := db.write.ExecContext(ctx, `UPDATE notice_recipients SET read_at = coalesce(read_at, ?)
		WHERE notice_id = ? AND account_id = ?`, nanos(at), noticeID, accountID)
	if err != nil {
		return fmt.Errorf("sqlite: mark notice read: %w", err)
	}
	return affected(res, "notice")
}

// NoticesToEmail lists recipients not mailed yet, oldest notice first.
func (db *DB) NoticesToEmail(ctx context.Context, lim int) ([]*kinwatch.NoticeMail, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+noticeColumns+`, r.account_id, a.email
		FROM notice_recipients r JOIN notices n ON n.id = r.notice_id JOIN accounts a ON a.id = r.account_id
		WHERE r.emailed_at IS NULL AND a.email != '' ORDER BY n.created_at, n.id, r.account_id LIMIT ?`, sqliteLimit(lim))
	if err != nil {
		return nil, fmt.Errorf("sqlite: notices to email: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.NoticeMail
	for rows.Next() {
		var (
			r noticeRow
			m kinwatch.NoticeMail
		)
		if err := rows.Scan(r.dest(&m.AccountID, &m.Email)...); err != nil {
			return nil, fmt.Errorf("sqlite: notices to email: %w", err)
		}
		n := r.notice()
		m.Notice = &n
		out = append(out, &m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: notices to email: %w", err)
	}
	return out, nil
}

// MarkNoticeEmailed claims (at set) or releases (at zero) a recipient's mail.
func (db *DB) MarkNoticeEmailed(ctx context.Context, noticeID, accountID string, at time.Time) error {
	if err := checkTime(at); err != nil {
		return err
	}
	if at.IsZero() {
		res, err := db.write.ExecContext(ctx, `UPDATE notice_recipients SET emailed_at = NULL WHERE notice_id = ? AND account_id = ?`,
			noticeID, accountID)
		if err != nil {
			return fmt.Errorf("sqlite: mark notice emailed: %w", err)
		}
		return affected(res, "notice")
	}
	res, err := db.write.ExecContext(ctx, `UPDATE notice_recipients SET emailed_at = ?
		WHERE notice_id = ? AND account_id = ? AND emailed_at IS NULL`, nanos(at), noticeID, accountID)
	if err != nil {
		return fmt.Errorf("sqlite: mark notice emailed: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	// Nothing changed: either another sender holds it, or there is no such recipient.
	var one int
	err = db.write.QueryRowContext(ctx, `SELECT 1 FROM notice_recipients WHERE notice_id = ? AND account_id = ?`, noticeID, accountID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("notice")
	}
	if err != nil {
		return fmt.Errorf("sqlite: mark notice emailed: %w", err)
	}
	return kinwatch.Errorf(kinwatch.ECONFLICT, "the notice was mailed to this account already")
}
