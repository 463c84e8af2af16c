// Package notify delivers alarms to guardians outside the app: Web Push to their browsers, email,
// and the family's webhooks. The storage writer marks every alarm it stores as pending; the
// Service plans each pending alarm's deliveries (who, over which channel, as the guardians'
// preferences and quiet hours say) in one transaction with clearing the mark, then works through
// the deliveries, retrying with back-off and recording every attempt. What is stored is the
// state, so an alarm raised while kinwatch stops is delivered when it starts again, and a
// delivery made is not made again.
//
// A send whose acknowledgement is lost because the process died mid-request is the one case
// sent twice (after the claim's lease); each delivery carries its id so the receiver can tell.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"kinwatch"
)

// Sender is one channel's way out. Send must honour ctx and never put the receiver's address
// or the message in the Result's error (it is stored and shown).
type Sender interface {
	Send(ctx context.Context, m *Message) Result
}

// Result is what one attempt did.
type Result struct {
	Status     int   // the receiver's status code, 0 if none
	Err        error // nil: delivered
	Permanent  bool  // retrying cannot help (the receiver refused the request itself)
	Gone       bool  // the target no longer exists (an expired push subscription): forget it
	RetryAfter time.Duration
}

// Backoff is the wait before each retry; after the last, a delivery has failed (about 4.5 hours
// of trying in all).
var Backoff = []time.Duration{5 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute,
	5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour}

// Service plans and sends deliveries.
type Service struct {
	Store   kinwatch.Store
	Senders map[kinwatch.Channel]Sender
	Log     *slog.Logger
	// Texts writes what a guardian reads; its zero value is usable.
	Texts Texts
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
	// Poll is how often the store is looked at without a Wake (deliveries falling due, alarms
	// stored by other processes); default 1 s.
	Poll time.Duration
	// Workers bounds concurrent sends; default 16.
	Workers int
	// SendTimeout bounds one attempt; default 15 s.
	SendTimeout time.Duration
	// Lease is how long a claimed delivery is left to its process; default 2 min.
	Lease time.Duration
	// Sent, if set, is called after each attempt (metrics, tests).
	Sent func(d *kinwatch.Delivery, a *kinwatch.DeliveryAttempt)

	wakeOnce sync.Once
	wake     chan struct{}
}

func (s *Service) init() {
	s.wakeOnce.Do(func() { s.wake = make(chan struct{}, 1) })
}

// Wake tells the service an alarm was stored; it never blocks.
func (s *Service) Wake() {
	s.init()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Run plans and sends until ctx ends, then waits for the sends in flight (they are recorded:
// stopping loses nothing).
func (s *Service) Run(ctx context.Context) {
	s.init()
	poll := s.Poll
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
		if err := s.Step(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("notifications", "err", err)
		}
		t.Reset(poll)
	}
}

// Step plans every pending alarm and sends every due delivery once.
func (s *Service) Step(ctx context.Context) error {
	if err := s.plan(ctx); err != nil {
		return err
	}
	return s.deliver(ctx)
}

const batch = 64

// plan turns pending alarms into deliveries.
func (s *Service) plan(ctx context.Context) error {
	for ctx.Err() == nil {
		pending, err := s.Store.PendingAlarms(ctx, batch)
		if err != nil {
			return fmt.Errorf("pending alarms: %w", err)
		}
		for _, p := range pending {
			ds, err := s.deliveriesFor(ctx, p)
			if err == nil {
				err = s.Store.PlanDeliveries(ctx, p.Event.ID, ds)
			}
			if err != nil {
				return fmt.Errorf("plan alarm %s: %w", p.Event.ID, err)
			}
		}
		if len(pending) < batch {
			return nil
		}
	}
	return ctx.Err()
}

// deliveriesFor decides who hears of an alarm and how: each guardian of the watch's family over
// the channels they chose for its kind (quiet hours hold back all but SOS, recorded as
// suppressed so the family can see why), and each of the family's webhooks.
func (s *Service) deliveriesFor(ctx context.Context, p *kinwatch.PendingAlarm) ([]*kinwatch.Delivery, error) {
	if p.FamilyID == "" {
		return nil, nil // unbound meanwhile: nobody to tell, and the alarm goes with the watch
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	e := p.Event
	newDelivery := func(account string, ch kinwatch.Channel, target string) *kinwatch.Delivery {
		return &kinwatch.Delivery{ID: kinwatch.NewID(), EventID: e.ID, DeviceID: e.DeviceID, FamilyID: p.FamilyID,
			AccountID: account, Channel: ch, Target: target, Alarm: e.Alarm, Status: kinwatch.DeliveryPending,
			NextAttempt: now, CreatedAt: now, UpdatedAt: now}
	}
	members, err := s.Store.Members(ctx, p.FamilyID)
	if err != nil {
		return nil, err
	}
	var out []*kinwatch.Delivery
	for _, m := range members {
		prefs, err := s.Store.NotificationPrefs(ctx, m.AccountID)
		if err != nil {
			return nil, err
		}
		quiet := e.Alarm != "sos" && prefs.QuietHours != nil && InQuietHours(*prefs.QuietHours, now)
		var ds []*kinwatch.Delivery
		for _, ch := range prefs.ChannelsFor(e.Alarm) {
			switch ch {
			case kinwatch.ChannelPush:
				subs, err := s.Store.PushSubscriptions(ctx, m.AccountID)
				if err != nil {
					return nil, err
				}
				for _, sub := range subs {
					ds = append(ds, newDelivery(m.AccountID, ch, sub.ID))
				}
			case kinwatch.ChannelEmail:
				a, err := s.Store.Account(ctx, m.AccountID)
				if err != nil {
					return nil, err
				}
				if a.Email != "" && !a.EmailVerifiedAt.IsZero() {
					ds = append(ds, newDelivery(m.AccountID, ch, m.AccountID))
				}
			}
		}
		if quiet {
			for _, d := range ds {
				d.Status, d.Reason = kinwatch.DeliverySuppressed, "quiet hours"
			}
		}
		out = append(out, ds...)
	}
	hooks, err := s.Store.Webhooks(ctx, p.FamilyID)
	if err != nil {
		return nil, err
	}
	for _, h := range hooks {
		out = append(out, newDelivery("", kinwatch.ChannelWebhook, h.ID))
	}
	return out, nil
}

// deliver sends the due deliveries, at most Workers at a time, until none is due.
func (s *Service) deliver(ctx context.Context) error {
	workers := s.Workers
	if workers <= 0 {
		workers = 16
	}
	lease := s.Lease
	if lease <= 0 {
		lease = 2 * time.Minute
	}
	for ctx.Err() == nil {
		due, err := s.Store.ClaimDeliveries(ctx, s.now(), lease, batch)
		if err != nil {
			return fmt.Errorf("claim deliveries: %w", err)
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, workers)
		for _, d := range due {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				// A send that started finishes and is recorded even when the service stops.
				s.attempt(context.WithoutCancel(ctx), d)
			})
		}
		wg.Wait()
		if len(due) < batch {
			return nil
		}
	}
	return nil
}

