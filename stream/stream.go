// Package stream is the live WebSocket stream of GET /api/v1/stream: it fans out what is stored
// about watches to the guardians who may see them, as it is committed, and lets a client that lost
// its connection resume without missing anything the hub still holds.
//
// It owns the stream's wire format (one JSON text frame per message, numbered by seq), the window
// of recent messages kept for resuming, and each connection's bounded send queue. It does not decide
// who may see what: the Access function it is given does, and RefreshAccess tells it to ask again.
// It does not authenticate: the caller of ServeWebSocket has, and hands over the session with a
// way to re-check it; a connection ends with its session (EndSession, EndSessions, the session's
// expiry, or a failed periodic check). Publish runs on the storage writer's
// commit path, so it never waits: not on the network, not on a slow client (which is disconnected
// and resumes), not on the database. Nothing here logs message contents.
package stream

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// Options configure a Hub; zero values take the defaults.
type Options struct {
	// Window is how many recent messages are kept for clients that reconnect (default 10000).
	Window int
	// MaxAge is how long after publishing a message stays available for resuming (default 15
	// minutes); a client that missed an older one gets a reset, as if it had been evicted.
	MaxAge time.Duration
	// Access lists the watches an account may see. It is called when a client connects and on
	// RefreshAccess; it must be safe for concurrent use.
	Access func(ctx context.Context, accountID string) ([]Grant, error)
	// SendBuffer is how many messages may wait for one client before it counts as too slow and is
	// disconnected (default 256).
	SendBuffer int
	// PingInterval is how often clients are pinged; one that does not answer within the interval
	// is disconnected (default 30 s).
	PingInterval time.Duration
	// OriginPatterns are the cross-origin hosts browsers may connect from, as in
	// websocket.AcceptOptions; the same origin always may, any other is refused.
	OriginPatterns []string
	// Recheck is how often each connection's Subscriber.Check runs (default 1 minute): it catches
	// what EndSession cannot see, such as an account disabled by another process.
	Recheck time.Duration
	// Log receives warnings (Access failing) and debug lines with account IDs; nil discards.
	Log *slog.Logger
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time
}

// Grant is a watch an account may see, and since when: held messages about it published before
// Since (when the watch joined the account's family) belonged to someone else and are never
// replayed, whichever process published them. The zero Since replays everything held.
type Grant struct {
	Device string
	Since  time.Time
}

// Subscriber is who a connection streams for: an authenticated account and its session.
type Subscriber struct {
	Account string
	Session string    // EndSession and EndSessions match on it
	Expires time.Time // when the session ends; the connection closes then (zero: never)
	// Check reports whether the session is still valid; it runs every Options.Recheck. An error
	// wrapping ErrSignedOut closes the connection as signed out; any other error closes it with
	// "try again later" (fail closed: access that cannot be checked is not kept). nil: no checks.
	Check func(ctx context.Context) error
}

// ErrSignedOut is what Subscriber.Check wraps when the session has ended.
var ErrSignedOut = errors.New("the session has ended")

// Close codes and reasons a client may see besides the standard ones.
const (
	// StatusSignedOut closes the connections of a session that ended: sign in again.
	StatusSignedOut = websocket.StatusPolicyViolation
	signedOut       = "signed out: sign in again"
)

// Stats are counters for metrics.
type Stats struct {
	Connections int
	Published   uint64 // messages published
	Dropped     uint64 // clients disconnected for being too slow
}

// Message types the hub itself sends; the rest are the publisher's.
const (
	TypeHello = "hello" // first message of every connection: the current seq and the watches carried
	TypeReset = "reset" // the hub cannot fill the gap since the client's seq: re-fetch over REST
)

const (
	writeTimeout  = 10 * time.Second // a write stuck this long means a dead peer
	accessTimeout = 10 * time.Second // for Access on RefreshAccess and for Subscriber.Check
	readLimit     = 4096             // clients have nothing to say; a large message is abuse
	tooSlow       = "too slow, reconnect with since"
)

