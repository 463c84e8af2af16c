package bench

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"kinwatch"
	"kinwatch/app"
	"kinwatch/config"
	"kinwatch/watchproto"
)

// Latencies summarises measured durations.
type Latencies struct {
	N             int
	P50, P99, Max time.Duration
}

func summarise(d []time.Duration) Latencies {
	if len(d) == 0 {
		return Latencies{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(math.Ceil(q*float64(len(d))))-1)] }
	return Latencies{N: len(d), P50: at(0.50), P99: at(0.99), Max: d[len(d)-1]}
}

func (l Latencies) String() string {
	return fmt.Sprintf("n=%d p50=%v p99=%v max=%v", l.N, l.P50.Round(10*time.Microsecond), l.P99.Round(10*time.Microsecond), l.Max.Round(10*time.Microsecond))
}

// APIConfig describes a run of "latest position of my watches" against a populated store.
type APIConfig struct {
	DatabaseURL string
	DataDir     string
	Families    int // each with one guardian and WatchesPerFamily watches
	Watches     int // watches per family
	Positions   int // positions per watch in the history
	Requests    int
	Concurrency int
	Log         io.Writer // progress, may be nil
}

// APIResult is what a run measured.
type APIResult struct {
	Seeded   time.Duration
	Latency  Latencies
	Requests int
	Elapsed  time.Duration
}

func (r APIResult) String() string {
	return fmt.Sprintf("GET /api/v1/positions/latest: %d requests in %v (%.0f/s): %v", r.Requests,
		r.Elapsed.Round(time.Millisecond), float64(r.Requests)/r.Elapsed.Seconds(), r.Latency)
}

func startApp(ctx context.Context, databaseURL, dataDir string) (*app.App, error) {
	c := config.Default()
	c.DataDir, c.DatabaseURL = dataDir, databaseURL
	c.WatchAddr, c.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.MaxFramesPerSec = 1 << 20
	if err := c.Validate(); err != nil {
		return nil, err
	}
	a := app.New(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := a.Start(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// seedFamilies creates n families, each with one guardian holding a bearer session whose token is
// returned, and w bound watches with p positions each.
func seedFamilies(ctx context.Context, st kinwatch.Store, n, w, p int, idPrefix string) (tokens []string, watches [][]string, err error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	var recs []kinwatch.Record
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		err := st.WriteBatch(ctx, recs)
		recs = recs[:0]
		return err
	}
	for f := 0; f < n; f++ {
		acc := &kinwatch.Account{ID: kinwatch.NewID(), Email: fmt.Sprintf("guardian%d@bench.invalid", f),
			Profile: kinwatch.Profile{Nickname: "G"}, Preferences: kinwatch.Preferences{Language: "en", Units: "metric", TimeZone: "UTC", MapStyle: "standard"},
			EmailVerifiedAt: now, CreatedAt: now, UpdatedAt: now}
		if err := st.CreateAccount(ctx, acc); err != nil {
			return nil, nil, err
		}
		token := kinwatch.NewID() + kinwatch.NewID()
		h := sha256.Sum256([]byte(token))
		if err := st.CreateSession(ctx, &kinwatch.Session{ID: kinwatch.NewID(), AccountID: acc.ID, TokenHash: h[:], Kind: kinwatch.SessionBearer,
			CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(24 * time.Hour)}); err != nil {
			return nil, nil, err
		}
		tokens = append(tokens, token)
		familyID := kinwatch.NewID()
		var ids []string
		for i := 0; i < w; i++ {
			id := fmt.Sprintf("%s%06d%d", idPrefix, f, i)
			ids = append(ids, id)
			recs = append(recs, kinwatch.Record{Device: &kinwatch.DeviceUpdate{ID: id, Time: now}})
		}
		watches = append(watches, ids)
		if err := flush(); err != nil {
			return nil, nil, err
		}
		// Bound before their positions arrive: the store keeps no data of a watch nobody bound.
		for i, id := range ids {
			b := &kinwatch.Binding{DeviceID: id, FamilyID: familyID, At: now}
			if i == 0 {
				b.NewFamily = &kinwatch.Family{ID: familyID, Name: "F", CreatedAt: now}
				b.Admin = &kinwatch.Member{FamilyID: familyID, AccountID: acc.ID, Role: kinwatch.RoleAdmin, JoinedAt: now}
			}
			if err := st.Bind(ctx, b); err != nil {
				return nil, nil, err
			}
			if err := app.SeedConsent(ctx, st, familyID, acc.ID, id, "bench"); err != nil {
				return nil, nil, err
			}
			for k := 0; k < p; k++ {
				at := now.Add(-time.Duration(p-k) * time.Minute)
				recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewTimeID(at), DeviceID: id, Type: "UD",
					Time: at, Received: at, Valid: true, Source: kinwatch.SourceGPS, Lat: 52 + rand.Float64(), Lon: 13 + rand.Float64(), HasCoords: true}})
			}
		}
		if err := flush(); err != nil {
			return nil, nil, err
		}
	}
	return tokens, watches, nil
}

