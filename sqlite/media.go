package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"kinwatch"
)

const mediaColumns = `id, device_id, kind, content_type, key, size, time`

const insertMedia = `INSERT INTO media (` + mediaColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?)`

func mediaArgs(m *kinwatch.Media, id string, args []any) []any {
	return append(args[:0], id, m.DeviceID, m.Kind, m.ContentType, m.Key, m.Size, nanos(m.Time))
}

func scanMedia(s scanner) (*kinwatch.Media, error) {
	var (
		m kinwatch.Media
		t int64
	)
	if err := s.Scan(&m.ID, &m.DeviceID, &m.Kind, &m.ContentType, &m.Key, &m.Size, &t); err != nil {
		return nil, err
	}
	m.Time = fromNanos(t)
	return &m, nil
}

// Media returns one media item's metadata.
func (db *DB) Media(ctx context.Context, id string) (*kinwatch.Media, error) {
	m, err := scanMedia(db.read.QueryRowContext(ctx, `SELECT `+mediaColumns+` FROM media WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("media")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: media: %w", err)
	}
	return m, nil
}

// MediaList returns one page of a device's media, newest first.
func (db *DB) MediaList(ctx context.Context, deviceID string, p kinwatch.Page) ([]*kinwatch.Media, error) {
	_, before := window(time.Time{}, p.Before)
	rows, err := db.read.QueryContext(ctx, `SELECT `+mediaColumns+` FROM media
		WHERE device_id = ?1 AND time <= ?2 AND (time < ?2 OR id < ?3) ORDER BY time DESC, id DESC LIMIT ?4`,
		deviceID, before, p.BeforeID, limit(p.Limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: media list: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.Media
	for rows.Next() {
		m, err := scanMedia(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: media list: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: media list: %w", err)
	}
	return out, nil
}
