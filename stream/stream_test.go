package stream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"kinwatch/stream"
)

// access is a changeable Access function: account → devices, or an error.
type access struct {
	mu   sync.Mutex
	m    map[string][]string
	fail error
}

func (a *access) set(account string, devices ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.m[account] = devices
}

func (a *access) setFail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail = err
}

func (a *access) get(_ context.Context, account string) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return nil, a.fail
	}
	return append([]string(nil), a.m[account]...), nil
}

type env struct {
	t   *testing.T
	hub *stream.Hub
	acc *access
	url string
}

// newEnv serves the hub over HTTP on loopback; the account is the X-Account header (the real
// server authenticates first).
func newEnv(t *testing.T, mod func(*stream.Options)) *env {
	acc := &access{m: map[string][]string{}}
	opts := stream.Options{Access: acc.get}
	if mod != nil {
		mod(&opts)
	}
	hub := stream.New(opts)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub.ServeWebSocket(w, r, r.Header.Get("X-Account"))
	}))
	t.Cleanup(func() {
		hub.Close()
		srv.Close()
	})
	return &env{t: t, hub: hub, acc: acc, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

type message struct {
	Seq     int64           `json:"seq"`
	Type    string          `json:"type"`
	WatchID string          `json:"watch_id"`
	Time    time.Time       `json:"time"`
	Data    json.RawMessage `json:"data"`
}

type client struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan message
	err  chan error
}

func (e *env) dial(account, query string) *client {
	e.t.Helper()
	conn, _, err := websocket.Dial(context.Background(), e.url+query, &websocket.DialOptions{HTTPHeader: http.Header{"X-Account": {account}}})
	if err != nil {
		e.t.Fatalf("dial %s%s: %v", account, query, err)
	}
	c := &client{t: e.t, conn: conn, msgs: make(chan message, 100000), err: make(chan error, 1)}
	e.t.Cleanup(func() { conn.CloseNow() })
	go func() {
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				c.err <- err
				close(c.msgs)
				return
			}
			var m message
			if err := json.Unmarshal(b, &m); err != nil {
				c.err <- fmt.Errorf("not JSON: %s", b)
				close(c.msgs)
				return
			}
			c.msgs <- m
		}
	}()
	return c
}

func (c *client) next() message {
	c.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			c.t.Fatalf("connection ended: %v", <-c.err)
		}
		return m
	case <-time.After(5 * time.Second):
		c.t.Fatal("no message within 5 s")
	}
	return message{}
}

// quiet fails if a message arrives within d.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if ok {
			c.t.Fatalf("unexpected message %+v", m)
		}
	case <-time.After(d):
	}
}

// closed waits for the connection to end and returns its close status.
func (c *client) closed() websocket.StatusCode {
	c.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-c.msgs:
			if !ok {
				return websocket.CloseStatus(<-c.err)
			}
		case <-timeout:
			c.t.Fatal("connection still open after 5 s")
		}
	}
}

func (e *env) publish(device string, n int) {
	for i := range n {
		e.hub.Publish(device, "position", time.Date(2026, 5, 1, 8, 0, i, 0, time.UTC), []byte(fmt.Sprintf(`{"n":%d}`, i)))
	}
}

