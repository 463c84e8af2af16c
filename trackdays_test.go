package kinwatch

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// memDays is a TrackDayCache over a slice of points, which records what TrackCached asks.
type memDays struct {
	pts    []TrackPoint
	rows   map[int64][]byte
	gens   map[int64]int64
	calls  []string
	stored []*BuiltDay
	// during, if set, runs while TrackRange reads (a change committed meanwhile).
	during func()
}

func (m *memDays) CachedDays(ctx context.Context, deviceID string, d0, d1 int64) (map[int64][]byte, error) {
	m.calls = append(m.calls, "cached")
	out := map[int64][]byte{}
	for d, b := range m.rows {
		if d >= d0 && d <= d1 {
			out[d] = b
		}
	}
	return out, nil
}

func (m *memDays) DayGens(ctx context.Context, deviceID string, d0, d1 int64) (map[int64]int64, error) {
	m.calls = append(m.calls, "gens")
	out := map[int64]int64{}
	for d, g := range m.gens {
		if d >= d0 && d <= d1 {
			out[d] = g
		}
	}
	return out, nil
}

func (m *memDays) TrackRange(ctx context.Context, owner, deviceID string, lo, hi int64, each func(*TrackPoint) error) error {
	m.calls = append(m.calls, "range")
	if m.during != nil {
		m.during()
		m.during = nil
	}
	for i := range m.pts {
		if t := m.pts[i].Time.UnixNano(); t >= lo && t < hi {
			if err := each(&m.pts[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *memDays) StoreDays(ctx context.Context, deviceID string, days []*BuiltDay) error {
	for _, d := range days {
		if g, ok := m.gens[d.Day]; ok && g == d.Gen { // what the stores check
			m.rows[d.Day] = d.Sealed
			m.stored = append(m.stored, d)
		}
	}
	return nil
}

// memKeys seals by prefixing the additional data, so a row sealed for another day does not open.
type memKeys struct{}

func (m *memKeys) Open(ctx context.Context, owner string, aad, sealed []byte) ([]byte, error) {
	if !bytes.HasPrefix(sealed, aad) {
		return nil, errors.New("does not open")
	}
	return sealed[len(aad):], nil
}

func (m *memKeys) Seal(ctx context.Context, owner string, aad, plain []byte) ([]byte, error) {
	return append(slices.Clone(aad), plain...), nil
}

func TestTrackCached(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	start := now.Truncate(24 * time.Hour).Add(-100 * 24 * time.Hour) // 100 past days: two chunks
	m := &memDays{rows: map[int64][]byte{}, gens: map[int64]int64{}}
	for i := range 100*24 + 10 {
		at := start.Add(time.Duration(i) * time.Hour)
		src := SourceGPS
		if i == 5*24+3 {
			src = "radar" // an unknown source: its day is read, never cached
		}
		m.pts = append(m.pts, TrackPoint{Time: at, Lat: float64(i), Lon: 1, Accuracy: 5, Source: src, Steps: int64(i)})
		m.gens[TrackDay(at)] = 1 // every day with positions has a generation
	}
	d0 := TrackDay(start)
	m.gens[d0+7] = 77
	delete(m.gens, d0+11)                   // a day without one (its generation deleted) is not cached
	m.during = func() { m.gens[d0+9] = 99 } // day 9 changes while it is read
	read := func(from, to time.Time) []TrackPoint {
		var got []TrackPoint
		lo, hi := int64(-1<<63), int64(1<<63-1)
		if !from.IsZero() {
			lo = from.UnixNano()
		}
		if !to.IsZero() {
			hi = to.UnixNano()
		}
		first, last := m.pts[0].Time.UnixNano(), m.pts[len(m.pts)-1].Time.UnixNano()
		if err := TrackCached(t.Context(), m, &memKeys{}, "family:f", "w1", lo, hi, first, last, now, func(p *TrackPoint) error {
			got = append(got, *p)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := read(time.Time{}, time.Time{})
	if len(got) != len(m.pts) || !slices.EqualFunc(got, m.pts, func(a, b TrackPoint) bool { return a == b }) {
		t.Fatalf("first read: %d points, want %d, the same", len(got), len(m.pts))
	}
	if i := slices.Index(m.calls, "gens"); i < 0 || i > slices.Index(m.calls, "range") {
		t.Errorf("the generations were not read before the positions: %v", m.calls)
	}
	// Cached: every past day but the one with an unknown source, the one changed while read and
	// the one without a generation; today never.
	for d := d0; d < d0+100; d++ {
		_, ok := m.rows[d]
		if want := d != d0+5 && d != d0+9 && d != d0+11; ok != want {
			t.Errorf("day %d cached: %v, want %v", d-d0, ok, want)
		}
	}
	if _, ok := m.rows[TrackDay(now)]; ok {
		t.Error("today was cached")
	}
	for _, b := range m.stored {
		if b.Day == d0+7 && b.Gen != 77 {
			t.Errorf("day 7 stored with generation %d, want 77", b.Gen)
		}
	}
	// From the cache, the same points.
	m.calls = nil
	got = read(time.Time{}, time.Time{})
	if !slices.EqualFunc(got, m.pts, func(a, b TrackPoint) bool { return a == b }) {
		t.Fatal("second read differs")
	}
	// A row that does not open (its key rotated away) is read from the positions, and cached anew.
	m.rows[d0+12] = []byte("sealed with a key gone")
	if got = read(time.Time{}, time.Time{}); !slices.EqualFunc(got, m.pts, func(a, b TrackPoint) bool { return a == b }) {
		t.Fatal("read with a row that does not open differs")
	}
	if _, err := (&memKeys{}).Open(t.Context(), "", trackDayAAD("w1", d0+12), m.rows[d0+12]); err != nil {
		t.Error("the row that did not open was not cached anew")
	}
	// A window that starts and ends mid-day caches neither end.
	m.rows = map[int64][]byte{}
	from, to := start.Add(2*24*time.Hour+5*time.Hour), start.Add(12*24*time.Hour+7*time.Hour)
	got = read(from, to)
	if got[0].Time != from || got[len(got)-1].Time != to.Add(-time.Hour) {
		t.Errorf("window read from %s to %s", got[0].Time, got[len(got)-1].Time)
	}
	if _, ok := m.rows[d0+2]; ok {
		t.Error("the partial first day was cached")
	}
	if _, ok := m.rows[d0+12]; ok {
		t.Error("the partial last day was cached")
	}
	if _, ok := m.rows[d0+3]; !ok {
		t.Error("a complete day inside the window was not cached")
	}
}

// The encoding keeps every field of a point.
func TestTrackDayEncoding(t *testing.T) {
	pts := []TrackPoint{
		{Time: time.Unix(0, 1_700_000_000_123_456_789).UTC(), Lat: -33.8688, Lon: 151.2093, Accuracy: 12.5, Source: SourceWiFi, Steps: 12345},
		{Time: time.Unix(1_700_000_100, 0).UTC(), Lat: 0.000001, Lon: -179.999999, Source: SourceNone, Steps: -1},
	}
	got, err := decodeTrackDay(encodeTrackDay(pts))
	if err != nil || !slices.Equal(got, pts) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, {2}, {1, 0}, append(encodeTrackDay(pts[:1])[:41], 9)} {
		if _, err := decodeTrackDay(bad); err == nil {
			t.Errorf("decodeTrackDay(% x) = nil error", bad)
		}
	}
}

// LateTrackDays: kept positions of a past day, each watch's day once and in order; none of the
// current day until its last ten minutes.
func TestLateTrackDays(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	pos := func(dev string, at time.Time) Record { return Record{Position: &Position{DeviceID: dev, Time: at}} }
	recs := []Record{
		pos("w2", now.Add(-25*time.Hour)), pos("w1", now), {Event: &Event{DeviceID: "w1", Time: now.Add(-48 * time.Hour)}},
		pos("w1", now.Add(-13*time.Hour)), pos("w2", now.Add(-25*time.Hour+time.Minute)), pos("w1", now.Add(-30*24*time.Hour)),
	}
	recs = append(recs, pos("w3", now.Add(-48*time.Hour))) // not kept: not bound
	all := PurposeService.Bit() | PurposeLocation.Bit()
	bound := map[string]Bound{"w1": {Consent: all}, "w2": {Consent: all}}
	today := TrackDay(now)
	want := []LateTrackDay{{"w1", today - 30}, {"w1", today - 1}, {"w2", today - 1}}
	if got := LateTrackDays(recs, bound, now); !slices.Equal(got, want) {
		t.Errorf("LateTrackDays = %v, want %v", got, want)
	}
	if got := LateTrackDays(recs[1:2], bound, now); got != nil {
		t.Errorf("the current day's position: %v", got)
	}
	end := now.Truncate(24 * time.Hour).Add(24*time.Hour - 5*time.Minute)
	if got := LateTrackDays([]Record{pos("w1", end.Add(-time.Hour))}, bound, end); len(got) != 1 {
		t.Errorf("five minutes before midnight, a position of the day: %v, want it late", got)
	}
	if n := testing.AllocsPerRun(100, func() { LateTrackDays(recs[1:2], bound, now) }); n != 0 {
		t.Errorf("the usual batch allocates %v times", n)
	}
}
