package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/app"
	"kinwatch/config"
	"kinwatch/mail"
	"kinwatch/mail/smtptest"
	"kinwatch/notify"
	"kinwatch/notify/pushtest"
	"kinwatch/postgres/pgtest"
)

// hookReceiver is a family's webhook receiver (Home Assistant, say): it checks each request's
// signature with the secret it was given and counts deliveries by id.
type hookReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	got    []map[string]any
	ids    map[string]int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{t: t, ids: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		sig := r.Header.Get("Kinwatch-Signature")
		ts, _, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",")
		var sec int64
		json.Unmarshal([]byte(ts), &sec)
		if sig == "" || sig != notify.Sign(h.secret, time.Unix(sec, 0), body) || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
			h.t.Errorf("webhook: bad signature %q", sig)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			h.t.Errorf("webhook body: %v", err)
		}
		h.got = append(h.got, m)
		h.ids[r.Header.Get("Kinwatch-Delivery")]++
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) count(alarm string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.got {
		if m["alarm"] == alarm {
			n++
		}
	}
	return n
}

func TestAlarmsReachEveryChannelOnce(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { alarmsReachEveryChannelOnce(t, testConfig(t)) })
	t.Run("postgres", func(t *testing.T) {
		c := testConfig(t)
		c.DatabaseURL = pgtest.URL(t)
		alarmsReachEveryChannelOnce(t, c)
	})
}