func TestFanOutByAccess(t *testing.T) {
	e := newEnv(t, nil)
	e.acc.set("anna", "w1")
	e.acc.set("ben", "w2", "w3")
	anna, ben := e.dial("anna", ""), e.dial("ben", "")
	h := anna.next()
	if h.Type != "hello" || string(h.Data) != `{"watches":["w1"]}` || h.WatchID != "" {
		t.Fatalf("hello: %+v %s", h, h.Data)
	}
	ben.next()
	e.hub.Publish("w1", "position", time.Date(2026, 5, 1, 8, 0, 0, 123000000, time.UTC), []byte(`{"lat":52.5}`))
	e.hub.Publish("w2", "status", time.Date(2026, 5, 1, 8, 0, 1, 0, time.UTC), nil)
	e.hub.Publish("w9", "position", time.Now(), []byte(`{}`))
	m := anna.next()
	if m.Type != "position" || m.WatchID != "w1" || string(m.Data) != `{"lat":52.5}` || m.Seq != h.Seq+1 ||
		!m.Time.Equal(time.Date(2026, 5, 1, 8, 0, 0, 123000000, time.UTC)) {
		t.Fatalf("anna got %+v %s after hello seq %d", m, m.Data, h.Seq)
	}
	if m := ben.next(); m.WatchID != "w2" || m.Type != "status" || string(m.Data) != "null" || m.Seq != h.Seq+2 {
		t.Fatalf("ben got %+v %s", m, m.Data)
	}
	anna.quiet(100 * time.Millisecond)
	ben.quiet(0)
	if s := e.hub.Stats(); s.Connections != 2 || s.Published != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestSeqStartsAtTheClockAndSurvivesJavaScript(t *testing.T) {
	e := newEnv(t, nil)
	before := time.Now().UnixMicro()
	h := e.dial("anna", "").next()
	if h.Seq < before-1e6 || h.Seq > time.Now().UnixMicro() || h.Seq >= 1<<53 {
		t.Fatalf("hello seq %d, want about %d and below 2^53", h.Seq, before)
	}
}

func TestResume(t *testing.T) {
	e := newEnv(t, func(o *stream.Options) { o.Window = 50 })
	e.acc.set("anna", "w1")
	hello := e.dial("anna", "").next()
	e.publish("w1", 5)
	e.publish("w2", 5) // not anna's
	e.publish("w1", 5)

	// Missed everything after the third message: gets the rest of w1's, in order, then live.
	c := e.dial("anna", fmt.Sprintf("?since=%d", hello.Seq+3))
	if m := c.next(); m.Type != "hello" || m.Seq != hello.Seq+15 {
		t.Fatalf("hello %+v", m)
	}
	want := []int64{4, 5, 11, 12, 13, 14, 15}
	for _, w := range want {
		if m := c.next(); m.Seq != hello.Seq+w || m.WatchID != "w1" {
			t.Fatalf("replay: seq %d (%s), want %d", m.Seq-hello.Seq, m.WatchID, w)
		}
	}
	e.publish("w1", 1)
	if m := c.next(); m.Seq != hello.Seq+16 {
		t.Fatalf("live after replay: %d", m.Seq-hello.Seq)
	}
	// Up to date: nothing to replay, no reset.
	up := e.dial("anna", fmt.Sprintf("?since=%d", hello.Seq+16))
	up.next()
	up.quiet(100 * time.Millisecond)

	for name, since := range map[string]int64{
		"evicted":       hello.Seq, // 16 published, window 50: still held → checked separately below
		"future":        hello.Seq + 17,
		"older process": hello.Seq - 5,
	} {
		if name == "evicted" {
			continue
		}
		c := e.dial("anna", fmt.Sprintf("?since=%d", since))
		c.next()
		if m := c.next(); m.Type != "reset" || m.Seq != hello.Seq+16 {
			t.Fatalf("%s: %+v, want reset", name, m)
		}
		c.quiet(50 * time.Millisecond)
	}
	// Push the window past the first messages: resuming from the start is a reset now.
	e.publish("w2", 50)
	c = e.dial("anna", fmt.Sprintf("?since=%d", hello.Seq))
	c.next()
	if m := c.next(); m.Type != "reset" {
		t.Fatalf("evicted: %+v, want reset", m)
	}
	// But resuming from the oldest held message's predecessor still works.
	c = e.dial("anna", fmt.Sprintf("?since=%d", hello.Seq+66-50))
	c.next()
	c.quiet(100 * time.Millisecond) // all held messages since are w2's
}

func TestResumeRespectsMaxAge(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC).UnixNano())
	e := newEnv(t, func(o *stream.Options) {
		o.MaxAge = time.Minute
		o.Now = func() time.Time { return time.Unix(0, now.Load()) }
	})
	e.acc.set("anna", "w1")
	hello := e.dial("anna", "").next()
	e.publish("w1", 2)
	now.Add(int64(2 * time.Minute))
	e.publish("w1", 1)
	c := e.dial("anna", fmt.Sprintf("?since=%d", hello.Seq))
	c.next()
	if m := c.next(); m.Type != "reset" {
		t.Fatalf("%+v, want reset: the messages after since are too old", m)
	}
	// After a reset the client re-fetches over REST; the stream carries on with live messages.
	e.publish("w1", 1)
	if m := c.next(); m.Seq != hello.Seq+4 {
		t.Fatalf("after reset: %+v, want the next live message", m)
	}
	c = e.dial("anna", fmt.Sprintf("?since=%d", hello.Seq+2))
	c.next()
	if m := c.next(); m.Seq != hello.Seq+3 {
		t.Fatalf("from the last old message: %+v", m)
	}
	if m := c.next(); m.Seq != hello.Seq+4 {
		t.Fatalf("from the last old message: %+v", m)
	}
}

