package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"kinwatch"
)

const exportColumns = `id, account_id, state, token_hash, blob_key, size, error, created_at, started_at, finished_at, expires_at`

func scanExport(s scanner) (*kinwatch.ExportJob, error) {
	var (
		j                          kinwatch.ExportJob
		created                    int64
		started, finished, expires sql.NullInt64
	)
	if err := s.Scan(&j.ID, &j.AccountID, &j.State, &j.TokenHash, &j.BlobKey, &j.Size, &j.Error, &created, &started, &finished, &expires); err != nil {
		return nil, err
	}
	j.CreatedAt = fromNanos(created)
	j.StartedAt, j.FinishedAt, j.ExpiresAt = fromNullNanos(started), fromNullNanos(finished), fromNullNanos(expires)
	return &j, nil
}

// CreateExportJob stores a new job.
func (db *DB) CreateExportJob(ctx context.Context, j *kinwatch.ExportJob) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO export_jobs (`+exportColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.AccountID, string(j.State), j.TokenHash, j.BlobKey, j.Size, j.Error, nanos(j.CreatedAt),
		nullNanos(j.StartedAt), nullNanos(j.FinishedAt), nullNanos(j.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlite: create export job: %w", constraint(err))
	}
	return nil
}

func (db *DB) exportJob(ctx context.Context, where string, args ...any) (*kinwatch.ExportJob, error) {
	j, err := scanExport(db.read.QueryRowContext(ctx, `SELECT `+exportColumns+` FROM export_jobs WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("export")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: export job: %w", err)
	}
	return j, nil
}

// ExportJob returns one of the account's jobs.
func (db *DB) ExportJob(ctx context.Context, accountID, id string) (*kinwatch.ExportJob, error) {
	return db.exportJob(ctx, `id = ? AND account_id = ?`, id, accountID)
}

// ExportJobByID returns a job by its id.
func (db *DB) ExportJobByID(ctx context.Context, id string) (*kinwatch.ExportJob, error) {
	return db.exportJob(ctx, `id = ?`, id)
}

func (db *DB) exportJobs(ctx context.Context, q string, args ...any) ([]*kinwatch.ExportJob, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+exportColumns+` FROM export_jobs WHERE `+q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: export jobs: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.ExportJob
	for rows.Next() {
		j, err := scanExport(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: export jobs: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// ExportJobs lists the account's jobs, newest first.
func (db *DB) ExportJobs(ctx context.Context, accountID string, limit int) ([]*kinwatch.ExportJob, error) {
	return db.exportJobs(ctx, `account_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, accountID, sqliteLimit(limit))
}

// ExpiredExportJobs lists ready jobs past their expiry.
func (db *DB) ExpiredExportJobs(ctx context.Context, now time.Time, limit int) ([]*kinwatch.ExportJob, error) {
	return db.exportJobs(ctx, `state = 'ready' AND expires_at < ? ORDER BY expires_at LIMIT ?`, nanos(now), sqliteLimit(limit))
}

// ClaimExportJob takes the oldest open job.
func (db *DB) ClaimExportJob(ctx context.Context, now, stale time.Time) (*kinwatch.ExportJob, error) {
	j, err := scanExport(db.write.QueryRowContext(ctx, `UPDATE export_jobs SET state = 'running', started_at = ?1
		WHERE id = (SELECT id FROM export_jobs WHERE state IN ('queued', 'running') AND (state = 'queued' OR started_at < ?2)
			ORDER BY created_at LIMIT 1)
		RETURNING `+exportColumns, nanos(now), nanos(stale)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("export")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim export job: %w", err)
	}
	return j, nil
}

// UpdateExportJob writes the job if it is still in state from.
func (db *DB) UpdateExportJob(ctx context.Context, j *kinwatch.ExportJob, from kinwatch.ExportState) error {
	res, err := db.write.ExecContext(ctx, `UPDATE export_jobs SET state = ?, token_hash = ?, blob_key = ?, size = ?, error = ?,
		started_at = ?, finished_at = ?, expires_at = ? WHERE id = ? AND state = ?`,
		string(j.State), j.TokenHash, j.BlobKey, j.Size, j.Error, nullNanos(j.StartedAt), nullNanos(j.FinishedAt), nullNanos(j.ExpiresAt),
		j.ID, string(from))
	if err != nil {
		return fmt.Errorf("sqlite: update export job: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return kinwatch.Errorf(kinwatch.ECONFLICT, "the export is no longer %s", from)
	}
	return nil
}

func sqliteLimit(n int) int {
	if n <= 0 || n > 1000 {
		return 1000
	}
	return n
}
