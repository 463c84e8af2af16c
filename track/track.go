// Package track turns a watch's position history into what a map and a daily summary show: a
// simplified track, the stops along it, the distance travelled, per-day distance, places and steps,
// and GPX and GeoJSON exports.
//
// It is pure computation over points already in time order: it reads no store, keeps no state and
// knows no clock, so the history API decides what to query, cache and serve. It must not grow any
// I/O beyond the io.Writer its exports are handed.
package track

import (
	"math"
	"time"
)

// Point is one position of a watch.
type Point struct {
	Time     time.Time
	Lat, Lon float64
	Accuracy float64 // metres, 0 unknown
	Source   string  // "gps", "wifi", "cell", "last_known" (kinwatch.Source*)
	Steps    int64   // the watch's cumulative step counter at that time (0 unknown)
}

// Stop is a place where the watch stayed, from the first to the last point it reported there.
// Points counts them all; the centre and radius are those of its core, the points within half
// Options.StopRadius of their mean, so the points of arriving and leaving do not drag them.
type Stop struct {
	Lat, Lon, Radius float64
	Arrive, Leave    time.Time
	Points           int
}

// Track is a map-ready history.
type Track struct {
	// Points is the simplified track of the points that passed the filters (MaxAccuracy and
	// MaxSpeed in Options; last_known positions, old news, never pass), in time order, their first
	// and last kept. If none passed (a day of cell fixes only), it is the
	// simplified track of all points with valid coordinates, so a map still shows something.
	Points []Point
	Stops  []Stop
	// Distance in metres along the filtered original points, not the simplified line. Each stop
	// counts as one point at its centre, so a watch lying on a table for a day adds nothing.
	Distance float64
}

// Options tune Build and Days. A zero field takes its default.
type Options struct {
	MaxPoints       int           // upper bound on len(Points) (default 2000, at least 2); tolerance grows until it fits
	Tolerance       float64       // metres, starting Douglas-Peucker tolerance (default 10)
	StopRadius      float64       // default 100 m
	StopMinDuration time.Duration // default 5 min
	// MaxAccuracy: points less accurate than this are ignored for distance, stops and the track
	// (default 200 m, which drops cell fixes).
	MaxAccuracy float64
	// MaxSpeed in m/s: a point implying a faster move than this from the last kept one, beyond
	// both points' accuracy, is a jump and ignored (default 70 m/s). Three points in a row that
	// agree with each other but not with the last kept one are believed: the watch did move (or
	// the earlier point was the jump), and the leg across the gap is not counted.
	MaxSpeed float64
}

// Defaults, in the units of Options.
const (
	defaultMaxPoints       = 2000
	defaultTolerance       = 10
	defaultStopRadius      = 100
	defaultStopMinDuration = 5 * time.Minute
	defaultMaxAccuracy     = 200
	defaultMaxSpeed        = 70
)

// sourceLastKnown is kinwatch.SourceLastKnown: the watch repeated an old position, which says
// nothing about where it is now. (Not imported: this package depends on nothing of kinwatch.)
const sourceLastKnown = "last_known"

func (o Options) withDefaults() Options {
	if o.MaxPoints <= 0 {
		o.MaxPoints = defaultMaxPoints
	}
	o.MaxPoints = max(o.MaxPoints, 2)
	if !(o.Tolerance > 0) {
		o.Tolerance = defaultTolerance
	}
	if !(o.StopRadius > 0) {
		o.StopRadius = defaultStopRadius
	}
	if o.StopMinDuration <= 0 {
		o.StopMinDuration = defaultStopMinDuration
	}
	if !(o.MaxAccuracy > 0) {
		o.MaxAccuracy = defaultMaxAccuracy
	}
	if !(o.MaxSpeed > 0) {
		o.MaxSpeed = defaultMaxSpeed
	}
	return o
}

// Build filters pts (in time order), detects stops, measures the distance and simplifies the track
// to at most opt.MaxPoints points.
func Build(pts []Point, opt Options) Track {
	opt = opt.withDefaults()
	f := filter(pts, opt)
	spans := findStops(pts, f.idx, opt, nil)
	var t Track
	walk(pts, f, spans, func(_ int, d float64) { t.Distance += d })
	if len(spans) > 0 {
		t.Stops = make([]Stop, len(spans))
		for i, s := range spans {
			t.Stops[i] = s.Stop
		}
	}
	idx := f.idx
	if len(idx) == 0 {
		for i, p := range pts {
			if validCoords(p.Lat, p.Lon) {
				idx = append(idx, i)
			}
		}
	}
	t.Points = simplify(len(idx), func(i int) Point { return pts[idx[i]] }, opt.Tolerance, opt.MaxPoints)
	return t
}

const (
	earthRadius  = 6371008.8 // mean radius, metres
	rad          = math.Pi / 180
	metresPerDeg = earthRadius * rad
)

// Distance is the great-circle (haversine) distance in metres.
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	φ1, φ2 := lat1*rad, lat2*rad
	sφ := math.Sin((φ2 - φ1) / 2)
	sλ := math.Sin((lon2 - lon1) * rad / 2)
	a := sφ*sφ + math.Cos(φ1)*math.Cos(φ2)*sλ*sλ
	return 2 * earthRadius * math.Asin(math.Sqrt(min(a, 1)))
}

func validCoords(lat, lon float64) bool {
	return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180 // false for NaN too
}

// wrapLon brings a longitude difference into [-180, 180], so tracks across the antimeridian stay
// connected.
func wrapLon(d float64) float64 {
	if d > 180 {
		return d - 360
	}
	if d < -180 {
		return d + 360
	}
	return d
}
