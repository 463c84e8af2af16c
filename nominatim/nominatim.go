// Package nominatim turns a position into a readable address (reverse geocoding) through a server
// speaking the Nominatim API, such as the public OpenStreetMap one or a self-hosted instance. It
// owns the HTTP exchange, a bounded cache, single-flight de-duplication and the rate limit the
// public server's usage policy demands. It must not store anything durably or log positions: a
// position leaves the process only rounded to the cache precision, and error texts never carry it.
package nominatim

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned when the server has no address for a position (Nominatim's
// {"error":"Unable to geocode"}, or an empty result).
var ErrNotFound = errors.New("nominatim: no address for this position")

// ErrInvalidPosition is returned, without asking the server, for coordinates that are not a
// position on Earth (NaN, infinite, or out of range).
var ErrInvalidPosition = errors.New("nominatim: invalid position")

// Defaults for the zero values of Client's fields.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultMinInterval = time.Second // the public server's policy: at most one request per second
	DefaultCacheTTL    = 30 * 24 * time.Hour
	DefaultMaxEntries  = 100_000
	DefaultPrecision   = 4 // decimal places, about 11 m

	// NotFoundTTL is how long "no address here" is remembered (at most CacheTTL): long enough not
	// to ask again for every report from the middle of a forest, short enough to pick up new data.
	NotFoundTTL = 24 * time.Hour

	// MaxBodyBytes bounds a response; a reverse result is a few KiB.
	MaxBodyBytes = 256 << 10
)

// Address is a readable address for a position.
type Address struct {
	Display     string // the one-line address (display_name)
	Road        string
	HouseNumber string
	Postcode    string
	City        string // or, where there is no city, the town, village, hamlet or municipality
	Country     string
	CountryCode string // as the server gives it (Nominatim: lower case, "de")
}

// Client asks a Nominatim server for addresses. Set the fields before the first call and leave
// them alone afterwards; the zero value of each optional field means its default. A Client is
// safe for concurrent use.
type Client struct {
	BaseURL   string // e.g. https://nominatim.openstreetmap.org; a trailing slash is fine
	UserAgent string // required by the usage policy: identifies the application
	Email     string // optional, sent as the email parameter
	Language  string // Accept-Language, e.g. "de,en"; empty sends none
	HTTP      *http.Client

	// MinInterval is the least time between the end of one request and the start of the next
	// (0: DefaultMinInterval; negative: no limit, for a self-hosted server). Counting from the end
	// rather than the start keeps the server from ever seeing two requests closer than this,
	// whatever the network delay, and means one request at a time.
	MinInterval time.Duration
	CacheTTL    time.Duration // 0: DefaultCacheTTL
	MaxEntries  int           // 0: DefaultMaxEntries; least recently used entries go first
	// Precision is the number of decimal places positions are rounded to, for the cache key and
	// for the request alike (0: DefaultPrecision).
	Precision int
	// Now reads the time for cache expiry (nil: time.Now). The rate limit always uses the real
	// clock.
	Now func() time.Time

	once        sync.Once
	defaultHTTP *http.Client
	turn        chan struct{} // capacity 1: held by the request in progress
	next        time.Time     // earliest start of the next request; guarded by holding turn

	mu       sync.Mutex
	cache    map[string]*list.Element // of *entry
	lru      list.List                // most recently used at the front
	inflight map[string]*flight
}

type entry struct {
	key     string
	addr    Address
	found   bool
	expires time.Time
}

// flight is one request shared by every caller asking for the same key while it runs. It is
// cancelled when the last of them gives up.
type flight struct {
	done    chan struct{}
	cancel  context.CancelFunc
	waiters int
	addr    Address
	err     error
}

func (c *Client) init() {
	c.once.Do(func() {
		c.defaultHTTP = &http.Client{Timeout: DefaultTimeout}
		c.turn = make(chan struct{}, 1)
		c.cache = make(map[string]*list.Element)
		c.inflight = make(map[string]*flight)
	})
}

