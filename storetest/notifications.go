package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"kinwatch"
)

var notificationTests = []storeTest{
	{"NotifyPendingAlarms", testNotifyPendingAlarms},
	{"NotifyPlanDeliveries", testNotifyPlanDeliveries},
	{"NotifyClaimAndRecord", testNotifyClaimAndRecord},
	{"NotifyClaimConcurrently", testNotifyClaimConcurrently},
	{"NotifyLostClaim", testNotifyLostClaim},
	{"NotifyDeliveriesGoWithEvent", testNotifyDeliveriesGoWithEvent},
	{"NotifyPushSubscriptions", testNotifyPushSubscriptions},
	{"NotifyWebhooks", testNotifyWebhooks},
	{"NotifyPrefs", testNotifyPrefs},
}

func alarmAt(dev, kind, subject string, after time.Duration) *kinwatch.Event {
	return &kinwatch.Event{ID: kinwatch.NewID(), DeviceID: dev, Time: t0.Add(after), Type: kinwatch.EventAlarm, Alarm: kind, Subject: subject}
}

func writeEvents(t *testing.T, s kinwatch.Store, es ...*kinwatch.Event) {
	t.Helper()
	recs := make([]kinwatch.Record, len(es))
	for i, e := range es {
		recs[i] = kinwatch.Record{Event: e}
	}
	write(t, s, recs...)
}

func pendingIDs(t *testing.T, s kinwatch.Store) []string {
	t.Helper()
	ps, err := s.PendingAlarms(t.Context(), 100)
	if err != nil {
		t.Fatalf("PendingAlarms: %v", err)
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.Event.ID)
	}
	return ids
}

// admin returns the account of a family made by BoundWatches.
func admin(t *testing.T, s kinwatch.Store, familyID string) string {
	t.Helper()
	ms, err := s.Members(t.Context(), familyID)
	if err != nil || len(ms) == 0 {
		t.Fatalf("Members(%s): %d, %v", familyID, len(ms), err)
	}
	return ms[0].AccountID
}

func deliveryIDs(ds []*kinwatch.Delivery) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

// deliveriesOf makes, for the alarm e of a watch of familyID, a pending push delivery to
// account's browser, a pending email to account and a suppressed webhook delivery, in that
// order of creation, all due at t0.
func deliveriesOf(e *kinwatch.Event, familyID, account string) []*kinwatch.Delivery {
	d := func(ch kinwatch.Channel, target, account string, status kinwatch.DeliveryStatus, reason string, created time.Duration) *kinwatch.Delivery {
		return &kinwatch.Delivery{ID: kinwatch.NewID(), EventID: e.ID, DeviceID: e.DeviceID, FamilyID: familyID, AccountID: account,
			Channel: ch, Target: target, Alarm: e.Alarm, Status: status, Reason: reason,
			NextAttempt: t0, CreatedAt: t0.Add(created), UpdatedAt: t0.Add(created)}
	}
	return []*kinwatch.Delivery{
		d(kinwatch.ChannelPush, "browser-1", account, kinwatch.DeliveryPending, "", time.Microsecond),
		d(kinwatch.ChannelEmail, account, account, kinwatch.DeliveryPending, "", 2*time.Microsecond),
		d(kinwatch.ChannelWebhook, "hook-1", "", kinwatch.DeliverySuppressed, "quiet hours", 3*time.Microsecond),
	}
}

