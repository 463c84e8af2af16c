package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
)

const mediaColumns = `id, device_id, kind, content_type, key, size, time`

const insertMedia = `INSERT INTO media (` + mediaColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`

func mediaArgs(m *kinwatch.Media, id string) []any {
	return []any{id, m.DeviceID, m.Kind, m.ContentType, m.Key, m.Size, m.Time}
}

func scanMedia(s scanner) (*kinwatch.Media, error) {
	var m kinwatch.Media
	if err := s.Scan(&m.ID, &m.DeviceID, &m.Kind, &m.ContentType, &m.Key, &m.Size, &m.Time); err != nil {
		return nil, err
	}
	m.Time = m.Time.UTC()
	return &m, nil
}

// Media returns one media item's metadata.
func (db *DB) Media(ctx context.Context, id string) (*kinwatch.Media, error) {
	m, err := scanMedia(db.pool.QueryRow(ctx, `SELECT `+mediaColumns+` FROM media WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("media")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: media: %w", err)
	}
	return m, nil
}

// MediaList returns one page of a device's media, newest first.
func (db *DB) MediaList(ctx context.Context, deviceID string, p kinwatch.Page) ([]*kinwatch.Media, error) {
	_, before := window(time.Time{}, p.Before)
	rows, err := db.pool.Query(ctx, `SELECT `+mediaColumns+` FROM media
		WHERE device_id = $1 AND time <= $2 AND (time < $2 OR id < $3) ORDER BY time DESC, id DESC LIMIT $4`,
		deviceID, before, p.BeforeID, limit(p.Limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: media list: %w", err)
	}
	out, err := collect(rows, scanMedia)
	if err != nil {
		return nil, fmt.Errorf("postgres: media list: %w", err)
	}
	return out, nil
}
