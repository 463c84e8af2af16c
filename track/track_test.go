package track_test

import (
	"math"
	"testing"
	"time"

	"kinwatch/track"
)

func TestDistance(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want, within           float64
	}{
		{"same point", 52.52, 13.405, 52.52, 13.405, 0, 0},
		{"a degree of latitude", 0, 0, 1, 0, 111195, 1},
		{"a degree of longitude at 60°", 60, 10, 60, 11, 55597, 10},
		{"Berlin to Paris", 52.5200, 13.4050, 48.8566, 2.3522, 877500, 1500},
		{"across the antimeridian", 0, 179.5, 0, -179.5, 111195, 1},
		{"antipodes", 0, 0, 0, 180, math.Pi * 6371008.8, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := track.Distance(tt.lat1, tt.lon1, tt.lat2, tt.lon2)
			if math.Abs(got-tt.want) > tt.within {
				t.Errorf("Distance = %.1f m, want %.0f ± %.0f m", got, tt.want, tt.within)
			}
			if back := track.Distance(tt.lat2, tt.lon2, tt.lat1, tt.lon1); back != got {
				t.Errorf("not symmetric: %v and %v", got, back)
			}
		})
	}
}

// walkEast is n one-minute points walking east 75 m a minute from home (the origin of path).
func walkEast(n int) [][2]float64 { return line(n, 75, 0, 0, 0, 1) }

// with returns pts with p changed by f at index i.
func with(pts []track.Point, i int, f func(*track.Point)) []track.Point {
	f(&pts[i])
	return pts
}

func TestBuild(t *testing.T) {
	jumpNorth := func(km float64) func(*track.Point) {
		return func(p *track.Point) { p.Lat, p.Lon = offset(p.Lat, p.Lon, km*1000, 0) }
	}
	// Ten minutes standing with a few metres of noise, walking 10 minutes, ten minutes standing.
	still := func(n int, north, east float64) [][2]float64 {
		out := make([][2]float64, n)
		for i := range out {
			out[i] = [2]float64{north + float64(i%3-1)*4, east + float64(i%2)*5}
		}
		return out
	}
	stopAndGo := path(append(append(still(11, 0, 0), line(10, 75, 0, 75, 0, 1)...), still(11, 0, 825)...)...)
	teleport := path(append(walkEast(5), line(5, 75, 100e3, 0, 0, 1)...)...)

	tests := []struct {
		name         string
		pts          []track.Point
		opt          track.Options
		wantDistance float64 // ± 1 m
		wantStops    int
		wantPoints   int // 0: don't check
	}{
		{"no points", nil, track.Options{}, 0, 0, 0},
		{"one point", path([2]float64{}), track.Options{}, 0, 0, 1},
		{"a straight walk", path(walkEast(11)...), track.Options{}, 750, 0, 2},
		{"a cell fix is ignored", with(path(walkEast(11)...), 5, func(p *track.Point) {
			p.Source, p.Accuracy = "cell", 1000
			p.Lat, p.Lon = offset(p.Lat, p.Lon, 800, 0)
		}), track.Options{}, 750, 0, 2},
		{"a last known position is ignored", with(path(walkEast(11)...), 5, func(p *track.Point) {
			p.Source = "last_known"
			p.Lat, p.Lon = offset(p.Lat, p.Lon, 0, -300)
		}), track.Options{}, 750, 0, 2},
		{"a jump is ignored", with(path(walkEast(11)...), 5, jumpNorth(50)), track.Options{}, 750, 0, 2},
		{"two jumps in a row are ignored", with(with(path(walkEast(11)...), 5, jumpNorth(50)), 6, jumpNorth(50)), track.Options{}, 750, 0, 2},
		{"a jump as the first point is ignored", with(path(walkEast(11)...), 0, jumpNorth(50)), track.Options{}, 675, 0, 2},
		{"a jump as the last point is ignored", with(path(walkEast(11)...), 10, jumpNorth(50)), track.Options{}, 675, 0, 2},
		{"a move confirmed by three points is believed, without the leg across", teleport, track.Options{}, 600, 0, 4},
		{"a slower MaxSpeed makes jumps of a walk", path(walkEast(11)...), track.Options{MaxSpeed: 1}, 0, 0, 1},
		{"a MaxSpeed just above walking pace", path(walkEast(11)...), track.Options{MaxSpeed: 1.2}, 750, 0, 2},
		{"standing still adds nothing", path(still(60, 0, 0)...), track.Options{}, 0, 1, 0},
		{"a four-minute pause is no stop", path(still(5, 0, 0)...), track.Options{}, -1, 0, 0},
		{"stop, walk, stop: measured centre to centre", stopAndGo, track.Options{}, 825, 2, 0},
		{"a short StopMinDuration", path(still(5, 0, 0)...), track.Options{StopMinDuration: time.Minute}, 0, 1, 0},
		{"MaxPoints", path(walkZigzag(1000)...), track.Options{MaxPoints: 50}, -1, 0, 50},
		{"MaxPoints below two keeps the ends", path(walkZigzag(1000)...), track.Options{MaxPoints: 1}, -1, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := track.Build(tt.pts, tt.opt)
			if tt.wantDistance >= 0 && math.Abs(tr.Distance-tt.wantDistance) > 1 {
				t.Errorf("Distance = %.1f m, want %.0f m", tr.Distance, tt.wantDistance)
			}
			if len(tr.Stops) != tt.wantStops {
				t.Errorf("%d stops %+v, want %d", len(tr.Stops), tr.Stops, tt.wantStops)
			}
			if tt.wantPoints > 0 && len(tr.Points) != tt.wantPoints {
				t.Errorf("%d points, want %d", len(tr.Points), tt.wantPoints)
			}
			for _, p := range tr.Points {
				if p.Source == "cell" || p.Source == "last_known" || track.Distance(p.Lat, p.Lon, 52.52, 13.405) > 40e3 && track.Distance(p.Lat, p.Lon, 52.52, 13.405) < 60e3 {
					t.Errorf("filtered point %+v on the track", p)
				}
			}
		})
	}
}

