package postgres

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
)

// PendingAlarms lists stored alarms whose deliveries are not planned yet, oldest first, with the
// family their watch is in now. The partial index events_notify holds just these.
func (db *DB) PendingAlarms(ctx context.Context, limit int) ([]*kinwatch.PendingAlarm, error) {
	rows, err := db.pool.Query(ctx, `SELECT e.id, e.device_id, e.time, e.type, e.alarm, e.data, e.subject, coalesce(d.family_id, '')
		FROM events e JOIN devices d ON d.id = e.device_id WHERE e.notify ORDER BY e.time, e.id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: pending alarms: %w", err)
	}
	out, err := collect(rows, func(s scanner) (*kinwatch.PendingAlarm, error) {
		var (
			e    kinwatch.Event
			p    = kinwatch.PendingAlarm{Event: &e}
			data []byte
		)
		if err := s.Scan(&e.ID, &e.DeviceID, &e.Time, &e.Type, &e.Alarm, &data, &e.Subject, &p.FamilyID); err != nil {
			return nil, err
		}
		e.Time = e.Time.UTC()
		if data != nil {
			e.Data = json.RawMessage(data)
		}
		return &p, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: pending alarms: %w", err)
	}
	return out, nil
}

const deliveryColumns = `id, event_id, device_id, family_id, coalesce(account_id, ''), channel, target, alarm, status, reason, attempts, next_at, created_at, updated_at`

// PlanDeliveries stores an alarm's deliveries and marks it planned, in one transaction. A second
// planner of the same alarm waits for the first's row lock and then finds it planned.
func (db *DB) PlanDeliveries(ctx context.Context, eventID string, ds []*kinwatch.Delivery) error {
	return db.inTx(ctx, "plan deliveries", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE events SET notify = false WHERE id = $1 AND notify`, eventID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil // planned already (another process), or deleted meanwhile
		}
		if len(ds) == 0 {
			return nil
		}
		b := &pgx.Batch{}
		for _, d := range ds {
			var account any
			if d.AccountID != "" {
				account = d.AccountID
			}
			b.Queue(`INSERT INTO deliveries (id, event_id, device_id, family_id, account_id, channel, target, alarm, status, reason, attempts, next_at, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12, $13) ON CONFLICT (event_id, channel, target) DO NOTHING`,
				d.ID, eventID, d.DeviceID, d.FamilyID, account, string(d.Channel), d.Target, d.Alarm, string(d.Status), d.Reason,
				d.NextAttempt, d.CreatedAt, d.UpdatedAt)
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

func scanDelivery(s scanner) (*kinwatch.Delivery, error) {
	var (
		d                kinwatch.Delivery
		channel, status  string
		next, created, u time.Time
	)
	if err := s.Scan(&d.ID, &d.EventID, &d.DeviceID, &d.FamilyID, &d.AccountID, &channel, &d.Target, &d.Alarm,
		&status, &d.Reason, &d.Attempts, &next, &created, &u); err != nil {
		return nil, err
	}
	d.Channel, d.Status = kinwatch.Channel(channel), kinwatch.DeliveryStatus(status)
	d.NextAttempt, d.CreatedAt, d.UpdatedAt = next.UTC(), created.UTC(), u.UTC()
	return &d, nil
}

// ClaimDeliveries takes the due pending deliveries for a lease. SKIP LOCKED lets processes claim
// side by side without waiting for or taking each other's; ARRAY(…) runs the locking subquery
// exactly once, so no more than limit rows are locked and moved.
func (db *DB) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*kinwatch.Delivery, error) {
	rows, err := db.pool.Query(ctx, `UPDATE deliveries SET next_at = $1 WHERE id = ANY(ARRAY(
			SELECT id FROM deliveries WHERE status = 'pending' AND next_at <= $2 ORDER BY next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED))
		RETURNING `+deliveryColumns, now.Add(lease), now, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim deliveries: %w", err)
	}
	out, err := collect(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim deliveries: %w", err)
	}
	// RETURNING gives no order, and every claimed one is now due at the same time.
	slices.SortFunc(out, func(a, b *kinwatch.Delivery) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	for _, d := range out {
		d.Lease = d.NextAttempt
	}
	return out, nil
}

// RecordAttempt stores an attempt and the delivery's new state together.
func (db *DB) RecordAttempt(ctx context.Context, d *kinwatch.Delivery, a *kinwatch.DeliveryAttempt) error {
	return db.inTx(ctx, "record delivery attempt", func(tx pgx.Tx) error {
		q := `UPDATE deliveries SET status = $1, reason = $2, attempts = $3, next_at = $4, updated_at = $5 WHERE id = $6`
		args := []any{string(d.Status), d.Reason, d.Attempts, d.NextAttempt, d.UpdatedAt, d.ID}
		if !d.Lease.IsZero() {
			q += ` AND status = 'pending' AND next_at = $7`
			args = append(args, d.Lease)
		}
		tag, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			if d.Lease.IsZero() {
				return notFound("delivery")
			}
			return kinwatch.Errorf(kinwatch.ECONFLICT, "delivery %s: the claim was lost to another process", d.ID)
		}
		_, err = tx.Exec(ctx, `INSERT INTO delivery_attempts (delivery_id, n, at, ok, status, error, duration_us) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (delivery_id, n) DO NOTHING`,
			a.DeliveryID, a.N, a.At, a.OK, a.Status, a.Error, a.Duration.Microseconds())
		return err
	})
}

// EventDeliveries lists an alarm's deliveries with their attempts. Both reads see one snapshot,
// so every attempt listed is of a delivery listed.
func (db *DB) EventDeliveries(ctx context.Context, deviceID, eventID string) ([]*kinwatch.Delivery, map[string][]*kinwatch.DeliveryAttempt, error) {
	var (
		ds       []*kinwatch.Delivery
		attempts = make(map[string][]*kinwatch.DeliveryAttempt)
	)
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE event_id = $1 AND device_id = $2 ORDER BY created_at, id`, eventID, deviceID)
		if err != nil {
			return err
		}
		if ds, err = collect(rows, scanDelivery); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT a.delivery_id, a.n, a.at, a.ok, a.status, a.error, a.duration_us
			FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1 AND d.device_id = $2 ORDER BY a.delivery_id, a.n`, eventID, deviceID)
		if err != nil {
			return err
		}
		as, err := collect(rows, func(s scanner) (*kinwatch.DeliveryAttempt, error) {
			var (
				a  kinwatch.DeliveryAttempt
				us int64
			)
			if err := s.Scan(&a.DeliveryID, &a.N, &a.At, &a.OK, &a.Status, &a.Error, &us); err != nil {
				return nil, err
			}
			a.At, a.Duration = a.At.UTC(), time.Duration(us)*time.Microsecond
			return &a, nil
		})
		for _, a := range as {
			attempts[a.DeliveryID] = append(attempts[a.DeliveryID], a)
		}
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: deliveries: %w", err)
	}
	return ds, attempts, nil
}

