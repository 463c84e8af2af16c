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

// access is a changeable Access function: account → devices, or an error. A non-nil gate makes
// the next call wait for it after reading the devices, so a test can change access mid-call.
type access struct {
	mu      sync.Mutex
	m       map[string][]string
	since   map[string]time.Time // device → when it joined its family (for every account)
	fail    error
	gate    chan struct{}
	entered chan struct{}
}

func (a *access) setSince(device string, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.since == nil {
		a.since = map[string]time.Time{}
	}
	a.since[device] = t
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

func (a *access) get(_ context.Context, account string) ([]stream.Grant, error) {
	a.mu.Lock()
	var grants []stream.Grant
	for _, d := range a.m[account] {
		grants = append(grants, stream.Grant{Device: d, Since: a.since[d]})
	}
	err, gate := a.fail, a.gate
	a.gate = nil
	a.mu.Unlock()
	if gate != nil {
		close(a.entered)
		<-gate
	}
	return grants, err
}

type env struct {
	t   *testing.T
	hub *stream.Hub
	acc *access
	url string // ws://…
	// check is what every connection's Subscriber.Check answers for its session; nil: valid.
	check sync.Map // session → error
}

// newEnv serves the hub over HTTP on loopback; the account is the X-Account header, the session
// the X-Session header and its expiry the X-Expires header (RFC 3339); the real server
// authenticates first.
func newEnv(t *testing.T, mod func(*stream.Options)) *env {
	acc := &access{m: map[string][]string{}}
	opts := stream.Options{Access: acc.get}
	if mod != nil {
		mod(&opts)
	}
	hub := stream.New(opts)
	e := &env{t: t, hub: hub, acc: acc}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session := r.Header.Get("X-Session")
		expires, _ := time.Parse(time.RFC3339Nano, r.Header.Get("X-Expires"))
		hub.ServeWebSocket(w, r, stream.Subscriber{Account: r.Header.Get("X-Account"), Session: session, Expires: expires,
			Check: func(context.Context) error {
				if err, ok := e.check.Load(session); ok {
					return err.(error)
				}
				return nil
			}})
	}))
	t.Cleanup(func() {
		hub.Close()
		srv.Close()
	})
	e.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	return e
}

type message struct {
	Seq     int64           `json:"seq"`
	Type    string          `json:"type"`
	WatchID string          `json:"watch_id"`
	Time    time.Time       `json:"time"`
	Data    json.RawMessage `json:"data"`
	raw     []byte
}

type client struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan message
	err  chan error
}

func (e *env) dial(account, query string) *client {
	e.t.Helper()
	return e.dialHeader(account, query, http.Header{})
}

// dialHeader dials with more headers (X-Session, X-Expires).
func (e *env) dialHeader(account, query string, h http.Header) *client {
	e.t.Helper()
	h.Set("X-Account", account)
	conn, _, err := websocket.Dial(context.Background(), e.url+query, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		e.t.Fatalf("dial %s%s: %v", account, query, err)
	}
	return e.read(conn)
}

// read starts reading conn's messages into a client.
func (e *env) read(conn *websocket.Conn) *client {
	conn.SetReadLimit(1 << 20)
	c := &client{t: e.t, conn: conn, msgs: make(chan message, 100000), err: make(chan error, 1)}
	e.t.Cleanup(func() { conn.CloseNow() })
	go func() {
		defer close(c.msgs)
		for {
			typ, b, err := conn.Read(context.Background())
			if err == nil && typ != websocket.MessageText {
				err = fmt.Errorf("a %v message", typ)
			}
			if err != nil {
				c.err <- err
				return
			}
			m := message{raw: b}
			if err := json.Unmarshal(b, &m); err != nil {
				c.err <- fmt.Errorf("not JSON: %s", b)
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
			c.t.Fatalf("unexpected message %s", m.raw)
		}
	case <-time.After(d):
	}
}

// closed skips the messages still queued, waits for the connection to end and returns how the
// server closed it.
func (c *client) closed() websocket.CloseError {
	c.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-c.msgs:
			if !ok {
				err := <-c.err
				var ce websocket.CloseError
				if !errors.As(err, &ce) {
					c.t.Fatalf("connection ended without a close frame: %v", err)
				}
				return ce
			}
		case <-timeout:
			c.t.Fatal("connection still open after 5 s")
		}
	}
}