// walkZigzag walks east with 50 m swings north and south, which no tolerance below 25 m drops.
func walkZigzag(n int) [][2]float64 {
	out := walkEast(n)
	for i := range out {
		out[i][0] = float64(i%2) * 50
	}
	return out
}

func TestBuildStops(t *testing.T) {
	// Home for an hour, with a Wi-Fi fix wobbling 150 m out once; then 20 minutes walking; then a
	// quick return to the same place after 3 minutes away is the same visit.
	var ne [][2]float64
	for i := range 60 {
		ne = append(ne, [2]float64{float64(i % 5), 0})
	}
	ne[30] = [2]float64{150, 0}
	ne = append(ne, line(20, 75, 0, 75, 0, 1)...)
	pts := path(ne...)
	tr := track.Build(pts, track.Options{})
	if len(tr.Stops) != 1 {
		t.Fatalf("%d stops %+v, want 1", len(tr.Stops), tr.Stops)
	}
	s := tr.Stops[0]
	if !s.Arrive.Equal(pts[0].Time) || s.Leave.Before(pts[59].Time) || s.Leave.After(pts[60].Time) {
		t.Errorf("stop from %v to %v, want %v to about %v", s.Arrive, s.Leave, pts[0].Time, pts[59].Time)
	}
	if s.Points < 59 || s.Points > 61 {
		t.Errorf("stop of %d points, want 59 or so (the wobble is no member)", s.Points)
	}
	if d := track.Distance(s.Lat, s.Lon, pts[0].Lat, pts[0].Lon); d > 5 || s.Radius > 20 {
		t.Errorf("stop %.1f m from home with radius %.1f m", d, s.Radius)
	}
	// 1425 m east of the first walking point, 75 m from home.
	if math.Abs(tr.Distance-1500) > 3 {
		t.Errorf("Distance = %.1f m, want 1500 m: the wobble is not walked", tr.Distance)
	}

	// Same place again after three minutes away: one visit.
	back := path(append(append(make([][2]float64, 10), [2]float64{0, 150}, [2]float64{0, 200}, [2]float64{0, 150}), make([][2]float64, 10)...)...)
	if tr := track.Build(back, track.Options{}); len(tr.Stops) != 1 || tr.Stops[0].Points != 20 {
		t.Errorf("stops %+v, want one of 20 points", tr.Stops)
	}
}