// Delivery returns one delivery.
func (db *DB) Delivery(ctx context.Context, id string) (*kinwatch.Delivery, error) {
	d, err := scanDelivery(db.pool.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("delivery")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: delivery: %w", err)
	}
	return d, nil
}

func endpointHash(endpoint string) []byte {
	h := sha256.Sum256([]byte(endpoint))
	return h[:]
}

// AddPushSubscription stores a subscription, replacing the account's one with the same endpoint.
// The account's row is locked first, so two subscribing browsers take turns at the count.
func (db *DB) AddPushSubscription(ctx context.Context, s *kinwatch.PushSubscription) error {
	if s.ID == "" || s.AccountID == "" || s.Endpoint == "" {
		return kinwatch.Errorf(kinwatch.EINVALID, "a push subscription needs an id, an account and an endpoint")
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	hash := endpointHash(s.Endpoint)
	// An account's key is made when it first seals something. Not in the transaction below: a
	// key cached by the keyring must not be one that a rollback takes back.
	if err := db.EnsureKey(ctx, kinwatch.AccountOwner(s.AccountID)); err != nil {
		return err
	}
	return db.inTx(ctx, "add push subscription", func(tx pgx.Tx) error {
		var one int
		// NO KEY UPDATE serializes subscribers of one account without blocking inserts that
		// reference the account (their foreign key checks take KEY SHARE).
		if err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, s.AccountID).Scan(&one); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("account")
			}
			return err
		}
		var existing string
		err := tx.QueryRow(ctx, `SELECT id FROM push_subscriptions WHERE account_id = $1 AND endpoint_hash = $2`, s.AccountID, hash).Scan(&existing)
		switch {
		case err == nil:
			s.ID = existing
		case errors.Is(err, pgx.ErrNoRows):
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM push_subscriptions WHERE account_id = $1`, s.AccountID).Scan(&n); err != nil {
				return err
			}
			if n >= kinwatch.MaxPushSubscriptions {
				return kinwatch.Errorf(kinwatch.ECONFLICT, "an account has at most %d browsers subscribed; remove one first", kinwatch.MaxPushSubscriptions)
			}
		default:
			return err
		}
		// Sealed here, once the id is known (it is bound into the seal); the key loads through
		// tx, which already holds a connection and a lock.
		sealed, err := kinwatch.SealPushSubscription(context.WithValue(ctx, txKey{}, tx), db.keys, s)
		if err != nil {
			return err
		}
		if existing != "" {
			_, err = tx.Exec(ctx, `UPDATE push_subscriptions SET sealed = $1 WHERE id = $2`, sealed, existing)
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO push_subscriptions (id, account_id, endpoint_hash, sealed, created_at) VALUES ($1, $2, $3, $4, $5)`,
			s.ID, s.AccountID, hash, sealed, s.CreatedAt)
		return err
	})
}

