package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/notify"
	"kinwatch/storetest"
)

// fakeSender records what it was asked to send and answers from a script.
type fakeSender struct {
	mu      sync.Mutex
	sent    []*notify.Message
	results []notify.Result // answered in order; then success
}

func (f *fakeSender) Send(ctx context.Context, m *notify.Message) notify.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	if len(f.results) > 0 {
		r := f.results[0]
		f.results = f.results[1:]
		return r
	}
	return notify.Result{Status: 201}
}

func (f *fakeSender) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

type fixture struct {
	st                  kinwatch.Store
	svc                 *notify.Service
	push, email, hook   *fakeSender
	family, admin, mail string
	now                 time.Time
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	db := storetest.SQLite(t)
	f := &fixture{st: db, push: &fakeSender{}, email: &fakeSender{}, hook: &fakeSender{}, now: time.Now().UTC().Truncate(time.Second)}
	f.family = storetest.BoundWatches(t, db, "w1")
	ms, err := db.Members(ctx, f.family)
	if err != nil || len(ms) != 1 {
		t.Fatalf("Members = %v, %v", ms, err)
	}
	f.admin = ms[0].AccountID
	// A second guardian with a verified address; the admin has none.
	g := &kinwatch.Account{ID: kinwatch.NewID(), Email: "gran@example.org", EmailVerifiedAt: f.now, Profile: kinwatch.Profile{Nickname: "Gran"},
		Preferences: kinwatch.Preferences{TimeZone: "Europe/Berlin"}, CreatedAt: f.now}
	if err := db.CreateAccount(ctx, g); err != nil {
		t.Fatal(err)
	}
	f.mail = g.ID
	if err := db.AddMember(ctx, &kinwatch.Member{FamilyID: f.family, AccountID: g.ID, Role: kinwatch.RoleGuardian, JoinedAt: f.now}); err != nil {
		t.Fatal(err)
	}
	for i, acct := range []string{f.admin, f.admin, f.mail} {
		err := db.AddPushSubscription(ctx, &kinwatch.PushSubscription{ID: kinwatch.NewID(), AccountID: acct,
			Endpoint: "https://push.example.org/" + string(rune('a'+i)), P256dh: "k", Auth: "a"})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddWebhook(ctx, &kinwatch.Webhook{ID: kinwatch.NewID(), FamilyID: f.family, Name: "HA", URL: "https://ha.example.org/hook", Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	f.svc = &notify.Service{Store: db, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return f.now },
		Senders: map[kinwatch.Channel]notify.Sender{kinwatch.ChannelPush: f.push, kinwatch.ChannelEmail: f.email, kinwatch.ChannelWebhook: f.hook}}
	return f
}

func (f *fixture) alarm(t *testing.T, kind string, at time.Time) *kinwatch.Event {
	t.Helper()
	e := &kinwatch.Event{ID: kinwatch.NewID(), DeviceID: "w1", Time: at, Type: kinwatch.EventAlarm, Alarm: kind}
	if err := f.st.WriteBatch(t.Context(), []kinwatch.Record{{Event: e}}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *fixture) step(t *testing.T) {
	t.Helper()
	if err := f.svc.Step(t.Context()); err != nil {
		t.Fatalf("Step: %v", err)
	}
}

// An SOS goes to every browser of every guardian, to the verified address, and to the webhook,
// each once: stepping again sends nothing more.
func TestSOSReachesEveryoneOnce(t *testing.T) {
	f := setup(t)
	e := f.alarm(t, "sos", f.now)
	f.step(t)
	f.step(t)
	if f.push.count() != 3 || f.email.count() != 1 || f.hook.count() != 1 {
		t.Fatalf("sent push %d, email %d, webhook %d; want 3, 1, 1", f.push.count(), f.email.count(), f.hook.count())
	}
	m := f.email.sent[0]
	if m.Account.ID != f.mail || m.Title != "SOS from Your child" || !strings.Contains(m.Body, "pressed the SOS button") || m.Blockable {
		t.Errorf("email message = %+v", m)
	}
	ds, attempts, err := f.st.EventDeliveries(t.Context(), "w1", e.ID)
	if err != nil || len(ds) != 5 {
		t.Fatalf("EventDeliveries = %d, %v", len(ds), err)
	}
	for _, d := range ds {
		if d.Status != kinwatch.DeliveryDelivered || d.Attempts != 1 || len(attempts[d.ID]) != 1 || !attempts[d.ID][0].OK {
			t.Errorf("delivery %+v, attempts %+v", d, attempts[d.ID])
		}
	}
	// The same alarm resent by the watch is stored once, so nothing more goes out.
	f.alarm(t, "sos", f.now.Add(30*time.Second))
	f.step(t)
	if f.push.count() != 3 {
		t.Errorf("a resent SOS was notified again: %d pushes", f.push.count())
	}
}

// A receiver that is down is retried with back-off, each attempt recorded; one that refuses
// the request is not retried.
func TestRetriesAndFailures(t *testing.T) {
	f := setup(t)
	f.hook.results = []notify.Result{
		{Status: 503, Err: errors.New("the receiver answered 503; will retry")},
		{Status: 503, Err: errors.New("the receiver answered 503; will retry")},
	}
	f.email.results = []notify.Result{{Status: 550, Err: errors.New("refused"), Permanent: true}}
	e := f.alarm(t, "fall", f.now)
	f.step(t)
	if f.hook.count() != 1 {
		t.Fatalf("webhook tries = %d, want 1", f.hook.count())
	}
	f.step(t) // not due yet
	if f.hook.count() != 1 {
		t.Fatalf("retried before the back-off: %d", f.hook.count())
	}
	f.now = f.now.Add(notify.Backoff[0])
	f.step(t)
	f.now = f.now.Add(notify.Backoff[1])
	f.step(t)
	f.now = f.now.Add(time.Hour)
	f.step(t)
	if f.hook.count() != 3 || f.email.count() != 1 {
		t.Fatalf("webhook tries %d (want 3), email tries %d (want 1)", f.hook.count(), f.email.count())
	}
	ds, attempts, _ := f.st.EventDeliveries(t.Context(), "w1", e.ID)
	for _, d := range ds {
		switch d.Channel {
		case kinwatch.ChannelWebhook:
			if d.Status != kinwatch.DeliveryDelivered || len(attempts[d.ID]) != 3 || attempts[d.ID][0].Status != 503 || attempts[d.ID][0].OK {
				t.Errorf("webhook delivery %+v, attempts %d", d, len(attempts[d.ID]))
			}
		case kinwatch.ChannelEmail:
			if d.Status != kinwatch.DeliveryFailed || d.Reason != "refused" {
				t.Errorf("email delivery %+v", d)
			}
		}
	}
}

// A push service that says the subscription is gone has it forgotten.
func TestGoneSubscriptionIsForgotten(t *testing.T) {
	f := setup(t)
	f.push.results = []notify.Result{{Status: 410, Err: errors.New("gone"), Gone: true}}
	f.alarm(t, "sos", f.now)
	f.step(t)
	subs, _ := f.st.PushSubscriptions(t.Context(), f.admin)
	subs2, _ := f.st.PushSubscriptions(t.Context(), f.mail)
	if len(subs)+len(subs2) != 2 {
		t.Errorf("subscriptions left: %d, want 2", len(subs)+len(subs2))
	}
}

// Quiet hours hold back everything but SOS, recorded as suppressed.
func TestQuietHours(t *testing.T) {
	f := setup(t)
	loc, _ := time.LoadLocation("Europe/Berlin")
	now := f.now.In(loc)
	q := &kinwatch.QuietHours{From: now.Add(-time.Hour).Format("15:04"), To: now.Add(time.Hour).Format("15:04"), TimeZone: "Europe/Berlin"}
	if err := f.st.SetNotificationPrefs(t.Context(), f.mail, &kinwatch.NotificationPrefs{QuietHours: q}); err != nil {
		t.Fatal(err)
	}
	low := f.alarm(t, "low_battery", f.now)
	f.step(t)
	if f.push.count() != 2 { // the admin's two browsers; Gran's is quiet
		t.Errorf("pushes during quiet hours = %d, want 2", f.push.count())
	}
	ds, _, _ := f.st.EventDeliveries(t.Context(), "w1", low.ID)
	suppressed := 0
	for _, d := range ds {
		if d.Status == kinwatch.DeliverySuppressed && d.AccountID == f.mail && d.Reason == "quiet hours" {
			suppressed++
		}
	}
	if suppressed != 1 {
		t.Errorf("suppressed deliveries = %d, want 1", suppressed)
	}
	f.alarm(t, "sos", f.now.Add(time.Minute))
	f.step(t)
	if f.push.count() != 5 || f.email.count() != 1 {
		t.Errorf("an SOS in quiet hours: pushes %d (want 5), emails %d (want 1)", f.push.count(), f.email.count())
	}
}

// Preferences: a kind blocked by the "X" stops, SOS cannot be blocked, and bad input is refused
// with a clear reason.
func TestPreferences(t *testing.T) {
	f := setup(t)
	p := &kinwatch.NotificationPrefs{}
	if err := notify.Block(p, "sos", kinwatch.ChannelPush); kinwatch.ErrorCode(err) != kinwatch.ECONFLICT {
		t.Errorf("Block(sos) = %v", err)
	}
	if err := notify.Block(p, "removed", kinwatch.ChannelPush); err != nil {
		t.Fatal(err)
	}
	if got := p.ChannelsFor("removed"); len(got) != 0 {
		t.Errorf("after the X: %v", got)
	}
	if err := f.st.SetNotificationPrefs(t.Context(), f.admin, p); err != nil {
		t.Fatal(err)
	}
	f.alarm(t, "removed", f.now)
	f.step(t)
	if f.push.count() != 1 { // Gran's only
		t.Errorf("pushes after blocking = %d, want 1", f.push.count())
	}
	for _, bad := range []kinwatch.NotificationPrefs{
		{Channels: map[string][]kinwatch.Channel{"sos": {}}},
		{Channels: map[string][]kinwatch.Channel{"party": {kinwatch.ChannelPush}}},
		{Channels: map[string][]kinwatch.Channel{"fall": {"pigeon"}}},
		{Channels: map[string][]kinwatch.Channel{"fall": {kinwatch.ChannelWebhook}}},
		{Channels: map[string][]kinwatch.Channel{"fall": {kinwatch.ChannelPush, kinwatch.ChannelPush}}},
		{QuietHours: &kinwatch.QuietHours{From: "22:00", To: "7:00", TimeZone: "UTC"}},
		{QuietHours: &kinwatch.QuietHours{From: "22:00", To: "22:00", TimeZone: "UTC"}},
		{QuietHours: &kinwatch.QuietHours{From: "22:00", To: "07:00", TimeZone: "Mars/Olympus"}},
	} {
		if err := notify.CheckPrefs(&bad); err == nil {
			t.Errorf("CheckPrefs(%+v) = nil", bad)
		}
	}
}

func TestInQuietHours(t *testing.T) {
	at := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339, s); return tm }
	night := kinwatch.QuietHours{From: "22:00", To: "07:00", TimeZone: "Europe/Berlin"}
	for _, c := range []struct {
		now  string
		want bool
	}{
		{"2026-06-01T20:30:00Z", true},  // 22:30 in Berlin (summer)
		{"2026-06-01T19:59:00Z", false}, // 21:59
		{"2026-06-02T04:59:00Z", true},  // 06:59
		{"2026-06-02T05:00:00Z", false}, // 07:00
		{"2026-12-01T21:30:00Z", true},  // 22:30 in winter
	} {
		if got := notify.InQuietHours(night, at(c.now)); got != c.want {
			t.Errorf("InQuietHours(%s) = %v", c.now, got)
		}
	}
}

// The webhook channel posts a signed JSON body the receiver can verify, and says nothing of the
// URL in its errors.
func TestWebhookSigned(t *testing.T) {
	var (
		mu   sync.Mutex
		got  []*http.Request
		body []byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r)
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	now := time.Unix(1_800_000_000, 0)
	wh := &notify.Webhook{Client: notify.NewHTTPClient(true, 5*time.Second), Now: func() time.Time { return now }}
	m := &notify.Message{Delivery: &kinwatch.Delivery{ID: "d1"}, Event: &kinwatch.Event{ID: "e1", DeviceID: "w1", Alarm: "sos", Time: now},
		Webhook: &kinwatch.Webhook{URL: srv.URL + "/hook?token=secret-token", Secret: "shh"}, Child: "Mia", Title: "SOS from Mia", Body: "b"}
	if r := wh.Send(t.Context(), m); r.Err != nil || r.Status != 204 {
		t.Fatalf("Send = %+v", r)
	}
	if len(got) != 1 || got[0].Header.Get("Kinwatch-Delivery") != "d1" ||
		got[0].Header.Get("Kinwatch-Signature") != notify.Sign("shh", now, body) {
		t.Fatalf("request headers %v", got[0].Header)
	}
	var j map[string]any
	if err := json.Unmarshal(body, &j); err != nil || j["alarm"] != "sos" || j["child"] != "Mia" {
		t.Errorf("body %s", body)
	}
	if notify.Sign("shh", now, append(body, ' ')) == notify.Sign("shh", now, body) {
		t.Error("the signature does not cover the body")
	}
	// Loopback is refused unless allowed, and the error does not show the URL's token.
	strict := &notify.Webhook{Client: notify.NewHTTPClient(false, 5*time.Second)}
	r := strict.Send(t.Context(), m)
	if r.Err == nil || strings.Contains(r.Err.Error(), "secret-token") || strings.Contains(r.Err.Error(), "127.0.0.1") {
		t.Errorf("strict Send to loopback = %+v", r)
	}
	if len(got) != 1 {
		t.Error("the strict client reached the loopback server")
	}
}

func TestCheckURL(t *testing.T) {
	for _, c := range []struct {
		url          string
		allowPrivate bool
		ok           bool
	}{
		{"https://ntfy.sh/kinwatch-family", false, true},
		{"http://ntfy.sh/x", false, false},
		{"http://192.168.1.10:8123/api/webhook/x", true, true},
		{"https://192.168.1.10/x", false, false},
		{"https://[::1]/x", false, false},
		{"https://user:pw@example.org/x", false, false},
		{"ftp://example.org/x", true, false},
		{"/relative", true, false},
		{"https://[64:ff9b::a9fe:a9fe]/x", false, false}, // NAT64 of 169.254.169.254
		{"https://[2002:c0a8:0101::1]/x", false, false},  // 6to4 of 192.168.1.1
		{"https://[::ffff:10.0.0.1]/x", false, false},
		{"https://[fec0::1]/x", false, false},
		{"https://0.1.2.3/x", false, false},
		{"https://198.18.0.1/x", false, false},
		{"https://240.0.0.1/x", false, false},
		{"https://100.64.1.1/x", false, false},
		{"https://[2606:4700:4700::1111]/x", false, true},
		{"https://1.1.1.1/x", false, true},
	} {
		if err := notify.CheckURL(c.url, c.allowPrivate); (err == nil) != c.ok {
			t.Errorf("CheckURL(%q, %v) = %v", c.url, c.allowPrivate, err)
		}
	}
}

// A guardian removed from the family while an alarm is being retried hears no more of it.
func TestRemovedGuardianIsNotTold(t *testing.T) {
	f := setup(t)
	f.email.results = []notify.Result{{Status: 451, Err: errors.New("try later")}}
	e := f.alarm(t, "sos", f.now)
	f.step(t)
	if err := f.st.RemoveMember(t.Context(), f.family, f.mail); err != nil {
		t.Fatal(err)
	}
	pushes := f.push.count()
	f.now = f.now.Add(time.Hour)
	f.step(t)
	if f.email.count() != 1 || f.push.count() != pushes {
		t.Errorf("after the removal: %d emails (want 1), %d pushes (want %d)", f.email.count(), f.push.count(), pushes)
	}
	ds, _, _ := f.st.EventDeliveries(t.Context(), "w1", e.ID)
	for _, d := range ds {
		if d.AccountID == f.mail && d.Channel == kinwatch.ChannelEmail && d.Status != kinwatch.DeliveryFailed {
			t.Errorf("the removed guardian's email delivery: %+v", d)
		}
	}
}

// An alarm that cannot be planned does not hold up the others.
func TestOneBadAlarmDoesNotBlockOthers(t *testing.T) {
	f := setup(t)
	// A second watch in a family whose key is gone: its alarms cannot be planned (the webhook
	// does not open).
	fam2 := storetest.BoundWatches(t, f.st, "w2")
	if err := f.st.AddWebhook(t.Context(), &kinwatch.Webhook{ID: kinwatch.NewID(), FamilyID: fam2, Name: "x", URL: "https://x.example.org/", Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.ShredKeys(t.Context(), kinwatch.FamilyOwner(fam2)); err != nil {
		t.Fatal(err)
	}
	bad := &kinwatch.Event{ID: kinwatch.NewID(), DeviceID: "w2", Time: f.now.Add(-time.Minute), Type: kinwatch.EventAlarm, Alarm: "sos"}
	if err := f.st.WriteBatch(t.Context(), []kinwatch.Record{{Event: bad}}); err != nil {
		t.Fatal(err)
	}
	f.alarm(t, "sos", f.now)
	if err := f.svc.Step(t.Context()); err == nil || !strings.Contains(err.Error(), bad.ID) {
		t.Errorf("Step = %v, want the bad alarm reported", err)
	}
	if f.push.count() != 3 || f.hook.count() != 1 {
		t.Errorf("the good alarm: %d pushes, %d webhook posts; want 3 and 1", f.push.count(), f.hook.count())
	}
}

// A text webhook's title is a valid header whatever the names hold.
func TestTextWebhookTitle(t *testing.T) {
	var title string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		title = r.Header.Get("Title")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	wh := &notify.Webhook{Client: notify.NewHTTPClient(true, 5*time.Second)}
	m := &notify.Message{Delivery: &kinwatch.Delivery{ID: "d1"}, Event: &kinwatch.Event{ID: "e1", DeviceID: "w1", Alarm: "fence_exit", Time: time.Now()},
		Webhook: &kinwatch.Webhook{URL: srv.URL, Secret: "s", Format: kinwatch.WebhookText}, Title: "Zoë left\nSchool\r\nX-Evil: 1", Body: "b"}
	if r := wh.Send(t.Context(), m); r.Err != nil {
		t.Fatalf("Send = %+v", r)
	}
	if dec, err := new(mime.WordDecoder).DecodeHeader(title); err != nil || strings.ContainsAny(dec, "\r\n") || !strings.Contains(dec, "Zoë left") {
		t.Errorf("Title header %q (%q, %v)", title, dec, err)
	}
}