func TestBuildOnlyCellFixes(t *testing.T) {
	pts := path(walkEast(30)...)
	for i := range pts {
		pts[i].Source, pts[i].Accuracy = "cell", 1500
	}
	tr := track.Build(pts, track.Options{})
	if tr.Distance != 0 || len(tr.Stops) != 0 {
		t.Errorf("Distance %v and %d stops from cell fixes, want none", tr.Distance, len(tr.Stops))
	}
	if len(tr.Points) != 2 || tr.Points[0] != pts[0] || tr.Points[1] != pts[len(pts)-1] {
		t.Errorf("Points = %v, want the unfiltered track's ends, so the map shows something", tr.Points)
	}
}

func TestBuildStationaryYearIsLinear(t *testing.T) {
	// Identical positions give Douglas–Peucker nothing to split: no quadratic blow-up.
	pts := make([]track.Point, 525600)
	for i := range pts {
		pts[i] = track.Point{Time: t0.Add(time.Duration(i) * time.Minute), Lat: 52.52, Lon: 13.405, Source: "wifi", Accuracy: 30}
	}
	tr := track.Build(pts, track.Options{})
	if len(tr.Points) != 2 || len(tr.Stops) != 1 || tr.Distance != 0 || tr.Stops[0].Points != len(pts) {
		t.Errorf("%d points, stops %+v, distance %v; want 2 points and one stop", len(tr.Points), tr.Stops, tr.Distance)
	}
}

// FuzzBuild checks what must hold for any input: no panic, at most MaxPoints points from the input
// in time order, a finite distance.
func FuzzBuild(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 10, 0, 0, 0, 10, 0, 10, 0, 200, 0}, uint8(10))
	f.Add(make([]byte, 100), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, maxPoints uint8) {
		var pts []track.Point
		tm := t0
		for ; len(data) >= 7; data = data[7:] {
			tm = tm.Add(time.Duration(data[6]) * time.Second)
			p := track.Point{
				Time:     tm,
				Lat:      float64(int16(uint16(data[0])|uint16(data[1])<<8)) / 300,
				Lon:      float64(int16(uint16(data[2])|uint16(data[3])<<8)) / 150,
				Accuracy: float64(data[4]) * 4,
				Source:   []string{"gps", "wifi", "cell", "last_known"}[data[5]%4],
				Steps:    int64(data[5]),
			}
			pts = append(pts, p)
		}
		opt := track.Options{MaxPoints: int(maxPoints)}
		tr := track.Build(pts, opt)
		limit := int(maxPoints)
		if limit == 0 {
			limit = 2000
		}
		if len(tr.Points) > max(limit, 2) {
			t.Fatalf("%d points, MaxPoints %d", len(tr.Points), maxPoints)
		}
		valid := 0
		for _, p := range pts {
			if p.Lat >= -90 && p.Lat <= 90 && p.Lon >= -180 && p.Lon <= 180 {
				valid++
			}
		}
		if len(tr.Points) > valid || valid > 0 && len(tr.Points) == 0 {
			t.Fatalf("%d points from %d with valid coordinates", len(tr.Points), valid)
		}
		if math.IsNaN(tr.Distance) || math.IsInf(tr.Distance, 0) || tr.Distance < 0 {
			t.Fatalf("Distance = %v", tr.Distance)
		}
		if len(kept(pts, tr.Points)) != len(tr.Points) {
			t.Fatalf("points not from the input")
		}
		days := track.Days(pts, time.UTC, opt)
		sum := 0.0
		for _, d := range days {
			sum += d.Distance
			if d.Steps < 0 {
				t.Fatalf("%s: %d steps", d.Date, d.Steps)
			}
		}
		if math.Abs(sum-tr.Distance) > 1e-6*max(1, tr.Distance) {
			t.Fatalf("days add up to %v, the track is %v", sum, tr.Distance)
		}
	})
}
