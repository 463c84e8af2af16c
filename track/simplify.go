package track

import (
	"math"
	"slices"
)

// Simplify returns the Douglas–Peucker simplification of pts: the first and last point, and every
// point needed so that no dropped point lies farther than tolerance metres from the segment
// between the kept points around it. Distances are measured in an equirectangular projection
// around the data, which is exact enough at the scale of a city and still sensible for a country.
// It runs iteratively (no recursion, so no depth limit) in O(n log n) for ordinary tracks.
// Tolerances below a millimetre count as a millimetre, so points on a straight line go despite
// rounding.
func Simplify(pts []Point, tolerance float64) []Point {
	return simplify(len(pts), func(i int) Point { return pts[i] }, tolerance, 0)
}

// minTolerance is below anything a position means, and above float rounding at the scale of the
// Earth (around 1e-9 m).
const minTolerance = 1e-3

// simplify simplifies the n points at(0), at(1), … at the smallest tolerance of at least tol that
// leaves at most maxPoints (unbounded if 0).
func simplify(n int, at func(int) Point, tol float64, maxPoints int) []Point {
	if n <= 2 {
		out := make([]Point, n)
		for i := range out {
			out[i] = at(i)
		}
		return out
	}
	if !(tol >= minTolerance) {
		tol = minTolerance
	}
	xs, ys := project(n, at)
	sig := significance(xs, ys, tol)
	cut := 0.0 // keep what is more significant than this
	if maxPoints > 0 {
		cut = cutFor(sig, max(maxPoints, 2))
	}
	k := 2
	for _, s := range sig[1 : n-1] {
		if s > cut {
			k++
		}
	}
	out := make([]Point, 0, k)
	out = append(out, at(0))
	for i := 1; i < n-1; i++ {
		if sig[i] > cut {
			out = append(out, at(i))
		}
	}
	return append(out, at(n-1))
}

// project maps the points to metres in an equirectangular projection centred on their latitude
// range and unwrapped around the first longitude.
func project(n int, at func(int) Point) (xs, ys []float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	lon0 := math.NaN()
	for i := range n {
		p := at(i)
		if p.Lat >= -90 && p.Lat <= 90 {
			lo, hi = min(lo, p.Lat), max(hi, p.Lat)
		}
		if math.IsNaN(lon0) && !math.IsNaN(p.Lon) && !math.IsInf(p.Lon, 0) {
			lon0 = p.Lon
		}
	}
	lat0 := 0.0
	if lo <= hi {
		lat0 = (lo + hi) / 2
	}
	if math.IsNaN(lon0) {
		lon0 = 0
	}
	kx := math.Cos(lat0*rad) * metresPerDeg
	xs, ys = make([]float64, n), make([]float64, n)
	for i := range n {
		p := at(i)
		xs[i] = wrapLon(p.Lon-lon0) * kx
		ys[i] = (p.Lat - lat0) * metresPerDeg
	}
	return xs, ys
}

// significance runs Douglas–Peucker down to tol and returns, for each point, the largest tolerance
// at which it would still be kept: its distance from the segment it split, capped by that of the
// split above it (a point is only examined if its parent was kept). The split tree does not
// depend on the tolerance, so one run answers every tolerance of at least tol. Points never split
// at tol get 0; the ends get +Inf.
func significance(xs, ys []float64, tol float64) []float64 {
	n := len(xs)
	sig := make([]float64, n)
	sig[0], sig[n-1] = math.Inf(1), math.Inf(1)
	type span struct {
		lo, hi int
		cap    float64
	}
	stack := []span{{0, n - 1, math.Inf(1)}}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s.hi-s.lo < 2 {
			continue
		}
		best, bestD2 := farthest(xs, ys, s.lo, s.hi, tol*tol)
		if best < 0 {
			continue
		}
		d := min(math.Sqrt(bestD2), s.cap)
		sig[best] = d
		stack = append(stack, span{s.lo, best, d}, span{best, s.hi, d})
	}
	return sig
}

// farthest returns the point strictly between lo and hi farthest from the segment lo–hi, if its
// squared distance exceeds floor2, and that squared distance; -1 otherwise.
func farthest(xs, ys []float64, lo, hi int, floor2 float64) (int, float64) {
	ax, ay := xs[lo], ys[lo]
	dx, dy := xs[hi]-ax, ys[hi]-ay
	l2 := dx*dx + dy*dy
	best, bestD2 := -1, floor2
	if l2 == 0 {
		for i := lo + 1; i < hi; i++ {
			px, py := xs[i]-ax, ys[i]-ay
			if d2 := px*px + py*py; d2 > bestD2 {
				best, bestD2 = i, d2
			}
		}
		return best, bestD2
	}
	for i := lo + 1; i < hi; i++ {
		px, py := xs[i]-ax, ys[i]-ay
		t := (px*dx + py*dy) / l2
		if t < 0 {
			t = 0
		} else if t > 1 {
			t = 1
		}
		ex, ey := px-t*dx, py-t*dy
		if d2 := ex*ex + ey*ey; d2 > bestD2 {
			best, bestD2 = i, d2
		}
	}
	return best, bestD2
}

// cutFor returns the smallest significance to exceed so that at most maxPoints are kept (the two
// ends always are).
func cutFor(sig []float64, maxPoints int) float64 {
	var cand []float64
	for _, s := range sig[1 : len(sig)-1] {
		if s > 0 {
			cand = append(cand, s)
		}
	}
	k := maxPoints - 2 // interior points allowed
	if len(cand) <= k {
		return 0
	}
	slices.Sort(cand)
	return cand[len(cand)-k-1]
}
