package nominatim_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kinwatch/nominatim"
)

// berlin is a jsonv2 reverse result as nominatim.openstreetmap.org sends it.
const berlin = `{"place_id":136743547,"licence":"Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright","osm_type":"way","osm_id":4609097,"lat":"52.5200066","lon":"13.4049540","category":"highway","type":"residential","place_rank":26,"importance":0.1,"addresstype":"road","name":"Rathausstraße","display_name":"15, Rathausstraße, Mitte, Berlin, 10178, Deutschland","address":{"house_number":"15","road":"Rathausstraße","suburb":"Mitte","borough":"Mitte","city":"Berlin","ISO3166-2-lvl4":"DE-BE","postcode":"10178","country":"Deutschland","country_code":"de"},"boundingbox":["52.5190","52.5210","13.4040","13.4060"]}`

const unable = `{"error":"Unable to geocode"}`

// hit is one request as the fake server saw it.
type hit struct {
	at     time.Time
	query  url.Values
	path   string
	header http.Header
}

// fake is a Nominatim server on loopback. respond decides each answer; nil answers berlin.
type fake struct {
	*httptest.Server
	mu      sync.Mutex
	hits    []hit
	respond func(n int, r *http.Request, w http.ResponseWriter)
}

func newFake(t *testing.T, respond func(n int, r *http.Request, w http.ResponseWriter)) *fake {
	t.Helper()
	f := &fake{respond: respond}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.hits = append(f.hits, hit{at: time.Now(), query: r.URL.Query(), path: r.URL.Path, header: r.Header.Clone()})
		n := len(f.hits)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if f.respond == nil {
			fmt.Fprint(w, berlin)
			return
		}
		f.respond(n, r, w)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.hits)
}

func (f *fake) hit(i int) hit {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[i]
}

func answer(body string) func(int, *http.Request, http.ResponseWriter) {
	return func(_ int, _ *http.Request, w http.ResponseWriter) { fmt.Fprint(w, body) }
}

// clock is a controllable time source, safe for the client's goroutines.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func client(f *fake) *nominatim.Client {
	return &nominatim.Client{
		BaseURL:     f.URL,
		UserAgent:   "kinwatch-test/1.0 (https://example.org/kinwatch)",
		MinInterval: time.Millisecond,
	}
}