func (e *env) publish(device string, n int) {
	for i := range n {
		e.hub.Publish(device, "position", time.Date(2026, 5, 1, 8, 0, i, 0, time.UTC), fmt.Appendf(nil, `{"n":%d}`, i))
	}
}

// refused dials and returns the HTTP answer of a connection that must not be upgraded.
func (e *env) refused(account, query string, header http.Header) (int, string, string) {
	e.t.Helper()
	if header == nil {
		header = http.Header{}
	}
	header.Set("X-Account", account)
	conn, resp, err := websocket.Dial(context.Background(), e.url+query, &websocket.DialOptions{HTTPHeader: header})
	if err == nil {
		conn.CloseNow()
		e.t.Fatalf("dial %s: upgraded, want refused", query)
	}
	if resp == nil {
		e.t.Fatalf("dial %s: %v", query, err)
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	if resp.Header.Get("Content-Type") == "application/json" && resp.Body != nil {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			e.t.Fatalf("dial %s: body: %v", query, err)
		}
	}
	return resp.StatusCode, body.Error.Code, body.Error.Message
}

func TestFanOutByAccess(t *testing.T) {
	e := newEnv(t, nil)
	e.acc.set("anna", "w1")
	e.acc.set("ben", "w2", "w3")
	anna, ben := e.dial("anna", ""), e.dial("ben", "")
	h := anna.next()
	if h.Type != "hello" || string(h.Data) != `{"watches":["w1"]}` || h.WatchID != "" {
		t.Fatalf("hello: %s", h.raw)
	}
	if h := ben.next(); string(h.Data) != `{"watches":["w2","w3"]}` {
		t.Fatalf("hello: %s", h.raw)
	}
	e.hub.Publish("w1", "position", time.Date(2026, 5, 1, 8, 0, 0, 123000000, time.UTC), []byte(`{"lat":52.5}`))
	e.hub.Publish("w2", "status", time.Date(2026, 5, 1, 8, 0, 1, 0, time.UTC), nil)
	e.hub.Publish("w9", "position", time.Now(), []byte(`{}`))
	if m := anna.next(); m.Type != "position" || m.WatchID != "w1" || string(m.Data) != `{"lat":52.5}` || m.Seq != h.Seq+1 {
		t.Fatalf("anna got %s after hello seq %d", m.raw, h.Seq)
	}
	if m := ben.next(); m.WatchID != "w2" || m.Type != "status" || string(m.Data) != "null" || m.Seq != h.Seq+2 {
		t.Fatalf("ben got %s", m.raw)
	}
	anna.quiet(100 * time.Millisecond)
	ben.quiet(0)
	if s := e.hub.Stats(); s.Connections != 2 || s.Published != 3 || s.Dropped != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestFrameFormat pins the bytes of the public wire format.
func TestFrameFormat(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 5000, time.FixedZone("CEST", 2*3600))
	e := newEnv(t, func(o *stream.Options) { o.Now = func() time.Time { return now } })
	odd := "w\"1<é" // IDs are not expected to need escaping, but the frame must stay JSON if they do
	e.acc.set("anna", "w1", odd)
	c := e.dial("anna", "")
	start := now.UnixMicro()
	want := fmt.Sprintf(`{"seq":%d,"type":"hello","watch_id":"","time":"2026-05-01T08:00:00.000005Z","data":{"watches":["w1","w\"1\u003cé"]}}`, start)
	if m := c.next(); string(m.raw) != want {
		t.Fatalf("hello\n got %s\nwant %s", m.raw, want)
	}
	e.hub.Publish("w1", "position", time.Date(2026, 5, 1, 9, 30, 0, 123456789, time.FixedZone("", 3600)), []byte(`{"lat":52.5,"lon":13.4}`))
	e.hub.Publish(odd, "alarm", time.Date(2026, 5, 1, 8, 30, 0, 0, time.UTC), nil)
	for i, want := range []string{
		fmt.Sprintf(`{"seq":%d,"type":"position","watch_id":"w1","time":"2026-05-01T08:30:00.123456789Z","data":{"lat":52.5,"lon":13.4}}`, start+1),
		fmt.Sprintf(`{"seq":%d,"type":"alarm","watch_id":"w\"1\u003cé","time":"2026-05-01T08:30:00Z","data":null}`, start+2),
	} {
		if m := c.next(); string(m.raw) != want {
			t.Fatalf("message %d\n got %s\nwant %s", i, m.raw, want)
		}
	}
	// A reset is the current seq with no watch and no data.
	r := e.dial("anna", "?since=1")
	r.next()
	want = fmt.Sprintf(`{"seq":%d,"type":"reset","watch_id":"","time":"2026-05-01T08:00:00.000005Z","data":null}`, start+2)
	if m := r.next(); string(m.raw) != want {
		t.Fatalf("reset\n got %s\nwant %s", m.raw, want)
	}
}

