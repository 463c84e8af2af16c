package geo

import (
	"math"
	"slices"
)

// Observation is one landmark heard: where it is, how far its own position may be off or how far
// it reaches (Radius, metres), and how strongly it was heard (Signal, dBm, negative; 0 = unknown).
type Observation struct {
	Lat, Lon float64
	Radius   float64
	Signal   int
}

// outlierMinDistance is the least distance from the consensus beyond which an observation may be
// rejected: two access points heard at once can be a couple of hundred metres apart outdoors, so
// nothing closer is evidence of a moved one.
const outlierMinDistance = 200.0 // metres

// maxRadius is half the Earth's circumference: no landmark is vaguer than "somewhere on Earth".
const maxRadius = 20_015_000.0 // metres

// Estimate places a watch among the landmarks it heard.
//
// The position is the mean of the observations weighted by signal (see weight: ∝ 1/distance under
// free-space loss). Observations farther from the median point than max(3 × the median distance
// to it, 200 m) plus their own radius are dropped first: an access point that moved house or a
// mislocated tower would otherwise drag the fix kilometres away. A rejection that would leave no
// majority is not made, because then the data disagrees and the honest answer is a wide circle,
// not a guess at which side is right.
//
// The accuracy is the weighted root mean square, over the kept observations, of their distance to
// the estimate combined with their own radius, sqrt(Σw(d²+r²)/Σw): the spread of the landmarks and
// the uncertainty of each. It does not shrink with the number of observations, because landmarks
// share their bias (a watch at the edge of a building hears the building's access points all on
// one side). It is never below MinAccuracy. A single observation gives its own position and radius.
//
// ok is false when no observation has usable coordinates.
func Estimate(obs []Observation) (lat, lon, accuracy float64, ok bool) {
	var small [16]point
	pts := small[:0]
	if len(obs) > len(small) {
		pts = make([]point, 0, len(obs))
	}
	for _, o := range obs {
		if !validCoords(o.Lat, o.Lon) {
			continue
		}
		r := o.Radius
		if !(r >= 0) || math.IsInf(r, 0) { // negative, NaN or infinite: unknown
			r = 0
		}
		r = min(r, maxRadius)
		pts = append(pts, point{lat: o.Lat, lon: o.Lon, r: r, w: weight(o.Signal)})
	}
	switch len(pts) {
	case 0:
		return 0, 0, 0, false
	case 1:
		return pts[0].lat, pts[0].lon, max(pts[0].r, MinAccuracy), true
	}

	// The median, per coordinate, with longitudes taken relative to the first point so that a
	// cluster across the antimeridian stays together. By count, not weight: a strong signal says
	// the watch is near that landmark, not that the landmark's recorded position is right, and a
	// router that moved along with its family is heard strongest of all.
	var smallV [16]float64
	vs := smallV[:0]
	if len(pts) > len(smallV) {
		vs = make([]float64, 0, len(pts))
	}
	for _, p := range pts {
		vs = append(vs, p.lat)
	}
	mlat := median(vs)
	vs = vs[:0]
	lon0 := pts[0].lon
	for _, p := range pts {
		vs = append(vs, wrapLon(p.lon-lon0))
	}
	mlon := wrapLon(lon0 + median(vs))

	// Local plane around the median: metres east (x) and north (y). Equirectangular is exact to
	// well under 1 % over the tens of kilometres that cells span.
	const k = earthRadius * math.Pi / 180
	cosLat := max(math.Cos(mlat*math.Pi/180), 1e-6)
	vs = vs[:0]
	for i := range pts {
		p := &pts[i]
		p.x = wrapLon(p.lon-mlon) * k * cosLat
		p.y = (p.lat - mlat) * k
		p.d = math.Hypot(p.x, p.y)
		vs = append(vs, p.d)
	}
	spread := median(vs)
	limit := max(3*spread, outlierMinDistance)
	kept := 0
	for i := range pts {
		pts[i].keep = pts[i].d <= limit+pts[i].r
		if pts[i].keep {
			kept++
		}
	}
	if 2*kept <= len(pts) {
		for i := range pts {
			pts[i].keep = true
		}
	}

	var sw, sx, sy float64
	for _, p := range pts {
		if p.keep {
			sw += p.w
			sx += p.w * p.x
			sy += p.w * p.y
		}
	}
	ex, ey := sx/sw, sy/sw
	var ss float64
	for _, p := range pts {
		if p.keep {
			dx, dy := p.x-ex, p.y-ey
			ss += p.w * (dx*dx + dy*dy + p.r*p.r)
		}
	}
	accuracy = max(math.Sqrt(ss/sw), MinAccuracy)
	lat = max(-90, min(90, mlat+ey/k))
	lon = wrapLon(mlon + ex/(k*cosLat))
	return lat, lon, accuracy, true
}

// point is an observation being estimated: degrees, its place on the local plane (metres), its
// distance to the median, radius and weight.
type point struct {
	lat, lon, x, y, d, r, w float64
	keep                    bool
}

// median returns the median of vs, which it sorts.
func median(vs []float64) float64 {
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}

// wrapLon brings a longitude or longitude difference into [-180, 180).
func wrapLon(l float64) float64 {
	if l >= -180 && l < 180 {
		return l
	}
	return math.Mod(math.Mod(l+180, 360)+360, 360) - 180
}
