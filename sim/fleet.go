package sim

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Fleet is a set of simulated watches sharing one Config and one set of statistics.
type Fleet struct {
	cfg     Config
	stats   *stats
	watches []*Watch
	dialers []net.Dialer
	started atomic.Bool
}

// ErrNoConnection is returned by Run when not a single watch could connect.
var ErrNoConnection = errors.New("sim: no watch could connect to the server")

// NewFleet validates cfg and creates its watches (not yet connected).
func NewFleet(cfg Config) (*Fleet, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	f := &Fleet{cfg: cfg, stats: newStats(time.Now())}
	// Watches never enable TCP keepalive: the vendor warns it disturbs the watch's own LK.
	if len(cfg.SourceIPs) == 0 {
		f.dialers = []net.Dialer{{Timeout: 10 * time.Second, KeepAlive: -1}}
	}
	for _, ip := range cfg.SourceIPs {
		f.dialers = append(f.dialers, net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: -1,
			LocalAddr: &net.TCPAddr{IP: ip.AsSlice()},
		})
	}
	ops := operatorsAt(cfg.Center)
	f.watches = make([]*Watch, cfg.Watches)
	for i := range f.watches {
		f.watches[i] = f.newWatch(i, ops)
	}
	return f, nil
}

// newWatch derives everything about watch i from the seed and i alone.
func (f *Fleet) newWatch(i int, ops []operator) *Watch {
	cfg := &f.cfg
	seed := cfg.Seed
	w := &Watch{
		f:    f,
		n:    i,
		id:   cfg.IDPrefix + pad6(i),
		mfr:  "3G",
		move: rand.New(rand.NewPCG(seed, uint64(i)<<1)),
		ev:   rand.New(rand.NewPCG(seed, uint64(i)<<1|1)),
	}
	traits := rand.New(rand.NewPCG(mix64(seed), uint64(i)))
	w.lte = traits.IntN(2) == 0
	weird := false
	if cfg.Mix {
		switch x := traits.IntN(20); {
		case x < 3:
			w.mfr = "SG"
		case x < 6:
			w.mfr, w.index = "ZJ", true
		case x < 8:
			weird = true
		}
	}
	w.op = ops[traits.IntN(len(ops))]
	w.iccid = "8988" + pad6(traits.IntN(1e6)) + pad6(traits.IntN(1e6)) + pad6(traits.IntN(1e6))[2:]
	w.battery = float64(40 + traits.IntN(61))
	w.drain = 3 + 5*traits.Float64()
	w.alt = float64(20 + hashInts(int64(cfg.Center.Lat*100), int64(cfg.Center.Lon*100))%80)
	_, w.day = w.localTime()
	if !cfg.Idle {
		w.rt = newRoute(w.move, cfg.Center, cfg.Spread, weird)
		// Children leave home at different times.
		w.rt.dwell = cfg.Dwell.Seconds() * w.move.Float64()
	}
	return w
}

func pad6(n int) string {
	s := strconv.Itoa(n)
	return "000000"[len(s):] + s
}

// Watches returns the fleet's watches in index order.
func (f *Fleet) Watches() []*Watch { return f.watches }

// Config returns the configuration with defaults applied.
func (f *Fleet) Config() Config { return f.cfg }

// Snapshot returns the statistics so far; safe to call while Run is running.
func (f *Fleet) Snapshot() Report {
	return f.stats.snapshot(time.Now(), len(f.watches))
}

// Run connects every watch (spread over Config.Ramp) and runs them until ctx ends or
// Config.Duration has passed, then closes every connection and returns the final report. A Fleet
// runs once.
func (f *Fleet) Run(ctx context.Context) (*Report, error) {
	if !f.started.CompareAndSwap(false, true) {
		return nil, errors.New("sim: a fleet runs only once")
	}
	if f.cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.cfg.Duration)
		defer cancel()
	}
	f.stats.start.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	n := len(f.watches)
	for i, w := range f.watches {
		delay := time.Duration(int64(f.cfg.Ramp) * int64(i) / int64(n))
		wg.Go(func() { w.run(ctx, delay) })
	}
	wg.Wait()
	r := f.Snapshot()
	r.Complete = true
	if r.Connects == 0 {
		return &r, ErrNoConnection
	}
	return &r, nil
}

// dial opens watch i's connection from its source address.
func (f *Fleet) dial(ctx context.Context, i int) (net.Conn, error) {
	d := &f.dialers[i%len(f.dialers)]
	return d.DialContext(ctx, "tcp", f.cfg.Server)
}

// Run creates a fleet from cfg and runs it: see Fleet.Run.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	f, err := NewFleet(cfg)
	if err != nil {
		return nil, err
	}
	return f.Run(ctx)
}