func TestHelloCarriesCurrentSeq(t *testing.T) {
	before := time.Now().UnixMicro()
	e := newEnv(t, nil)
	first := e.dial("anna", "").next()
	// The seq starts at the clock in microseconds and stays exact in JavaScript.
	if first.Seq < before || first.Seq > time.Now().UnixMicro() || first.Seq >= 1<<53 {
		t.Fatalf("hello seq %d, want the start time in µs (about %d)", first.Seq, before)
	}
	if string(first.Data) != `{"watches":[]}` {
		t.Fatalf("hello of an account with no watches: %s", first.raw)
	}
	e.publish("w1", 3) // nobody's, but numbered all the same
	if h := e.dial("anna", "").next(); h.Type != "hello" || h.Seq != first.Seq+3 {
		t.Fatalf("hello after 3 messages: %s, want seq %d", h.raw, first.Seq+3)
	}
}

func TestResume(t *testing.T) {
	e := newEnv(t, nil)
	e.acc.set("anna", "w1")
	hello := e.dial("anna", "").next()
	e.publish("w1", 5)
	e.publish("w2", 5) // not anna's
	e.publish("w1", 5)

	// Missed everything after the third message: gets the rest of w1's, in order, then live.
	c := e.dial("anna", fmt.Sprintf("?since=%d", hello.Seq+3))
	if m := c.next(); m.Type != "hello" || m.Seq != hello.Seq+15 {
		t.Fatalf("hello %s", m.raw)
	}
	for _, want := range []int64{4, 5, 11, 12, 13, 14, 15} {
		if m := c.next(); m.Seq != hello.Seq+want || m.WatchID != "w1" || m.Type != "position" {
			t.Fatalf("replay: %s, want seq +%d", m.raw, want)
		}
	}
	e.publish("w1", 1)
	if m := c.next(); m.Seq != hello.Seq+16 {
		t.Fatalf("live after replay: %s, want seq +16", m.raw)
	}
	c.quiet(50 * time.Millisecond)

	// Up to date: nothing to replay, no reset.
	up := e.dial("anna", fmt.Sprintf("?since=%d", hello.Seq+16))
	up.next()
	up.quiet(100 * time.Millisecond)
	// From the start of this process: everything.
	all := e.dial("anna", fmt.Sprintf("?since=%d", hello.Seq))
	all.next()
	for _, want := range []int64{1, 2, 3, 4, 5, 11, 12, 13, 14, 15, 16} {
		if m := all.next(); m.Seq != hello.Seq+want {
			t.Fatalf("replay from the start: %s, want seq +%d", m.raw, want)
		}
	}
}

