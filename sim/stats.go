package sim

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// histogram records durations in log-linear buckets (8 per power of two of microseconds, so a
// reported percentile is within ~12 % of the truth) with atomic counters: every watch goroutine
// records into it without a lock.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Int64
}

const (
	histSub     = 8
	histBuckets = 40 * histSub
)

func histIndex(us uint64) int {
	if us < histSub {
		return int(us)
	}
	exp := bits.Len64(us) - 1 // us >= 8, so exp >= 3
	sub := int(us>>(exp-3)) & (histSub - 1)
	i := (exp-2)*histSub + sub
	return min(i, histBuckets-1)
}

// histUpper is the largest value in bucket i, in microseconds.
func histUpper(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	exp := i/histSub + 2
	sub := uint64(i % histSub)
	return (histSub+sub+1)<<(exp-3) - 1
}

func (h *histogram) record(d time.Duration) {
	us := max(d.Microseconds(), 0)
	h.counts[histIndex(uint64(us))].Add(1)
	storeMax(&h.max, int64(d))
}

// storeMax raises a to v unless it is already at least v.
func storeMax(a *atomic.Int64, v int64) {
	for {
		m := a.Load()
		if v <= m || a.CompareAndSwap(m, v) {
			return
		}
	}
}

// Latency summarises reply latencies.
type Latency struct {
	Count uint64        `json:"count"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
}

func (h *histogram) summary() Latency {
	var counts [histBuckets]uint64
	var n uint64
	for i := range counts {
		counts[i] = h.counts[i].Load()
		n += counts[i]
	}
	l := Latency{Count: n, Max: time.Duration(h.max.Load())}
	if n == 0 {
		return l
	}
	q := func(p float64) time.Duration {
		rank := uint64(p*float64(n)) + 1
		var c uint64
		for i, k := range counts {
			c += k
			if c >= rank {
				return min(time.Duration(histUpper(i))*time.Microsecond, l.Max)
			}
		}
		return l.Max
	}
	l.P50, l.P90, l.P99 = q(0.50), q(0.90), q(0.99)
	return l
}

// byKey holds one T per keyword. Keywords come from a small set (frame types, command keywords),
// so the map stops growing quickly; after that only the read lock is taken.
type byKey[T any] struct {
	mu sync.RWMutex
	m  map[string]*T
}

func (b *byKey[T]) get(key string) *T {
	b.mu.RLock()
	v := b.m[key]
	b.mu.RUnlock()
	if v != nil {
		return v
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if v = b.m[key]; v == nil {
		if b.m == nil {
			b.m = make(map[string]*T)
		}
		v = new(T)
		b.m[key] = v
	}
	return v
}

// each calls fn for every keyword so far.
func (b *byKey[T]) each(fn func(key string, v *T)) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for k, v := range b.m {
		fn(k, v)
	}
}

// counterSet counts by keyword.
type counterSet struct{ byKey[atomic.Uint64] }

func (c *counterSet) add(key string, n uint64) { c.get(key).Add(n) }

func (c *counterSet) snapshot() map[string]uint64 {
	out := make(map[string]uint64)
	c.each(func(k string, v *atomic.Uint64) { out[k] = v.Load() })
	return out
}

// latencySet keeps one histogram per awaited reply keyword plus one over all of them.
type latencySet struct {
	all histogram
	by  byKey[histogram]
}

func (l *latencySet) record(key string, d time.Duration) {
	l.all.record(d)
	l.by.get(key).record(d)
}

// stats are the live counters of a fleet, updated by every watch goroutine without a lock.
type stats struct {
	start atomic.Int64 // unix nanoseconds: Run resets it while a reporter may already be reading

	connected      atomic.Int64
	maxConnected   atomic.Int64
	connects       atomic.Uint64
	connectFails   atomic.Uint64
	disconnects    atomic.Uint64
	handshakes     atomic.Uint64
	lkRetries      atomic.Uint64
	reboots        atomic.Uint64
	positions      atomic.Uint64
	alarms         atomic.Uint64
	alarmResends   atomic.Uint64
	alarmsUnacked  atomic.Uint64
	voices         atomic.Uint64
	photos         atomic.Uint64
	framesSent     atomic.Uint64
	bytesSent      atomic.Uint64
	framesReceived atomic.Uint64
	bytesReceived  atomic.Uint64
	badFrames      atomic.Uint64
	poweredOff     atomic.Int64

	sent     counterSet
	replies  counterSet
	commands counterSet
	acked    counterSet
	latency  latencySet
}

func newStats(now time.Time) *stats {
	s := new(stats)
	s.start.Store(now.UnixNano())
	return s
}

func (s *stats) connUp() {
	s.connects.Add(1)
	storeMax(&s.maxConnected, s.connected.Add(1))
}

func (s *stats) connDown() {
	s.connected.Add(-1)
	s.disconnects.Add(1)
}

func (s *stats) frameSent(typ string, n int) {
	s.framesSent.Add(1)
	s.bytesSent.Add(uint64(n))
	s.sent.add(typ, 1)
}

// Report is a snapshot of a fleet's counters; the final one is returned by Run.
type Report struct {
	Watches  int           `json:"watches"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Complete bool          `json:"complete"` // the run ended (false in periodic snapshots)

	Connected       int64  `json:"connected"`     // connections open now
	MaxConnected    int64  `json:"max_connected"` // most connections open at once
	Connects        uint64 `json:"connects"`      // TCP connections established
	ConnectFailures uint64 `json:"connect_failures"`
	Disconnects     uint64 `json:"disconnects"`
	Handshakes      uint64 `json:"handshakes"`  // connections whose first LK was answered
	LKRetries       uint64 `json:"lk_retries"`  // LKs resent because the reply was late
	Reboots         uint64 `json:"reboots"`     // reconnects after five unanswered LKs, as firmware does
	PoweredOff      int64  `json:"powered_off"` // watches switched off by POWEROFF

	FramesSent     uint64            `json:"frames_sent"`
	BytesSent      uint64            `json:"bytes_sent"`
	SentByType     map[string]uint64 `json:"sent_by_type"`
	Positions      uint64            `json:"positions"` // UD*, AL* and CR-burst location reports
	Alarms         uint64            `json:"alarms"`    // distinct alarms raised (not counting resends)
	AlarmResends   uint64            `json:"alarm_resends"`
	AlarmsUnacked  uint64            `json:"alarms_unacked"` // alarms given up on after the last resend
	Voices         uint64            `json:"voice_messages"`
	Photos         uint64            `json:"photos"`
	FramesReceived uint64            `json:"frames_received"`
	BytesReceived  uint64            `json:"bytes_received"`
	BadFrames      uint64            `json:"bad_frames"` // downlink frames that did not decode
	Replies        map[string]uint64 `json:"replies"`    // server answers to what the watches sent
	Commands       map[string]uint64 `json:"commands"`   // server commands received, by keyword
	Acked          map[string]uint64 `json:"acked"`      // commands the watches answered, by keyword

	MessagesPerSecond float64            `json:"messages_per_second"` // frames sent per second over the run
	Latency           Latency            `json:"latency"`             // all awaited replies
	LatencyByType     map[string]Latency `json:"latency_by_type"`
}

