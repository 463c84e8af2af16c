package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"kinwatch"
)

// Webhook posts alarms to a family's URLs. Each request is signed so the receiver can tell it
// came from this server and was not replayed long after:
//
//	Kinwatch-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// and carries the delivery's id (Kinwatch-Delivery) to drop a repeat.
type Webhook struct {
	Client *http.Client
	// Now is the clock for the signature's time (tests); nil is time.Now.
	Now func() time.Time
}

// webhookJSON is the JSON format's body.
type webhookJSON struct {
	ID       string        `json:"id"`
	EventID  string        `json:"event_id"`
	WatchID  string        `json:"watch_id"`
	Child    string        `json:"child"`
	Alarm    string        `json:"alarm"`
	Place    string        `json:"place,omitempty"`
	Title    string        `json:"title"`
	Body     string        `json:"body"`
	Time     string        `json:"time"`
	URL      string        `json:"url"`
	Position *positionJSON `json:"position,omitempty"`
}

// Sign is the Kinwatch-Signature of body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Send posts one alarm.
func (w *Webhook) Send(ctx context.Context, m *Message) Result {
	h := m.Webhook
	var (
		body        []byte
		contentType string
	)
	if h.Format == kinwatch.WebhookText {
		body, contentType = []byte(m.Body+"\n"+m.Link), "text/plain; charset=utf-8"
	} else {
		var err error
		body, err = json.Marshal(webhookJSON{ID: m.Delivery.ID, EventID: m.Event.ID, WatchID: m.Event.DeviceID, Child: m.Child,
			Alarm: m.Event.Alarm, Place: m.Place, Title: m.Title, Body: m.Body, Time: m.Event.Time.UTC().Format(time.RFC3339),
			URL: m.Link, Position: position(m)})
		if err != nil {
			return Result{Err: err, Permanent: true}
		}
		contentType = "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return Result{Err: attemptError(err), Permanent: true}
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "kinwatch-webhook/1")
	req.Header.Set("Kinwatch-Delivery", m.Delivery.ID)
	req.Header.Set("Kinwatch-Alarm", m.Event.Alarm)
	req.Header.Set("Kinwatch-Signature", Sign(h.Secret, now(), body))
	if h.Format == kinwatch.WebhookText {
		// ntfy's headers: the title, and a higher priority for what needs acting on.
		req.Header.Set("Title", headerText(m.Title))
		if Urgent(m.Event.Alarm) {
			req.Header.Set("Priority", "urgent")
		}
	}
	resp, err := w.Client.Do(req)
	if err != nil {
		return Result{Err: attemptError(err)}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	r := statusResult(resp)
	r.Gone = false // a webhook that answers 404 is misconfigured, not expired: the family decides
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		r.Permanent = true
	}
	return r
}

// headerText makes s a valid header value: control characters (a name may hold a line break)
// become spaces, and text that is not ASCII is RFC 2047-encoded, which ntfy decodes.
func headerText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return mime.QEncoding.Encode("utf-8", s)
		}
	}
	return s
}
