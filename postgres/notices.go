package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

const noticeColumns = `n.id, n.kind, n.title, n.body, n.audience, n.created_at, n.created_by, n.effective_at`

// noticeRow receives a notice's columns (noticeColumns) and then extra ones.
type noticeRow struct {
	n         kinwatch.Notice
	kind      string
	effective pgtype.Timestamptz
}

func (r *noticeRow) dest(extra ...any) []any {
	return append([]any{&r.n.ID, &r.kind, &r.n.Title, &r.n.Body, &r.n.Audience, &r.n.CreatedAt, &r.n.CreatedBy, &r.effective}, extra...)
}

func (r *noticeRow) notice() kinwatch.Notice {
	r.n.Kind, r.n.CreatedAt, r.n.EffectiveAt = kinwatch.NoticeKind(r.kind), r.n.CreatedAt.UTC(), fromNullTime(r.effective)
	return r.n
}

// CreateNotice stores the notice and its recipients in one transaction.
func (db *DB) CreateNotice(ctx context.Context, n *kinwatch.Notice, accountIDs []string) error {
	ids, err := kinwatch.AddressNotice(n, accountIDs)
	if err != nil {
		return err
	}
	var recipients int
	err = db.inTx(ctx, "create notice", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO notices (id, kind, title, body, audience, created_at, created_by, effective_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, n.ID, string(n.Kind), n.Title, n.Body, n.Audience, n.CreatedAt, n.CreatedBy,
			nullTime(n.EffectiveAt)); err != nil {
			return err
		}
		var added int64
		if ids == nil {
			tag, err := tx.Exec(ctx, `INSERT INTO notice_recipients (notice_id, account_id) SELECT $1, id FROM accounts`, n.ID)
			if err != nil {
				return err
			}
			added = tag.RowsAffected()
		} else {
			tag, err := tx.Exec(ctx, `INSERT INTO notice_recipients (notice_id, account_id)
				SELECT $1, id FROM accounts WHERE id = ANY($2)`, n.ID, ids)
			if err != nil {
				return err
			}
			added = tag.RowsAffected()
			if int(added) != len(ids) {
				var missing string
				if err := tx.QueryRow(ctx, `SELECT x FROM unnest($1::text[]) x WHERE x NOT IN (SELECT id FROM accounts) LIMIT 1`,
					ids).Scan(&missing); err != nil {
					return err
				}
				return kinwatch.Errorf(kinwatch.ENOTFOUND, "account %s not found", missing)
			}
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
func (db *DB) Notices(ctx context.Context, limit int) ([]*kinwatch.Notice, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+noticeColumns+`, count(r.account_id), count(r.emailed_at), count(r.read_at)
		FROM notices n LEFT JOIN notice_recipients r ON r.notice_id = n.id
		GROUP BY n.id ORDER BY n.created_at DESC, n.id DESC LIMIT $1`, pgLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: notices: %w", err)
	}
	out, err := collect(rows, func(s scanner) (*kinwatch.Notice, error) {
		var (
			r                        noticeRow
			recipients, mailed, read int64
		)
		if err := s.Scan(r.dest(&recipients, &mailed, &read)...); err != nil {
			return nil, err
		}
		n := r.notice()
		n.Recipients, n.Emailed, n.Read = int(recipients), int(mailed), int(read)
		return &n, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: notices: %w", err)
	}
	return out, nil
}

// AccountNotices lists the account's notices, newest first.
func (db *DB) AccountNotices(ctx context.Context, accountID string, limit int) ([]*kinwatch.AccountNotice, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+noticeColumns+`, r.emailed_at, r.read_at
		FROM notice_recipients r JOIN notices n ON n.id = r.notice_id
		WHERE r.account_id = $1 ORDER BY n.created_at DESC, n.id DESC LIMIT $2`, accountID, pgLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: account notices: %w", err)
	}
	out, err := collect(rows, func(s scanner) (*kinwatch.AccountNotice, error) {
		var (
			r             noticeRow
			emailed, read pgtype.Timestamptz
		)
		if err := s.Scan(r.dest(&emailed, &read)...); err != nil {
			return nil, err
		}
		return &kinwatch.AccountNotice{Notice: r.notice(), EmailedAt: fromNullTime(emailed), ReadAt: fromNullTime(read)}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: account notices: %w", err)
	}
	return out, nil
}

// MarkNoticeRead records the first time the account read the notice.
func (db *DB) MarkNoticeRead(ctx context.Context, accountID, noticeID string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE notice_recipients SET read_at = coalesce(read_at, $1)
		WHERE notice_id = $2 AND account_id = $3`, at, noticeID, accountID)
	if err != nil {
		return fmt.Errorf("postgres: mark notice read: %w", err)
	}
	return affected(tag, "notice")
}

// NoticesToEmail lists recipients not mailed yet, oldest notice first.
func (db *DB) NoticesToEmail(ctx context.Context, limit int) ([]*kinwatch.NoticeMail, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+noticeColumns+`, r.account_id, a.email
		FROM notice_recipients r JOIN notices n ON n.id = r.notice_id JOIN accounts a ON a.id = r.account_id
		WHERE r.emailed_at IS NULL AND a.email != '' ORDER BY n.created_at, n.id, r.account_id LIMIT $1`, pgLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: notices to email: %w", err)
	}
	out, err := collect(rows, func(s scanner) (*kinwatch.NoticeMail, error) {
		var (
			r noticeRow
			m kinwatch.NoticeMail
		)
		if err := s.Scan(r.dest(&m.AccountID, &m.Email)...); err != nil {
			return nil, err
		}
		n := r.notice()
		m.Notice = &n
		return &m, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: notices to email: %w", err)
	}
	return out, nil
}

// MarkNoticeEmailed claims (at set) or releases (at zero) a recipient's mail. The claim is one
// conditional UPDATE, so of two processes claiming at once exactly one changes the row.
func (db *DB) MarkNoticeEmailed(ctx context.Context, noticeID, accountID string, at time.Time) error {
	if at.IsZero() {
		tag, err := db.pool.Exec(ctx, `UPDATE notice_recipients SET emailed_at = NULL WHERE notice_id = $1 AND account_id = $2`,
			noticeID, accountID)
		if err != nil {
			return fmt.Errorf("postgres: mark notice emailed: %w", err)
		}
		return affected(tag, "notice")
	}
	tag, err := db.pool.Exec(ctx, `UPDATE notice_recipients SET emailed_at = $1
		WHERE notice_id = $2 AND account_id = $3 AND emailed_at IS NULL`, at, noticeID, accountID)
	if err != nil {
		return fmt.Errorf("postgres: mark notice emailed: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// Nothing changed: either another sender holds it, or there is no such recipient.
	var one int
	err = db.pool.QueryRow(ctx, `SELECT 1 FROM notice_recipients WHERE notice_id = $1 AND account_id = $2`, noticeID, accountID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound("notice")
	}
	if err != nil {
		return fmt.Errorf("postgres: mark notice emailed: %w", err)
	}
	return kinwatch.Errorf(kinwatch.ECONFLICT, "the notice was mailed to this account already")
}
