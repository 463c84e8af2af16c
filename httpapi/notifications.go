package httpapi

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"kinwatch"
	"kinwatch/notify"
	"kinwatch/ratelimit"
)

// Notifications configures the notification routes.
type Notifications struct {
	// PushKey is the VAPID public key browsers subscribe with (applicationServerKey).
	PushKey string
	// AllowPrivate lets webhooks and push endpoints be on private addresses and plain http.
	AllowPrivate bool
	// Senders send the test messages (push and webhook); nil answers 503.
	Senders map[kinwatch.Channel]notify.Sender

	once   sync.Once
	limits *ratelimit.Limiter
}

func (n *Notifications) allow(key string, count int, period time.Duration) error {
	n.once.Do(func() { n.limits = ratelimit.New(time.Now) })
	return n.limits.Allow(key, count, period)
}

func (s *Server) pushKey(w http.ResponseWriter, r *http.Request, c *caller) {
	writeJSON(w, http.StatusOK, map[string]string{"public_key": s.Notifications.PushKey})
}

type pushSubscriptionJSON struct {
	ID        string `json:"id"`
	Service   string `json:"service"` // the push service's host: which browser vendor relays it
	UserAgent string `json:"user_agent"`
	CreatedAt string `json:"created_at"`
}

func toPushSubscription(p *kinwatch.PushSubscription) pushSubscriptionJSON {
	host := ""
	if u, err := url.Parse(p.Endpoint); err == nil {
		host = u.Host
	}
	return pushSubscriptionJSON{p.ID, host, p.UserAgent, p.CreatedAt.UTC().Format(time.RFC3339Nano)}
}

func (s *Server) pushSubscriptions(w http.ResponseWriter, r *http.Request, c *caller) {
	subs, err := s.Store.PushSubscriptions(ctx(r), c.account.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]pushSubscriptionJSON, len(subs))
	for i, p := range subs {
		out[i] = toPushSubscription(p)
	}
	writeJSON(w, http.StatusOK, list(out))
}

// addPushSubscription stores what the browser's PushSubscription.toJSON() gave, after checking
// it can be used: an https endpoint (a push service), a P-256 public key and a 16-byte secret.
func (s *Server) addPushSubscription(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Endpoint       string `json:"endpoint"`
		ExpirationTime *int64 `json:"expirationTime"` // what toJSON() includes; not used
		Keys           struct {
			P256dh string `json:"p256dh"`
			Auth   string `json:"auth"`
		} `json:"keys"`
		UserAgent string `json:"user_agent"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := notify.CheckURL(in.Endpoint, s.Notifications.AllowPrivate); err != nil {
		s.writeError(w, r, errorf(kinwatch.EINVALID, "endpoint: %v", err))
		return
	}
	key, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(in.Keys.P256dh, "="))
	if err == nil {
		_, err = ecdh.P256().NewPublicKey(key)
	}
	if err != nil {
		s.writeError(w, r, errorf(kinwatch.EINVALID, "keys.p256dh: not a base64url P-256 public key (the browser's subscription.toJSON().keys.p256dh)"))
		return
	}
	auth, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(in.Keys.Auth, "="))
	if err != nil || len(auth) != 16 {
		s.writeError(w, r, errorf(kinwatch.EINVALID, "keys.auth: not a base64url 16-byte secret (the browser's subscription.toJSON().keys.auth)"))
		return
	}
	if utf8.RuneCountInString(in.UserAgent) > 200 || !utf8.ValidString(in.UserAgent) {
		s.writeError(w, r, errorf(kinwatch.EINVALID, "user_agent: at most 200 characters"))
		return
	}
	p := &kinwatch.PushSubscription{ID: kinwatch.NewID(), AccountID: c.account.ID, Endpoint: in.Endpoint,
		P256dh: base64.RawURLEncoding.EncodeToString(key), Auth: base64.RawURLEncoding.EncodeToString(auth),
		UserAgent: strings.TrimSpace(in.UserAgent), CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := s.Store.AddPushSubscription(ctx(r), p); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toPushSubscription(p))
}

func (s *Server) deletePushSubscription(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.Store.DeletePushSubscription(ctx(r), c.account.ID, r.PathValue("subscription")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type prefsJSON struct {
	// Channels lists, for every alarm kind, where it goes (the defaults filled in).
	Channels   map[string][]kinwatch.Channel `json:"channels"`
	QuietHours *kinwatch.QuietHours          `json:"quiet_hours"`
}

func toPrefs(p *kinwatch.NotificationPrefs) prefsJSON {
	out := prefsJSON{Channels: map[string][]kinwatch.Channel{}, QuietHours: p.QuietHours}
	for _, k := range kinwatch.AlarmKinds() {
		out.Channels[k] = append([]kinwatch.Channel{}, p.ChannelsFor(k)...)
	}
	return out
}

func (s *Server) notificationPrefs(w http.ResponseWriter, r *http.Request, c *caller) {
	p, err := s.Store.NotificationPrefs(ctx(r), c.account.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toPrefs(p))
}

// setNotificationPrefs replaces the guardian's choices. Kinds left out of channels take their
// defaults; quiet_hours null (or left out) means none.
func (s *Server) setNotificationPrefs(w http.ResponseWriter, r *http.Request, c *caller) {
	var in kinwatch.NotificationPrefs
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := notify.CheckPrefs(&in); err != nil {
		s.writeError(w, r, errorf(kinwatch.EINVALID, "%v", err))
		return
	}
	if err := s.Store.SetNotificationPrefs(ctx(r), c.account.ID, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toPrefs(&in))
}

// blockNotification is the "X" on a notification: its token (the delivery's id, which only its
// recipient was sent) takes that channel off that alarm kind for that guardian. It needs no
// session, since a service worker or a mail client calls it, and is rate-limited per client.
func (s *Server) blockNotification(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Token string `json:"token"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Notifications.allow("block:"+c.client.Network(), 30, time.Hour); err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := s.Store.Delivery(ctx(r), in.Token)
	// Only a push notification has the "X": an email's or a webhook's id blocks nothing.
	if err != nil || d.AccountID == "" || d.Channel != kinwatch.ChannelPush {
		s.writeError(w, r, errorf(kinwatch.ENOTFOUND, "no such notification (it may have been deleted with its alarm)"))
		return
	}
	p, err := s.Store.NotificationPrefs(ctx(r), d.AccountID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := notify.Block(p, d.Alarm, d.Channel); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Store.SetNotificationPrefs(ctx(r), d.AccountID, p); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alarm": d.Alarm, "channel": d.Channel, "channels": p.ChannelsFor(d.Alarm)})
}

type webhookJSON struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	URL       string  `json:"url"`
	Format    string  `json:"format"`
	Secret    *string `json:"secret,omitempty"` // only in the answer to its creation
	CreatedBy string  `json:"created_by"`
	CreatedAt string  `json:"created_at"`
}