func TestFoundAddress(t *testing.T) {
	f := newFake(t, nil)
	got, err := client(f).Reverse(context.Background(), 52.52, 13.405)
	if err != nil {
		t.Fatal(err)
	}
	want := nominatim.Address{
		Display:     "15, Rathausstraße, Mitte, Berlin, 10178, Deutschland",
		Road:        "Rathausstraße",
		HouseNumber: "15",
		Postcode:    "10178",
		City:        "Berlin",
		Country:     "Deutschland",
		CountryCode: "de",
	}
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestCityFallbacks(t *testing.T) {
	for _, tc := range []struct {
		name, address, want string
	}{
		{"city", `{"city":"Berlin","town":"T","village":"V"}`, "Berlin"},
		{"town", `{"town":"Bernau","village":"V","municipality":"M"}`, "Bernau"},
		{"village", `{"village":"Lanke","hamlet":"H","municipality":"M"}`, "Lanke"},
		{"hamlet", `{"hamlet":"Ützdorf","municipality":"M"}`, "Ützdorf"},
		{"municipality", `{"municipality":"Wandlitz"}`, "Wandlitz"},
		{"none", `{"country":"Deutschland"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, answer(`{"place_id":1,"lat":"52.7","lon":"13.6","display_name":"somewhere","address":`+tc.address+`}`))
			got, err := client(f).Reverse(context.Background(), 52.7, 13.6)
			if err != nil {
				t.Fatal(err)
			}
			if got.City != tc.want {
				t.Fatalf("City = %q, want %q", got.City, tc.want)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
	}{
		{"unable to geocode", 200, unable},
		{"empty result", 200, `{}`},
		{"404 from a compatible provider", 404, unable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(_ int, _ *http.Request, w http.ResponseWriter) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})
			_, err := client(f).Reverse(context.Background(), 0, -30)
			if !errors.Is(err, nominatim.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestRequest(t *testing.T) {
	f := newFake(t, nil)
	c := client(f)
	c.BaseURL += "/"
	c.Email = "ops@example.org"
	c.Language = "de,en"
	if _, err := c.Reverse(context.Background(), 52.520006613, -13.404954); err != nil {
		t.Fatal(err)
	}
	h := f.hit(0)
	if h.path != "/reverse" {
		t.Errorf("path = %q", h.path)
	}
	want := url.Values{
		"format":         {"jsonv2"},
		"lat":            {"52.5200"},
		"lon":            {"-13.4050"},
		"zoom":           {"18"},
		"addressdetails": {"1"},
		"email":          {"ops@example.org"},
	}
	if h.query.Encode() != want.Encode() {
		t.Errorf("query = %s\nwant    %s", h.query.Encode(), want.Encode())
	}
	if got := h.header.Get("User-Agent"); got != c.UserAgent {
		t.Errorf("User-Agent = %q", got)
	}
	if got := h.header.Get("Accept-Language"); got != "de,en" {
		t.Errorf("Accept-Language = %q", got)
	}

	// No email and no language: neither is sent; other precisions round accordingly.
	c = client(f)
	c.Precision = 2
	if _, err := c.Reverse(context.Background(), -0.001, 179.999); err != nil {
		t.Fatal(err)
	}
	h = f.hit(1)
	if h.query.Has("email") || h.header.Get("Accept-Language") != "" {
		t.Errorf("email %q, Accept-Language %q sent though not set", h.query.Get("email"), h.header.Get("Accept-Language"))
	}
	if h.query.Get("lat") != "0.00" || h.query.Get("lon") != "180.00" {
		t.Errorf("lat, lon = %s, %s; want 0.00, 180.00", h.query.Get("lat"), h.query.Get("lon"))
	}
}

func TestEmptyUserAgentRefused(t *testing.T) {
	f := newFake(t, nil)
	c := client(f)
	c.UserAgent = ""
	_, err := c.Reverse(context.Background(), 52.52, 13.405)
	if err == nil || !strings.Contains(err.Error(), "UserAgent") {
		t.Fatalf("err = %v, want one naming UserAgent", err)
	}
	if f.count() != 0 {
		t.Fatalf("%d requests sent without a User-Agent", f.count())
	}
}

func TestInvalidPosition(t *testing.T) {
	f := newFake(t, nil)
	c := client(f)
	nan, inf := math.NaN(), math.Inf(1)
	for _, p := range [][2]float64{{nan, 0}, {0, nan}, {inf, 0}, {0, -inf}, {90.0001, 0}, {-91, 0}, {0, 180.5}, {0, -181}} {
		if _, err := c.Reverse(context.Background(), p[0], p[1]); !errors.Is(err, nominatim.ErrInvalidPosition) {
			t.Errorf("Reverse(%v, %v) = %v, want ErrInvalidPosition", p[0], p[1], err)
		}
	}
	if f.count() != 0 {
		t.Fatalf("%d requests for invalid positions", f.count())
	}
}

func TestCacheWithinPrecision(t *testing.T) {
	f := newFake(t, nil)
	c := client(f)
	ctx := context.Background()
	a, err := c.Reverse(ctx, 52.52001, 13.40499)
	if err != nil {
		t.Fatal(err)
	}
	// About 4 m away: the same key at 4 decimals.
	b, err := c.Reverse(ctx, 52.52004, 13.40502)
	if err != nil {
		t.Fatal(err)
	}
	if f.count() != 1 || a != b {
		t.Fatalf("%d requests, %+v vs %+v; want 1 request and the same address", f.count(), a, b)
	}
	// About 55 m away: another key.
	if _, err := c.Reverse(ctx, 52.5205, 13.405); err != nil {
		t.Fatal(err)
	}
	if f.count() != 2 {
		t.Fatalf("%d requests, want 2", f.count())
	}
}

func TestCacheTTL(t *testing.T) {
	f := newFake(t, nil)
	clk := newClock()
	c := client(f)
	c.Now = clk.Now
	c.CacheTTL = 48 * time.Hour
	ctx := context.Background()
	lookup := func(wantRequests int) {
		t.Helper()
		if _, err := c.Reverse(ctx, 52.52, 13.405); err != nil {
			t.Fatal(err)
		}
		if f.count() != wantRequests {
			t.Fatalf("%d requests, want %d", f.count(), wantRequests)
		}
	}
	lookup(1)
	clk.Add(48*time.Hour - time.Second)
	lookup(1)
	clk.Add(2 * time.Second)
	lookup(2)
	lookup(2)
}

func TestDefaultCacheTTL(t *testing.T) {
	f := newFake(t, nil)
	clk := newClock()
	c := client(f)
	c.Now = clk.Now
	ctx := context.Background()
	c.Reverse(ctx, 52.52, 13.405)
	clk.Add(nominatim.DefaultCacheTTL - time.Minute)
	c.Reverse(ctx, 52.52, 13.405)
	if f.count() != 1 {
		t.Fatalf("%d requests within the default TTL, want 1", f.count())
	}
	clk.Add(2 * time.Minute)
	c.Reverse(ctx, 52.52, 13.405)
	if f.count() != 2 {
		t.Fatalf("%d requests after the default TTL, want 2", f.count())
	}
}

func TestNotFoundCachedShorter(t *testing.T) {
	f := newFake(t, func(_ int, r *http.Request, w http.ResponseWriter) {
		if r.URL.Query().Get("lat") == "0.0000" {
			fmt.Fprint(w, unable)
			return
		}
		fmt.Fprint(w, berlin)
	})
	clk := newClock()
	c := client(f)
	c.Now = clk.Now
	ctx := context.Background()
	sea := func() {
		t.Helper()
		if _, err := c.Reverse(ctx, 0, -30); !errors.Is(err, nominatim.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	}
	land := func() {
		t.Helper()
		if _, err := c.Reverse(ctx, 52.52, 13.405); err != nil {
			t.Fatal(err)
		}
	}
	sea()
	land()
	sea()
	if f.count() != 2 {
		t.Fatalf("%d requests, want 2 (not found is cached)", f.count())
	}
	clk.Add(nominatim.NotFoundTTL + time.Second)
	land()
	if f.count() != 2 {
		t.Fatalf("%d requests, want 2 (the address is still cached)", f.count())
	}
	sea()
	if f.count() != 3 {
		t.Fatalf("%d requests, want 3 (not found expired)", f.count())
	}
}

func TestMaxEntries(t *testing.T) {
	f := newFake(t, nil)
	c := client(f)
	c.MaxEntries = 2
	ctx := context.Background()
	lookup := func(lat float64, wantRequests int) {
		t.Helper()
		if _, err := c.Reverse(ctx, lat, 13.405); err != nil {
			t.Fatal(err)
		}
		if f.count() != wantRequests {
			t.Fatalf("after %v: %d requests, want %d", lat, f.count(), wantRequests)
		}
	}
	lookup(52.1, 1)
	lookup(52.2, 2)
	lookup(52.1, 2) // 52.1 is now the most recently used
	lookup(52.3, 3) // evicts 52.2
	lookup(52.1, 3)
	lookup(52.3, 3)
	lookup(52.2, 4)
}

func TestRateLimit(t *testing.T) {
	f := newFake(t, nil)
	c := client(f)
	c.MinInterval = 20 * time.Millisecond
	const n = 6
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := c.Reverse(context.Background(), 50+float64(i)/10, 10); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if f.count() != n {
		t.Fatalf("%d requests, want %d", f.count(), n)
	}
	var at []time.Time
	for i := range n {
		at = append(at, f.hit(i).at)
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < n; i++ {
		if gap := at[i].Sub(at[i-1]); gap < c.MinInterval {
			t.Errorf("requests %d and %d arrived %v apart, want at least %v", i-1, i, gap, c.MinInterval)
		}
	}
}

func TestSingleFlight(t *testing.T) {
	f := newFake(t, func(_ int, _ *http.Request, w http.ResponseWriter) {
		time.Sleep(50 * time.Millisecond) // let the other lookups arrive while this one runs
		fmt.Fprint(w, berlin)
	})
	c := client(f)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			a, err := c.Reverse(context.Background(), 52.52, 13.405)
			if err != nil || a.City != "Berlin" {
				t.Errorf("got %+v, %v", a, err)
			}
		})
	}
	wg.Wait()
	if f.count() != 1 {
		t.Fatalf("%d requests, want 1", f.count())
	}
}

// TestSingleFlightSurvivesACancelledCaller: the caller that started a request giving up does not
// fail the others waiting for it.
func TestSingleFlightSurvivesACancelledCaller(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(_ int, _ *http.Request, w http.ResponseWriter) {
		<-release
		fmt.Fprint(w, berlin)
	})
	c := client(f)
	ctx, cancel := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := c.Reverse(ctx, 52.52, 13.405)
		firstErr <- err
	}()
	for f.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	second := make(chan error, 1)
	go func() {
		_, err := c.Reverse(context.Background(), 52.52, 13.405)
		second <- err
	}()
	// Give the second caller time to join. Should it join late anyway, it starts its own request
	// and must still succeed; the test then only shows less.
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("first caller: %v, want context.Canceled", err)
	}
	close(release)
	if err := <-second; err != nil {
		t.Fatalf("second caller: %v", err)
	}
	if f.count() != 1 {
		t.Logf("%d requests: the second caller joined after the first gave up", f.count())
	}
}

func TestErrors(t *testing.T) {
	huge := `{"display_name":"` + strings.Repeat("x", nominatim.MaxBodyBytes) + `"}`
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"server error", 500, `<html>Internal Server Error</html>`, "HTTP 500"},
		{"bad gateway", 502, ``, "HTTP 502"},
		{"rate limited", 429, `<html>Too Many Requests</html>`, "429"},
		{"bad request", 400, `{"error":{"code":400,"message":"Parameter 'lat' must be a number."}}`, "must be a number"},
		{"forbidden", 403, `<html>Access blocked</html>`, "HTTP 403"},
		{"garbage JSON", 200, `{"display_name": "Berl`, "bad response"},
		{"HTML", 200, `<html><body>maintenance</body></html>`, "bad response"},
		{"other error", 200, `{"error":"Something else"}`, "Something else"},
		{"body over the bound", 200, huge, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(n int, _ *http.Request, w http.ResponseWriter) {
				if n > 1 {
					fmt.Fprint(w, berlin)
					return
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})
			c := client(f)
			_, err := c.Reverse(context.Background(), 52.52, 13.405)
			if err == nil || errors.Is(err, nominatim.ErrNotFound) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want an error containing %q", err, tc.want)
			}
			// Not cached: the next lookup asks again, and gets the address.
			if a, err := c.Reverse(context.Background(), 52.52, 13.405); err != nil || a.City != "Berlin" {
				t.Fatalf("second lookup: %+v, %v", a, err)
			}
			if f.count() != 2 {
				t.Fatalf("%d requests, want 2", f.count())
			}
		})
	}
}

// TestErrorsDoNotCarryThePosition: errors reach the log, positions and email addresses must not.
func TestErrorsDoNotCarryThePosition(t *testing.T) {
	f := newFake(t, nil)
	c := client(f)
	c.Email = "ops@example.org"
	f.Close() // connection refused
	_, err := c.Reverse(context.Background(), 52.52, 13.405)
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	for _, s := range []string{"52.52", "13.40", "ops@example.org"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains %q", err, s)
		}
	}
}