// TestResumeReset: when the hub cannot fill the gap it says so, and then goes live.
func TestResumeReset(t *testing.T) {
	e := newEnv(t, func(o *stream.Options) { o.Window = 10 })
	e.acc.set("anna", "w1")
	hello := e.dial("anna", "").next()
	start := hello.Seq
	e.publish("w1", 15) // seqs start+1 … start+15; the window holds start+6 … start+15
	current := start + 15
	for _, tc := range []struct {
		name  string
		since int64
	}{
		{"evicted", start + 4},
		{"from the start, partly evicted", start},
		{"an older process", start - 7},
		{"zero", 0},
		{"negative", -1},
		{"in the future", current + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial("anna", fmt.Sprintf("?since=%d", tc.since))
			if m := c.next(); m.Type != "hello" || m.Seq != current {
				t.Fatalf("first: %s", m.raw)
			}
			if m := c.next(); m.Type != "reset" || m.Seq != current || m.WatchID != "" || string(m.Data) != "null" {
				t.Fatalf("%s, want a reset at %d", m.raw, current)
			}
			c.quiet(30 * time.Millisecond)
		})
	}
	// The oldest held message's predecessor is the lowest since that still replays.
	c := e.dial("anna", fmt.Sprintf("?since=%d", start+5))
	c.next()
	for want := start + 6; want <= current; want++ {
		if m := c.next(); m.Seq != want {
			t.Fatalf("replay from the window's edge: %s, want %d", m.raw, want)
		}
	}
	// After a reset the stream goes on live.
	r := e.dial("anna", "?since=0")
	r.next()
	r.next()
	e.publish("w1", 1)
	if m := r.next(); m.Seq != current+1 {
		t.Fatalf("live after a reset: %s", m.raw)
	}
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
		t.Fatalf("%s, want reset: the messages after since are too old", m.raw)
	}
	c = e.dial("anna", fmt.Sprintf("?since=%d", hello.Seq+2))
	c.next()
	if m := c.next(); m.Seq != hello.Seq+3 {
		t.Fatalf("from the last old message: %s", m.raw)
	}
	// Once all are too old, only a client that is up to date goes on without a reset.
	now.Add(int64(2 * time.Minute))
	c = e.dial("anna", fmt.Sprintf("?since=%d", hello.Seq+2))
	c.next()
	if m := c.next(); m.Type != "reset" {
		t.Fatalf("%s, want reset", m.raw)
	}
	c = e.dial("anna", fmt.Sprintf("?since=%d", hello.Seq+3))
	c.next()
	c.quiet(50 * time.Millisecond)
}

func TestBadSince(t *testing.T) {
	e := newEnv(t, nil)
	for _, q := range []string{"?since=abc", "?since=1e9", "?since=1.5", "?since=", "?since=99999999999999999999"} {
		status, code, msg := e.refused("anna", q, nil)
		if status != http.StatusBadRequest || code != "invalid" || !strings.HasPrefix(msg, "since: ") {
			t.Errorf("%s: %d %s %q", q, status, code, msg)
		}
	}
}