func toWebhook(h *kinwatch.Webhook) webhookJSON {
	return webhookJSON{ID: h.ID, Name: h.Name, URL: h.URL, Format: cmpOr(h.Format, kinwatch.WebhookJSON), CreatedBy: h.CreatedBy,
		CreatedAt: h.CreatedAt.UTC().Format(time.RFC3339Nano)}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// webhooks lists a family's webhooks to its admin: their URLs can carry tokens.
func (s *Server) webhooks(w http.ResponseWriter, r *http.Request, c *caller) {
	m, err := s.Families.RequireMember(ctx(r), c.account.ID, r.PathValue("family"), true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hooks, err := s.Store.Webhooks(ctx(r), m.FamilyID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]webhookJSON, len(hooks))
	for i, h := range hooks {
		out[i] = toWebhook(h)
	}
	writeJSON(w, http.StatusOK, list(out))
}

// addWebhook registers a URL for the family's alarms and answers with the signing secret,
// shown this once.
func (s *Server) addWebhook(w http.ResponseWriter, r *http.Request, c *caller) {
	m, err := s.Families.RequireMember(ctx(r), c.account.ID, r.PathValue("family"), true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in struct {
		Name   string `json:"name"`
		URL    string `json:"url"`
		Format string `json:"format"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case in.Name == "" || utf8.RuneCountInString(in.Name) > 100:
		err = errorf(kinwatch.EINVALID, "name: 1 to 100 characters (such as \"Home Assistant\")")
	case !slices.Contains([]string{"", kinwatch.WebhookJSON, kinwatch.WebhookText}, in.Format):
		err = errorf(kinwatch.EINVALID, "format: json (the alarm as a signed JSON object) or text (plain text with a Title header, as ntfy takes it)")
	default:
		if uerr := notify.CheckURL(in.URL, s.Notifications.AllowPrivate); uerr != nil {
			err = errorf(kinwatch.EINVALID, "url: %v", uerr)
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var secret [32]byte
	rand.Read(secret[:])
	h := &kinwatch.Webhook{ID: kinwatch.NewID(), FamilyID: m.FamilyID, Name: in.Name, URL: in.URL, Format: cmpOr(in.Format, kinwatch.WebhookJSON),
		Secret: base64.RawURLEncoding.EncodeToString(secret[:]), CreatedBy: c.account.ID, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := s.Store.AddWebhook(ctx(r), h); err != nil {
		s.writeError(w, r, err)
		return
	}
	out := toWebhook(h)
	out.Secret = &h.Secret
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, c *caller) {
	m, err := s.Families.RequireMember(ctx(r), c.account.ID, r.PathValue("family"), true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Store.DeleteWebhook(ctx(r), m.FamilyID, r.PathValue("webhook")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type deliveryJSON struct {
	ID        string        `json:"id,omitempty"` // the caller's own and webhooks' only: a delivery's id blocks its kind for its recipient
	Channel   string        `json:"channel"`
	AccountID *string       `json:"account_id"` // the guardian; null for a webhook
	Nickname  string        `json:"nickname,omitempty"`
	Status    string        `json:"status"`
	Reason    string        `json:"reason,omitempty"`
	Attempts  []attemptJSON `json:"attempts"`
	CreatedAt string        `json:"created_at"`
	UpdatedAt string        `json:"updated_at"`
}

type attemptJSON struct {
	N          int    `json:"n"`
	At         string `json:"at"`
	OK         bool   `json:"ok"`
	Status     int    `json:"status,omitempty"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// eventDeliveries shows what became of an alarm: to whom it went, how, and every attempt.
func (s *Server) eventDeliveries(w http.ResponseWriter, r *http.Request, c *caller) {
	acc := s.access(w, r, c, false)
	if acc == nil {
		return
	}
	ds, attempts, err := s.Store.EventDeliveries(ctx(r), acc.DeviceID, r.PathValue("event"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(ds) == 0 {
		// An alarm nobody was told of (or not an alarm): check it exists, for a clear 404.
		if _, err := s.Store.Event(ctx(r), acc.DeviceID, r.PathValue("event")); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	names := map[string]string{}
	if ms, err := s.Store.Members(ctx(r), acc.FamilyID); err == nil {
		for _, m := range ms {
			names[m.AccountID] = m.Nickname
		}
	}
	out := make([]deliveryJSON, len(ds))
	for i, d := range ds {
		j := deliveryJSON{Channel: string(d.Channel), Status: string(d.Status), Reason: d.Reason,
			Attempts: []attemptJSON{}, CreatedAt: d.CreatedAt.UTC().Format(time.RFC3339Nano), UpdatedAt: d.UpdatedAt.UTC().Format(time.RFC3339Nano)}
		if d.AccountID != "" {
			j.AccountID, j.Nickname = &d.AccountID, names[d.AccountID]
		}
		if d.AccountID == "" || d.AccountID == c.account.ID {
			j.ID = d.ID
		}
		for _, a := range attempts[d.ID] {
			j.Attempts = append(j.Attempts, attemptJSON{a.N, a.At.UTC().Format(time.RFC3339Nano), a.OK, a.Status, a.Error, a.Duration.Milliseconds()})
		}
		out[i] = j
	}
	writeJSON(w, http.StatusOK, list(out))
}

type testResultJSON struct {
	OK     bool   `json:"ok"`
	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

// sendTest sends a test message over channel now and answers with what the receiver said: the
// "does it work?" button next to a browser or a webhook. Nothing is stored.
func (s *Server) sendTest(w http.ResponseWriter, r *http.Request, c *caller, channel kinwatch.Channel, m *notify.Message) {
	sender := s.Notifications.Senders[channel]
	if sender == nil {
		s.writeError(w, r, errorf(kinwatch.EUNAVAILABLE, "the %s channel is not configured on this server", channel))
		return
	}
	if err := s.Notifications.allow("test:"+c.account.ID, 10, time.Hour); err != nil {
		s.writeError(w, r, err)
		return
	}
	now := time.Now().UTC()
	id := kinwatch.NewID()
	m.Delivery = &kinwatch.Delivery{ID: id, EventID: id, AccountID: c.account.ID, Channel: channel, Alarm: "test", Status: kinwatch.DeliveryPending}
	m.Event = &kinwatch.Event{ID: id, Time: now, Type: kinwatch.EventAlarm, Alarm: "test"}
	m.Account, m.Child = c.account, "Your child"
	m.Title, m.Body = "Test from Kinwatch", "If you can read this, alarms will reach you here."
	res := sender.Send(ctx(r), m)
	out := testResultJSON{OK: res.Err == nil, Status: res.Status}
	if res.Err != nil {
		out.Error = res.Err.Error()
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) testPushSubscription(w http.ResponseWriter, r *http.Request, c *caller) {
	subs, err := s.Store.PushSubscriptions(ctx(r), c.account.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	i := slices.IndexFunc(subs, func(p *kinwatch.PushSubscription) bool { return p.ID == r.PathValue("subscription") })
	if i < 0 {
		s.writeError(w, r, errorf(kinwatch.ENOTFOUND, "no such push subscription"))
		return
	}
	s.sendTest(w, r, c, kinwatch.ChannelPush, &notify.Message{Subscription: subs[i]})
}

func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request, c *caller) {
	m, err := s.Families.RequireMember(ctx(r), c.account.ID, r.PathValue("family"), true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hooks, err := s.Store.Webhooks(ctx(r), m.FamilyID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	i := slices.IndexFunc(hooks, func(h *kinwatch.Webhook) bool { return h.ID == r.PathValue("webhook") })
	if i < 0 {
		s.writeError(w, r, errorf(kinwatch.ENOTFOUND, "no such webhook"))
		return
	}
	s.sendTest(w, r, c, kinwatch.ChannelWebhook, &notify.Message{Webhook: hooks[i]})
}
