package sqlite

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"kinwatch"
)

// PendingAlarms lists stored alarms whose deliveries are not planned yet, oldest first, with the
// family their watch is in now.
func (db *DB) PendingAlarms(ctx context.Context, limit int) ([]*kinwatch.PendingAlarm, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT e.id, e.device_id, e.time, e.type, e.alarm, e.data, e.subject, coalesce(d.family_id, '')
		FROM events e JOIN devices d ON d.id = e.device_id WHERE e.notify = 1 ORDER BY e.time, e.id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending alarms: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.PendingAlarm
	for rows.Next() {
		var (
			e    kinwatch.Event
			p    = kinwatch.PendingAlarm{Event: &e}
			t    int64
			data sql.NullString
		)
		if err := rows.Scan(&e.ID, &e.DeviceID, &t, &e.Type, &e.Alarm, &data, &e.Subject, &p.FamilyID); err != nil {
			return nil, fmt.Errorf("sqlite: pending alarms: %w", err)
		}
		e.Time = fromNanos(t)
		if data.Valid {
			e.Data = json.RawMessage(data.String)
		}
		out = append(out, &p)
	}
	return out, rows.Err()
}

const deliveryColumns = `id, event_id, device_id, family_id, coalesce(account_id, ''), channel, target, alarm, status, reason, attempts, next_at, created_at, updated_at`

// PlanDeliveries stores an alarm's deliveries and marks it planned, in one transaction.
func (db *DB) PlanDeliveries(ctx context.Context, eventID string, ds []*kinwatch.Delivery) error {
	return db.inTx(ctx, "plan deliveries", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE events SET notify = 0 WHERE id = ? AND notify = 1`, eventID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // planned already (by another process), or deleted meanwhile
		}
		for _, d := range ds {
			var account any
			if d.AccountID != "" {
				account = d.AccountID
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries (id, event_id, device_id, family_id, account_id, channel, target, alarm, status, reason, attempts, next_at, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?) ON CONFLICT (event_id, channel, target) DO NOTHING`,
				d.ID, eventID, d.DeviceID, d.FamilyID, account, d.Channel, d.Target, d.Alarm, d.Status, d.Reason,
				nanos(d.NextAttempt), nanos(d.CreatedAt), nanos(d.UpdatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
}

func scanDelivery(s interface{ Scan(...any) error }) (*kinwatch.Delivery, error) {
	var (
		d                      kinwatch.Delivery
		next, created, updated int64
	)
	if err := s.Scan(&d.ID, &d.EventID, &d.DeviceID, &d.FamilyID, &d.AccountID, &d.Channel, &d.Target, &d.Alarm,
		&d.Status, &d.Reason, &d.Attempts, &next, &created, &updated); err != nil {
		return nil, err
	}
	d.NextAttempt, d.CreatedAt, d.UpdatedAt = fromNanos(next), fromNanos(created), fromNanos(updated)
	return &d, nil
}

// ClaimDeliveries takes the due pending deliveries for a lease.
func (db *DB) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*kinwatch.Delivery, error) {
	var out []*kinwatch.Delivery
	err := db.inTx(ctx, "claim deliveries", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE deliveries SET next_at = ?1 WHERE id IN (
				SELECT id FROM deliveries WHERE status = 'pending' AND next_at <= ?2 ORDER BY next_at, id LIMIT ?3)
			RETURNING `+deliveryColumns, nanos(now.Add(lease)), nanos(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	// RETURNING gives no order.
	sortDeliveries(out)
	for _, d := range out {
		d.Lease = d.NextAttempt
	}
	return out, nil
}

// RecordAttempt stores an attempt and the delivery's new state together.
func (db *DB) RecordAttempt(ctx context.Context, d *kinwatch.Delivery, a *kinwatch.DeliveryAttempt) error {
	return db.inTx(ctx, "record delivery attempt", func(tx *sql.Tx) error {
		q := `UPDATE deliveries SET status = ?, reason = ?, attempts = ?, next_at = ?, updated_at = ? WHERE id = ?`
		args := []any{d.Status, d.Reason, d.Attempts, nanos(d.NextAttempt), nanos(d.UpdatedAt), d.ID}
		if !d.Lease.IsZero() {
			q += ` AND status = 'pending' AND next_at = ?`
			args = append(args, nanos(d.Lease))
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if d.Lease.IsZero() {
				return notFound("delivery")
			}
			return kinwatch.Errorf(kinwatch.ECONFLICT, "delivery %s: the claim was lost to another process", d.ID)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO delivery_attempts (delivery_id, n, at, ok, status, error, duration_us) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (delivery_id, n) DO NOTHING`,
			a.DeliveryID, a.N, nanos(a.At), a.OK, a.Status, a.Error, a.Duration.Microseconds())
		return err
	})
}