// Hub is the stream. Create it with New; it is ready at once.
type Hub struct {
	opts   Options
	log    *slog.Logger
	ctx    context.Context // cancelled by Close, so a refresh does not hold up shutdown
	cancel context.CancelFunc

	mu         sync.Mutex
	closed     bool
	start      int64   // the seq before the first message: the hub's start in Unix microseconds
	seq        int64   // the last published seq
	ring       []entry // recent messages, oldest at head, consecutive seqs
	head, n    int
	byDevice   map[string]map[*conn]struct{}
	byAccount  map[string]map[*conn]struct{}
	gen        map[string]uint64 // per account: bumped by RefreshAccess, so a connect racing it re-reads
	refreshing map[string]bool   // per account: a refresh is running; true means run once more
	published  uint64
	dropped    uint64

	wg sync.WaitGroup // connections and refreshes
}

type entry struct {
	seq       int64
	device    string
	published time.Time
	frame     []byte
}

// conn is one client. Its fields other than send and done are guarded by the hub's mutex.
type conn struct {
	account string
	session string
	devices map[string]time.Time // what it may see → since when
	send    chan []byte          // frames for the writer; never closed
	done    chan struct{}        // closed when the hub drops the connection
	code    websocket.StatusCode
	reason  string
}

// New creates a hub.
func New(opts Options) *Hub {
	if opts.Window <= 0 {
		opts.Window = 10000
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 15 * time.Minute
	}
	if opts.SendBuffer <= 0 {
		opts.SendBuffer = 256
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 30 * time.Second
	}
	if opts.Recheck <= 0 {
		opts.Recheck = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Seqs continue from the clock in microseconds: a restarted process numbers above its
	// predecessor (which would have had to publish more than a message per microsecond to get
	// ahead), and a client's seq from before the restart is below start, which means a reset.
	// Unix microseconds stay below 2^53, the last integer JavaScript holds exactly, until 2255.
	start := opts.Now().UnixMicro()
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{
		opts: opts, log: log, ctx: ctx, cancel: cancel, start: start, seq: start,
		ring:       make([]entry, opts.Window),
		byDevice:   make(map[string]map[*conn]struct{}),
		byAccount:  make(map[string]map[*conn]struct{}),
		gen:        make(map[string]uint64),
		refreshing: make(map[string]bool),
	}
}

// Publish sends a message about deviceID to every connection that may see it and keeps it for
// resuming. data is the message's JSON payload, sent verbatim (nil sends null). The frame is
// encoded once and shared by the window and every receiver. Publish never waits for a client: one
// whose queue is full is disconnected instead, and resumes with since.
func (h *Hub) Publish(deviceID, typ string, at time.Time, data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	now := h.opts.Now() // read under the lock, so the window is in time order for backlogLocked
	h.seq++
	h.published++
	frame := appendFrame(make([]byte, 0, 96+len(typ)+len(deviceID)+len(data)), h.seq, typ, deviceID, at, data)
	i := (h.head + h.n) % len(h.ring)
	if h.n == len(h.ring) {
		h.head = (h.head + 1) % len(h.ring)
	} else {
		h.n++
	}
	h.ring[i] = entry{seq: h.seq, device: deviceID, published: now, frame: frame}
	for c := range h.byDevice[deviceID] {
		select {
		case c.send <- frame:
		default:
			h.dropped++
			h.dropLocked(c, websocket.StatusTryAgainLater, tooSlow)
		}
	}
}

// RefreshAccess re-reads what the account may see for each of its open connections. It returns at
// once; the change applies as soon as Access answers. If Access fails, the account's connections
// are closed rather than left with access that may have been withdrawn.
func (h *Hub) RefreshAccess(accountID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.gen[accountID]++
	if _, running := h.refreshing[accountID]; running {
		h.refreshing[accountID] = true // the running refresh goes round once more
		return
	}
	if len(h.byAccount[accountID]) == 0 {
		return // nothing open; a connection in the middle of connecting sees the new gen
	}
	h.refreshing[accountID] = false
	h.wg.Add(1)
	go h.refresh(accountID)
}

func (h *Hub) refresh(accountID string) {
	defer h.wg.Done()
	for {
		ctx, cancel := context.WithTimeout(h.ctx, accessTimeout)
		grants, err := h.opts.Access(ctx, accountID)
		cancel()
		h.mu.Lock()
		switch {
		case h.closed:
			// Close has dropped every connection.
		case err != nil:
			h.log.Warn("live stream: reading access failed; closing the account's streams", "account", accountID, "err", err)
			for c := range h.byAccount[accountID] {
				h.dropLocked(c, websocket.StatusTryAgainLater, "access could not be checked, reconnect")
			}
		default:
			for c := range h.byAccount[accountID] {
				h.setDevicesLocked(c, grants)
			}
		}
		if again := h.refreshing[accountID]; !again || h.closed {
			delete(h.refreshing, accountID)
			h.mu.Unlock()
			return
		}
		h.refreshing[accountID] = false
		h.mu.Unlock()
	}
}

// EndSession closes the connections of one session (signed out, revoked) as signed out.
func (h *Hub) EndSession(accountID, sessionID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.byAccount[accountID] {
		if c.session == sessionID {
			h.dropLocked(c, StatusSignedOut, signedOut)
		}
	}
}

// EndSessions closes the connections of every session of the account except keep ("" closes
// all: signed out everywhere, password reset, account disabled).
func (h *Hub) EndSessions(accountID, keep string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.byAccount[accountID] {
		if keep == "" || c.session != keep {
			h.dropLocked(c, StatusSignedOut, signedOut)
		}
	}
}

// Forget removes every held message about deviceID, so no later resume replays it. Call it when
// the watch changes hands (unbound, bound to a family): whoever sees it next must not receive
// what was published for the previous family. Grants with a Since guard against that as well,
// also for hubs in other processes that were not told; Forget frees the window at once and
// covers grants without one.
func (h *Hub) Forget(deviceID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := 0; i < h.n; i++ {
		if e := &h.ring[(h.head+i)%len(h.ring)]; e.device == deviceID {
			e.device, e.frame = "", nil
		}
	}
}

// setDevicesLocked replaces what c may see and updates the device index.
func (h *Hub) setDevicesLocked(c *conn, grants []Grant) {
	next := make(map[string]time.Time, len(grants))
	for _, g := range grants {
		next[g.Device] = g.Since
	}
	for d := range c.devices {
		if _, keep := next[d]; !keep {
			h.unindexLocked(d, c)
		}
	}
	for d := range next {
		if _, had := c.devices[d]; !had {
			set := h.byDevice[d]
			if set == nil {
				set = make(map[*conn]struct{})
				h.byDevice[d] = set
			}
			set[c] = struct{}{}
		}
	}
	c.devices = next
}

func (h *Hub) unindexLocked(device string, c *conn) {
	if set := h.byDevice[device]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.byDevice, device)
		}
	}
}

