package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
)

const exportColumns = `id, account_id, state, token_hash, blob_key, size, error, created_at, started_at, finished_at, expires_at`

func scanExport(s scanner) (*kinwatch.ExportJob, error) {
	var (
		j                          kinwatch.ExportJob
		state                      string
		started, finished, expires *time.Time
	)
	if err := s.Scan(&j.ID, &j.AccountID, &state, &j.TokenHash, &j.BlobKey, &j.Size, &j.Error, &j.CreatedAt, &started, &finished, &expires); err != nil {
		return nil, err
	}
	j.State, j.CreatedAt = kinwatch.ExportState(state), j.CreatedAt.UTC()
	for _, p := range []struct {
		src *time.Time
		dst *time.Time
	}{{started, &j.StartedAt}, {finished, &j.FinishedAt}, {expires, &j.ExpiresAt}} {
		if p.src != nil {
			*p.dst = p.src.UTC()
		}
	}
	return &j, nil
}

// CreateExportJob stores a new job.
func (db *DB) CreateExportJob(ctx context.Context, j *kinwatch.ExportJob) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO export_jobs (`+exportColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		j.ID, j.AccountID, string(j.State), j.TokenHash, j.BlobKey, j.Size, j.Error, j.CreatedAt,
		nullTime(j.StartedAt), nullTime(j.FinishedAt), nullTime(j.ExpiresAt))
	if err != nil {
		return fmt.Errorf("postgres: create export job: %w", constraint(err))
	}
	return nil
}

func (db *DB) exportJob(ctx context.Context, where string, args ...any) (*kinwatch.ExportJob, error) {
	j, err := scanExport(db.pool.QueryRow(ctx, `SELECT `+exportColumns+` FROM export_jobs WHERE `+where, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("export")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: export job: %w", err)
	}
	return j, nil
}

// ExportJob returns one of the account's jobs.
func (db *DB) ExportJob(ctx context.Context, accountID, id string) (*kinwatch.ExportJob, error) {
	return db.exportJob(ctx, `id = $1 AND account_id = $2`, id, accountID)
}

// ExportJobByID returns a job by its id.
func (db *DB) ExportJobByID(ctx context.Context, id string) (*kinwatch.ExportJob, error) {
	return db.exportJob(ctx, `id = $1`, id)
}

func (db *DB) exportJobs(ctx context.Context, q string, args ...any) ([]*kinwatch.ExportJob, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+exportColumns+` FROM export_jobs WHERE `+q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: export jobs: %w", err)
	}
	out, err := collect(rows, scanExport)
	if err != nil {
		return nil, fmt.Errorf("postgres: export jobs: %w", err)
	}
	return out, nil
}

// ExportJobs lists the account's jobs, newest first.
func (db *DB) ExportJobs(ctx context.Context, accountID string, limit int) ([]*kinwatch.ExportJob, error) {
	return db.exportJobs(ctx, `account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, accountID, pgLimit(limit))
}

// ExpiredExportJobs lists ready jobs past their expiry.
func (db *DB) ExpiredExportJobs(ctx context.Context, now time.Time, limit int) ([]*kinwatch.ExportJob, error) {
	return db.exportJobs(ctx, `state = 'ready' AND expires_at < $1 ORDER BY expires_at LIMIT $2`, now, pgLimit(limit))
}

// ClaimExportJob takes the oldest open job; SKIP LOCKED lets workers in several processes take
// different jobs.
func (db *DB) ClaimExportJob(ctx context.Context, now, stale time.Time) (*kinwatch.ExportJob, error) {
	j, err := scanExport(db.pool.QueryRow(ctx, `UPDATE export_jobs SET state = 'running', started_at = $1
		WHERE id = (SELECT id FROM export_jobs WHERE state IN ('queued', 'running') AND (state = 'queued' OR started_at < $2)
			ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+exportColumns, now, stale))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("export")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: claim export job: %w", err)
	}
	return j, nil
}

// UpdateExportJob writes the job if it is still in state from.
func (db *DB) UpdateExportJob(ctx context.Context, j *kinwatch.ExportJob, from kinwatch.ExportState) error {
	tag, err := db.pool.Exec(ctx, `UPDATE export_jobs SET state = $1, token_hash = $2, blob_key = $3, size = $4, error = $5,
		started_at = $6, finished_at = $7, expires_at = $8 WHERE id = $9 AND state = $10`,
		string(j.State), j.TokenHash, j.BlobKey, j.Size, j.Error, nullTime(j.StartedAt), nullTime(j.FinishedAt), nullTime(j.ExpiresAt),
		j.ID, string(from))
	if err != nil {
		return fmt.Errorf("postgres: update export job: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return kinwatch.Errorf(kinwatch.ECONFLICT, "the export is no longer %s", from)
	}
	return nil
}

func pgLimit(n int) int {
	if n <= 0 || n > 1000 {
		return 1000
	}
	return n
}