// snapshot returns the counters now.
func (s *stats) snapshot(now time.Time, watches int) Report {
	r := Report{
		Watches:         watches,
		Elapsed:         now.Sub(time.Unix(0, s.start.Load())),
		Connected:       s.connected.Load(),
		MaxConnected:    s.maxConnected.Load(),
		Connects:        s.connects.Load(),
		ConnectFailures: s.connectFails.Load(),
		Disconnects:     s.disconnects.Load(),
		Handshakes:      s.handshakes.Load(),
		LKRetries:       s.lkRetries.Load(),
		Reboots:         s.reboots.Load(),
		PoweredOff:      s.poweredOff.Load(),
		FramesSent:      s.framesSent.Load(),
		BytesSent:       s.bytesSent.Load(),
		SentByType:      s.sent.snapshot(),
		Positions:       s.positions.Load(),
		Alarms:          s.alarms.Load(),
		AlarmResends:    s.alarmResends.Load(),
		AlarmsUnacked:   s.alarmsUnacked.Load(),
		Voices:          s.voices.Load(),
		Photos:          s.photos.Load(),
		FramesReceived:  s.framesReceived.Load(),
		BytesReceived:   s.bytesReceived.Load(),
		BadFrames:       s.badFrames.Load(),
		Replies:         s.replies.snapshot(),
		Commands:        s.commands.snapshot(),
		Acked:           s.acked.snapshot(),
		Latency:         s.latency.all.summary(),
		LatencyByType:   map[string]Latency{},
	}
	if sec := r.Elapsed.Seconds(); sec > 0 {
		r.MessagesPerSecond = float64(r.FramesSent) / sec
	}
	s.latency.by.each(func(k string, h *histogram) { r.LatencyByType[k] = h.summary() })
	return r
}
