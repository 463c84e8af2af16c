package fence_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"kinwatch/fence"
)

// regular returns an n-gon of radius r metres around p.
func regular(p fence.LatLon, n int, r float64) []fence.LatLon {
	poly := make([]fence.LatLon, n)
	for i := range poly {
		a := 2 * math.Pi * float64(i) / float64(n)
		poly[i] = offset(p, r*math.Sin(a), r*math.Cos(a))
	}
	return poly
}

func TestValidate(t *testing.T) {
	loc := berlin(t)
	circle := func(c fence.LatLon, r float64) fence.Shape {
		return fence.Shape{Circle: &fence.Circle{Center: c, Radius: r}}
	}
	poly := func(v ...fence.LatLon) fence.Shape { return fence.Shape{Polygon: v} }
	square := polygon(home, [2]float64{-100, -100}, [2]float64{100, -100}, [2]float64{100, 100}, [2]float64{-100, 100})
	school := func(from, to string, days ...time.Weekday) fence.Schedule {
		return fence.Schedule{Days: days, From: from, To: to, Location: loc}
	}
	// Taveuni, Fiji, lies across the antimeridian.
	taveuni := fence.LatLon{Lat: -16.85, Lon: 179.999}

	tests := []struct {
		name    string
		fence   fence.Fence
		wantErr string // "" for valid
	}{
		{"circle", fence.Fence{Name: "home", Shape: circle(home, 100)}, ""},
		{"smallest circle", fence.Fence{Name: "home", Shape: circle(home, 20)}, ""},
		{"largest circle", fence.Fence{Name: "city", Shape: circle(home, 50000)}, ""},
		{"radius too small", fence.Fence{Name: "home", Shape: circle(home, 19.9)}, "radius: must be 20 to 50000 metres"},
		{"radius too large", fence.Fence{Name: "home", Shape: circle(home, 50001)}, "radius: must be 20 to 50000 metres"},
		{"radius NaN", fence.Fence{Name: "home", Shape: circle(home, math.NaN())}, "radius"},
		{"centre off the globe", fence.Fence{Name: "home", Shape: circle(fence.LatLon{Lat: 91, Lon: 13}, 100)}, "centre: latitude must be"},
		{"centre NaN", fence.Fence{Name: "home", Shape: circle(fence.LatLon{Lat: math.NaN(), Lon: 13}, 100)}, "centre: latitude must be"},
		{"centre unset", fence.Fence{Name: "home", Shape: circle(fence.LatLon{}, 100)}, "0,0 is not a place"},
		{"no name", fence.Fence{Name: "  ", Shape: circle(home, 100)}, "name: required"},
		{"long name", fence.Fence{Name: strings.Repeat("ü", 101), Shape: circle(home, 100)}, "at most 100 characters"},
		{"no shape", fence.Fence{Name: "x"}, "a circle or a polygon is required"},
		{"both shapes", fence.Fence{Name: "x", Shape: fence.Shape{Circle: &fence.Circle{Center: home, Radius: 100}, Polygon: square}}, "not both"},

		{"square", fence.Fence{Name: "school", Shape: poly(square...)}, ""},
		{"square, other winding", fence.Fence{Name: "school", Shape: poly(square[3], square[2], square[1], square[0])}, ""},
		{"triangle", fence.Fence{Name: "park", Shape: poly(square[:3]...)}, ""},
		{"100 vertices", fence.Fence{Name: "park", Shape: poly(regular(home, 100, 500)...)}, ""},
		{"two vertices", fence.Fence{Name: "x", Shape: poly(square[:2]...)}, "2 vertices; it needs 3 to 100"},
		{"101 vertices", fence.Fence{Name: "x", Shape: poly(regular(home, 101, 500)...)}, "101 vertices"},
		{"closed polygon is refused", fence.Fence{Name: "x", Shape: poly(append(square, square[0])...)}, "the last vertex repeats the first"},
		{"repeated vertex", fence.Fence{Name: "x", Shape: poly(square[0], square[1], square[1], square[2], square[3])}, "vertices 2 and 3 are the same point"},
		{"bow tie", fence.Fence{Name: "x", Shape: poly(square[0], square[2], square[1], square[3])}, "the edge from vertex 1 to 2 and the edge from vertex 3 to 4 cross"},
		{
			"figure of eight through one vertex",
			fence.Fence{Name: "x", Shape: poly(polygon(home, [2]float64{0, 0}, [2]float64{100, 100}, [2]float64{100, -100}, [2]float64{0, 0}, [2]float64{-100, -100}, [2]float64{-100, 100})...)},
			"cross or touch",
		},
		{
			"vertex touching an edge",
			fence.Fence{Name: "x", Shape: poly(polygon(home, [2]float64{-100, 0}, [2]float64{100, 0}, [2]float64{100, 100}, [2]float64{0, 0}, [2]float64{-100, 100})...)},
			"cross or touch",
		},
		{
			"spike folding back",
			fence.Fence{Name: "x", Shape: poly(polygon(home, [2]float64{0, 0}, [2]float64{100, 0}, [2]float64{50, 0}, [2]float64{50, 80})...)},
			"cross or touch",
		},
		{
			"flat triangle",
			fence.Fence{Name: "x", Shape: poly(polygon(home, [2]float64{0, 0}, [2]float64{50, 0}, [2]float64{100, 0})...)},
			"cross or touch",
		},
		{"vertex off the globe", fence.Fence{Name: "x", Shape: poly(square[0], square[1], fence.LatLon{Lat: 52, Lon: 181})}, "polygon vertex 3: latitude must be"},
		{"polygon near the pole", fence.Fence{Name: "x", Shape: poly(regular(fence.LatLon{Lat: 86, Lon: 10}, 4, 1000)...)}, "up to latitude 85"},
		{"polygon too wide", fence.Fence{Name: "x", Shape: poly(regular(home, 4, 60_000)...)}, "more than 100 km across"},
		{"polygon across the antimeridian", fence.Fence{Name: "island", Shape: poly(regular(taveuni, 6, 2000)...)}, ""},
		{"circle across the antimeridian", fence.Fence{Name: "island", Shape: circle(taveuni, 2000)}, ""},

		{"school hours", fence.Fence{Name: "school", Shape: poly(square...), Schedules: []fence.Schedule{school("08:00", "15:00", weekdays...)}}, ""},
		{"overnight", fence.Fence{Name: "home", Shape: poly(square...), Schedules: []fence.Schedule{school("22:00", "06:00", time.Friday, time.Saturday)}}, ""},
		{"to the end of the day", fence.Fence{Name: "home", Shape: poly(square...), Schedules: []fence.Schedule{school("00:00", "24:00", time.Sunday)}}, ""},
		{"no days", fence.Fence{Name: "x", Shape: poly(square...), Schedules: []fence.Schedule{school("08:00", "15:00")}}, "schedule 1: days: at least one day"},
		{"bad day", fence.Fence{Name: "x", Shape: poly(square...), Schedules: []fence.Schedule{school("08:00", "15:00"), school("08:00", "15:00", 7)}}, "schedule 1: days"},
		{"bad day in second schedule", fence.Fence{Name: "x", Shape: poly(square...), Schedules: []fence.Schedule{school("08:00", "15:00", 1), school("08:00", "15:00", 7)}}, "schedule 2: days: 7 is not a day"},
		{"hour without zero", fence.Fence{Name: "x", Shape: poly(square...), Schedules: []fence.Schedule{school("8:00", "15:00", 1)}}, `from: "8:00" is not a time of day as HH:MM`},
		{"minute 60", fence.Fence{Name: "x", Shape: poly(square...), Schedules: []fence.Schedule{school("08:60", "15:00", 1)}}, `from: "08:60"`},
		{"seconds", fence.Fence{Name: "x", Shape: poly(square...), Schedules: []fence.Schedule{school("08:00:00", "15:00", 1)}}, `from: "08:00:00"`},
		{"from 24:00", fence.Fence{Name: "x", Shape: poly(square...), Schedules: []fence.Schedule{school("24:00", "06:00", 1)}}, `from: "24:00"`},
		{"to 25:00", fence.Fence{Name: "x", Shape: poly(square...), Schedules: []fence.Schedule{school("08:00", "25:00", 1)}}, `to: "25:00" is not a time of day`},
		{"to 24:30", fence.Fence{Name: "x", Shape: poly(square...), Schedules: []fence.Schedule{school("08:00", "24:30", 1)}}, `to: "24:30"`},
		{"empty window", fence.Fence{Name: "x", Shape: poly(square...), Schedules: []fence.Schedule{school("08:00", "08:00", 1)}}, "the same time; for the whole day use 00:00 to 24:00"},
		{"no time zone", fence.Fence{Name: "x", Shape: poly(square...), Schedules: []fence.Schedule{{Days: weekdays, From: "08:00", To: "15:00"}}}, "time zone: required"},
		{"too many schedules", fence.Fence{Name: "x", Shape: poly(square...), Schedules: make([]fence.Schedule, 21)}, "schedules: at most 20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fence.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Validate() = nil, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Validate() = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}