// API measures the latency of "latest position of my watches" with cfg.Families families in the
// store, as random guardians ask concurrently over real HTTP.
func API(ctx context.Context, cfg APIConfig) (APIResult, error) {
	a, err := startApp(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return APIResult{}, err
	}
	defer a.Shutdown(context.Background())
	start := time.Now()
	tokens, _, err := seedFamilies(ctx, a.Store, cfg.Families, cfg.Watches, cfg.Positions, "77")
	if err != nil {
		return APIResult{}, fmt.Errorf("seeding: %w", err)
	}
	// A bulk load leaves the planner's statistics empty until autovacuum gets round to them; a
	// server that grew to this size has them. Measure that steady state.
	if an, ok := a.Store.(interface{ Analyze(context.Context) error }); ok {
		if err := an.Analyze(ctx); err != nil {
			return APIResult{}, err
		}
	}
	res := APIResult{Seeded: time.Since(start)}
	if cfg.Log != nil {
		fmt.Fprintf(cfg.Log, "seeded %d families in %v\n", cfg.Families, res.Seeded.Round(time.Millisecond))
	}
	url := "http://" + a.HTTPAddr().String() + "/api/v1/positions/latest"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency}}
	lat := make([]time.Duration, cfg.Requests)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	begin := time.Now()
	for c := 0; c < cfg.Concurrency; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.Requests {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.Header.Set("Authorization", "Bearer "+tokens[rand.IntN(len(tokens))])
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					var body struct {
						Items []json.RawMessage `json:"items"`
					}
					err = json.NewDecoder(resp.Body).Decode(&body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != 200 || len(body.Items) != cfg.Watches) {
						err = fmt.Errorf("status %d with %d positions", resp.StatusCode, len(body.Items))
					}
				}
				lat[i] = time.Since(t0)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return res, firstErr
	}
	res.Elapsed, res.Requests, res.Latency = time.Since(begin), cfg.Requests, summarise(lat)
	return res, nil
}

// StreamConfig describes a fan-out run: watches send positions over TCP at a total rate, and each
// watch's guardian holds a live stream.
type StreamConfig struct {
	DatabaseURL string
	DataDir     string
	Watches     int
	Rate        int           // positions per second in all
	Duration    time.Duration // how long to send
	Log         io.Writer
}

// StreamResult is the latency from a position frame written by a watch to its message read from a
// guardian's WebSocket.
type StreamResult struct {
	Latency Latencies
	Sent    int
}

func (r StreamResult) String() string {
	return fmt.Sprintf("stream fan-out, frame in → WebSocket message out: %d positions: %v", r.Sent, r.Latency)
}

// Stream measures live fan-out latency end to end: TCP frame in, decode, batch commit, hub, and
// WebSocket frame out.
func Stream(ctx context.Context, cfg StreamConfig) (StreamResult, error) {
	a, err := startApp(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return StreamResult{}, err
	}
	defer a.Shutdown(context.Background())
	tokens, watches, err := seedFamilies(ctx, a.Store, cfg.Watches, 1, 0, "66")
	if err != nil {
		return StreamResult{}, err
	}
	total := int(float64(cfg.Rate) * cfg.Duration.Seconds())
	sent := make([]atomic.Int64, total) // unix nanos of the frame's write, by sequence number
	lat := make([]time.Duration, 0, total)
	var mu sync.Mutex
	received := make(chan struct{}, total)

	// Each guardian's stream: the latitude carries the sequence number.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	base := "ws://" + a.HTTPAddr().String() + "/api/v1/stream"
	var conns []*websocket.Conn
	for i := range watches {
		c, _, err := websocket.Dial(rctx, base, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tokens[i]}}})
		if err != nil {
			return StreamResult{}, err
		}
		conns = append(conns, c)
		go func() {
			for {
				_, msg, err := c.Read(rctx)
				if err != nil {
					return
				}
				now := time.Now()
				var m struct {
					Type string `json:"type"`
					Data struct {
						Lat float64 `json:"lat"`
					} `json:"data"`
				}
				if json.Unmarshal(msg, &m) != nil || m.Type != "position" {
					continue
				}
				seq := int(math.Round((m.Data.Lat - 10) * 1e5))
				if seq < 0 || seq >= total {
					continue
				}
				mu.Lock()
				lat = append(lat, now.Sub(time.Unix(0, sent[seq].Load())))
				mu.Unlock()
				received <- struct{}{}
			}
		}()
	}
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	// The watches: bound, connected, each answering its own LK first.
	type watch struct {
		id   string
		conn net.Conn
		mu   sync.Mutex
	}
	ws := make([]*watch, len(watches))
	for i, ids := range watches {
		conn, err := net.Dial("tcp", a.WatchAddr().String())
		if err != nil {
			return StreamResult{}, err
		}
		defer conn.Close()
		w := &watch{id: ids[0], conn: conn}
		ws[i] = w
		if _, err := conn.Write(watchproto.AppendFrame(nil, "SG", w.id, "", []byte("LK"))); err != nil {
			return StreamResult{}, err
		}
		go io.Copy(io.Discard, conn) // replies
	}
	time.Sleep(200 * time.Millisecond) // let the connections register
	tick := time.Second / time.Duration(cfg.Rate)
	next := time.Now()
	var buf []byte
	for seq := 0; seq < total; seq++ {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(tick)
		w := ws[seq%len(ws)]
		at := time.Now().UTC()
		content := "UD," + at.Format("020106") + "," + at.Format("150405") + ",A," +
			strconv.FormatFloat(10+float64(seq)*1e-5, 'f', 6, 64) + ",N,13.400000,E,0.00,0.0,0.0,9,100,80,120,0,00000000,0,0,262,1,,,00"
		buf = watchproto.AppendFrame(buf[:0], "SG", w.id, "", []byte(content))
		sent[seq].Store(time.Now().UnixNano())
		if _, err := w.conn.Write(buf); err != nil {
			return StreamResult{}, err
		}
	}
	deadline := time.After(10 * time.Second)
	for got := 0; got < total; got++ {
		select {
		case <-received:
		case <-deadline:
			return StreamResult{}, fmt.Errorf("only %d of %d positions reached the streams", got, total)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return StreamResult{Latency: summarise(lat), Sent: total}, nil
}