// Reverse returns the address of the position lat, lon (WGS 84 degrees), from the cache when a
// position that rounds to the same key was looked up recently. It returns ErrNotFound when the
// server has no address there and ErrInvalidPosition for impossible coordinates; other errors
// (server errors, rate limiting by the server, bad responses) are not cached.
func (c *Client) Reverse(ctx context.Context, lat, lon float64) (Address, error) {
	if strings.TrimSpace(c.UserAgent) == "" {
		return Address{}, errors.New("nominatim: Client.UserAgent is empty; the Nominatim usage policy requires one that identifies the application")
	}
	if strings.TrimSpace(c.BaseURL) == "" {
		return Address{}, errors.New("nominatim: Client.BaseURL is empty")
	}
	if !valid(lat, -90, 90) || !valid(lon, -180, 180) {
		return Address{}, ErrInvalidPosition
	}
	if err := ctx.Err(); err != nil {
		return Address{}, fmt.Errorf("nominatim: %w", err)
	}
	c.init()
	latS, lonS := c.round(lat), c.round(lon)
	key := latS + "," + lonS

	c.mu.Lock()
	if el, ok := c.cache[key]; ok {
		e := el.Value.(*entry)
		if c.now().Before(e.expires) {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			if !e.found {
				return Address{}, ErrNotFound
			}
			return e.addr, nil
		}
		c.lru.Remove(el)
		delete(c.cache, key)
	}
	f, ok := c.inflight[key]
	if !ok {
		// The request belongs to every caller waiting for it, so it keeps the first caller's
		// values but not its cancellation.
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight{done: make(chan struct{}), cancel: cancel}
		c.inflight[key] = f
		go c.run(fctx, f, key, latS, lonS)
	}
	f.waiters++
	c.mu.Unlock()

	select {
	case <-f.done:
		return f.addr, f.err
	case <-ctx.Done():
		c.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			f.cancel()
			// A caller arriving now must start afresh, not join a cancelled request.
			if c.inflight[key] == f {
				delete(c.inflight, key)
			}
		}
		c.mu.Unlock()
		return Address{}, fmt.Errorf("nominatim: %w", ctx.Err())
	}
}

func (c *Client) run(ctx context.Context, f *flight, key, lat, lon string) {
	defer f.cancel()
	addr, err := c.fetch(ctx, lat, lon)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil:
		c.store(key, addr, true, c.cacheTTL())
	case errors.Is(err, ErrNotFound):
		c.store(key, Address{}, false, min(NotFoundTTL, c.cacheTTL()))
	}
	if c.inflight[key] == f {
		delete(c.inflight, key)
	}
	f.addr, f.err = addr, err
	close(f.done)
}

// store caches a result; c.mu is held.
func (c *Client) store(key string, addr Address, found bool, ttl time.Duration) {
	e := &entry{key: key, addr: addr, found: found, expires: c.now().Add(ttl)}
	if el, ok := c.cache[key]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.cache[key] = c.lru.PushFront(e)
	for c.lru.Len() > c.maxEntries() {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.cache, old.Value.(*entry).key)
	}
}

// fetch makes one request, in turn with every other request of this client.
func (c *Client) fetch(ctx context.Context, lat, lon string) (Address, error) {
	if err := c.waitTurn(ctx); err != nil {
		return Address{}, fmt.Errorf("nominatim: waiting for the rate limit: %w", err)
	}
	defer c.endTurn()

	q := url.Values{}
	q.Set("format", "jsonv2")
	q.Set("lat", lat)
	q.Set("lon", lon)
	q.Set("zoom", "18")
	q.Set("addressdetails", "1")
	if c.Email != "" {
		q.Set("email", c.Email)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+"/reverse?"+q.Encode(), nil)
	if err != nil {
		return Address{}, fmt.Errorf("nominatim: bad BaseURL: %w", withoutURL(err))
	}
	req.Header.Set("User-Agent", c.UserAgent)
	req.Header.Set("Accept", "application/json")
	if c.Language != "" {
		req.Header.Set("Accept-Language", c.Language)
	}
	hc := c.HTTP
	if hc == nil {
		hc = c.defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Address{}, fmt.Errorf("nominatim: request: %w", withoutURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return Address{}, fmt.Errorf("nominatim: reading the response: %w", withoutURL(err))
	}
	if len(body) > MaxBodyBytes {
		return Address{}, fmt.Errorf("nominatim: response larger than %d bytes", MaxBodyBytes)
	}
	return decode(resp.StatusCode, body)
}

// waitTurn blocks until no other request is in progress and MinInterval has passed since the
// last one ended. On success the caller must call endTurn.
func (c *Client) waitTurn(ctx context.Context) error {
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if d := time.Until(c.next); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			<-c.turn // nothing was sent: c.next stays as it was
			return ctx.Err()
		}
	}
	return nil
}

