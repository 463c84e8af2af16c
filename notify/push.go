package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
)

// Push sends Web Push messages (RFC 8030), encrypted for the browser (RFC 8291) and signed with
// the server's VAPID key (RFC 8292), through the push service the browser's subscription names.
type Push struct {
	PublicKey, PrivateKey string // VAPID, base64url as webpush.GenerateVAPIDKeys gives them
	Subject               string // "mailto:" or "https:" contact for the push service's operator
	Client                *http.Client
	// TTL is how long the push service keeps a message for a browser that is offline.
	TTL time.Duration
}

// pushPayload is what the service worker receives: everything it shows, since it may not be
// able to reach the server (the payload is end-to-end encrypted to the browser).
type pushPayload struct {
	ID       string        `json:"id"` // the delivery: the notification's tag, and the block token
	EventID  string        `json:"event_id"`
	WatchID  string        `json:"watch_id"`
	Alarm    string        `json:"alarm"`
	Title    string        `json:"title"`
	Body     string        `json:"body"`
	Time     string        `json:"time"`
	URL      string        `json:"url"`
	Block    *blockJSON    `json:"block,omitempty"` // absent for SOS
	Position *positionJSON `json:"position,omitempty"`
}

type blockJSON struct {
	URL   string `json:"url"`   // POST {"token": …} here
	Token string `json:"token"` // the delivery id
}

type positionJSON struct {
	Lat      float64 `json:"lat"`
	Lon      float64 `json:"lon"`
	Accuracy float64 `json:"accuracy_m"`
	Source   string  `json:"source"`
	Time     string  `json:"time"`
}

func position(m *Message) *positionJSON {
	if m.Position == nil {
		return nil
	}
	p := m.Position
	return &positionJSON{Lat: p.Lat, Lon: p.Lon, Accuracy: p.Accuracy, Source: p.Source, Time: p.Time.UTC().Format(time.RFC3339)}
}

// BlockPath is where the "X" of a notification posts its token.
const BlockPath = "/api/v1/notifications/block"

// Send posts one push message.
func (p *Push) Send(ctx context.Context, m *Message) Result {
	payload := pushPayload{ID: m.Delivery.ID, EventID: m.Event.ID, WatchID: m.Event.DeviceID, Alarm: m.Event.Alarm,
		Title: m.Title, Body: m.Body, Time: m.Event.Time.UTC().Format(time.RFC3339), URL: m.Link, Position: position(m)}
	if m.Blockable {
		payload.Block = &blockJSON{URL: BlockPath, Token: m.Delivery.ID}
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return Result{Err: err, Permanent: true}
	}
	urgency := webpush.UrgencyNormal
	if Urgent(m.Event.Alarm) {
		urgency = webpush.UrgencyHigh
	}
	ttl := p.TTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	s := m.Subscription
	var client webpush.HTTPClient = http.DefaultClient
	if p.Client != nil {
		client = p.Client
	}
	resp, err := webpush.SendNotificationWithContext(ctx, body, &webpush.Subscription{Endpoint: s.Endpoint,
		Keys: webpush.Keys{Auth: s.Auth, P256dh: s.P256dh}}, &webpush.Options{
		// webpush puts "mailto:" before any subject that is not https: (again, if it has it).
		HTTPClient: client, Subscriber: strings.TrimPrefix(p.Subject, "mailto:"),
		VAPIDPublicKey: p.PublicKey, VAPIDPrivateKey: p.PrivateKey,
		TTL: int(ttl.Seconds()), Urgency: urgency,
		// A repeat of this delivery (a send whose answer was lost) replaces it at the push
		// service instead of showing twice; different alarms never share one.
		Topic: m.Delivery.ID,
	})
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // the request itself failed: the service may be back later
			return Result{Err: attemptError(err)}
		}
		return Result{Err: errors.New("the message could not be encrypted for this browser (its subscription's keys are unusable)"), Permanent: true}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return statusResult(resp)
}