// testNotifyPendingAlarms: every alarm WriteBatch stores is pending once, oldest first, with its
// watch's family: a resend within the window is not stored, so not pending either, while an alarm
// of the same kind about another subject is an alarm of its own. Other events are not pending.
func testNotifyPendingAlarms(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	fam := BoundWatches(t, s, "w1")
	other := BoundWatches(t, s, "w2")
	if ids := pendingIDs(t, s); len(ids) != 0 {
		t.Fatalf("pending on an empty store: %v", ids)
	}
	sos := alarmAt("w1", "sos", "", 0)
	sos.Data = json.RawMessage(`{"lat": 48.2, "lon": 16.37}`)
	enter1 := alarmAt("w1", kinwatch.AlarmFenceEnter, "fence-1", time.Second)
	enter2 := alarmAt("w1", kinwatch.AlarmFenceEnter, "fence-2", 2*time.Second)
	w2 := alarmAt("w2", "sos", "", 3*time.Second)
	writeEvents(t, s, sos, alarmAt("w1", "sos", "", 20*time.Second), enter1, enter2, w2,
		alarmAt("w1", kinwatch.AlarmFenceEnter, "fence-1", 30*time.Second),
		&kinwatch.Event{ID: kinwatch.NewID(), DeviceID: "w1", Time: t0, Type: kinwatch.EventConnected})
	// Resent in a later batch, still within the window.
	writeEvents(t, s, alarmAt("w1", "sos", "", 40*time.Second), alarmAt("w1", kinwatch.AlarmFenceEnter, "fence-2", time.Minute))

	ps, err := s.PendingAlarms(ctx, 100)
	if err != nil {
		t.Fatalf("PendingAlarms: %v", err)
	}
	type view struct {
		ID, DeviceID, Alarm, Subject, FamilyID string
		Time                                   time.Time
	}
	var got []view
	for _, p := range ps {
		got = append(got, view{p.Event.ID, p.Event.DeviceID, p.Event.Alarm, p.Event.Subject, p.FamilyID, p.Event.Time})
		if p.Event.Type != kinwatch.EventAlarm {
			t.Errorf("pending event %s of type %q", p.Event.ID, p.Event.Type)
		}
	}
	want := []view{
		{sos.ID, "w1", "sos", "", fam, sos.Time},
		{enter1.ID, "w1", kinwatch.AlarmFenceEnter, "fence-1", fam, enter1.Time},
		{enter2.ID, "w1", kinwatch.AlarmFenceEnter, "fence-2", fam, enter2.Time},
		{w2.ID, "w2", "sos", "", other, w2.Time},
	}
	same(t, "pending alarms", got, want)
	if len(ps) > 0 {
		if got := string(canonicalJSON(t, ps[0].Event.Data)); got != string(canonicalJSON(t, sos.Data)) {
			t.Errorf("pending alarm's data %s, want %s", got, sos.Data)
		}
	}
	if ps, err := s.PendingAlarms(ctx, 2); err != nil || len(ps) != 2 || ps[0].Event.ID != sos.ID || ps[1].Event.ID != enter1.ID {
		t.Errorf("PendingAlarms(limit 2): %d, %v; want the oldest two", len(ps), err)
	}
	// A later alarm, out of the window, is pending again.
	later := alarmAt("w1", "sos", "", kinwatch.AlarmRepeatWindow+time.Minute)
	writeEvents(t, s, later)
	if ids := pendingIDs(t, s); len(ids) != 5 || ids[4] != later.ID {
		t.Errorf("after a later SOS pending %v; want it last of 5", ids)
	}
}

// testNotifyPlanDeliveries: planning stores the deliveries and clears the alarm from the pending
// ones in one go; planning it again (a second process) stores nothing more.
func testNotifyPlanDeliveries(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	fam := BoundWatches(t, s, "w1")
	acc := admin(t, s, fam)
	e, kept := alarmAt("w1", "sos", "", 0), alarmAt("w1", "fall", "", 0)
	writeEvents(t, s, e, kept)
	ds := deliveriesOf(e, fam, acc)
	if err := s.PlanDeliveries(ctx, e.ID, ds); err != nil {
		t.Fatalf("PlanDeliveries: %v", err)
	}
	if ids := pendingIDs(t, s); !slices.Equal(ids, []string{kept.ID}) {
		t.Errorf("pending after planning one: %v, want only %s", ids, kept.ID)
	}
	got, attempts, err := s.EventDeliveries(ctx, "w1", e.ID)
	if err != nil {
		t.Fatalf("EventDeliveries: %v", err)
	}
	same(t, "planned deliveries", got, ds)
	if len(attempts) != 0 {
		t.Errorf("attempts before any: %v", attempts)
	}
	for _, d := range ds {
		one, err := s.Delivery(ctx, d.ID)
		if err != nil {
			t.Fatalf("Delivery(%s): %v", d.ID, err)
		}
		same(t, "Delivery", one, d)
	}
	_, err = s.Delivery(ctx, kinwatch.NewID())
	wantCode(t, "Delivery of a missing id", err, kinwatch.ENOTFOUND)

	// Planned again, by a process that read the alarm as pending before: new ids, same targets.
	again := deliveriesOf(e, fam, acc)
	again = append(again, &kinwatch.Delivery{ID: kinwatch.NewID(), EventID: e.ID, DeviceID: "w1", FamilyID: fam, AccountID: acc,
		Channel: kinwatch.ChannelPush, Target: "browser-2", Alarm: "sos", Status: kinwatch.DeliveryPending, NextAttempt: t0, CreatedAt: t0, UpdatedAt: t0})
	if err := s.PlanDeliveries(ctx, e.ID, again); err != nil {
		t.Fatalf("PlanDeliveries again: %v", err)
	}
	if got, _, err := s.EventDeliveries(ctx, "w1", e.ID); err != nil || !slices.Equal(deliveryIDs(got), deliveryIDs(ds)) {
		t.Errorf("after planning again: %v, %v; want the first plan's %v", deliveryIDs(got), err, deliveryIDs(ds))
	}
	// An alarm with nobody to tell: planned with no delivery.
	if err := s.PlanDeliveries(ctx, kept.ID, nil); err != nil {
		t.Fatalf("PlanDeliveries(none): %v", err)
	}
	if ids := pendingIDs(t, s); len(ids) != 0 {
		t.Errorf("pending after planning every alarm: %v", ids)
	}
	// Of another watch: nothing, whatever the event id.
	if got, attempts, err := s.EventDeliveries(ctx, "w2", e.ID); err != nil || len(got) != 0 || len(attempts) != 0 {
		t.Errorf("EventDeliveries with another watch: %d, %d, %v; want none", len(got), len(attempts), err)
	}
}