// dropLocked unregisters c and tells its writer to close with code. Safe to call twice.
func (h *Hub) dropLocked(c *conn, code websocket.StatusCode, reason string) {
	set := h.byAccount[c.account]
	if _, ok := set[c]; !ok {
		return
	}
	delete(set, c)
	if len(set) == 0 {
		delete(h.byAccount, c.account)
	}
	for d := range c.devices {
		h.unindexLocked(d, c)
	}
	c.code, c.reason = code, reason
	close(c.done)
}

// Close disconnects every client with "going away", refuses new ones and waits for the connection
// goroutines to end. Publish and RefreshAccess become no-ops. Close may be called more than once.
func (h *Hub) Close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		h.cancel()
		for _, set := range h.byAccount {
			for c := range set {
				h.dropLocked(c, websocket.StatusGoingAway, "the server is shutting down")
			}
		}
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, set := range h.byAccount {
		n += len(set)
	}
	return Stats{Connections: n, Published: h.published, Dropped: h.dropped}
}

// ServeWebSocket upgrades the request and streams the subscriber's messages until the client goes
// away, is dropped or its session ends. The caller has authenticated the subscriber. ?since=<seq>
// resumes after seq.
func (h *Hub) ServeWebSocket(w http.ResponseWriter, r *http.Request, sub Subscriber) {
	accountID := sub.Account
	since, resume := int64(0), r.URL.Query().Has("since")
	if resume {
		n, err := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid", "since: the seq of the last message received, a whole number")
			return
		}
		since = n
	}
	h.mu.Lock()
	closed, gen := h.closed, h.gen[accountID]
	h.mu.Unlock()
	if closed {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the live stream is shutting down")
		return
	}
	grants, err := h.opts.Access(r.Context(), accountID)
	if err != nil {
		h.log.Warn("live stream: reading access failed", "account", accountID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the live stream cannot check your access right now, try again")
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.opts.OriginPatterns})
	if err != nil {
		return // Accept has answered the client (a cross-origin request is 403)
	}
	ws.SetReadLimit(readLimit)

	c := &conn{account: accountID, session: sub.Session, send: make(chan []byte, h.opts.SendBuffer), done: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		ws.Close(websocket.StatusGoingAway, "the server is shutting down")
		return
	}
	first := h.subscribeLocked(c, grants, since, resume)
	stale := h.gen[accountID] != gen
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()
	if stale {
		h.RefreshAccess(accountID) // access changed while it was being read
	}
	// The session may have ended after the caller authenticated it and before the connection was
	// registered, where EndSession could not find it: check once more now that it would.
	if sub.Check != nil {
		h.checkSession(r.Context(), c, sub)
	}
	h.log.Debug("live stream: connected", "account", accountID, "watches", len(grants), "resume", resume)
	h.serve(r.Context(), ws, c, sub, first)
}