// EventDeliveries lists an alarm's deliveries with their attempts.
func (db *DB) EventDeliveries(ctx context.Context, deviceID, eventID string) ([]*kinwatch.Delivery, map[string][]*kinwatch.DeliveryAttempt, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE event_id = ? AND device_id = ? ORDER BY created_at, id`, eventID, deviceID)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: deliveries: %w", err)
	}
	defer rows.Close()
	var ds []*kinwatch.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, nil, fmt.Errorf("sqlite: deliveries: %w", err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("sqlite: deliveries: %w", err)
	}
	attempts := make(map[string][]*kinwatch.DeliveryAttempt)
	arows, err := db.read.QueryContext(ctx, `SELECT a.delivery_id, a.n, a.at, a.ok, a.status, a.error, a.duration_us
		FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.event_id = ? AND d.device_id = ? ORDER BY a.delivery_id, a.n`, eventID, deviceID)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: delivery attempts: %w", err)
	}
	defer arows.Close()
	for arows.Next() {
		var (
			a      kinwatch.DeliveryAttempt
			at, us int64
		)
		if err := arows.Scan(&a.DeliveryID, &a.N, &at, &a.OK, &a.Status, &a.Error, &us); err != nil {
			return nil, nil, fmt.Errorf("sqlite: delivery attempts: %w", err)
		}
		a.At, a.Duration = fromNanos(at), time.Duration(us)*time.Microsecond
		attempts[a.DeliveryID] = append(attempts[a.DeliveryID], &a)
	}
	return ds, attempts, arows.Err()
}

// Delivery returns one delivery.
func (db *DB) Delivery(ctx context.Context, id string) (*kinwatch.Delivery, error) {
	d, err := scanDelivery(db.read.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("delivery")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: delivery: %w", err)
	}
	return d, nil
}

func endpointHash(endpoint string) []byte {
	h := sha256.Sum256([]byte(endpoint))
	return h[:]
}

// AddPushSubscription stores a subscription, replacing the account's one with the same endpoint.
func (db *DB) AddPushSubscription(ctx context.Context, s *kinwatch.PushSubscription) error {
	if s.ID == "" || s.AccountID == "" || s.Endpoint == "" {
		return kinwatch.Errorf(kinwatch.EINVALID, "a push subscription needs an id, an account and an endpoint")
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	hash := endpointHash(s.Endpoint)
	// An account's key is made when it first seals something.
	if err := db.EnsureKey(ctx, kinwatch.AccountOwner(s.AccountID)); err != nil {
		return err
	}
	return db.inTx(ctx, "add push subscription", func(tx *sql.Tx) error {
		var existing string
		err := tx.QueryRowContext(ctx, `SELECT id FROM push_subscriptions WHERE account_id = ? AND endpoint_hash = ?`, s.AccountID, hash).Scan(&existing)
		switch {
		case err == nil:
			s.ID = existing
		case errors.Is(err, sql.ErrNoRows):
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM push_subscriptions WHERE account_id = ?`, s.AccountID).Scan(&n); err != nil {
				return err
			}
			if n >= kinwatch.MaxPushSubscriptions {
				return kinwatch.Errorf(kinwatch.ECONFLICT, "an account has at most %d browsers subscribed; remove one first", kinwatch.MaxPushSubscriptions)
			}
		default:
			return err
		}
		sealed, err := kinwatch.SealPushSubscription(ctx, db.keys, s)
		if err != nil {
			return err
		}
		if existing != "" {
			_, err = tx.ExecContext(ctx, `UPDATE push_subscriptions SET sealed = ? WHERE id = ?`, sealed, existing)
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO push_subscriptions (id, account_id, endpoint_hash, sealed, created_at) VALUES (?, ?, ?, ?, ?)`,
			s.ID, s.AccountID, hash, sealed, nanos(s.CreatedAt))
		return err
	})
}

// PushSubscriptions lists an account's subscriptions, opened.
func (db *DB) PushSubscriptions(ctx context.Context, accountID string) ([]*kinwatch.PushSubscription, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, sealed, created_at FROM push_subscriptions WHERE account_id = ? ORDER BY created_at, id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: push subscriptions: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.PushSubscription
	for rows.Next() {
		var (
			s       = kinwatch.PushSubscription{AccountID: accountID}
			sealed  []byte
			created int64
		)
		if err := rows.Scan(&s.ID, &sealed, &created); err != nil {
			return nil, fmt.Errorf("sqlite: push subscriptions: %w", err)
		}
		s.CreatedAt = fromNanos(created)
		if err := kinwatch.OpenPushSubscription(ctx, db.keys, &s, sealed); err != nil {
			return nil, err
		}
		out = append(out, &s)
	}
	return out, rows.Err()
}

// DeletePushSubscription deletes one of an account's subscriptions.
func (db *DB) DeletePushSubscription(ctx context.Context, accountID, id string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM push_subscriptions WHERE id = ? AND account_id = ?`, id, accountID)
	if err != nil {
		return fmt.Errorf("sqlite: delete push subscription: %w", err)
	}
	return changedOne(res, "push subscription")
}

