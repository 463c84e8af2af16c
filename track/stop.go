package track

import "math"

// stopSpan is a stop with where it lies in the filtered points.
type stopSpan struct {
	Stop
	first, last int // positions in filtered.idx; points between that are not members are excursions
}

// stopMisses is how many points in a row may lie outside a stop without ending it: a Wi-Fi fix
// wobbling out of the radius, or a child stepping into the garden.
const stopMisses = 2

// findStops clusters the points idx (indices into pts) into stops: a run of points each within
// opt.StopRadius of the running centre, lasting at least opt.StopMinDuration, with up to stopMisses
// points in a row outside it. Consecutive stops
// at the same place with a short absence between them are merged. If member is not nil (len(idx)),
// it is set for the points that belong to a stop.
func findStops(pts []Point, idx []int, opt Options, member []bool) []stopSpan {
	var out []stopSpan
	var scratch []int
	r2 := opt.StopRadius * opt.StopRadius
	for i := 0; i < len(idx); {
		ref := pts[idx[i]]
		// Metres in a local plane around the first point: exact enough within a stop's radius.
		kx := math.Cos(ref.Lat*rad) * metresPerDeg
		var sx, sy float64
		scratch = append(scratch[:0], i)
		misses := 0
		for j := i + 1; j < len(idx) && misses <= stopMisses; j++ {
			p := pts[idx[j]]
			x, y := wrapLon(p.Lon-ref.Lon)*kx, (p.Lat-ref.Lat)*metresPerDeg
			n := float64(len(scratch))
			dx, dy := x-sx/n, y-sy/n
			if dx*dx+dy*dy > r2 {
				misses++
				continue
			}
			sx, sy = sx+x, sy+y
			scratch = append(scratch, j)
			misses = 0
		}
		last := scratch[len(scratch)-1]
		arrive, leave := pts[idx[i]].Time, pts[idx[last]].Time
		if len(scratch) < 2 || leave.Sub(arrive) < opt.StopMinDuration {
			i++
			continue
		}
		// The centre and radius are those of the core: the points within half the radius of the
		// mean, so that the points of arriving and leaving (members, as they are within the
		// radius) do not drag them.
		local := func(j int) (float64, float64) {
			p := pts[idx[j]]
			return wrapLon(p.Lon-ref.Lon) * kx, (p.Lat - ref.Lat) * metresPerDeg
		}
		n := float64(len(scratch))
		mx, my := sx/n, sy/n
		core2 := r2 / 4
		var cx, cy, nc float64
		for _, j := range scratch {
			if member != nil {
				member[j] = true
			}
			x, y := local(j)
			if dx, dy := x-mx, y-my; dx*dx+dy*dy <= core2 {
				cx, cy, nc = cx+x, cy+y, nc+1
			}
		}
		if nc == 0 {
			cx, cy, nc = sx, sy, n
		}
		cx, cy = cx/nc, cy/nc
		var r2max float64
		for _, j := range scratch {
			x, y := local(j)
			if dx, dy := x-mx, y-my; dx*dx+dy*dy <= core2 || nc == n {
				dx, dy = x-cx, y-cy
				r2max = max(r2max, dx*dx+dy*dy)
			}
		}
		s := stopSpan{
			Stop: Stop{
				Lat:    ref.Lat + cy/metresPerDeg,
				Lon:    wrapLon(ref.Lon + cx/kx),
				Radius: math.Sqrt(r2max),
				Arrive: arrive,
				Leave:  leave,
				Points: len(scratch),
			},
			first: i,
			last:  last,
		}
		if kx == 0 { // a pole: no longitude to speak of
			s.Lon = ref.Lon
		}
		if k := len(out) - 1; k >= 0 && sameVisit(out[k], s, opt) {
			out[k] = merge(out[k], s)
		} else {
			out = append(out, s)
		}
		i = last + 1
	}
	return out
}

func sameVisit(a, b stopSpan, opt Options) bool {
	return b.Arrive.Sub(a.Leave) <= opt.StopMinDuration && Distance(a.Lat, a.Lon, b.Lat, b.Lon) <= opt.StopRadius
}

func merge(a, b stopSpan) stopSpan {
	w := float64(b.Points) / float64(a.Points+b.Points)
	m := a
	m.Lat = a.Lat + (b.Lat-a.Lat)*w
	m.Lon = wrapLon(a.Lon + wrapLon(b.Lon-a.Lon)*w)
	m.Radius = max(a.Radius+Distance(a.Lat, a.Lon, m.Lat, m.Lon), b.Radius+Distance(b.Lat, b.Lon, m.Lat, m.Lon))
	m.Leave = b.Leave
	m.Points = a.Points + b.Points
	m.last = b.last
	return m
}
