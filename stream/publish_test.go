package stream

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkPublish is Publish alone, as the storage writer pays for it: 1000 subscribers, 10 of
// which see the device published to. They are registered as ServeWebSocket registers a client,
// but instead of WebSocket writers (whose allocations -benchmem would count too, as they run
// during the measurement) the loop empties their queues itself every 100 messages, so the figure
// includes ten channel receives per message but no goroutine wake-ups. BenchmarkFanOut measures
// the whole path over real connections.
func BenchmarkPublish(b *testing.B) {
	h := New(Options{Access: func(context.Context, string) ([]Grant, error) { return nil, nil }})
	defer h.Close()
	var watchers []*conn
	h.mu.Lock()
	for i := range 1000 {
		device := "other" + strconv.Itoa(i)
		if i < 10 {
			device = "w1"
		}
		c := &conn{account: strconv.Itoa(i), send: make(chan []byte, h.opts.SendBuffer), done: make(chan struct{})}
		h.subscribeLocked(c, []Grant{{Device: device}}, 0, false)
		if i < 10 {
			watchers = append(watchers, c)
		}
	}
	h.mu.Unlock()
	data := []byte(`{"id":"01hx","watch_id":"w1","time":"2026-05-01T08:00:00Z","lat":52.520008,"lon":13.404954,"valid":true}`)
	at := time.Now()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		h.Publish("w1", "position", at, data)
		if n++; n%100 == 0 {
			for _, c := range watchers {
				for len(c.send) > 0 {
					<-c.send
				}
			}
		}
	}
	if s := h.Stats(); s.Dropped != 0 || s.Connections != 1000 {
		b.Fatalf("stats %+v: a subscriber was dropped, the figure is not for 10 receivers", s)
	}
}
