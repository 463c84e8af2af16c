package fence

import "math"

const (
	earthRadius     = 6371008.8 // metres, the mean radius (IUGG), as in package geo
	metresPerDegree = earthRadius * math.Pi / 180
)

// SignedDistance returns the distance in metres from p to the shape's border: negative inside,
// positive outside, 0 on the border.
//
// A circle measures along the great circle (haversine) from its centre, minus the radius. A
// polygon is measured in a local equirectangular projection centred on its vertices: exact to well
// under a metre near a fence of MaxPolygonSpan, and for points hundreds of kilometres away only
// "large and positive", which is all a Tracker needs. Longitudes are taken relative to the
// polygon's centre, so circles and polygons across the antimeridian work; polygons beyond
// MaxPolygonLat do not (Validate refuses them).
//
// A shape that fails Validate (neither a circle nor 3 vertices) gives NaN, which a Tracker treats
// as telling nothing.
func (s Shape) SignedDistance(p LatLon) float64 {
	switch {
	case s.Circle != nil:
		return distance(s.Circle.Center, p) - s.Circle.Radius
	case len(s.Polygon) >= 3:
		return polygonDistance(newPlane(s.Polygon), s.Polygon, p)
	}
	return math.NaN()
}

// distance is the great-circle distance in metres (haversine).
func distance(a, b LatLon) float64 {
	const rad = math.Pi / 180
	s1 := math.Sin((b.Lat - a.Lat) * rad / 2)
	s2 := math.Sin((b.Lon - a.Lon) * rad / 2)
	h := s1*s1 + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*s2*s2
	return 2 * earthRadius * math.Asin(math.Sqrt(math.Min(1, h)))
}

// plane is a local equirectangular projection: metres east and north of (lat0, lon0).
type plane struct {
	lat0, lon0 float64
	kx         float64 // metres per degree of longitude at lat0
}

type point struct{ x, y float64 }

// newPlane centres the projection on the mean of the vertices, longitudes averaged as offsets
// from the first vertex so that a polygon across the antimeridian is not averaged to the far
// side of the globe.
func newPlane(poly []LatLon) plane {
	var lat, dlon float64
	for _, v := range poly {
		lat += v.Lat
		dlon += wrap180(v.Lon - poly[0].Lon)
	}
	n := float64(len(poly))
	lat /= n
	return plane{lat0: lat, lon0: wrap180(poly[0].Lon + dlon/n), kx: metresPerDegree * math.Cos(lat*math.Pi/180)}
}

func (pl plane) xy(p LatLon) point {
	return point{wrap180(p.Lon-pl.lon0) * pl.kx, (p.Lat - pl.lat0) * metresPerDegree}
}

func (pl plane) project(poly []LatLon) []point {
	xy := make([]point, len(poly))
	for i, v := range poly {
		xy[i] = pl.xy(v)
	}
	return xy
}

// wrap180 brings a longitude or a difference of longitudes into [-180, 180).
func wrap180(d float64) float64 {
	d = math.Mod(d+180, 360)
	if d < 0 {
		d += 360
	}
	return d - 180
}

// polygonDistance is the distance to the nearest edge, negative when p is inside (even–odd rule;
// Validate guarantees a simple polygon, for which the rules agree).
func polygonDistance(pl plane, poly []LatLon, p LatLon) float64 {
	q := pl.xy(p)
	inside := false
	best := math.Inf(1)
	n := len(poly)
	b := pl.xy(poly[n-1])
	for i := range n {
		a := pl.xy(poly[i])
		if (a.y > q.y) != (b.y > q.y) && q.x < (b.x-a.x)*(q.y-a.y)/(b.y-a.y)+a.x {
			inside = !inside
		}
		best = math.Min(best, segmentDistance(q, a, b))
		b = a
	}
	if inside {
		return -best
	}
	return best
}

// segmentDistance is the distance from q to the segment ab.
func segmentDistance(q, a, b point) float64 {
	dx, dy := b.x-a.x, b.y-a.y
	t := 0.0
	if l2 := dx*dx + dy*dy; l2 > 0 {
		t = math.Max(0, math.Min(1, ((q.x-a.x)*dx+(q.y-a.y)*dy)/l2))
	}
	return math.Hypot(q.x-(a.x+t*dx), q.y-(a.y+t*dy))
}

// selfIntersection returns two edges (numbered by their first vertex) that cross, touch, or, for
// neighbours, fold back over each other. O(n²), which for MaxVertices is nothing.
func selfIntersection(xy []point) (int, int, bool) {
	n := len(xy)
	for i := range n {
		a, b := xy[i], xy[(i+1)%n]
		for j := i + 1; j < n; j++ {
			c, d := xy[j], xy[(j+1)%n]
			switch {
			case j == i+1: // b == c is shared: does d run back along ba?
				if folds(b, a, d) {
					return i, j, true
				}
			case i == 0 && j == n-1: // a == d is shared
				if folds(a, b, c) {
					return i, j, true
				}
			case segmentsIntersect(a, b, c, d):
				return i, j, true
			}
		}
	}
	return 0, 0, false
}

// folds reports whether the edges s→p and s→q leave their shared vertex s in the same direction,
// so that they overlap (a zero-width spike).
func folds(s, p, q point) bool {
	ux, uy := p.x-s.x, p.y-s.y
	vx, vy := q.x-s.x, q.y-s.y
	cross := ux*vy - uy*vx
	return math.Abs(cross) <= 1e-9*math.Hypot(ux, uy)*math.Hypot(vx, vy) && ux*vx+uy*vy > 0
}

// orient is the sign of the turn a→b→c: +1 left, -1 right, 0 collinear.
func orient(a, b, c point) int {
	v := (b.x-a.x)*(c.y-a.y) - (b.y-a.y)*(c.x-a.x)
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// onSegment reports whether c, collinear with ab, lies within its bounding box.
func onSegment(a, b, c point) bool {
	return math.Min(a.x, b.x) <= c.x && c.x <= math.Max(a.x, b.x) &&
		math.Min(a.y, b.y) <= c.y && c.y <= math.Max(a.y, b.y)
}

// segmentsIntersect reports whether the closed segments ab and cd share a point.
func segmentsIntersect(a, b, c, d point) bool {
	o1, o2, o3, o4 := orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
	if o1*o2 < 0 && o3*o4 < 0 {
		return true
	}
	return o1 == 0 && onSegment(a, b, c) || o2 == 0 && onSegment(a, b, d) ||
		o3 == 0 && onSegment(c, d, a) || o4 == 0 && onSegment(c, d, b)
}
