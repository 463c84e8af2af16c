package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

const commandColumns = `id, device_id, seq, keyword, content, no_reply, state, created_at, sent_at, done_at, expires_at, attempts, reply, error, requested_by, idempotency_key, sealed`

func scanCommand(s scanner) (*kinwatch.Command, error) {
	var (
		c                     kinwatch.Command
		state                 string
		sent, done, expiresAt pgtype.Timestamptz
	)
	if err := s.Scan(&c.ID, &c.DeviceID, &c.Seq, &c.Keyword, &c.Content, &c.NoReply, &state,
		&c.CreatedAt, &sent, &done, &expiresAt, &c.Attempts, &c.Reply, &c.Error, &c.RequestedBy, &c.IdempotencyKey, &c.Sealed); err != nil {
		return nil, err
	}
	c.State = kinwatch.CommandState(state)
	c.CreatedAt, c.SentAt, c.DoneAt, c.ExpiresAt = c.CreatedAt.UTC(), fromNullTime(sent), fromNullTime(done), fromNullTime(expiresAt)
	return &c, nil
}

// deviceFamily returns the family a device is bound into, "" for none (or no such device).
func (db *DB) deviceFamily(ctx context.Context, deviceID string) (string, error) {
	var family pgtype.Text
	err := db.pool.QueryRow(ctx, `SELECT family_id FROM devices WHERE id = $1`, deviceID).Scan(&family)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return family.String, err
}

// opened opens the sealed content of commands just read.
func (db *DB) opened(ctx context.Context, cs []*kinwatch.Command, err error) ([]*kinwatch.Command, error) {
	if err != nil {
		return nil, err
	}
	if err := kinwatch.OpenCommands(ctx, db.keys, cs, func(d string) (string, error) { return db.deviceFamily(ctx, d) }); err != nil {
		return nil, err
	}
	return cs, nil
}

