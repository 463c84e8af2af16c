package notify_test

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/notify"
	"kinwatch/notify/pushtest"
)

// The push channel's messages pass a push service's checks (VAPID signature and claims, the
// subject, encryption for the browser) and carry what the service worker shows.
func TestPushThroughAPushService(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "vapid.key")
	v, err := notify.LoadVAPIDFile(keyFile, true)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := notify.LoadVAPIDFile(keyFile, false); err != nil || again != v {
		t.Fatalf("the key file does not read back: %+v %v", again, err)
	}
	ps := pushtest.New(t)
	ps.Pin(v.PublicKey)
	sub := ps.Subscribe()
	p := &notify.Push{PublicKey: v.PublicKey, PrivateKey: v.PrivateKey, Subject: "mailto:ops@example.org", Client: notify.NewHTTPClient(true, 5*time.Second)}
	m := &notify.Message{Delivery: &kinwatch.Delivery{ID: "d1"}, Event: &kinwatch.Event{ID: "e1", DeviceID: "w1", Alarm: "removed", Time: time.Now()},
		Subscription: &kinwatch.PushSubscription{Endpoint: sub.Endpoint, P256dh: sub.P256dh, Auth: sub.Auth},
		Title:        "Mia took the watch off", Body: "b", Blockable: true}
	if r := p.Send(t.Context(), m); r.Err != nil || r.Status != 201 {
		t.Fatalf("Send = %+v", r)
	}
	got := ps.Wait(t, 1, 5*time.Second)[0]
	var payload map[string]any
	if err := json.Unmarshal(got.Payload, &payload); err != nil || payload["title"] != "Mia took the watch off" || payload["block"] == nil {
		t.Errorf("payload %s", got.Payload)
	}
	if got.Subject != "mailto:ops@example.org" || got.Urgency != "normal" {
		t.Errorf("subject %q, urgency %q", got.Subject, got.Urgency)
	}
	ps.Expire(sub)
	if r := p.Send(t.Context(), m); !r.Gone {
		t.Errorf("Send to an expired subscription = %+v", r)
	}
	ps.FailNext(1, 503, 7*time.Second)
	sub2 := ps.Subscribe()
	m.Subscription = &kinwatch.PushSubscription{Endpoint: sub2.Endpoint, P256dh: sub2.P256dh, Auth: sub2.Auth}
	if r := p.Send(t.Context(), m); r.Err == nil || r.Permanent || r.RetryAfter != 7*time.Second {
		t.Errorf("Send to a busy service = %+v", r)
	}
}