// PushSubscriptions lists an account's subscriptions, opened.
func (db *DB) PushSubscriptions(ctx context.Context, accountID string) ([]*kinwatch.PushSubscription, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, sealed, created_at FROM push_subscriptions WHERE account_id = $1 ORDER BY created_at, id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("postgres: push subscriptions: %w", err)
	}
	type row struct {
		s      kinwatch.PushSubscription
		sealed []byte
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		x := row{s: kinwatch.PushSubscription{AccountID: accountID}}
		err := r.Scan(&x.s.ID, &x.sealed, &x.s.CreatedAt)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: push subscriptions: %w", err)
	}
	out := make([]*kinwatch.PushSubscription, len(got))
	for i := range got {
		s := &got[i].s
		s.CreatedAt = s.CreatedAt.UTC()
		if err := kinwatch.OpenPushSubscription(ctx, db.keys, s, got[i].sealed); err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// DeletePushSubscription deletes one of an account's subscriptions.
func (db *DB) DeletePushSubscription(ctx context.Context, accountID, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM push_subscriptions WHERE id = $1 AND account_id = $2`, id, accountID)
	if err != nil {
		return fmt.Errorf("postgres: delete push subscription: %w", err)
	}
	return changedOne(tag, "push subscription")
}

// AddWebhook stores a family's webhook. The family's row is locked first, so two admins adding
// webhooks take turns at the count.
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
	return db.inTx(ctx, "add webhook", func(tx pgx.Tx) error {
		var one int
		// NO KEY UPDATE: as in AddPushSubscription, binding watches and adding members go on.
		if err := tx.QueryRow(ctx, `SELECT 1 FROM families WHERE id = $1 FOR NO KEY UPDATE`, w.FamilyID).Scan(&one); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("family")
			}
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM webhooks WHERE family_id = $1`, w.FamilyID).Scan(&n); err != nil {
			return err
		}
		if n >= kinwatch.MaxWebhooks {
			return kinwatch.Errorf(kinwatch.ECONFLICT, "a family has at most %d webhooks; remove one first", kinwatch.MaxWebhooks)
		}
		_, err := tx.Exec(ctx, `INSERT INTO webhooks (id, family_id, sealed, created_by, created_at) VALUES ($1, $2, $3, $4, $5)`,
			w.ID, w.FamilyID, sealed, w.CreatedBy, w.CreatedAt)
		return err
	})
}

// Webhooks lists a family's webhooks, opened.
func (db *DB) Webhooks(ctx context.Context, familyID string) ([]*kinwatch.Webhook, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, sealed, created_by, created_at FROM webhooks WHERE family_id = $1 ORDER BY created_at, id`, familyID)
	if err != nil {
		return nil, fmt.Errorf("postgres: webhooks: %w", err)
	}
	type row struct {
		w      kinwatch.Webhook
		sealed []byte
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		x := row{w: kinwatch.Webhook{FamilyID: familyID}}
		err := r.Scan(&x.w.ID, &x.sealed, &x.w.CreatedBy, &x.w.CreatedAt)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: webhooks: %w", err)
	}
	out := make([]*kinwatch.Webhook, len(got))
	for i := range got {
		w := &got[i].w
		w.CreatedAt = w.CreatedAt.UTC()
		if err := kinwatch.OpenWebhook(ctx, db.keys, w, got[i].sealed); err != nil {
			return nil, err
		}
		out[i] = w
	}
	return out, nil
}

// DeleteWebhook deletes one of a family's webhooks.
func (db *DB) DeleteWebhook(ctx context.Context, familyID, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM webhooks WHERE id = $1 AND family_id = $2`, id, familyID)
	if err != nil {
		return fmt.Errorf("postgres: delete webhook: %w", err)
	}
	return changedOne(tag, "webhook")
}

// NotificationPrefs returns an account's preferences.
func (db *DB) NotificationPrefs(ctx context.Context, accountID string) (*kinwatch.NotificationPrefs, error) {
	var raw string
	err := db.pool.QueryRow(ctx, `SELECT prefs FROM notification_prefs WHERE account_id = $1`, accountID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return &kinwatch.NotificationPrefs{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: notification preferences: %w", err)
	}
	var p kinwatch.NotificationPrefs
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return nil, fmt.Errorf("postgres: notification preferences: %w", err)
	}
	return &p, nil
}

// SetNotificationPrefs replaces an account's preferences.
func (db *DB) SetNotificationPrefs(ctx context.Context, accountID string, p *kinwatch.NotificationPrefs) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO notification_prefs (account_id, prefs, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (account_id) DO UPDATE SET prefs = excluded.prefs, updated_at = excluded.updated_at`, accountID, string(raw), time.Now())
	if err != nil {
		return fmt.Errorf("postgres: set notification preferences: %w", accountConstraint(err))
	}
	return nil
}