// subscribeLocked registers c for live messages and returns what it must be sent first: the hello,
// then either the held messages after since or a reset. Doing both under the one lock that Publish
// takes is what makes replay and live messages meet without a gap or a duplicate.
func (h *Hub) subscribeLocked(c *conn, grants []Grant, since int64, resume bool) [][]byte {
	h.setDevicesLocked(c, grants)
	if h.byAccount[c.account] == nil {
		h.byAccount[c.account] = make(map[*conn]struct{})
	}
	h.byAccount[c.account][c] = struct{}{}

	devices := make([]string, len(grants))
	for i, g := range grants {
		devices[i] = g.Device
	}
	hello, _ := json.Marshal(struct {
		Watches []string `json:"watches"`
	}{devices})
	first := [][]byte{appendFrame(nil, h.seq, TypeHello, "", h.opts.Now(), hello)}
	if !resume {
		return first
	}
	backlog, ok := h.backlogLocked(c, since)
	if !ok {
		return append(first, appendFrame(nil, h.seq, TypeReset, "", h.opts.Now(), nil))
	}
	return append(first, backlog...)
}

// backlogLocked returns the held messages after since that c may see; ok is false when messages
// after since are no longer held (evicted, too old, from an earlier process) or since is ahead of
// the hub.
func (h *Hub) backlogLocked(c *conn, since int64) (frames [][]byte, ok bool) {
	if since < h.start || since > h.seq {
		return nil, false
	}
	// The oldest usable entry is the first one not too old (the window is in time order); without
	// one, only a client that is up to date can go on.
	cutoff := h.opts.Now().Add(-h.opts.MaxAge)
	skip := sort.Search(h.n, func(i int) bool {
		return !h.ring[(h.head+i)%len(h.ring)].published.Before(cutoff)
	})
	first := h.seq + 1
	if skip < h.n {
		first = h.ring[(h.head+skip)%len(h.ring)].seq
	}
	if since < first-1 {
		return nil, false
	}
	// Seqs in the window are consecutive, so the message after since is at a known offset.
	for i := h.n - int(h.seq-since); i < h.n; i++ {
		e := &h.ring[(h.head+i)%len(h.ring)]
		if granted, ok := c.devices[e.device]; ok && e.frame != nil && !e.published.Before(granted) {
			frames = append(frames, e.frame)
		}
	}
	return frames, true
}

// checkSession runs the subscriber's Check and drops c when the session ended or cannot be
// checked; it reports whether c may go on.
func (h *Hub) checkSession(ctx context.Context, c *conn, sub Subscriber) bool {
	cctx, cancel := context.WithTimeout(ctx, accessTimeout)
	err := sub.Check(cctx)
	cancel()
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrSignedOut):
		h.end(c, StatusSignedOut, signedOut)
	case ctx.Err() == nil: // not the client leaving
		h.log.Warn("live stream: checking the session failed; closing the stream", "account", c.account, "err", err)
		h.end(c, websocket.StatusTryAgainLater, "the session could not be checked, reconnect")
	}
	return false
}