// AddWebhook stores a family's webhook.
func (db *DB) AddWebhook(ctx context.Context, w *kinwatch.Webhook) error {
	if w.ID == "" || w.FamilyID == "" || w.URL == "" {
		return kinwatch.Errorf(kinwatch.EINVALID, "a webhook needs an id, a family and a URL")
	}
	if w.CreatedAt.IsZero() {
		w.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	sealed, err := kinwatch.SealWebhook(ctx, db.keys, w)
	if err != nil {
		return err
	}
	return db.inTx(ctx, "add webhook", func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM webhooks WHERE family_id = ?`, w.FamilyID).Scan(&n); err != nil {
			return err
		}
		if n >= kinwatch.MaxWebhooks {
			return kinwatch.Errorf(kinwatch.ECONFLICT, "a family has at most %d webhooks; remove one first", kinwatch.MaxWebhooks)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO webhooks (id, family_id, sealed, created_by, created_at) VALUES (?, ?, ?, ?, ?)`,
			w.ID, w.FamilyID, sealed, w.CreatedBy, nanos(w.CreatedAt))
		return err
	})
}

// Webhooks lists a family's webhooks, opened.
func (db *DB) Webhooks(ctx context.Context, familyID string) ([]*kinwatch.Webhook, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, sealed, created_by, created_at FROM webhooks WHERE family_id = ? ORDER BY created_at, id`, familyID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhooks: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.Webhook
	for rows.Next() {
		var (
			w       = kinwatch.Webhook{FamilyID: familyID}
			sealed  []byte
			created int64
		)
		if err := rows.Scan(&w.ID, &sealed, &w.CreatedBy, &created); err != nil {
			return nil, fmt.Errorf("sqlite: webhooks: %w", err)
		}
		w.CreatedAt = fromNanos(created)
		if err := kinwatch.OpenWebhook(ctx, db.keys, &w, sealed); err != nil {
			return nil, err
		}
		out = append(out, &w)
	}
	return out, rows.Err()
}

// DeleteWebhook deletes one of a family's webhooks.
func (db *DB) DeleteWebhook(ctx context.Context, familyID, id string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ? AND family_id = ?`, id, familyID)
	if err != nil {
		return fmt.Errorf("sqlite: delete webhook: %w", err)
	}
	return changedOne(res, "webhook")
}

// NotificationPrefs returns an account's preferences.
func (db *DB) NotificationPrefs(ctx context.Context, accountID string) (*kinwatch.NotificationPrefs, error) {
	var raw string
	err := db.read.QueryRowContext(ctx, `SELECT prefs FROM notification_prefs WHERE account_id = ?`, accountID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return &kinwatch.NotificationPrefs{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: notification preferences: %w", err)
	}
	var p kinwatch.NotificationPrefs
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return nil, fmt.Errorf("sqlite: notification preferences: %w", err)
	}
	return &p, nil
}

// SetNotificationPrefs replaces an account's preferences.
func (db *DB) SetNotificationPrefs(ctx context.Context, accountID string, p *kinwatch.NotificationPrefs) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = db.write.ExecContext(ctx, `INSERT INTO notification_prefs (account_id, prefs, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET prefs = excluded.prefs, updated_at = excluded.updated_at`, accountID, string(raw), nanos(time.Now()))
	if err != nil {
		return fmt.Errorf("sqlite: set notification preferences: %w", constraint(err))
	}
	return nil
}

// sortDeliveries orders claimed deliveries as they fell due.
func sortDeliveries(ds []*kinwatch.Delivery) {
	slices.SortFunc(ds, func(a, b *kinwatch.Delivery) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
}
