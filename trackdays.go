package kinwatch

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"time"
)

// The day cache of history reads. A year of one-minute reports is half a million position rows;
// a history view of it reads one sealed row per UTC day instead (track_days), which the stores
// build as they read complete past days. Triggers on positions delete a day's row whenever a
// position of that day is written, changed or deleted (a late upload, a family's deletion, the
// retention job, unbinding), so the cache never holds what the positions no longer do, and
// every path that deletes location data deletes it there too. A day's row is stored only if the
// day still has the positions it was built from (their count and newest time, taken before the
// day was read and checked again in the writing statement, both from the index), so a position
// stored meanwhile is not left out.

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
	// CachedDays returns the sealed rows of the device's days in [d0, d1].
	CachedDays(ctx context.Context, deviceID string, d0, d1 int64) (map[int64][]byte, error)
	// TrackRange streams the device's positions with coordinates in [lo, hi) nanoseconds, oldest
	// first.
	TrackRange(ctx context.Context, owner, deviceID string, lo, hi int64, each func(p *TrackPoint) error) error
	// DayStamps returns, for each UTC day with positions in [lo, hi) nanoseconds, how many it
	// has (with coordinates or not) and the newest one's time in nanoseconds.
	DayStamps(ctx context.Context, deviceID string, lo, hi int64) (map[int64]DayStamp, error)
	// StoreDays stores built days, each only if the day's stamp is still the one given.
	StoreDays(ctx context.Context, deviceID string, days []*BuiltDay) error
	Open(ctx context.Context, owner string, aad, sealed []byte) ([]byte, error)
	Seal(ctx context.Context, owner string, aad, plaintext []byte) ([]byte, error)
}

// DayStamp identifies what a day's positions were: how many, and the newest one's time.
type DayStamp struct {
	Count int
	Last  int64
}

// BuiltDay is a day read from the positions, to be cached.
type BuiltDay struct {
	Day    int64
	Points int      // with coordinates: what the row holds
	Stamp  DayStamp // of all the day's positions, taken before it was read
	Sealed []byte
}

// MinCachedSpan is the shortest window read through the day cache: a shorter one is a few
// thousand rows at most.
const MinCachedSpan = 3 * 24 * time.Hour

// TrackCached streams the positions with coordinates in [lo, hi) nanoseconds (first and last
// being the times of the first and last of them) through the day cache: a complete UTC day
// before today that lies inside the window is read from its cached row, or from the positions
// and then cached; the partial days at the ends and today are read from the positions.
func TrackCached(ctx context.Context, c TrackDayCache, owner, deviceID string, lo, hi, first, last int64, now time.Time,
	each func(*TrackPoint) error) error {
	today := TrackDay(now)
	d0, d1 := floorDiv(first, DayNanos), floorDiv(last, DayNanos)
	cached, err := c.CachedDays(ctx, deviceID, d0, d1)
	if err != nil {
		return err
	}
	full := func(d int64) bool { return d*DayNanos >= lo && (d+1)*DayNanos <= hi && d < today }
	var built []*BuiltDay
	var p TrackPoint
	for d := d0; d <= d1; {
		if full(d) && cached[d] != nil {
			pts, err := openTrackDay(ctx, c, owner, deviceID, d, cached[d])
			if err == nil {
				for i := range pts {
					if err := each(&pts[i]); err != nil {
						return err
					}
				}
				d++
				continue
			}
			// A row that does not open (a key rotated away) is read from the positions again.
			delete(cached, d)
		}
		// A run of days to read from the positions: up to the next cached day.
		end := d + 1
		for end <= d1 && !(full(end) && cached[end] != nil) {
			end++
		}
		var (
			cur    []TrackPoint
			curD   = d
			stamps map[int64]DayStamp
		)
		for x := d; x < end; x++ {
			if full(x) { // some day of the run will be cached: take the stamps before reading
				if stamps, err = c.DayStamps(ctx, deviceID, d*DayNanos, end*DayNanos); err != nil {
					return err
				}
				break
			}
		}
		flush := func() error {
			stamp, ok := stamps[curD]
			if !full(curD) || len(cur) == 0 || !ok {
				return nil
			}
			sealed, err := c.Seal(ctx, owner, trackDayAAD(deviceID, curD), encodeTrackDay(cur))
			if err != nil {
				return err
			}
			built = append(built, &BuiltDay{Day: curD, Points: len(cur), Stamp: stamp, Sealed: sealed})
			return nil
		}
		err := c.TrackRange(ctx, owner, deviceID, max(lo, d*DayNanos), min(hi, end*DayNanos), func(q *TrackPoint) error {
			if day := TrackDay(q.Time); day != curD {
				if err := flush(); err != nil {
					return err
				}
				cur, curD = cur[:0], day
			}
			if full(curD) {
				cur = append(cur, *q)
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
		// Best effort: a cache that could not be written is built again next time.
		_ = c.StoreDays(context.WithoutCancel(ctx), deviceID, built)
	}
	return nil
}

func trackDayAAD(deviceID string, day int64) []byte {
	return []byte("track_days:" + deviceID + ":" + strconv.FormatInt(day, 10))
}

func openTrackDay(ctx context.Context, c TrackDayCache, owner, deviceID string, day int64, sealed []byte) ([]TrackPoint, error) {
	plain, err := c.Open(ctx, owner, trackDayAAD(deviceID, day), sealed)
	if err != nil {
		return nil, err
	}
	return decodeTrackDay(plain)
}

// trackPointSize is one encoded point: time, lat, lon, accuracy, steps, source.
const trackPointSize = 8*5 + 1

var trackSources = [...]string{SourceNone, SourceGPS, SourceWiFi, SourceCell, SourceLastKnown}

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
		src := byte(0)
		for j, s := range trackSources {
			if s == p.Source {
				src = byte(j)
			}
		}
		b = append(b, src)
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