// testNotifyClaimAndRecord: a claim takes the due pending deliveries for a lease, after which
// they are due again; an attempt updates the delivery and is listed with it.
func testNotifyClaimAndRecord(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	fam := BoundWatches(t, s, "w1")
	acc := admin(t, s, fam)
	e := alarmAt("w1", "sos", "", 0)
	writeEvents(t, s, e)
	ds := deliveriesOf(e, fam, acc)
	later := &kinwatch.Delivery{ID: kinwatch.NewID(), EventID: e.ID, DeviceID: "w1", FamilyID: fam, AccountID: acc,
		Channel: kinwatch.ChannelPush, Target: "browser-2", Alarm: "sos", Status: kinwatch.DeliveryPending,
		NextAttempt: t0.Add(time.Hour), CreatedAt: t0, UpdatedAt: t0}
	if err := s.PlanDeliveries(ctx, e.ID, append(slices.Clone(ds), later)); err != nil {
		t.Fatalf("PlanDeliveries: %v", err)
	}
	push, email := ds[0], ds[1]

	const lease = time.Minute
	now := t0.Add(time.Second)
	claim := func(what string, at time.Time, limit int, want ...string) []*kinwatch.Delivery {
		t.Helper()
		got, err := s.ClaimDeliveries(ctx, at, lease, limit)
		if err != nil {
			t.Fatalf("ClaimDeliveries %s: %v", what, err)
		}
		if ids := deliveryIDs(got); !slices.Equal(ids, want) && !(len(ids) == 0 && len(want) == 0) {
			t.Errorf("ClaimDeliveries %s: %v, want %v", what, ids, want)
		}
		for _, d := range got {
			if !d.NextAttempt.Equal(at.Add(lease)) {
				t.Errorf("claimed %s next attempt %v, want %v", d.ID, d.NextAttempt, at.Add(lease))
			}
		}
		return got
	}
	claimed := claim("due", now, 10, push.ID, email.ID)
	if len(claimed) == 2 {
		want := *push
		want.NextAttempt, want.Lease = now.Add(lease), now.Add(lease)
		same(t, "claimed delivery", claimed[0], &want)
	}
	if d, err := s.Delivery(ctx, push.ID); err != nil || !d.NextAttempt.Equal(now.Add(lease)) {
		t.Errorf("after claiming: %+v, %v", d, err)
	}
	claim("within the lease", now.Add(lease-time.Microsecond), 10)
	// Both fell due at once: the lower id goes first.
	first, second := push.ID, email.ID
	if second < first {
		first, second = second, first
	}
	claim("after the lease, limit 1", now.Add(lease), 1, first)
	now = now.Add(lease)
	claim("after the lease, the rest", now, 10, second)

	// Pushed: delivered. The email failed and waits for a retry.
	sent := now.Add(time.Second)
	pushDone := *push
	pushDone.Status, pushDone.Attempts, pushDone.NextAttempt, pushDone.UpdatedAt = kinwatch.DeliveryDelivered, 1, now.Add(lease), sent
	pushAttempt := &kinwatch.DeliveryAttempt{DeliveryID: push.ID, N: 1, At: sent, OK: true, Status: 201, Duration: 150*time.Millisecond + 3*time.Microsecond}
	if err := s.RecordAttempt(ctx, &pushDone, pushAttempt); err != nil {
		t.Fatalf("RecordAttempt(push): %v", err)
	}
	emailRetry := *email
	emailRetry.Reason, emailRetry.Attempts, emailRetry.NextAttempt, emailRetry.UpdatedAt = "451 try again later", 1, sent.Add(10*time.Minute), sent
	emailAttempt := &kinwatch.DeliveryAttempt{DeliveryID: email.ID, N: 1, At: sent, Status: 451, Error: "451 try again later", Duration: 2 * time.Second}
	if err := s.RecordAttempt(ctx, &emailRetry, emailAttempt); err != nil {
		t.Fatalf("RecordAttempt(email): %v", err)
	}
	missing := *push
	missing.ID = kinwatch.NewID()
	err := s.RecordAttempt(ctx, &missing, &kinwatch.DeliveryAttempt{DeliveryID: missing.ID, N: 1, At: sent})
	wantCode(t, "RecordAttempt of a missing delivery", err, kinwatch.ENOTFOUND)

	got, attempts, err := s.EventDeliveries(ctx, "w1", e.ID)
	if err != nil {
		t.Fatalf("EventDeliveries: %v", err)
	}
	laterNow := *later
	same(t, "deliveries after attempts", got, []*kinwatch.Delivery{&laterNow, &pushDone, &emailRetry, ds[2]})
	same(t, "attempts", attempts, map[string][]*kinwatch.DeliveryAttempt{push.ID: {pushAttempt}, email.ID: {emailAttempt}})
	if got, attempts, err := s.EventDeliveries(ctx, "w2", e.ID); err != nil || len(got) != 0 || len(attempts) != 0 {
		t.Errorf("EventDeliveries with another watch: %d, %d, %v; want none", len(got), len(attempts), err)
	}

	// The delivered one is never claimed again, the suppressed one never was; the email and the
	// later push fall due.
	claim("before the retry", sent.Add(time.Minute), 10)
	claim("at the retry", sent.Add(10*time.Minute), 10, email.ID)
	claim("an hour on", t0.Add(2*time.Hour), 10, later.ID, email.ID)
}