// attempt makes one try at d and records it.
func (s *Service) attempt(ctx context.Context, d *kinwatch.Delivery) {
	timeout := s.SendTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	start := s.now()
	res := s.send(ctx, d, timeout)
	end := s.now()
	a := &kinwatch.DeliveryAttempt{DeliveryID: d.ID, N: d.Attempts + 1, At: start.UTC().Truncate(time.Microsecond),
		OK: res.Err == nil, Status: res.Status, Duration: end.Sub(start)}
	d.Attempts++
	d.UpdatedAt = end.UTC().Truncate(time.Microsecond)
	switch {
	case res.Err == nil:
		d.Status, d.Reason = kinwatch.DeliveryDelivered, ""
	case res.Permanent || res.Gone || d.Attempts > len(Backoff):
		a.Error = res.Err.Error()
		d.Status, d.Reason = kinwatch.DeliveryFailed, a.Error
	default:
		a.Error = res.Err.Error()
		wait := max(Backoff[d.Attempts-1], min(res.RetryAfter, time.Hour))
		d.Reason, d.NextAttempt = a.Error, end.Add(wait).UTC()
	}
	if err := s.Store.RecordAttempt(ctx, d, a); err != nil {
		// The lease runs out and the delivery is tried again: sent twice rather than never.
		s.Log.Error("recording a delivery attempt", "delivery", d.ID, "err", err)
		return
	}
	if res.Gone && d.Channel == kinwatch.ChannelPush {
		if err := s.Store.DeletePushSubscription(ctx, d.AccountID, d.Target); err != nil && kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
			s.Log.Warn("forgetting an expired push subscription", "err", err)
		}
	}
	if s.Sent != nil {
		s.Sent(d, a)
	}
}

// errTargetGone is the attempt's error when what a delivery was for was removed meanwhile.
var errTargetGone = errors.New("the receiver was removed before the alarm could be sent")

// send builds the message of d and hands it to its channel.
func (s *Service) send(ctx context.Context, d *kinwatch.Delivery, timeout time.Duration) Result {
	sender := s.Senders[d.Channel]
	if sender == nil {
		return Result{Err: fmt.Errorf("the %s channel is not configured on this server", d.Channel), Permanent: true}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := s.message(ctx, d)
	if errors.Is(err, errTargetGone) {
		return Result{Err: err, Permanent: true}
	}
	if err != nil {
		return Result{Err: errors.New("the alarm could not be read; will retry")}
	}
	return sender.Send(ctx, m)
}

// message gathers what a delivery says and where it goes.
func (s *Service) message(ctx context.Context, d *kinwatch.Delivery) (*Message, error) {
	m := &Message{Delivery: d}
	switch d.Channel {
	case kinwatch.ChannelPush:
		subs, err := s.Store.PushSubscriptions(ctx, d.AccountID)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(subs, func(p *kinwatch.PushSubscription) bool { return p.ID == d.Target })
		if i < 0 {
			return nil, errTargetGone
		}
		m.Subscription = subs[i]
	case kinwatch.ChannelWebhook:
		hooks, err := s.Store.Webhooks(ctx, d.FamilyID)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(hooks, func(w *kinwatch.Webhook) bool { return w.ID == d.Target })
		if i < 0 {
			return nil, errTargetGone
		}
		m.Webhook = hooks[i]
	}
	if d.AccountID != "" {
		a, err := s.Store.Account(ctx, d.AccountID)
		if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
			return nil, errTargetGone
		}
		if err != nil {
			return nil, err
		}
		m.Account = a
	}
	e, err := s.Store.Event(ctx, d.DeviceID, d.EventID)
	if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
		return nil, errTargetGone // deleted by the family meanwhile
	}
	if err != nil {
		return nil, err
	}
	m.Event = e
	return m, s.Texts.fill(ctx, s.Store, m)
}
