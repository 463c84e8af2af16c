package track_test

import (
	"math"

	"kinwatch/track"
)

// segmentDistance is how far p lies from the segment a–b, in metres, measured in a local plane
// around a: independent of the package's own projection.
func segmentDistance(p, a, b track.Point) float64 {
	kx := metresPerDeg * math.Cos(a.Lat*math.Pi/180)
	wrap := func(d float64) float64 { return math.Remainder(d, 360) }
	px, py := wrap(p.Lon-a.Lon)*kx, (p.Lat-a.Lat)*metresPerDeg
	bx, by := wrap(b.Lon-a.Lon)*kx, (b.Lat-a.Lat)*metresPerDeg
	l2 := bx*bx + by*by
	t := 0.0
	if l2 > 0 {
		t = max(0, min(1, (px*bx+py*by)/l2))
	}
	return math.Hypot(px-t*bx, py-t*by)
}

// maxDeviation is how far any point of orig that simp was built from (matched by time; orig
// points not in simp's time range, or dropped by the filters, are skipped) lies from the segment
// of simp around it.
func maxDeviation(orig, simp []track.Point) float64 {
	worst := 0.0
	k := 0
	for _, p := range orig {
		if p.Accuracy > 200 || len(simp) < 2 {
			continue
		}
		for k+1 < len(simp)-1 && !p.Time.Before(simp[k+1].Time) {
			k++
		}
		a, b := simp[k], simp[k+1]
		if p.Time.Before(a.Time) || p.Time.After(b.Time) {
			continue
		}
		// Jumps are filtered too; they are tens of kilometres out.
		if d := segmentDistance(p, a, b); d < 10e3 {
			worst = max(worst, d)
		}
	}
	return worst
}
