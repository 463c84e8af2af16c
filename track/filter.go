package track

// filtered is what is believed of the points: which ones say where the watch really was.
type filtered struct {
	idx []int // indices into pts of the points that passed, in time order
	// runs holds the positions in idx where a run starts: runs[0] is 0, each later one follows a
	// confirmed jump, and no distance is counted across it.
	runs []int
}

// jumpConfirm is how many mutually consistent points it takes to believe a jump.
const jumpConfirm = 3

func usable(p Point, maxAccuracy float64) bool {
	return validCoords(p.Lat, p.Lon) && p.Source != sourceLastKnown && !(p.Accuracy > maxAccuracy)
}

// plausible reports whether going from a to b needs no more than maxSpeed, after giving both
// points the benefit of their stated accuracy.
func plausible(a, b Point, maxSpeed float64) bool {
	d := Distance(a.Lat, a.Lon, b.Lat, b.Lon) - max(a.Accuracy, 0) - max(b.Accuracy, 0)
	if d <= 0 {
		return true
	}
	dt := max(b.Time.Sub(a.Time).Seconds(), 1)
	return d <= maxSpeed*dt
}

func filter(pts []Point, opt Options) filtered {
	f := filtered{idx: make([]int, 0, len(pts))}
	var pending [jumpConfirm]int
	np := 0
	runStart := 0
	for i, p := range pts {
		if !usable(p, opt.MaxAccuracy) {
			continue
		}
		if len(f.idx) == 0 {
			f.idx = append(f.idx, i)
			f.runs = append(f.runs[:0], 0)
			continue
		}
		if plausible(pts[f.idx[len(f.idx)-1]], p, opt.MaxSpeed) {
			f.idx = append(f.idx, i)
			np = 0 // whatever was pending was a jump away and back
			continue
		}
		if np > 0 && !plausible(pts[pending[np-1]], p, opt.MaxSpeed) {
			np = 0
		}
		pending[np] = i
		np++
		if np < jumpConfirm {
			continue
		}
		// The pending points agree with each other and not with the current run. A run shorter
		// than them is more likely the outlier (say the very first point was a jump): drop it.
		if len(f.idx)-runStart < jumpConfirm {
			f.idx = f.idx[:runStart]
			if runStart == 0 {
				f.runs = f.runs[:0]
			} else {
				f.runs = f.runs[:len(f.runs)-1]
			}
		}
		runStart = len(f.idx)
		f.runs = append(f.runs, runStart)
		f.idx = append(f.idx, pending[:np]...)
		np = 0
	}
	return f
}

// walk calls leg for each leg of the filtered path with every stop collapsed to its centre, in
// order; end is the index in pts of the point the leg arrives at (for a stop, its first point).
// Legs across a confirmed jump are left out.
func walk(pts []Point, f filtered, stops []stopSpan, leg func(end int, d float64)) {
	idx := f.idx
	si, ri := 0, 0
	var plat, plon float64
	for pos := 0; pos < len(idx); {
		first, last := pos, pos
		var lat, lon float64
		if si < len(stops) && stops[si].first == pos {
			lat, lon, last = stops[si].Lat, stops[si].Lon, stops[si].last
			si++
		} else {
			lat, lon = pts[idx[pos]].Lat, pts[idx[pos]].Lon
		}
		broken := false
		for ri < len(f.runs) && f.runs[ri] <= first {
			broken = broken || f.runs[ri] == first
			ri++
		}
		if first > 0 && !broken {
			leg(idx[first], Distance(plat, plon, lat, lon))
		}
		plat, plon = lat, lon
		pos = last + 1
	}
}