func TestBadSince(t *testing.T) {
	e := newEnv(t, nil)
	for _, q := range []string{"?since=abc", "?since=-1", "?since=1e9"} {
		resp, err := http.Get("http" + strings.TrimPrefix(e.url, "ws") + q)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Code, Message string }
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 400 || body.Error.Code != "invalid" || !strings.Contains(body.Error.Message, "since") {
			t.Errorf("%s: %d %+v", q, resp.StatusCode, body)
		}
	}
}

// TestResumeRacingPublish: clients reconnect with since while messages keep coming; each sees a
// gap-free, duplicate-free sequence of its device's messages from since on.
func TestResumeRacingPublish(t *testing.T) {
	e := newEnv(t, func(o *stream.Options) { o.SendBuffer = 10000 })
	e.acc.set("anna", "w1")
	hello := e.dial("anna", "").next()
	const total = 3000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			e.hub.Publish("w1", "position", time.Now(), []byte(fmt.Sprintf(`{"n":%d}`, i)))
			if i%100 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Resume from a seq the hub has reached (a later one would be a reset).
			for e.hub.Stats().Published < uint64(i*50) {
				time.Sleep(100 * time.Microsecond)
			}
			since := hello.Seq + int64(i*50)
			c := e.dial("anna", fmt.Sprintf("?since=%d", since))
			if m := c.next(); m.Type != "hello" {
				t.Errorf("client %d: %+v", i, m)
				return
			}
			for want := since + 1; want <= hello.Seq+total; want++ {
				m := c.next()
				if m.Seq != want {
					t.Errorf("client %d from %d: got seq %d, want %d", i, since-hello.Seq, m.Seq-hello.Seq, want-hello.Seq)
					return
				}
			}
		}()
	}
	wg.Wait()
	<-done
}

func TestRefreshAccess(t *testing.T) {
	e := newEnv(t, nil)
	e.acc.set("anna", "w1")
	c := e.dial("anna", "")
	c.next()
	// Access to w1 withdrawn, w2 granted.
	e.acc.set("anna", "w2")
	e.hub.RefreshAccess("anna")
	waitFor(t, "w2 reaches anna", func() bool {
		e.hub.Publish("w1", "position", time.Now(), nil)
		e.hub.Publish("w2", "position", time.Now(), nil)
		select {
		case m := <-c.msgs:
			return m.WatchID == "w2"
		case <-time.After(20 * time.Millisecond):
			return false
		}
	})
	e.hub.Publish("w1", "position", time.Now(), nil)
	e.hub.Publish("w2", "position", time.Now(), nil)
	for {
		m := c.next()
		if m.WatchID == "w1" {
			// Only messages published before the refresh applied may still be queued; drain them.
			continue
		}
		break
	}
	e.hub.Publish("w1", "position", time.Now(), nil)
	c.quiet(100 * time.Millisecond)

	// Access cannot be read: the account's streams close rather than keep stale access.
	e.acc.setFail(errors.New("database down"))
	e.hub.RefreshAccess("anna")
	if code := c.closed(); code != websocket.StatusTryAgainLater {
		t.Fatalf("close status %v", code)
	}
}

func TestAccessFailingAtConnect(t *testing.T) {
	e := newEnv(t, nil)
	e.acc.setFail(errors.New("database down"))
	_, resp, err := websocket.Dial(context.Background(), e.url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Account": {"anna"}}})
	if err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("dial: %v %v", resp, err)
	}
}

