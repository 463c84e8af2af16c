package kinwatch

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The day cache of history reads. A year of one-minute reports is half a million position rows;
// a history view of it reads one sealed row per UTC day instead (track_days), which the stores
// build as they read complete past days, and a nightly job for the days just completed.
//
// It must never serve what the positions no longer say. A change to a day's positions gives the
// day a new random generation (track_day_gen) under the row lock of the writing transaction, or
// deletes it with the day's last position, and deletes the day's cached row: triggers on
// positions for deletions and moves, whatever the path (a family's deletion, the retention job,
// unbinding, cancellation), and WriteBatch for late uploads (LateTrackDays). A build reads a day's
// generation before its positions (giving one first to a day with positions that has none), and
// stores the row only if the generation is still the same when it writes, in a transaction that
// takes that lock too (without waiting for it: a day being changed right now is not cached). So a
// change committed or still in flight during the build keeps its row out, and a change after it
// deletes the row; a row is served only while its generation is the day's, so one a change could
// not see to delete (a writer's older snapshot) is out of use too.

// LateTrackDay is a watch's day that a stored position changes after it may have been cached.
type LateTrackDay struct {
	DeviceID string
	Day      int64
}

// lateMargin is how long before its end a day counts as past for LateTrackDays: room for the
// clocks of several servers and for a batch in flight across midnight.
const lateMargin = 10 * time.Minute

// LateTrackDays returns the watches' days, in order (of device ids' bytes, then days), that the
// kept positions among recs change although they may be cached: those of a day before the
// current one, less lateMargin. WriteBatch renews their generations and deletes their cached rows
// in its transaction, with now taken just before (deletions and moves of positions do so in
// database triggers). The positions of the current day, the usual batch, need nothing: their day
// is not cached until it is past, and a build then reads its generation after they committed, so
// only a change after that must renew it. That holds while a batch commits within lateMargin of
// now, and the servers' clocks agree to within it. Nil, without allocating, when none is late.
func LateTrackDays(recs []Record, bound map[string]Bound, now time.Time) []LateTrackDay {
	current := TrackDay(now.Add(lateMargin))
	var late []LateTrackDay
	for i := range recs {
		if p := recs[i].Position; p != nil && Keeps(bound, &recs[i]) {
			if d := TrackDay(p.Time); d < current {
				late = append(late, LateTrackDay{p.DeviceID, d})
			}
		}
	}
	if len(late) < 2 {
		return late
	}
	slices.SortFunc(late, func(a, b LateTrackDay) int {
		if c := strings.Compare(a.DeviceID, b.DeviceID); c != 0 {
			return c
		}
		return cmp.Compare(a.Day, b.Day)
	})
	return slices.Compact(late)
}

// DayNanos is a UTC day in nanoseconds; day numbers count UTC days since 1970-01-01.
const DayNanos = int64(24 * time.Hour)

