package track_test

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"kinwatch/track"
)

var t0 = time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)

// path makes points at the given north/east offsets in metres from a point in Berlin, one a minute.
func path(ne ...[2]float64) []track.Point {
	pts := make([]track.Point, len(ne))
	for i, o := range ne {
		lat, lon := offset(52.52, 13.405, o[0], o[1])
		pts[i] = track.Point{Time: t0.Add(time.Duration(i) * time.Minute), Lat: lat, Lon: lon, Accuracy: 5, Source: "gps"}
	}
	return pts
}

// line makes n points every step metres from (north, east) in direction (dn, de).
func line(n int, step, north, east, dn, de float64) [][2]float64 {
	out := make([][2]float64, n)
	for i := range out {
		out[i] = [2]float64{north + float64(i)*step*dn, east + float64(i)*step*de}
	}
	return out
}

func TestSimplify(t *testing.T) {
	corner := append(line(11, 10, 0, 0, 0, 1), line(10, 10, 10, 100, 1, 0)...) // east 100 m, then north
	var zigzag3, zigzag20 [][2]float64
	for i := range 50 {
		zigzag3 = append(zigzag3, [2]float64{float64(i%2) * 3, float64(i) * 10})
		zigzag20 = append(zigzag20, [2]float64{float64(i%2) * 20, float64(i) * 10})
	}
	tests := []struct {
		name      string
		pts       []track.Point
		tolerance float64
		want      []int // indices kept
	}{
		{"empty", nil, 10, []int{}},
		{"one", path([2]float64{}), 10, []int{0}},
		{"two", path([2]float64{}, [2]float64{5, 5}), 10, []int{0, 1}},
		{"collinear along a meridian, tolerance 0", path(line(20, 10, 0, 0, 1, 0)...), 0, []int{0, 19}},
		{"collinear diagonal", path(line(20, 10, 0, 0, 0.6, 0.8)...), 1, []int{0, 19}},
		{"sharp corner", path(corner...), 5, []int{0, 10, 20}},
		{"there and back", path(append(line(10, 10, 0, 0, 0, 1), line(10, 10, 0, 90, 0, -1)...)...), 5, []int{0, 9, 19}},
		{"zigzag within tolerance", path(zigzag3...), 5, []int{0, 49}},
		{"zigzag beyond tolerance", path(zigzag20...), 5, seq(50)},
		{"stationary", path(make([][2]float64, 100)...), 0, []int{0, 99}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := track.Simplify(tt.pts, tt.tolerance)
			if len(got) != len(tt.want) {
				t.Fatalf("kept %d points %v, want %v", len(got), kept(tt.pts, got), tt.want)
			}
			for i, k := range tt.want {
				if got[i] != tt.pts[k] {
					t.Fatalf("kept %v, want %v", kept(tt.pts, got), tt.want)
				}
			}
			checkSimplified(t, tt.pts, got, tt.tolerance)
		})
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// kept returns the indices in orig of the points of simp.
func kept(orig, simp []track.Point) []int {
	var out []int
	for _, p := range simp {
		for i, q := range orig {
			if p == q {
				out = append(out, i)
				break
			}
		}
	}
	return out
}

// checkSimplified checks simp against orig (whose times must be distinct): a subsequence in order
// with the first and last point, and every dropped point within tolerance of the segment between
// the kept points around it. The check uses its own projection, so it allows 1% for the
// difference. Tolerances below a millimetre count as a millimetre.
func checkSimplified(t *testing.T, orig, simp []track.Point, tolerance float64) {
	t.Helper()
	tolerance = max(tolerance, 1e-3)
	if len(orig) == 0 {
		if len(simp) != 0 {
			t.Fatalf("%d points from none", len(simp))
		}
		return
	}
	if simp[0] != orig[0] || simp[len(simp)-1] != orig[len(orig)-1] {
		t.Fatalf("first or last point not kept")
	}
	k := 0
	for i, p := range orig {
		if k < len(simp) && p == simp[k] {
			k++
			continue
		}
		if k == 0 || k >= len(simp) {
			t.Fatalf("simplified points are not a subsequence of the original")
		}
		if d := segmentDistance(p, simp[k-1], simp[k]); d > tolerance*1.01+1e-6 {
			t.Fatalf("point %d dropped at %.3f m from its segment, tolerance %.3f m", i, d, tolerance)
		}
	}
	if k != len(simp) {
		t.Fatalf("simplified points are not a subsequence of the original")
	}
}

func TestSimplifyRandomWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ne := make([][2]float64, 100000)
	for i := 1; i < len(ne); i++ {
		dn, de := disc(rng, 30)
		ne[i] = [2]float64{ne[i-1][0] + dn, ne[i-1][1] + de}
	}
	pts := path(ne...)
	for _, tol := range []float64{0, 1, 10, 100} {
		got := track.Simplify(pts, tol)
		checkSimplified(t, pts, got, tol)
		t.Logf("tolerance %g m: %d of %d points", tol, len(got), len(pts))
	}
}

// FuzzSimplify feeds tracks within about 30 km, where the test's projection agrees with the
// package's to well within 1%.
func FuzzSimplify(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 10, 0, 0, 0, 10, 0, 10, 0}, uint16(5))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, uint16(0))
	f.Add(make([]byte, 64), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, tol uint16) {
		var ne [][2]float64
		for ; len(data) >= 4; data = data[4:] {
			n := int16(binary.LittleEndian.Uint16(data))
			e := int16(binary.LittleEndian.Uint16(data[2:]))
			ne = append(ne, [2]float64{float64(n) / 2, float64(e) / 2})
		}
		pts := path(ne...)
		checkSimplified(t, pts, track.Simplify(pts, float64(tol)/10), float64(tol)/10)
	})
}

func TestSimplifyAcrossTheAntimeridian(t *testing.T) {
	var pts []track.Point
	for i := range 21 {
		pts = append(pts, track.Point{Time: t0.Add(time.Duration(i) * time.Minute), Lat: -17, Lon: math.Remainder(179.99+float64(i)*0.001, 360)})
	}
	if got := track.Simplify(pts, 1); len(got) != 2 {
		t.Errorf("a straight line across 180° kept %d points, want 2", len(got))
	}
}

func BenchmarkSimplify(b *testing.B) {
	pts := syntheticYear().pts
	b.ReportAllocs()
	for b.Loop() {
		track.Simplify(pts, 10)
	}
}