func TestSlowClientIsDropped(t *testing.T) {
	e := newEnv(t, func(o *stream.Options) { o.SendBuffer = 4 })
	e.acc.set("anna", "w1")
	e.acc.set("ben", "w1")
	// Anna's client never reads after the hello: its TCP buffers and then its queue fill up.
	conn, _, err := websocket.Dial(context.Background(), e.url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Account": {"anna"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	ben := e.dial("ben", "?since=0")
	ben.next()
	big := []byte(`"` + strings.Repeat("x", 64<<10) + `"`)
	start := time.Now()
	for range 200 {
		e.hub.Publish("w1", "position", time.Now(), big)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("publishing to a stuck client took %v", d)
	}
	waitFor(t, "the stuck client dropped", func() bool { return e.hub.Stats().Dropped >= 1 })
	_ = ben
}

func TestClose(t *testing.T) {
	e := newEnv(t, nil)
	e.acc.set("anna", "w1")
	c := e.dial("anna", "")
	c.next()
	e.hub.Close()
	if code := c.closed(); code != websocket.StatusGoingAway {
		t.Fatalf("close status %v", code)
	}
	_, resp, err := websocket.Dial(context.Background(), e.url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Account": {"anna"}}})
	if err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("dial after close: %v %v", resp, err)
	}
	e.hub.Publish("w1", "position", time.Now(), nil) // a no-op, not a panic
	e.hub.Close()                                    // idempotent
}

func TestReadLimit(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial("anna", "")
	c.next()
	if err := c.conn.Write(context.Background(), websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	c.quiet(50 * time.Millisecond) // small messages are ignored
	c.conn.Write(context.Background(), websocket.MessageText, make([]byte, 8192))
	if code := c.closed(); code != websocket.StatusMessageTooBig {
		t.Fatalf("close status %v", code)
	}
}

func TestPingDropsDeadClients(t *testing.T) {
	e := newEnv(t, func(o *stream.Options) { o.PingInterval = 50 * time.Millisecond })
	// A client that never reads also never answers pings.
	conn, _, err := websocket.Dial(context.Background(), e.url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Account": {"anna"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	waitFor(t, "the silent client dropped", func() bool { return e.hub.Stats().Connections == 0 })
	// One that reads answers pings and stays.
	c := e.dial("ben", "")
	c.next()
	time.Sleep(300 * time.Millisecond)
	if n := e.hub.Stats().Connections; n != 1 {
		t.Fatalf("%d connections, want the reading client's", n)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// BenchmarkPublish: 1000 connected clients, 10 of which see the device published to.
func BenchmarkPublish(b *testing.B) {
	acc := &access{m: map[string][]string{}}
	hub := stream.New(stream.Options{Access: acc.get, SendBuffer: 4096})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub.ServeWebSocket(w, r, r.Header.Get("X-Account"))
	}))
	defer srv.Close()
	defer hub.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	var received atomic.Int64
	for i := range 1000 {
		dev := fmt.Sprintf("other%d", i)
		if i < 10 {
			dev = "w1"
		}
		acc.set(fmt.Sprint(i), dev)
		conn, _, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Account": {fmt.Sprint(i)}}})
		if err != nil {
			b.Fatal(err)
		}
		defer conn.CloseNow()
		go func() {
			for {
				_, b, err := conn.Read(context.Background())
				if err != nil {
					return
				}
				if bytes.Contains(b, []byte(`"type":"position"`)) {
					received.Add(1)
				}
			}
		}()
	}
	data := []byte(`{"id":"01hx","watch_id":"w1","time":"2026-05-01T08:00:00Z","lat":52.520008,"lon":13.404954,"valid":true}`)
	at := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	// Each round publishes up to 1000 messages and waits until the ten watching clients have
	// read them all, so the figure is the whole fan-out: encoding, queueing and ten WebSocket
	// writes per message.
	for n := 0; n < b.N; {
		round := min(1000, b.N-n)
		for range round {
			hub.Publish("w1", "position", at, data)
		}
		n += round
		for received.Load() < int64(10*n) {
			if hub.Stats().Dropped > 0 {
				b.Fatal("a client was dropped")
			}
			time.Sleep(10 * time.Microsecond)
		}
	}
}