// TrackDay is the day number of t.
func TrackDay(t time.Time) int64 { return floorDiv(t.UnixNano(), DayNanos) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// TrackDayCache is what TrackCached needs of a store.
type TrackDayCache interface {
	// CachedDays returns the sealed rows of the device's days in [d0, d1] that are still of their
	// day's generation.
	CachedDays(ctx context.Context, deviceID string, d0, d1 int64) (map[int64][]byte, error)
	// DayGens returns the generation of each of the device's days in [d0, d1] that has one, first
	// giving one to each day with positions that has none (best effort: a day left without one is
	// not cached).
	DayGens(ctx context.Context, deviceID string, d0, d1 int64) (map[int64]int64, error)
	// TrackRange streams the device's positions with coordinates in [lo, hi) nanoseconds, oldest
	// first.
	TrackRange(ctx context.Context, owner, deviceID string, lo, hi int64, each func(p *TrackPoint) error) error
	// StoreDays stores built days, each only if it still has a generation and it is Gen.
	StoreDays(ctx context.Context, deviceID string, days []*BuiltDay) error
}

// BuiltDay is a day read from the positions, to be cached.
type BuiltDay struct {
	Day    int64
	Points int
	Gen    int64 // the day's generation, read before its positions were
	Sealed []byte
}

// MinCachedSpan is the shortest window read through the day cache: a shorter one is a few
// thousand rows at most.
const MinCachedSpan = 3 * 24 * time.Hour

// TrackSpan is what decides whether a read goes through the day cache: the window asked for when
// it has both ends (a history view of three days, the nightly job), else the time the positions
// in it span.
func TrackSpan(from, to time.Time, first, last int64) time.Duration {
	if !from.IsZero() && !to.IsZero() {
		return to.Sub(from)
	}
	return time.Duration(last - first)
}

// trackChunk is how many days TrackCached handles at once: it bounds what it holds (the cached
// rows read, the rows to write) to a quarter of sealed points (about 5 MB for one-minute
// reports), in few enough queries (a year is four; at 31 days, PostgreSQL took 40 % longer).
const trackChunk = 92

// TrackCached streams the positions with coordinates in [lo, hi) nanoseconds (first and last
// being the times of the first and last of them) through the day cache: a complete UTC day
// before today that lies inside the window is read from its cached row, or from the positions
// and then cached; the partial days at the ends and today are read from the positions.
func TrackCached(ctx context.Context, c TrackDayCache, keys keyring, owner, deviceID string, lo, hi, first, last int64, now time.Time,
	each func(*TrackPoint) error) error {
	today := TrackDay(now)
	full := func(d int64) bool { return d >= 0 && d*DayNanos >= lo && (d+1)*DayNanos <= hi && d < today }
	d0, d1 := floorDiv(first, DayNanos), floorDiv(last, DayNanos)
	for c0 := d0; c0 <= d1; c0 += trackChunk {
		c1 := min(c0+trackChunk-1, d1)
		if err := trackChunkCached(ctx, c, keys, owner, deviceID, max(lo, c0*DayNanos), min(hi, (c1+1)*DayNanos), c0, c1, full, each); err != nil {
			return err
		}
	}
	return nil
}

// trackChunkCached is TrackCached for the days [d0, d1], the window cut to them.
func trackChunkCached(ctx context.Context, c TrackDayCache, keys keyring, owner, deviceID string, lo, hi, d0, d1 int64, full func(int64) bool,
	each func(*TrackPoint) error) error {
	cached, err := c.CachedDays(ctx, deviceID, d0, d1)
	if err != nil {
		return err
	}
	usable := func(d int64) bool { return full(d) && cached[d] != nil }
	// The generations are read before any position, so that a change committed after this
	// moment, or in flight at it, makes StoreDays leave its day out.
	var gens map[int64]int64
	for d := d0; d <= d1; d++ {
		if full(d) && !usable(d) {
			if gens, err = c.DayGens(ctx, deviceID, d0, d1); err != nil {
				return err
			}
			break
		}
	}
	var (
		built []*BuiltDay
		p     TrackPoint
		skip  = map[int64]bool{} // days not to cache this time
	)
	for d := d0; d <= d1; {
		if usable(d) {
			pts, err := openTrackDay(ctx, keys, owner, deviceID, d, cached[d])
			if err == nil {
				for i := range pts {
					if err := each(&pts[i]); err != nil {
						return err
					}
				}
				d++
				continue
			}
			// A row that does not open (a key rotated away) is read from the positions again,
			// and cached anew: the generations are read now if they were not (the days already
			// read without them are not cached).
			delete(cached, d)
			if gens == nil {
				if gens, err = c.DayGens(ctx, deviceID, d0, d1); err != nil {
					return err
				}
				for x := d0; x < d; x++ {
					skip[x] = true
				}
			}
		}
		// A run of days to read from the positions: up to the next usable cached day.
		end := d + 1
		for end <= d1 && !usable(end) {
			end++
		}
		var (
			cur     []TrackPoint
			curD    = d
			unknown bool // a source the encoding does not know: not cached, so nothing is lost
		)
		flush := func() error {
			if !full(curD) || len(cur) == 0 || unknown || gens == nil || skip[curD] {
				return nil
			}
			gen, ok := gens[curD]
			if !ok {
				return nil // its positions came after the generations were read
			}
			sealed, err := keys.Seal(ctx, owner, trackDayAAD(deviceID, curD), encodeTrackDay(cur))
			if err != nil {
				return err
			}
			built = append(built, &BuiltDay{Day: curD, Points: len(cur), Gen: gen, Sealed: sealed})
			return nil
		}
		err := c.TrackRange(ctx, owner, deviceID, max(lo, d*DayNanos), min(hi, end*DayNanos), func(q *TrackPoint) error {
			if day := TrackDay(q.Time); day != curD {
				if err := flush(); err != nil {
					return err
				}
				cur, curD, unknown = cur[:0], day, false
			}
			if full(curD) {
				cur = append(cur, *q)
				unknown = unknown || trackSource(q.Source) < 0
			}
			p = *q
			return each(&p)
		})
		if err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
		d = end
	}
	if len(built) > 0 {
		// Best effort, and bounded: a day not cached now is built again next time.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = c.StoreDays(sctx, deviceID, built)
	}
	return nil
}

// WarmTrackDays reads the complete days of every bound watch in the span ending at today's
// midnight UTC, so that the day cache holds them before anyone asks: a long history view then
// reads the cache the first time too. The nightly job reads MinCachedSpan (the days just
// completed); after an upgrade, `kinwatch admin warm-history` reads the history kept. It waits
// pace between watches (the ingest and the API come first), tells failed of a watch whose read
// failed, and returns how many watches it read. First it prunes the cache of rows no longer of
// their day.
func WarmTrackDays(ctx context.Context, s interface {
	DeviceStore
	PositionStore
}, now time.Time, span, pace time.Duration, failed func(deviceID string, err error)) (int, error) {
	if _, err := s.PruneTrackDays(ctx); err != nil {
		return 0, err
	}
	to := time.Unix(0, TrackDay(now)*DayNanos).UTC()
	from := to.Add(-max(span, MinCachedSpan))
	const page = 500
	n := 0
	for after := ""; ; {
		ds, err := s.Devices(ctx, DeviceFilter{State: DeviceBound, After: after, Limit: page})
		if err != nil {
			return n, err
		}
		for _, d := range ds {
			if err := s.Track(ctx, d.ID, from, to, func(*TrackPoint) error { return nil }); err != nil {
				if ctx.Err() != nil {
					return n, ctx.Err()
				}
				failed(d.ID, err)
			} else {
				n++
			}
			if pace > 0 {
				select {
				case <-ctx.Done():
					return n, ctx.Err()
				case <-time.After(pace):
				}
			}
		}
		if len(ds) < page {
			return n, nil
		}
		after = ds[len(ds)-1].ID
	}
}

func trackDayAAD(deviceID string, day int64) []byte {
	return []byte("track_days:" + deviceID + ":" + strconv.FormatInt(day, 10))
}

func openTrackDay(ctx context.Context, keys keyring, owner, deviceID string, day int64, sealed []byte) ([]TrackPoint, error) {
	plain, err := keys.Open(ctx, owner, trackDayAAD(deviceID, day), sealed)
	if err != nil {
		return nil, err
	}
	return decodeTrackDay(plain)
}

// trackPointSize is one encoded point: time, lat, lon, accuracy, steps, source.
const trackPointSize = 8*5 + 1

var trackSources = [...]string{SourceNone, SourceGPS, SourceWiFi, SourceCell, SourceLastKnown}

// trackSource is the code of a source, -1 for one the encoding does not know.
func trackSource(s string) int {
	for i, t := range trackSources {
		if t == s {
			return i
		}
	}
	return -1
}

func encodeTrackDay(pts []TrackPoint) []byte {
	b := make([]byte, 1, 1+len(pts)*trackPointSize)
	b[0] = 1 // layout version
	for i := range pts {
		p := &pts[i]
		b = binary.LittleEndian.AppendUint64(b, uint64(p.Time.UnixNano()))
		for _, f := range [3]float64{p.Lat, p.Lon, p.Accuracy} {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
		}
		b = binary.LittleEndian.AppendUint64(b, uint64(p.Steps))
		b = append(b, byte(max(0, trackSource(p.Source))))
	}
	return b
}

var errTrackDayLayout = errors.New("track day: unknown layout")

func decodeTrackDay(b []byte) ([]TrackPoint, error) {
	if len(b) < 1 || b[0] != 1 || (len(b)-1)%trackPointSize != 0 {
		return nil, errTrackDayLayout
	}
	b = b[1:]
	pts := make([]TrackPoint, len(b)/trackPointSize)
	for i := range pts {
		r := b[i*trackPointSize:]
		u := func(k int) uint64 { return binary.LittleEndian.Uint64(r[8*k:]) }
		src := int(r[40])
		if src >= len(trackSources) {
			return nil, errTrackDayLayout
		}
		pts[i] = TrackPoint{Time: time.Unix(0, int64(u(0))).UTC(), Lat: math.Float64frombits(u(1)), Lon: math.Float64frombits(u(2)),
			Accuracy: math.Float64frombits(u(3)), Steps: int64(u(4)), Source: trackSources[src]}
	}
	return pts, nil
}