// An SOS from a watch reaches the guardian's browser through a Web Push service (which checks
// the VAPID signature and decrypts the message), the guardian's mailbox and the family's
// webhook, each exactly once; an SOS stored while kinwatch stops is delivered when it starts
// again, and nothing delivered before the restart is delivered again.
func alarmsReachEveryChannelOnce(t *testing.T, cfg config.Config) {
	cfg.NotifyAllowPrivate = true // the receivers are on loopback
	smtp := smtptest.Start(t)
	start := func() (*app.App, *client) {
		a := app.New(cfg, logger())
		a.Argon2 = fastArgon2
		a.Mailer = &mail.SMTP{Addr: smtp.Addr(), From: "kinwatch@example.org", TLS: "none"}
		if err := a.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return a, &client{t: t, base: "http://" + a.HTTPAddr().String()}
	}
	a, api := start()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			a.Shutdown(context.Background())
		}
	})

	mum := api.signUp(smtp, "mum.alarm@example.org", "Mum", cfg.PolicyVersion)
	w := dialWatch(t, a.WatchAddr().String(), "8800000071")
	w.send("LK")
	w.expect("LK")
	fam := api.bindWatch(mum, w, "The Alarms")
	if code := api.call(mum, "PATCH", "/api/v1/watches/"+w.id+"/child", map[string]any{"name": "Mia"}, nil); code != 200 {
		t.Fatalf("child: %d", code)
	}

	// Mum's browser subscribes with the server's key; the push service only takes that key.
	var key struct {
		PublicKey string `json:"public_key"`
	}
	if code := api.call("", "GET", "/api/v1/push/key", nil, &key); code != 200 || key.PublicKey == "" {
		t.Fatalf("push key: %d %+v", code, key)
	}
	push := pushtest.New(t)
	push.Pin(key.PublicKey)
	sub := push.Subscribe()
	if code := api.call(mum, "POST", "/api/v1/me/push-subscriptions", map[string]any{"endpoint": sub.Endpoint,
		"keys": map[string]string{"p256dh": sub.P256dh, "auth": sub.Auth}, "user_agent": "Firefox on Android"}, nil); code != 201 {
		t.Fatalf("subscribe: %d", code)
	}
	// The family's webhook.
	hook := newHookReceiver(t)
	var created struct {
		Secret string `json:"secret"`
	}
	if code := api.call(mum, "POST", "/api/v1/families/"+fam+"/webhooks", map[string]any{"name": "Home Assistant", "url": hook.srv.URL + "/api/webhook/kinwatch"}, &created); code != 201 || created.Secret == "" {
		t.Fatalf("webhook: %d", code)
	}
	hook.mu.Lock()
	hook.secret = created.Secret
	hook.mu.Unlock()

	// SOS.
	sos := time.Now().UTC().Add(-time.Minute)
	w.send("AL," + sos.Format("020106,150405") + ",A,52.520000,N,13.405000,E,0,0,30,7,80,67,100,0,00010000,0,0")
	w.expect("AL")

	msgs := push.Wait(t, 1, 20*time.Second)
	var payload struct {
		Alarm, Title string
		WatchID      string                      `json:"watch_id"`
		Block        *struct{ Token string }     // none for SOS, which cannot be blocked
		Position     *struct{ Lat, Lon float64 } // the payload is encrypted for the browser
	}
	if err := json.Unmarshal(msgs[0].Payload, &payload); err != nil || payload.Alarm != "sos" || payload.Title != "SOS from Mia" ||
		payload.WatchID != w.id || payload.Block != nil || payload.Position == nil || payload.Position.Lat != 52.52 {
		t.Errorf("push payload %s (%v)", msgs[0].Payload, err)
	}
	if msgs[0].Urgency != "high" {
		t.Errorf("push urgency %q", msgs[0].Urgency)
	}
	isSOS := func(m smtptest.Received) bool { return strings.Contains(m.Subject, "SOS from Mia") }
	m := smtp.WaitMatch(t, "mum.alarm@example.org", isSOS, 20*time.Second)
	if !strings.Contains(m.Text, "pressed the SOS button") || strings.Contains(m.Text, "52.52") {
		t.Errorf("alarm mail: %q", m.Text)
	}
	waitFor(t, "the webhook", func() bool { return hook.count("sos") == 1 })

	// The family sees what became of the alarm.
	es, _ := a.Store.Events(t.Context(), kinwatch.EventFilter{DeviceID: w.id, Type: kinwatch.EventAlarm})
	if len(es) != 1 {
		t.Fatalf("alarms stored: %d", len(es))
	}
	var log struct {
		Items []struct {
			Channel, Status string
			Attempts        []struct{ OK bool }
		}
	}
	waitFor(t, "every delivery recorded", func() bool {
		api.call(mum, "GET", "/api/v1/watches/"+w.id+"/events/"+es[0].ID+"/deliveries", nil, &log)
		done := 0
		for _, d := range log.Items {
			if d.Status == "delivered" && len(d.Attempts) == 1 && d.Attempts[0].OK {
				done++
			}
		}
		return done == 3
	})

	// Stop, and an SOS is stored after the notifier stopped, as the storage writer's drain at
	// shutdown stores what the watches sent last.
	w.conn.Close()
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	stopped = true
	st, err := app.OpenStore(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	late := sos.Add(10 * time.Minute)
	if err := st.WriteBatch(t.Context(), []kinwatch.Record{{Event: &kinwatch.Event{ID: kinwatch.NewTimeID(late), DeviceID: w.id, Time: late,
		Type: kinwatch.EventAlarm, Alarm: "sos"}}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	a, api = start()
	stopped = false
	push.Wait(t, 2, 20*time.Second)
	smtp.WaitMatch(t, "mum.alarm@example.org", isSOS, 20*time.Second)
	waitFor(t, "the webhook after the restart", func() bool { return hook.count("sos") == 2 })
	// Give a wrongly repeated delivery the time to show.
	time.Sleep(1500 * time.Millisecond)
	if n := len(push.Messages()); n != 2 || push.Requests() != 2 {
		t.Errorf("push messages %d, requests %d; want 2 and 2", n, push.Requests())
	}
	sosMails := 0
	for _, m := range smtp.Messages() {
		if isSOS(m) {
			sosMails++
		}
	}
	if sosMails != 2 || hook.count("sos") != 2 {
		t.Errorf("SOS mails %d, webhook posts %d; want 2 and 2", sosMails, hook.count("sos"))
	}
	for id, n := range hook.ids {
		if n != 1 {
			t.Errorf("webhook delivery %s posted %d times", id, n)
		}
	}

	// "Does it work?": a test message to the browser and to the webhook, answered at once.
	var subs struct{ Items []struct{ ID string } }
	api.call(mum, "GET", "/api/v1/me/push-subscriptions", nil, &subs)
	var res struct {
		OK     bool
		Status int
	}
	if code := api.call(mum, "POST", "/api/v1/me/push-subscriptions/"+subs.Items[0].ID+"/test", nil, &res); code != 200 || !res.OK || res.Status != 201 {
		t.Errorf("push test: %d %+v", code, res)
	}
	if msgs := push.Messages(); len(msgs) != 3 || !strings.Contains(string(msgs[2].Payload), "Test from Kinwatch") {
		t.Errorf("push test message: %d messages", len(msgs))
	}
	var hooks struct{ Items []struct{ ID string } }
	api.call(mum, "GET", "/api/v1/families/"+fam+"/webhooks", nil, &hooks)
	if code := api.call(mum, "POST", "/api/v1/families/"+fam+"/webhooks/"+hooks.Items[0].ID+"/test", nil, &res); code != 200 || !res.OK || res.Status != 204 || hook.count("test") != 1 {
		t.Errorf("webhook test: %d %+v, %d posts", code, res, hook.count("test"))
	}

	// The "X" on a notification (the seed: "click the X in the push information bar to block
	// it"): the watch is taken off, mum's browser shows it with a block token, the service worker
	// posts the token without a session, and the next "taken off" reaches her mailbox only (she
	// chose both for it; the default is the browser only).
	if code := api.call(mum, "PUT", "/api/v1/me/notification-preferences", map[string]any{"channels": map[string]any{"removed": []string{"push", "email"}}}, nil); code != 200 {
		t.Fatalf("preferences: %d", code)
	}
	removed := func(at time.Time) {
		t.Helper()
		if err := a.Store.WriteBatch(t.Context(), []kinwatch.Record{{Event: &kinwatch.Event{ID: kinwatch.NewTimeID(at), DeviceID: w.id, Time: at,
			Type: kinwatch.EventAlarm, Alarm: "removed"}}}); err != nil {
			t.Fatal(err)
		}
	}
	isRemoved := func(m smtptest.Received) bool { return strings.Contains(m.Subject, "Mia took the watch off") }
	off := late.Add(10 * time.Minute)
	removed(off)
	msgs = push.Wait(t, 4, 20*time.Second)
	var shown struct {
		Alarm string
		Block *struct{ Token string }
	}
	if err := json.Unmarshal(msgs[3].Payload, &shown); err != nil || shown.Alarm != "removed" || shown.Block == nil || shown.Block.Token == "" {
		t.Fatalf("push payload %s (%v)", msgs[3].Payload, err)
	}
	smtp.WaitMatch(t, "mum.alarm@example.org", isRemoved, 20*time.Second)
	var blocked struct {
		Alarm    string
		Channels []string
	}
	if code := api.call("", "POST", "/api/v1/notifications/block", map[string]any{"token": shown.Block.Token}, &blocked); code != 200 ||
		blocked.Alarm != "removed" || slices.Contains(blocked.Channels, "push") || !slices.Contains(blocked.Channels, "email") {
		t.Fatalf("block: %d %+v", code, blocked)
	}
	removed(off.Add(10 * time.Minute))
	waitFor(t, "the second mail", func() bool {
		n := 0
		for _, m := range smtp.Messages() {
			if isRemoved(m) {
				n++
			}
		}
		return n == 2
	})
	time.Sleep(time.Second) // a push that should not come has the time to show
	if n := len(push.Messages()); n != 4 {
		t.Errorf("%d push messages after blocking, want 4", n)
	}
}
