package fence_test

import (
	"math"
	"testing"

	"kinwatch/fence"
)

func TestSignedDistance(t *testing.T) {
	circle := fence.Shape{Circle: &fence.Circle{Center: home, Radius: 100}}
	// A 200 m square around home, and an L-shaped school yard whose inner corner is at home.
	square := fence.Shape{Polygon: polygon(home, [2]float64{-100, -100}, [2]float64{100, -100}, [2]float64{100, 100}, [2]float64{-100, 100})}
	ell := fence.Shape{Polygon: polygon(home, [2]float64{-100, -100}, [2]float64{100, -100}, [2]float64{100, 0}, [2]float64{0, 0}, [2]float64{0, 100}, [2]float64{-100, 100})}
	// Across the antimeridian, off Taveuni (Fiji): 179.99°E and 179.99°W are 2 km apart.
	taveuni := fence.LatLon{Lat: -16.85, Lon: 180}
	dateline := fence.Shape{Polygon: polygon(taveuni, [2]float64{-1000, -1000}, [2]float64{1000, -1000}, [2]float64{1000, 1000}, [2]float64{-1000, 1000})}
	datelineCircle := fence.Shape{Circle: &fence.Circle{Center: offset(taveuni, 0, -300), Radius: 500}}

	tests := []struct {
		name  string
		shape fence.Shape
		p     fence.LatLon
		want  float64 // metres
	}{
		{"circle: centre", circle, home, -100},
		{"circle: 60 m east", circle, offset(home, 0, 60), -40},
		{"circle: on the border", circle, offset(home, -100, 0), 0},
		{"circle: 150 m north", circle, offset(home, 150, 0), 50},
		{"circle: 3 km south-west", circle, offset(home, -2121.32, -2121.32), 2900},

		{"square: centre", square, home, -100},
		{"square: 30 m inside the north edge", square, offset(home, 70, 10), -30},
		{"square: on the east edge", square, offset(home, 20, 100), 0},
		{"square: 50 m north", square, offset(home, 150, 0), 50},
		{"square: beyond the corner", square, offset(home, 140, 130), 50}, // 30 east, 40 north of it
		{"square: 5 km west", square, offset(home, 0, -5100), 5000},
		{"square: far away", square, fence.LatLon{Lat: -33.87, Lon: 151.21}, math.Inf(1)}, // Sydney

		{"L: inner corner region, outside", ell, offset(home, 30, 40), 30},
		{"L: inside the foot", ell, offset(home, -50, 50), -50},
		{"L: inside the leg", ell, offset(home, 50, -20), -20},

		{"dateline polygon: centre", dateline, taveuni, -1000},
		{"dateline polygon: just east of 180", dateline, offset(taveuni, 0, 600), -400},
		{"dateline polygon: just west of 180", dateline, offset(taveuni, 300, -700), -300},
		{"dateline polygon: outside east", dateline, offset(taveuni, 0, 1250), 250},
		{"dateline circle: other side of 180", datelineCircle, offset(taveuni, 0, 100), -100},
		{"dateline circle: outside", datelineCircle, offset(taveuni, 0, 500), 300},

		{"invalid shape", fence.Shape{}, home, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.shape.SignedDistance(tt.p)
			switch {
			case math.IsNaN(tt.want):
				if !math.IsNaN(got) {
					t.Fatalf("SignedDistance = %.2f, want NaN", got)
				}
			case math.IsInf(tt.want, 1):
				if got < 1e6 {
					t.Fatalf("SignedDistance = %.2f, want thousands of kilometres", got)
				}
			case math.Abs(got-tt.want) > 0.5:
				t.Fatalf("SignedDistance = %.2f, want %.2f ± 0.5", got, tt.want)
			}
		})
	}
}

// TestSignedDistanceMatchesHaversine checks the polygon projection against ground distance: for a
// 2 km square the distance to an edge is the great-circle distance to the nearest point on it.
func TestSignedDistanceMatchesHaversine(t *testing.T) {
	for _, lat := range []float64{0.5, 52.52, 70} {
		c := fence.LatLon{Lat: lat, Lon: 13.4}
		sq := fence.Shape{Polygon: polygon(c, [2]float64{-1000, -1000}, [2]float64{1000, -1000}, [2]float64{1000, 1000}, [2]float64{-1000, 1000})}
		for _, n := range []float64{-900, -300, 0, 400, 950} {
			edge := offset(c, n, 1000) // on the east edge
			p := offset(c, n, 1000+300)
			// A circle measures along the great circle, independently of the projection.
			want := fence.Shape{Circle: &fence.Circle{Center: edge, Radius: 20}}.SignedDistance(p) + 20
			if got := sq.SignedDistance(p); math.Abs(got-want) > 0.5 {
				t.Errorf("lat %g, %g m north: SignedDistance = %.2f, ground distance %.2f", lat, n, got, want)
			}
		}
	}
}
