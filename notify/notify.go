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
	wake     chan struct{} // an alarm was stored: plan
	work     chan struct{} // deliveries were planned: claim
}

func (s *Service) init() {
	s.wakeOnce.Do(func() {
		s.wake = make(chan struct{}, 1)
		s.work = make(chan struct{}, s.workers())
	})
}

func (s *Service) workers() int {
	if s.Workers > 0 {
		return s.Workers
	}
	return 16
}

func (s *Service) poll() time.Duration {
	if s.Poll > 0 {
		return s.Poll
	}
	return time.Second
}

// Wake tells the service an alarm was stored; it never blocks.
func (s *Service) Wake() {
	s.init()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// kick tells the idle workers there is work.
func (s *Service) kick() {
	for range s.workers() {
		select {
		case s.work <- struct{}{}:
		default:
			return
		}
	}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Run plans and sends until ctx ends, then waits for the sends in flight (they are recorded:
// stopping loses nothing, and a send not started is left to the next start). Planning and
// sending run apart: each worker claims one delivery at a time, so a slow receiver holds up one
// worker, never the planning of the next SOS or the other families' deliveries.
func (s *Service) Run(ctx context.Context) {
	s.init()
	var wg sync.WaitGroup
	for range s.workers() {
		wg.Go(func() { s.worker(ctx) })
	}
	t := time.NewTimer(0)
	defer t.Stop()
	var logged time.Time // an alarm that cannot be planned is retried every poll, reported once a minute
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
		if err := s.plan(ctx); err != nil && ctx.Err() == nil && time.Since(logged) > time.Minute {
			s.Log.Warn("notifications: alarms that cannot be planned yet", "err", err)
			logged = time.Now()
		}
		s.kick()
		t.Reset(s.poll())
	}
	wg.Wait()
}

// worker sends due deliveries one by one until ctx ends.
func (s *Service) worker(ctx context.Context) {
	for ctx.Err() == nil {
		ds, err := s.Store.ClaimDeliveries(ctx, s.now(), s.lease(), 1)
		if err != nil && ctx.Err() == nil {
			s.Log.Warn("notifications: claiming", "err", err)
		}
		if len(ds) == 0 {
			select {
			case <-ctx.Done():
			case <-s.work:
			case <-time.After(s.poll()):
			}
			continue
		}
		s.attempt(ctx, ds[0])
	}
}

func (s *Service) lease() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return 2 * time.Minute
}

// Step plans every pending alarm and sends every due delivery, one after the other (tests, and
// tools that run one pass).
func (s *Service) Step(ctx context.Context) error {
	planErr := s.plan(ctx)
	for ctx.Err() == nil {
		ds, err := s.Store.ClaimDeliveries(ctx, s.now(), s.lease(), 1)
		if err != nil || len(ds) == 0 {
			return errors.Join(planErr, err)
		}
		s.attempt(ctx, ds[0])
	}
	return errors.Join(planErr, ctx.Err())
}

const batch = 64

// stopGrace is how long a send in flight may go on once the service stops.
const stopGrace = 3 * time.Second

// plan turns pending alarms into deliveries. An alarm that cannot be planned (a key that does
// not open, say) is reported and left pending for the next round; the others go on.
func (s *Service) plan(ctx context.Context) error {
	var errs []error
	for ctx.Err() == nil {
		pending, err := s.Store.PendingAlarms(ctx, batch)
		if err != nil {
			return fmt.Errorf("pending alarms: %w", err)
		}
		planned := 0
		for _, p := range pending {
			ds, err := s.deliveriesFor(ctx, p)
			if err == nil {
				err = s.Store.PlanDeliveries(ctx, p.Event.ID, ds)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("alarm %s: %w", p.Event.ID, err))
				continue
			}
			planned++
		}
		if len(pending) < batch || planned == 0 {
			break
		}
	}
	return errors.Join(errs...)
}

// deliveriesFor decides who hears of an alarm and how: each guardian of the watch's family over
// the channels they chose for its kind (quiet hours hold back all but SOS and a fall, recorded
// as suppressed so the family can see why), and each of the family's webhooks.
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
		quiet := !Urgent(e.Alarm) && prefs.QuietHours != nil && InQuietHours(*prefs.QuietHours, now)
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

// attempt makes one try at d and records it.
//
// A send that started when the service stops gets a few seconds more to finish (so stopping
// stays quick) and is recorded whatever its outcome: a send cut short is retried at the next start.
func (s *Service) attempt(ctx context.Context, d *kinwatch.Delivery) {
	timeout := s.SendTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	sendCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(stopGrace, cancel) })
	defer stop()
	start := s.now()
	res := s.send(sendCtx, d, timeout)
	end := s.now()
	ctx, cancelRecord := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancelRecord()
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
		if kinwatch.ErrorCode(err) == kinwatch.ECONFLICT {
			// This process was too slow: its lease ran out and another took the delivery over.
			s.Log.Warn("a delivery's claim ran out during its attempt; the other process's record stands", "delivery", d.ID)
			return
		}
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
		// A guardian who left the family (or was removed) since hears no more of its children.
		if _, err := s.Store.Member(ctx, d.FamilyID, d.AccountID); kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
			return nil, errTargetGone
		} else if err != nil {
			return nil, err
		}
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