// EnqueueCommand stores c as queued, setting c.Seq, c.State and, if zero, c.CreatedAt. An empty
// c.ID gets a new one. The device must exist (ENOTFOUND otherwise).
func (db *DB) EnqueueCommand(ctx context.Context, c *kinwatch.Command) error {
	if c.DeviceID == "" {
		return kinwatch.Errorf(kinwatch.EINVALID, "a device id is required")
	}
	if c.ID == "" {
		c.ID = kinwatch.NewID()
	}
	if c.CreatedAt.IsZero() {
		// Microseconds, what timestamptz keeps, so c equals what Command returns later.
		c.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	content := c.Content
	if content == nil {
		content = []byte{} // pgx sends a nil slice as NULL
	}
	family, err := db.deviceFamily(ctx, c.DeviceID)
	if err != nil {
		return fmt.Errorf("postgres: enqueue command: %w", err)
	}
	sealed := family != ""
	if sealed {
		if content, err = kinwatch.SealCommandContent(ctx, db.keys, family, c.ID, content); err != nil {
			return err
		}
	}
	// Inserted only if the watch is still in the family whose key sealed the content.
	err = db.pool.QueryRow(ctx, `INSERT INTO commands (id, device_id, keyword, content, no_reply, state, created_at, expires_at, requested_by, idempotency_key, sealed)
		SELECT $1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9, $10
		WHERE coalesce((SELECT family_id FROM devices WHERE id = $2), '') = $11 RETURNING seq`,
		c.ID, c.DeviceID, c.Keyword, content, c.NoReply, c.CreatedAt, nullTime(c.ExpiresAt), c.RequestedBy, c.IdempotencyKey, sealed, family).Scan(&c.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, derr := db.Device(ctx, c.DeviceID); derr != nil {
			return derr // no such device
		}
		return kinwatch.Errorf(kinwatch.ECONFLICT, "the watch changed family meanwhile; try again")
	}
	if err != nil {
		err = constraint(err)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.ConstraintName == "commands_idempotency" {
			err = &kinwatch.Error{Code: kinwatch.ECONFLICT, Message: "this idempotency key was already used", Err: err}
		}
		return fmt.Errorf("postgres: enqueue command: %w", err)
	}
	c.State = kinwatch.CommandQueued
	c.SentAt, c.DoneAt, c.Attempts, c.Reply, c.Error = time.Time{}, time.Time{}, 0, "", ""
	return nil
}

// CommandByIdempotencyKey finds the command accountID queued for deviceID with key.
func (db *DB) CommandByIdempotencyKey(ctx context.Context, deviceID, accountID, key string) (*kinwatch.Command, error) {
	if key == "" {
		return nil, notFound("command")
	}
	c, err := scanCommand(db.pool.QueryRow(ctx, `SELECT `+commandColumns+` FROM commands
		WHERE device_id = $1 AND requested_by = $2 AND idempotency_key = $3 AND idempotency_key <> ''`, deviceID, accountID, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("command")
	}
	if _, err = db.opened(ctx, []*kinwatch.Command{c}, err); err != nil {
		return nil, fmt.Errorf("postgres: command by idempotency key: %w", err)
	}
	return c, nil
}

// Command returns one command.
func (db *DB) Command(ctx context.Context, id string) (*kinwatch.Command, error) {
	c, err := scanCommand(db.pool.QueryRow(ctx, `SELECT `+commandColumns+` FROM commands WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("command")
	}
	if _, err = db.opened(ctx, []*kinwatch.Command{c}, err); err != nil {
		return nil, fmt.Errorf("postgres: command: %w", err)
	}
	return c, nil
}

// Commands lists a device's commands, newest first, below beforeSeq unless it is 0.
func (db *DB) Commands(ctx context.Context, deviceID string, beforeSeq int64, n int) ([]*kinwatch.Command, error) {
	if beforeSeq <= 0 {
		beforeSeq = math.MaxInt64
	}
	rows, err := db.pool.Query(ctx, `SELECT `+commandColumns+` FROM commands
		WHERE device_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`, deviceID, beforeSeq, limit(n))
	if err != nil {
		return nil, fmt.Errorf("postgres: commands: %w", err)
	}
	out, err := collect(rows, scanCommand)
	out, err = db.opened(ctx, out, err)
	if err != nil {
		return nil, fmt.Errorf("postgres: commands: %w", err)
	}
	return out, nil
}

// PendingCommands lists a device's queued and sent commands in delivery (Seq) order.
func (db *DB) PendingCommands(ctx context.Context, deviceID string) ([]*kinwatch.Command, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+commandColumns+` FROM commands
		WHERE device_id = $1 AND state IN ('queued', 'sent') ORDER BY seq`, deviceID)
	if err != nil {
		return nil, fmt.Errorf("postgres: pending commands: %w", err)
	}
	out, err := collect(rows, scanCommand)
	out, err = db.opened(ctx, out, err)
	if err != nil {
		return nil, fmt.Errorf("postgres: pending commands: %w", err)
	}
	return out, nil
}

// MarkCommandSent records a delivery attempt of a queued or sent command; a final one is
// ECONFLICT.
func (db *DB) MarkCommandSent(ctx context.Context, id string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE commands SET state = 'sent', sent_at = $1, attempts = attempts + 1
		WHERE id = $2 AND state IN ('queued', 'sent')`, nullTime(at), id)
	if err != nil {
		return fmt.Errorf("postgres: mark command sent: %w", err)
	}
	return db.changedCommand(ctx, tag, id)
}

// FinishCommand moves a queued or sent command to a final state.
func (db *DB) FinishCommand(ctx context.Context, id string, state kinwatch.CommandState, reply, errText string, at time.Time) error {
	if !state.Final() {
		return kinwatch.Errorf(kinwatch.EINVALID, "%q is not a final command state", state)
	}
	tag, err := db.pool.Exec(ctx, `UPDATE commands SET state = $1, reply = $2, error = $3, done_at = $4
		WHERE id = $5 AND state IN ('queued', 'sent')`, string(state), reply, errText, nullTime(at), id)
	if err != nil {
		return fmt.Errorf("postgres: finish command: %w", err)
	}
	return db.changedCommand(ctx, tag, id)
}

// changedCommand explains an UPDATE guarded by "state is not final" that changed nothing: either
// the command does not exist or it is already final. Final states never change back, so the
// answer cannot go stale between the two statements.
func (db *DB) changedCommand(ctx context.Context, tag pgconn.CommandTag, id string) error {
	if tag.RowsAffected() > 0 {
		return nil
	}
	var state string
	err := db.pool.QueryRow(ctx, `SELECT state FROM commands WHERE id = $1`, id).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound("command")
	}
	if err != nil {
		return fmt.Errorf("postgres: command: %w", err)
	}
	return kinwatch.Errorf(kinwatch.ECONFLICT, "command is already %s", state)
}

// ExpireCommands expires, in one statement, every queued or sent command whose ExpiresAt is before
// now, and returns them in Seq order.
func (db *DB) ExpireCommands(ctx context.Context, now time.Time) ([]*kinwatch.Command, error) {
	rows, err := db.pool.Query(ctx, `UPDATE commands SET state = 'expired', done_at = $1
		WHERE state IN ('queued', 'sent') AND expires_at < $1 RETURNING `+commandColumns, now)
	if err != nil {
		return nil, fmt.Errorf("postgres: expire commands: %w", err)
	}
	out, err := collect(rows, scanCommand)
	out, err = db.opened(ctx, out, err)
	if err != nil {
		return nil, fmt.Errorf("postgres: expire commands: %w", err)
	}
	slices.SortFunc(out, func(a, b *kinwatch.Command) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}