func TestCancelWhileWaitingForTheRateLimit(t *testing.T) {
	f := newFake(t, nil)
	c := client(f)
	c.MinInterval = time.Hour // a wait that ignored the context would time the test out
	if _, err := c.Reverse(context.Background(), 52.1, 13.4); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Reverse(ctx, 52.2, 13.4); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if f.count() != 1 {
		t.Fatalf("%d requests, want 1", f.count())
	}
}

// TestAbandonedLookupLeavesNoTrace: a lookup given up while waiting for its turn neither sends a
// request nor leaves a cancelled one for the next caller of the same place, and the rate limit
// still holds.
func TestAbandonedLookupLeavesNoTrace(t *testing.T) {
	f := newFake(t, nil)
	c := client(f)
	c.MinInterval = 100 * time.Millisecond
	if _, err := c.Reverse(context.Background(), 52.1, 13.4); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Reverse(ctx, 52.2, 13.4); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := c.Reverse(ctx, 52.2, 13.4); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if _, err := c.Reverse(context.Background(), 52.2, 13.4); err != nil {
		t.Fatal(err)
	}
	if f.count() != 2 {
		t.Fatalf("%d requests, want 2", f.count())
	}
	if gap := f.hit(1).at.Sub(f.hit(0).at); gap < c.MinInterval {
		t.Fatalf("requests %v apart, want at least %v", gap, c.MinInterval)
	}
}

func TestMissingBaseURL(t *testing.T) {
	c := &nominatim.Client{UserAgent: "kinwatch-test/1.0"}
	if _, err := c.Reverse(context.Background(), 52.52, 13.405); err == nil || !strings.Contains(err.Error(), "BaseURL") {
		t.Fatalf("err = %v, want one naming BaseURL", err)
	}
}
