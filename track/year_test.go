package track_test

import (
	"math"
	"testing"
	"time"

	"kinwatch/track"
)

func TestBuildYear(t *testing.T) {
	y := syntheticYear()
	if len(y.pts) != 525600 {
		t.Fatalf("generator made %d points, want 525600", len(y.pts))
	}
	opt := track.Options{}
	tr := track.Build(y.pts, opt)

	if n := len(tr.Points); n > 2000 || n < 2 {
		t.Errorf("len(Points) = %d, want 2..2000", n)
	}
	for i, p := range tr.Points {
		if i > 0 && !p.Time.After(tr.Points[i-1].Time) {
			t.Fatalf("Points[%d] at %v is not after the one before", i, p.Time)
		}
		// No cell fix and no jump may reach the map: everything lies near the route.
		if p.Accuracy > 200 || track.Distance(p.Lat, p.Lon, y.homeLat, y.homeLon) > 2000 {
			t.Fatalf("Points[%d] = %+v: a filtered point on the map", i, p)
		}
	}
	if got := tr.Points[0].Time; got.Sub(y.start) > 2*time.Minute {
		t.Errorf("first point at %v, want the start of the year", got)
	}
	if got, end := tr.Points[len(tr.Points)-1].Time, y.pts[len(y.pts)-1].Time; end.Sub(got) > 2*time.Minute {
		t.Errorf("last point at %v, want about %v", got, end)
	}

	// Shape: every filtered original point lies close to the simplified line.
	if dev := maxDeviation(y.pts, tr.Points); dev > 25 {
		t.Errorf("an original point lies %.0f m from the simplified track, want ≤ 25 m", dev)
	}

	// Each weekday adds a stop at school and one at home; the year starts at home.
	var home, school int
	for _, s := range tr.Stops {
		switch {
		case track.Distance(s.Lat, s.Lon, y.homeLat, y.homeLon) < 25:
			home++
		case track.Distance(s.Lat, s.Lon, y.schoolLat, y.schoolLon) < 25:
			school++
		default:
			t.Errorf("stop at %.5f,%.5f is neither home nor school", s.Lat, s.Lon)
		}
	}
	if home != y.weekdays+1 || school != y.weekdays {
		t.Errorf("%d home and %d school stops, want %d and %d", home, school, y.weekdays+1, y.weekdays)
	}

	// Neither the noise of standing still nor the jumps may inflate the distance.
	if rel := (tr.Distance - y.walked) / y.walked; math.Abs(rel) > 0.03 {
		t.Errorf("Distance = %.0f m, truly walked %.0f m (%+.1f%%)", tr.Distance, y.walked, 100*rel)
	}
	t.Logf("%d points, %d stops, distance %.1f km (walked %.1f km)", len(tr.Points), len(tr.Stops), tr.Distance/1000, y.walked/1000)
}

func TestDaysYear(t *testing.T) {
	y := syntheticYear()
	days := track.Days(y.pts, time.UTC, track.Options{})
	if len(days) != yearDays {
		t.Fatalf("%d days, want %d", len(days), yearDays)
	}
	total := 0.0
	for i, d := range days {
		total += d.Distance
		date := y.start.AddDate(0, 0, i)
		if want := date.Format(time.DateOnly); d.Date != want {
			t.Fatalf("day %d is %s, want %s", i, d.Date, want)
		}
		if d.Points != 24*60 {
			t.Errorf("%s: %d points, want %d", d.Date, d.Points, 24*60)
		}
		var places []string
		for _, s := range d.Stops {
			switch {
			case track.Distance(s.Lat, s.Lon, y.homeLat, y.homeLon) < 25:
				places = append(places, "home")
			case track.Distance(s.Lat, s.Lon, y.schoolLat, y.schoolLon) < 25:
				places = append(places, "school")
			default:
				places = append(places, "?")
			}
		}
		want, wantSteps, wantDist := "[home]", int64(0), 0.0
		if wd := date.Weekday(); wd != time.Saturday && wd != time.Sunday {
			want, wantSteps, wantDist = "[home school home]", 2*y.stepsPerTrip, 2*routeLength
		}
		if got := fmtList(places); got != want {
			t.Errorf("%s (%v): stops %s, want %s", d.Date, date.Weekday(), got, want)
		}
		if d.Steps != wantSteps {
			t.Errorf("%s: %d steps, want %d", d.Date, d.Steps, wantSteps)
		}
		if math.Abs(d.Distance-wantDist) > 0.05*routeLength {
			t.Errorf("%s: distance %.0f m, want about %.0f m", d.Date, d.Distance, wantDist)
		}
	}
	if whole := track.Build(y.pts, track.Options{}).Distance; math.Abs(total-whole) > 1e-6*whole {
		t.Errorf("days add up to %.3f m, the whole track is %.3f m", total, whole)
	}
}

func fmtList(s []string) string {
	out := "["
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out + "]"
}

// BenchmarkBuildYear is issue 5's target: a year of one-minute positions (525,600) to a map-ready
// track. It must stay well under a second (ns/op < 1e9).
func BenchmarkBuildYear(b *testing.B) {
	y := syntheticYear()
	b.ReportAllocs()
	for b.Loop() {
		track.Build(y.pts, track.Options{})
	}
	b.ReportMetric(float64(len(y.pts))*float64(b.N)/b.Elapsed().Seconds(), "points/s")
}

func BenchmarkDaysYear(b *testing.B) {
	y := syntheticYear()
	b.ReportAllocs()
	for b.Loop() {
		track.Days(y.pts, time.UTC, track.Options{})
	}
}