// TestResumeRacingPublish: clients connect, fresh or with since, while messages keep coming; each
// sees every message of its devices after its hello or since, in order, with no duplicate.
func TestResumeRacingPublish(t *testing.T) {
	e := newEnv(t, func(o *stream.Options) { o.SendBuffer = 10000 })
	devices := []string{"w1", "w2", "w3"}
	e.acc.set("anna", "w1")
	e.acc.set("ben", "w2", "w3")
	start := e.dial("anna", "").next().Seq
	const total = 3000
	// Message i has seq start+1+i and is about devices[i%3].
	deviceOf := func(seq int64) string { return devices[(seq-start-1)%3] }
	go func() {
		for i := range total {
			e.hub.Publish(devices[i%3], "position", time.Now(), fmt.Appendf(nil, `{"n":%d}`, i))
			if i%100 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range 12 {
		account, sees := "anna", map[string]bool{"w1": true}
		if i%2 == 1 {
			account, sees = "ben", map[string]bool{"w2": true, "w3": true}
		}
		wg.Go(func() {
			// Resume from a seq the hub has reached (a later one is a reset), or connect fresh.
			for e.hub.Stats().Published < uint64(i*200) {
				time.Sleep(100 * time.Microsecond)
			}
			query := ""
			if i%3 != 0 {
				query = fmt.Sprintf("?since=%d", start+int64(i*200))
			}
			c := e.dial(account, query)
			hello := c.next()
			from := hello.Seq
			if query != "" {
				from = start + int64(i*200)
			}
			for seq := from + 1; seq <= start+total; seq++ {
				if !sees[deviceOf(seq)] {
					continue
				}
				if m := c.next(); m.Seq != seq || m.WatchID != deviceOf(seq) {
					t.Errorf("client %d (%s%s): got %s, want seq %d", i, account, query, m.raw, seq)
					return
				}
			}
			c.quiet(20 * time.Millisecond)
		})
	}
	wg.Wait()
}

func TestRefreshAccess(t *testing.T) {
	e := newEnv(t, nil)
	e.acc.set("anna", "w1")
	c := e.dial("anna", "")
	c.next()
	other := e.dial("ben", "") // another account: not refreshed, not closed
	other.next()

	// Access to w1 withdrawn, w2 granted.
	e.acc.set("anna", "w2")
	e.hub.RefreshAccess("anna")
	waitFor(t, "w2 reaches anna", func() bool {
		e.hub.Publish("w2", "position", time.Now(), nil)
		select {
		case m := <-c.msgs:
			return m.WatchID == "w2"
		case <-time.After(20 * time.Millisecond):
			return false
		}
	})
	e.hub.Publish("w1", "position", time.Now(), nil)
	e.hub.Publish("w2", "position", time.Now(), []byte(`"last"`))
	for {
		// Only w2's messages from the polling above may still be queued before the last.
		if m := c.next(); m.WatchID != "w2" {
			t.Fatalf("after the refresh: %s", m.raw)
		} else if string(m.Data) == `"last"` {
			break
		}
	}
	e.hub.Publish("w1", "position", time.Now(), nil)
	c.quiet(100 * time.Millisecond)

	// Access cannot be read: the account's streams close rather than keep stale access.
	e.acc.setFail(errors.New("database down"))
	e.hub.RefreshAccess("anna")
	if ce := c.closed(); ce.Code != websocket.StatusTryAgainLater {
		t.Fatalf("closed with %v, want try again later", ce)
	}
	other.quiet(50 * time.Millisecond)
	if n := e.hub.Stats().Connections; n != 1 {
		t.Fatalf("%d connections, want ben's", n)
	}
}

// TestRefreshDuringConnect: access that changes while a connecting client's Access call is in
// flight is applied once the client is registered, not lost.
func TestRefreshDuringConnect(t *testing.T) {
	e := newEnv(t, nil)
	e.acc.set("anna", "w1")
	gate := make(chan struct{})
	e.acc.gate, e.acc.entered = gate, make(chan struct{})
	dialled := make(chan *client)
	go func() { dialled <- e.dial("anna", "") }()
	<-e.acc.entered // Access has read w1 and waits
	e.acc.set("anna", "w2")
	e.hub.RefreshAccess("anna") // no connection open yet
	close(gate)
	c := <-dialled
	if h := c.next(); string(h.Data) != `{"watches":["w1"]}` {
		t.Fatalf("hello %s: Access was read before the change", h.raw)
	}
	waitFor(t, "w2 reaches anna", func() bool {
		e.hub.Publish("w2", "position", time.Now(), nil)
		select {
		case m := <-c.msgs:
			return m.WatchID == "w2"
		case <-time.After(20 * time.Millisecond):
			return false
		}
	})
}

func TestAccessFailingAtConnect(t *testing.T) {
	e := newEnv(t, nil)
	e.acc.setFail(errors.New("database down"))
	if status, code, _ := e.refused("anna", "", nil); status != http.StatusServiceUnavailable || code != "unavailable" {
		t.Fatalf("%d %s, want 503 unavailable", status, code)
	}
	if n := e.hub.Stats().Connections; n != 0 {
		t.Fatalf("%d connections", n)
	}
}

func TestCrossOrigin(t *testing.T) {
	e := newEnv(t, nil)
	if status, _, _ := e.refused("anna", "", http.Header{"Origin": {"https://elsewhere.example"}}); status != http.StatusForbidden {
		t.Fatalf("cross-origin: %d, want 403", status)
	}
	e = newEnv(t, func(o *stream.Options) { o.OriginPatterns = []string{"app.example"} })
	conn, _, err := websocket.Dial(context.Background(), e.url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://app.example"}}})
	if err != nil {
		t.Fatalf("an allowed origin: %v", err)
	}
	e.read(conn).next()
}

func TestSlowClientIsDropped(t *testing.T) {
	e := newEnv(t, func(o *stream.Options) { o.SendBuffer = 4 })
	e.acc.set("anna", "w1")
	// Anna's client does not read: the server's TCP buffers and then her queue fill up.
	conn, _, err := websocket.Dial(context.Background(), e.url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Account": {"anna"}}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "anna registered", func() bool { return e.hub.Stats().Connections == 1 })
	big := []byte(`"` + strings.Repeat("x", 128<<10) + `"`)
	start := time.Now()
	for range 400 { // 50 MiB, more than loopback TCP buffers hold
		e.hub.Publish("w1", "position", time.Now(), big)
	}
	// Generous: 400 publishes take milliseconds; waiting on the client would take forever.
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("publishing to a stuck client took %v", d)
	}
	if s := e.hub.Stats(); s.Dropped != 1 || s.Connections != 0 {
		t.Fatalf("stats %+v, want anna dropped", s)
	}
	// When she reads again she gets what was queued and then the reason.
	ce := e.read(conn).closed()
	if ce.Code != websocket.StatusTryAgainLater || ce.Reason != "too slow, reconnect with since" {
		t.Fatalf("closed with %v", ce)
	}
}

func TestClose(t *testing.T) {
	e := newEnv(t, nil)
	e.acc.set("anna", "w1")
	c := e.dial("anna", "")
	c.next()
	e.hub.Close()
	if ce := c.closed(); ce.Code != websocket.StatusGoingAway {
		t.Fatalf("closed with %v, want going away", ce)
	}
	status, code, msg := e.refused("anna", "", nil)
	if status != http.StatusServiceUnavailable || code != "unavailable" || msg != "the live stream is shutting down" {
		t.Fatalf("dial after close: %d %s %q", status, code, msg)
	}
	e.hub.Publish("w1", "position", time.Now(), nil) // a no-op, not a panic
	e.hub.RefreshAccess("anna")
	e.hub.Close() // idempotent
	if s := e.hub.Stats(); s.Published != 0 || s.Connections != 0 {
		t.Fatalf("stats after close %+v", s)
	}
}

func TestReadLimit(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial("anna", "")
	c.next()
	// What clients send is ignored, up to 4 KiB a message.
	if err := c.conn.Write(context.Background(), websocket.MessageText, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	c.quiet(50 * time.Millisecond)
	c.conn.Write(context.Background(), websocket.MessageText, make([]byte, 4097))
	if ce := c.closed(); ce.Code != websocket.StatusMessageTooBig {
		t.Fatalf("closed with %v", ce)
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
	waitFor(t, "anna registered", func() bool { return e.hub.Stats().Connections == 1 })
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

// BenchmarkFanOut is the whole path over real connections: 1000 connected clients, 10 of which see
// the device published to. Each round publishes up to 1000 messages and waits until the ten
// watching clients have read them all, so the figure (and the allocations, counted process-wide)
// include encoding, queueing, ten WebSocket writes and ten client reads per message.
// BenchmarkPublish (publish_test.go) is Publish alone.
func BenchmarkFanOut(b *testing.B) {
	acc := &access{m: map[string][]string{}}
	hub := stream.New(stream.Options{Access: acc.get, SendBuffer: 4096})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub.ServeWebSocket(w, r, stream.Subscriber{Account: r.Header.Get("X-Account")})
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

// session dials as account with a session.
func (e *env) session(account, session string) *client {
	e.t.Helper()
	return e.dialHeader(account, "", http.Header{"X-Session": {session}})
}

// TestEndSession: signing out one session ends its streams only; signing out the others keeps
// the current one; signing out everywhere ends all. Each closes as signed out.
func TestEndSession(t *testing.T) {
	e := newEnv(t, nil)
	e.acc.set("anna", "w1")
	e.acc.set("bob", "w1")
	s1, s2, s3, bob := e.session("anna", "s1"), e.session("anna", "s2"), e.session("anna", "s3"), e.session("bob", "s1")
	for _, c := range []*client{s1, s2, s3, bob} {
		c.next()
	}
	e.hub.EndSession("anna", "s1")
	if ce := s1.closed(); ce.Code != stream.StatusSignedOut {
		t.Fatalf("ended session: closed with %v %q", ce.Code, ce.Reason)
	}
	e.publish("w1", 1)
	for _, c := range []*client{s2, s3, bob} { // bob's session "s1" is not anna's
		if m := c.next(); m.Type != "position" {
			t.Fatalf("%s", m.raw)
		}
	}
	e.hub.EndSessions("anna", "s2")
	if ce := s3.closed(); ce.Code != stream.StatusSignedOut {
		t.Fatalf("other session: closed with %v %q", ce.Code, ce.Reason)
	}
	e.publish("w1", 1)
	s2.next()
	bob.next()
	e.hub.EndSessions("anna", "")
	if ce := s2.closed(); ce.Code != stream.StatusSignedOut {
		t.Fatalf("everywhere: closed with %v %q", ce.Code, ce.Reason)
	}
	e.publish("w1", 1)
	bob.next()
	waitFor(t, "one connection left", func() bool { return e.hub.Stats().Connections == 1 })
}

// TestSessionExpiry: a connection ends when its session does, however busy it is.
func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, nil)
	e.acc.set("anna", "w1")
	start := time.Now()
	c := e.dialHeader("anna", "", http.Header{"X-Session": {"s1"}, "X-Expires": {start.Add(1200 * time.Millisecond).Format(time.RFC3339Nano)}})
	c.next()
	if ce := c.closed(); ce.Code != stream.StatusSignedOut {
		t.Fatalf("closed with %v %q", ce.Code, ce.Reason)
	}
	if d := time.Since(start); d < 1200*time.Millisecond || d > 4*time.Second {
		t.Fatalf("closed after %v, want soon after 1.2 s", d)
	}
}

// TestRecheck: the periodic check ends a session that ended elsewhere (signed out as such) and
// fails closed when the check itself fails.
func TestRecheck(t *testing.T) {
	e := newEnv(t, func(o *stream.Options) { o.Recheck = 50 * time.Millisecond })
	e.acc.set("anna", "w1")
	ended, broken, fine := e.session("anna", "ended"), e.session("anna", "broken"), e.session("anna", "fine")
	for _, c := range []*client{ended, broken, fine} {
		c.next()
	}
	e.check.Store("ended", fmt.Errorf("disabled by an operator: %w", stream.ErrSignedOut))
	e.check.Store("broken", errors.New("database unreachable"))
	if ce := ended.closed(); ce.Code != stream.StatusSignedOut {
		t.Fatalf("ended: closed with %v %q", ce.Code, ce.Reason)
	}
	if ce := broken.closed(); ce.Code != websocket.StatusTryAgainLater {
		t.Fatalf("broken: closed with %v %q", ce.Code, ce.Reason)
	}
	e.publish("w1", 1)
	fine.next()
	fine.quiet(200 * time.Millisecond) // still open after several checks
}

// TestForget: after a watch changes hands, a resume from before does not replay what was
// published for the previous family; what comes after is replayed as usual.
func TestForget(t *testing.T) {
	e := newEnv(t, nil)
	e.acc.set("anna", "w1", "w2")
	hello := e.dial("anna", "").next()
	e.publish("w1", 3) // anna's family's
	e.publish("w2", 1)
	e.hub.Forget("w1") // unbound, then bound by bob's family
	e.publish("w1", 2) // bob's family's
	e.acc.set("bob", "w1")
	c := e.dial("bob", fmt.Sprintf("?since=%d", hello.Seq))
	c.next()
	for _, want := range []int64{5, 6} {
		if m := c.next(); m.Seq != hello.Seq+want || m.WatchID != "w1" {
			t.Fatalf("replay: %s, want seq +%d", m.raw, want)
		}
	}
	c.quiet(100 * time.Millisecond)
	// Other watches' messages stay.
	a := e.dial("anna", fmt.Sprintf("?since=%d", hello.Seq))
	a.next()
	for _, want := range []int64{4, 5, 6} {
		if m := a.next(); m.Seq != hello.Seq+want {
			t.Fatalf("anna's replay: %s, want seq +%d", m.raw, want)
		}
	}
}

// TestEndSessionDuringConnect: a session that ends while its stream connects (authenticated by
// the caller, not yet registered, so EndSessions cannot find it) is closed at once, not at the
// next recheck a minute later.
func TestEndSessionDuringConnect(t *testing.T) {
	e := newEnv(t, nil) // Recheck: the default minute
	e.acc.set("anna", "w1")
	gate, entered := make(chan struct{}), make(chan struct{})
	e.acc.mu.Lock()
	e.acc.gate, e.acc.entered = gate, entered
	e.acc.mu.Unlock()
	done := make(chan *client)
	go func() { done <- e.session("anna", "s1") }()
	<-entered // authenticated, reading access
	e.check.Store("s1", fmt.Errorf("revoked: %w", stream.ErrSignedOut))
	e.hub.EndSessions("anna", "")
	close(gate)
	c := <-done
	if ce := c.closed(); ce.Code != stream.StatusSignedOut {
		t.Fatalf("closed with %v %q", ce.Code, ce.Reason)
	}
}

// TestResumeSinceTheGrant: a resume replays a watch's held messages only from when the watch
// joined the account's family, even when nobody told this hub to forget the earlier ones (another
// process handled the binding). Since comes from a database: a wall-clock time without Go's
// monotonic reading, compared with the hub's clock.
func TestResumeSinceTheGrant(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)
	e := newEnv(t, func(o *stream.Options) {
		o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	tick := func(d time.Duration) time.Time { mu.Lock(); defer mu.Unlock(); now = now.Add(d); return now }
	e.acc.set("anna", "w1", "w2")
	hello := e.dial("anna", "").next()
	tick(time.Second)
	e.publish("w1", 3) // the previous family's
	e.publish("w2", 1)
	bound := tick(time.Millisecond).Round(0) // bound into bob's family now
	e.acc.setSince("w1", bound)
	e.publish("w1", 1) // bob's family's, published in the same instant as the binding
	tick(time.Millisecond)
	e.publish("w1", 1)
	e.acc.set("bob", "w1")
	c := e.dial("bob", fmt.Sprintf("?since=%d", hello.Seq))
	c.next()
	for _, want := range []int64{5, 6} {
		if m := c.next(); m.Seq != hello.Seq+want || m.WatchID != "w1" {
			t.Fatalf("replay: %s, want seq +%d", m.raw, want)
		}
	}
	c.quiet(100 * time.Millisecond)
}