// end drops c with code and reason; its writer closes the connection.
func (h *Hub) end(c *conn, code websocket.StatusCode, reason string) {
	h.mu.Lock()
	h.dropLocked(c, code, reason)
	h.mu.Unlock()
}

// serve writes first and then the live messages to ws until the client leaves or the hub drops it.
func (h *Hub) serve(ctx context.Context, ws *websocket.Conn, c *conn, sub Subscriber, first [][]byte) {
	ctx, cancel := context.WithCancel(ctx)
	var helpers sync.WaitGroup
	defer helpers.Wait()
	defer cancel()
	defer func() {
		h.mu.Lock()
		h.dropLocked(c, websocket.StatusNormalClosure, "") // a no-op if the hub dropped it
		reason := c.reason
		h.mu.Unlock()
		h.log.Debug("live stream: disconnected", "account", c.account, "reason", reason)
	}()

	// The reader discards what the client sends (it has nothing to say) and notices it leaving;
	// it also receives the pongs that Ping waits for.
	helpers.Go(func() {
		defer cancel()
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	})
	// The keeper pings the client every PingInterval, cuts a write that has been stuck for
	// writeTimeout (a peer that stopped reading), and ends the connection with its session (at its
	// expiry, or when a check every Recheck finds it ended): one timer for the connection instead
	// of a deadline per message.
	var writing atomic.Int64 // when the current write started (Unix nanoseconds), 0 when idle
	helpers.Go(func() {
		t := time.NewTicker(min(time.Second, h.opts.PingInterval, h.opts.Recheck))
		defer t.Stop()
		lastPing, lastCheck := time.Now(), time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				if w := writing.Load(); w != 0 && now.Sub(time.Unix(0, w)) > writeTimeout {
					cancel()
					return
				}
				if !sub.Expires.IsZero() && !h.opts.Now().Before(sub.Expires) {
					h.end(c, StatusSignedOut, signedOut)
					return
				}
				if sub.Check != nil && now.Sub(lastCheck) >= h.opts.Recheck {
					lastCheck = now
					if !h.checkSession(ctx, c, sub) {
						return
					}
				}
				if now.Sub(lastPing) < h.opts.PingInterval {
					continue
				}
				lastPing = now
				pctx, pcancel := context.WithTimeout(ctx, h.opts.PingInterval)
				err := ws.Ping(pctx)
				pcancel()
				if err != nil {
					cancel()
					return
				}
			}
		}
	})

	write := func(frame []byte) bool {
		writing.Store(time.Now().UnixNano())
		err := ws.Write(ctx, websocket.MessageText, frame)
		writing.Store(0)
		return err == nil
	}
	select {
	case <-c.done: // ended before it started
		h.mu.Lock()
		code, reason := c.code, c.reason
		h.mu.Unlock()
		ws.Close(code, reason)
		return
	default:
	}
	for _, f := range first {
		if !write(f) {
			ws.CloseNow()
			return
		}
	}
	for {
		select {
		case f := <-c.send:
			if !write(f) {
				ws.CloseNow()
				return
			}
		case <-c.done:
			h.mu.Lock()
			code, reason := c.code, c.reason
			h.mu.Unlock()
			ws.Close(code, reason)
			return
		case <-ctx.Done():
			ws.CloseNow()
			return
		}
	}
}

// appendFrame appends one message: {"seq":…,"type":…,"watch_id":…,"time":…,"data":…}.
func appendFrame(b []byte, seq int64, typ, deviceID string, at time.Time, data []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"type":`...)
	b = appendString(b, typ)
	b = append(b, `,"watch_id":`...)
	b = appendString(b, deviceID)
	b = append(b, `,"time":"`...)
	b = at.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":`...)
	if len(data) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, data...)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string. IDs and types are plain ASCII; anything else takes the
// slow path through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