func (c *Client) endTurn() {
	if iv := c.minInterval(); iv > 0 {
		c.next = time.Now().Add(iv)
	}
	<-c.turn
}

// response is the part of Nominatim's jsonv2 reverse result used here.
type response struct {
	Error       json.RawMessage   `json:"error"`
	DisplayName string            `json:"display_name"`
	Address     map[string]string `json:"address"`
}

func decode(status int, body []byte) (Address, error) {
	var r response
	jsonErr := json.Unmarshal(body, &r)
	if jsonErr == nil && len(r.Error) > 0 {
		// Nominatim answers "not found" with 200 and a string; some compatible providers use
		// 404. Newer Nominatim reports bad requests as an object {"code","message"}.
		var msg string
		if json.Unmarshal(r.Error, &msg) == nil && strings.EqualFold(msg, "Unable to geocode") &&
			(status == http.StatusOK || status == http.StatusNotFound) {
			return Address{}, ErrNotFound
		}
	}
	switch {
	case status == http.StatusTooManyRequests:
		return Address{}, errors.New("nominatim: the server is rate limiting us (HTTP 429)")
	case status >= 500:
		return Address{}, fmt.Errorf("nominatim: server error (HTTP %d)", status)
	case status != http.StatusOK:
		return Address{}, fmt.Errorf("nominatim: unexpected HTTP %d%s", status, errorText(r.Error))
	case jsonErr != nil:
		return Address{}, fmt.Errorf("nominatim: bad response: %w", jsonErr)
	case len(r.Error) > 0 && string(r.Error) != "null":
		return Address{}, fmt.Errorf("nominatim: server error%s", errorText(r.Error))
	case r.DisplayName == "" && len(r.Address) == 0:
		return Address{}, ErrNotFound
	}
	a := r.Address
	return Address{
		Display:     r.DisplayName,
		Road:        a["road"],
		HouseNumber: a["house_number"],
		Postcode:    a["postcode"],
		City:        first(a, "city", "town", "village", "hamlet", "municipality"),
		Country:     a["country"],
		CountryCode: a["country_code"],
	}, nil
}

// errorText renders the server's error field, a string or {"code","message"}, briefly.
func errorText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return ": " + truncate(s)
	}
	var o struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &o) == nil && o.Message != "" {
		return ": " + truncate(o.Message)
	}
	return ""
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func first(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}

// withoutURL drops the URL from a *url.Error: it holds the position and the email address,
// which must not reach the log through an error text.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func valid(v, lo, hi float64) bool {
	return v >= lo && v <= hi // false for NaN; ±Inf are out of range
}

// round formats a coordinate with the cache precision; the same text is the cache key and the
// request parameter.
func (c *Client) round(v float64) string {
	s := strconv.FormatFloat(v, 'f', c.precision(), 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-") // -0.0000 and 0.0000 are one place
	}
	return s
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) minInterval() time.Duration {
	if c.MinInterval == 0 {
		return DefaultMinInterval
	}
	return c.MinInterval
}

func (c *Client) cacheTTL() time.Duration {
	if c.CacheTTL <= 0 {
		return DefaultCacheTTL
	}
	return c.CacheTTL
}

func (c *Client) maxEntries() int {
	if c.MaxEntries <= 0 {
		return DefaultMaxEntries
	}
	return c.MaxEntries
}

func (c *Client) precision() int {
	if c.Precision <= 0 {
		return DefaultPrecision
	}
	return c.Precision
}