// testNotifyClaimConcurrently: claimers running side by side never take the same delivery.
func testNotifyClaimConcurrently(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	fam := BoundWatches(t, s, "w1")
	e := alarmAt("w1", "sos", "", 0)
	writeEvents(t, s, e)
	var ds []*kinwatch.Delivery
	for i := range 40 {
		ds = append(ds, &kinwatch.Delivery{ID: kinwatch.NewID(), EventID: e.ID, DeviceID: "w1", FamilyID: fam,
			Channel: kinwatch.ChannelWebhook, Target: fmt.Sprintf("hook-%d", i), Alarm: "sos", Status: kinwatch.DeliveryPending,
			NextAttempt: t0, CreatedAt: t0, UpdatedAt: t0})
	}
	if err := s.PlanDeliveries(ctx, e.ID, ds); err != nil {
		t.Fatalf("PlanDeliveries: %v", err)
	}
	var (
		mu    sync.Mutex
		taken = map[string]int{}
		wg    sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			// Bounded, so a store whose claims do not lease fails instead of looping.
			for range len(ds) {
				got, err := s.ClaimDeliveries(ctx, t0, time.Hour, 3)
				if err != nil {
					t.Errorf("ClaimDeliveries: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					taken[d.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(taken) != len(ds) {
		t.Errorf("claimed %d deliveries, want %d", len(taken), len(ds))
	}
	for id, n := range taken {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times", id, n)
		}
	}
}

// testNotifyDeliveriesGoWithEvent: deleting an alarm, by the family or by unbinding the watch,
// deletes its deliveries and their attempts.
func testNotifyDeliveriesGoWithEvent(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	fam := BoundWatches(t, s, "w1")
	acc := admin(t, s, fam)
	e1, e2 := alarmAt("w1", "sos", "", 0), alarmAt("w1", "sos", "", time.Hour)
	writeEvents(t, s, e1, e2)
	var planned [][]*kinwatch.Delivery
	for _, e := range []*kinwatch.Event{e1, e2} {
		ds := deliveriesOf(e, fam, acc)
		if err := s.PlanDeliveries(ctx, e.ID, ds); err != nil {
			t.Fatalf("PlanDeliveries: %v", err)
		}
		d := *ds[0]
		d.Status, d.Attempts = kinwatch.DeliveryDelivered, 1
		if err := s.RecordAttempt(ctx, &d, &kinwatch.DeliveryAttempt{DeliveryID: d.ID, N: 1, At: t0, OK: true}); err != nil {
			t.Fatalf("RecordAttempt: %v", err)
		}
		planned = append(planned, ds)
	}
	gone := func(what string, e *kinwatch.Event, ds []*kinwatch.Delivery) {
		t.Helper()
		got, attempts, err := s.EventDeliveries(ctx, "w1", e.ID)
		if err != nil || len(got) != 0 || len(attempts) != 0 {
			t.Errorf("%s: %d deliveries, %d attempts, %v; want none", what, len(got), len(attempts), err)
		}
		for _, d := range ds {
			_, err := s.Delivery(ctx, d.ID)
			wantCode(t, what+": Delivery", err, kinwatch.ENOTFOUND)
		}
	}
	if n, _, err := s.DeleteRecords(ctx, kinwatch.RecordDeletion{FamilyID: fam, Kind: kinwatch.RecordEvents, DeviceID: "w1", ID: e1.ID}); err != nil || n != 1 {
		t.Fatalf("DeleteRecords(the first alarm): %d, %v", n, err)
	}
	gone("the deleted alarm", e1, planned[0])
	if got, attempts, err := s.EventDeliveries(ctx, "w1", e2.ID); err != nil || len(got) != 3 || len(attempts) != 1 {
		t.Errorf("the other alarm: %d deliveries, %d attempts, %v; want 3 and 1", len(got), len(attempts), err)
	}
	if _, err := s.Unbind(ctx, "w1"); err != nil {
		t.Fatalf("Unbind: %v", err)
	}
	gone("after unbinding", e2, planned[1])
	if got, err := s.ClaimDeliveries(ctx, t0.Add(24*time.Hour), time.Minute, 10); err != nil || len(got) != 0 {
		t.Errorf("ClaimDeliveries after unbinding: %d, %v; want none", len(got), err)
	}
}

// testNotifyPushSubscriptions: a browser's subscription round-trips sealed with its account's
// key, a re-subscription replaces it, an account has at most MaxPushSubscriptions, and one
// account cannot delete another's.
func testNotifyPushSubscriptions(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	guardian(t, s, "a1", "One")
	guardian(t, s, "a2", "Two") // neither has sealed anything yet, so neither has a key
	list := func(account string) []*kinwatch.PushSubscription {
		t.Helper()
		got, err := s.PushSubscriptions(ctx, account)
		if err != nil {
			t.Fatalf("PushSubscriptions(%s): %v", account, err)
		}
		return got
	}
	const endpoint = "https://push.example.com/send/a-capability-token"
	sub := &kinwatch.PushSubscription{ID: kinwatch.NewID(), AccountID: "a1", Endpoint: endpoint,
		P256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM", Auth: "tBHItJI5svbpez7KI4CCXg",
		UserAgent: "Firefox on Android", CreatedAt: t0}
	if err := s.AddPushSubscription(ctx, sub); err != nil {
		t.Fatalf("AddPushSubscription: %v", err)
	}
	want := *sub
	same(t, "push subscriptions", list("a1"), []*kinwatch.PushSubscription{&want})

	// The browser subscribes again (new keys): the one subscription is replaced and keeps its id.
	again := &kinwatch.PushSubscription{ID: kinwatch.NewID(), AccountID: "a1", Endpoint: endpoint, P256dh: "BOther", Auth: "other-auth",
		UserAgent: "Firefox 140 on Android", CreatedAt: t0.Add(time.Hour)}
	if err := s.AddPushSubscription(ctx, again); err != nil {
		t.Fatalf("AddPushSubscription(again): %v", err)
	}
	if again.ID != sub.ID {
		t.Errorf("re-subscribing gave id %s, want the subscription's %s", again.ID, sub.ID)
	}
	want.P256dh, want.Auth, want.UserAgent = again.P256dh, again.Auth, again.UserAgent
	same(t, "after re-subscribing", list("a1"), []*kinwatch.PushSubscription{&want})

	// The same browser for another guardian is a subscription of its own.
	theirs := &kinwatch.PushSubscription{ID: kinwatch.NewID(), AccountID: "a2", Endpoint: endpoint, P256dh: "BTwo", Auth: "two", CreatedAt: t0}
	if err := s.AddPushSubscription(ctx, theirs); err != nil {
		t.Fatalf("AddPushSubscription(a2): %v", err)
	}
	if got := list("a2"); len(got) != 1 || got[0].ID != theirs.ID || got[0].ID == sub.ID {
		t.Errorf("a2's subscriptions: %+v", got)
	}
	if len(list("a1")) != 1 {
		t.Errorf("a2 subscribing changed a1's")
	}

	// At most MaxPushSubscriptions; a re-subscription at the limit still replaces.
	for i := 1; i < kinwatch.MaxPushSubscriptions; i++ {
		err := s.AddPushSubscription(ctx, &kinwatch.PushSubscription{ID: kinwatch.NewID(), AccountID: "a1",
			Endpoint: fmt.Sprintf("https://push.example.com/send/%d", i), P256dh: "B", Auth: "a", CreatedAt: t0.Add(time.Duration(i) * time.Second)})
		if err != nil {
			t.Fatalf("AddPushSubscription %d: %v", i, err)
		}
	}
	err := s.AddPushSubscription(ctx, &kinwatch.PushSubscription{ID: kinwatch.NewID(), AccountID: "a1", Endpoint: "https://push.example.com/one-too-many", P256dh: "B", Auth: "a"})
	wantCode(t, "AddPushSubscription beyond MaxPushSubscriptions", err, kinwatch.ECONFLICT)
	if err := s.AddPushSubscription(ctx, &kinwatch.PushSubscription{ID: kinwatch.NewID(), AccountID: "a1", Endpoint: endpoint, P256dh: "B3", Auth: "a3"}); err != nil {
		t.Errorf("re-subscribing at the limit: %v", err)
	}
	if got := list("a1"); len(got) != kinwatch.MaxPushSubscriptions || got[0].ID != sub.ID || got[0].P256dh != "B3" || !got[0].CreatedAt.Equal(t0) {
		t.Errorf("at the limit: %d subscriptions, first %+v", len(got), got[0])
	}

	err = s.AddPushSubscription(ctx, &kinwatch.PushSubscription{ID: kinwatch.NewID(), AccountID: "a1", P256dh: "B", Auth: "a"})
	wantCode(t, "AddPushSubscription without an endpoint", err, kinwatch.EINVALID)
	err = s.AddPushSubscription(ctx, &kinwatch.PushSubscription{ID: kinwatch.NewID(), AccountID: "ghost", Endpoint: endpoint, P256dh: "B", Auth: "a"})
	wantCode(t, "AddPushSubscription of a missing account", err, kinwatch.ENOTFOUND)

	wantCode(t, "DeletePushSubscription of another account's", s.DeletePushSubscription(ctx, "a2", sub.ID), kinwatch.ENOTFOUND)
	wantCode(t, "DeletePushSubscription of a missing one", s.DeletePushSubscription(ctx, "a1", kinwatch.NewID()), kinwatch.ENOTFOUND)
	if err := s.DeletePushSubscription(ctx, "a1", sub.ID); err != nil {
		t.Fatalf("DeletePushSubscription: %v", err)
	}
	if got := list("a1"); len(got) != kinwatch.MaxPushSubscriptions-1 || slices.ContainsFunc(got, func(p *kinwatch.PushSubscription) bool { return p.ID == sub.ID }) {
		t.Errorf("after deleting: %d subscriptions", len(got))
	}

	// Sealed with the account's key: once it is shredded, they no longer open; a2's still do.
	if err := s.ShredKeys(ctx, kinwatch.AccountOwner("a1")); err != nil {
		t.Fatalf("ShredKeys: %v", err)
	}
	if got, err := s.PushSubscriptions(ctx, "a1"); err == nil {
		t.Errorf("a1's subscriptions open after its key was shredded: %d", len(got))
	}
	if got := list("a2"); len(got) != 1 || got[0].Endpoint != endpoint {
		t.Errorf("a2's subscriptions after a1's key was shredded: %+v", got)
	}
}

// testNotifyWebhooks: a family's webhooks round-trip sealed with its key, a family has at most
// MaxWebhooks, and one family cannot delete another's.
func testNotifyWebhooks(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	fam := BoundWatches(t, s, "w1")
	other := BoundWatches(t, s, "w2")
	acc := admin(t, s, fam)
	list := func(family string) []*kinwatch.Webhook {
		t.Helper()
		got, err := s.Webhooks(ctx, family)
		if err != nil {
			t.Fatalf("Webhooks(%s): %v", family, err)
		}
		return got
	}
	if got := list(fam); len(got) != 0 {
		t.Fatalf("webhooks of a new family: %d", len(got))
	}
	hook := &kinwatch.Webhook{ID: kinwatch.NewID(), FamilyID: fam, Name: "ntfy", URL: "https://ntfy.sh/kinwatch-secret-topic",
		Secret: "whsec_0123456789", Format: kinwatch.WebhookText, CreatedBy: acc, CreatedAt: t0}
	if err := s.AddWebhook(ctx, hook); err != nil {
		t.Fatalf("AddWebhook: %v", err)
	}
	want := *hook
	same(t, "webhooks", list(fam), []*kinwatch.Webhook{&want})
	theirs := &kinwatch.Webhook{ID: kinwatch.NewID(), FamilyID: other, Name: "Home Assistant", URL: "https://ha.example.com/api/webhook/x", Secret: "s", CreatedAt: t0}
	if err := s.AddWebhook(ctx, theirs); err != nil {
		t.Fatalf("AddWebhook(other family): %v", err)
	}

	for i := 1; i < kinwatch.MaxWebhooks; i++ {
		err := s.AddWebhook(ctx, &kinwatch.Webhook{ID: kinwatch.NewID(), FamilyID: fam, Name: fmt.Sprint(i),
			URL: fmt.Sprintf("https://example.com/hook/%d", i), CreatedAt: t0.Add(time.Duration(i) * time.Second)})
		if err != nil {
			t.Fatalf("AddWebhook %d: %v", i, err)
		}
	}
	err := s.AddWebhook(ctx, &kinwatch.Webhook{ID: kinwatch.NewID(), FamilyID: fam, URL: "https://example.com/one-too-many"})
	wantCode(t, "AddWebhook beyond MaxWebhooks", err, kinwatch.ECONFLICT)
	err = s.AddWebhook(ctx, &kinwatch.Webhook{ID: kinwatch.NewID(), FamilyID: fam})
	wantCode(t, "AddWebhook without a URL", err, kinwatch.EINVALID)
	if got := list(fam); len(got) != kinwatch.MaxWebhooks || got[0].ID != hook.ID {
		t.Errorf("at the limit: %d webhooks", len(got))
	}

	wantCode(t, "DeleteWebhook of another family's", s.DeleteWebhook(ctx, other, hook.ID), kinwatch.ENOTFOUND)
	wantCode(t, "DeleteWebhook of a missing one", s.DeleteWebhook(ctx, fam, kinwatch.NewID()), kinwatch.ENOTFOUND)
	if err := s.DeleteWebhook(ctx, fam, hook.ID); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	if got := list(fam); len(got) != kinwatch.MaxWebhooks-1 || got[0].ID == hook.ID {
		t.Errorf("after deleting: %d webhooks", len(got))
	}
	if err := s.AddWebhook(ctx, &kinwatch.Webhook{ID: kinwatch.NewID(), FamilyID: fam, URL: "https://example.com/room-again"}); err != nil {
		t.Errorf("AddWebhook after deleting one: %v", err)
	}

	// Sealed with the family's key: once it is shredded, they no longer open; the other
	// family's still do.
	if err := s.ShredKeys(ctx, kinwatch.FamilyOwner(fam)); err != nil {
		t.Fatalf("ShredKeys: %v", err)
	}
	if got, err := s.Webhooks(ctx, fam); err == nil {
		t.Errorf("webhooks open after the family's key was shredded: %d", len(got))
	}
	same(t, "the other family's webhooks", list(other), []*kinwatch.Webhook{theirs})
}

// testNotifyPrefs: preferences are the zero value until set, and are replaced whole.
func testNotifyPrefs(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	guardian(t, s, "a1", "One")
	guardian(t, s, "a2", "Two")
	read := func(account string) *kinwatch.NotificationPrefs {
		t.Helper()
		p, err := s.NotificationPrefs(ctx, account)
		if err != nil {
			t.Fatalf("NotificationPrefs(%s): %v", account, err)
		}
		return p
	}
	same(t, "prefs never set", read("a1"), &kinwatch.NotificationPrefs{})
	p := &kinwatch.NotificationPrefs{
		Channels: map[string][]kinwatch.Channel{
			"sos":                   {kinwatch.ChannelPush, kinwatch.ChannelEmail, kinwatch.ChannelWebhook},
			kinwatch.AlarmFenceExit: {kinwatch.ChannelPush},
			"low_battery":           {}, // blocked
		},
		QuietHours: &kinwatch.QuietHours{From: "22:00", To: "07:00", TimeZone: "Europe/Vienna"},
	}
	if err := s.SetNotificationPrefs(ctx, "a1", p); err != nil {
		t.Fatalf("SetNotificationPrefs: %v", err)
	}
	same(t, "prefs", read("a1"), p)
	if got := read("a1").ChannelsFor("low_battery"); got == nil || len(got) != 0 {
		t.Errorf("a blocked kind reads back as %v, want an empty list", got)
	}
	same(t, "another account's prefs", read("a2"), &kinwatch.NotificationPrefs{})
	if err := s.SetNotificationPrefs(ctx, "a1", &kinwatch.NotificationPrefs{}); err != nil {
		t.Fatalf("SetNotificationPrefs(cleared): %v", err)
	}
	same(t, "prefs cleared", read("a1"), &kinwatch.NotificationPrefs{})
	wantCode(t, "SetNotificationPrefs of a missing account", s.SetNotificationPrefs(ctx, "ghost", p), kinwatch.ENOTFOUND)
}

// testNotifyLostClaim: a process whose claim ran out (it paused past the lease and another took
// the delivery over) cannot record over what the other recorded, nor add to its attempts.
func testNotifyLostClaim(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	fam := BoundWatches(t, s, "w1")
	e := alarmAt("w1", "sos", "", 0)
	writeEvents(t, s, e)
	d := &kinwatch.Delivery{ID: kinwatch.NewID(), EventID: e.ID, DeviceID: "w1", FamilyID: fam, Channel: kinwatch.ChannelWebhook,
		Target: "hook-1", Alarm: "sos", Status: kinwatch.DeliveryPending, NextAttempt: t0, CreatedAt: t0, UpdatedAt: t0}
	if err := s.PlanDeliveries(ctx, e.ID, []*kinwatch.Delivery{d}); err != nil {
		t.Fatal(err)
	}
	const lease = time.Minute
	first, err := s.ClaimDeliveries(ctx, t0, lease, 1)
	if err != nil || len(first) != 1 {
		t.Fatalf("first claim: %d, %v", len(first), err)
	}
	second, err := s.ClaimDeliveries(ctx, t0.Add(lease), lease, 1)
	if err != nil || len(second) != 1 || second[0].Lease.Equal(first[0].Lease) {
		t.Fatalf("second claim after the lease: %+v, %v", second, err)
	}
	done := *second[0]
	done.Status, done.Attempts, done.UpdatedAt = kinwatch.DeliveryDelivered, 1, t0.Add(lease+time.Second)
	if err := s.RecordAttempt(ctx, &done, &kinwatch.DeliveryAttempt{DeliveryID: d.ID, N: 1, At: done.UpdatedAt, OK: true, Status: 204}); err != nil {
		t.Fatalf("RecordAttempt under the current claim: %v", err)
	}
	late := *first[0]
	late.Reason, late.Attempts, late.NextAttempt, late.UpdatedAt = "timed out", 1, t0.Add(time.Hour), t0.Add(2*lease)
	err = s.RecordAttempt(ctx, &late, &kinwatch.DeliveryAttempt{DeliveryID: d.ID, N: 1, At: late.UpdatedAt, Error: "timed out"})
	wantCode(t, "RecordAttempt under a lost claim", err, kinwatch.ECONFLICT)
	got, attempts, err := s.EventDeliveries(ctx, "w1", e.ID)
	if err != nil || len(got) != 1 || got[0].Status != kinwatch.DeliveryDelivered || len(attempts[d.ID]) != 1 || !attempts[d.ID][0].OK {
		t.Errorf("after a late record: %+v, %+v, %v", got, attempts[d.ID], err)
	}
}
