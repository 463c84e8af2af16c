package fence_test

import (
	"math"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin whatever the machine has installed

	"kinwatch/fence"
)

// metresPerDeg is a degree of latitude on the sphere the package measures on.
const metresPerDeg = 6371008.8 * math.Pi / 180

// Home in Berlin, the origin of the tests' local maps.
var home = fence.LatLon{Lat: 52.5200, Lon: 13.4050}

// offset returns the position north and east metres from p (a flat map around p, which is what
// the package's polygon projection is for points near the fence), across the antimeridian if
// need be.
func offset(p fence.LatLon, north, east float64) fence.LatLon {
	lon := p.Lon + east/(metresPerDeg*math.Cos(p.Lat*math.Pi/180))
	switch {
	case lon > 180:
		lon -= 360
	case lon < -180:
		lon += 360
	}
	return fence.LatLon{Lat: p.Lat + north/metresPerDeg, Lon: lon}
}

// polygon builds a polygon from (east, north) offsets in metres from p.
func polygon(p fence.LatLon, en ...[2]float64) []fence.LatLon {
	poly := make([]fence.LatLon, len(en))
	for i, v := range en {
		poly[i] = offset(p, v[1], v[0])
	}
	return poly
}

func berlin(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

var weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}

// circleFence is a 100 m circle at home, always active: a fix n metres north of home is n-100
// metres from its border.
func circleFence() fence.Fence {
	return fence.Fence{ID: "f1", Name: "home", Shape: fence.Shape{Circle: &fence.Circle{Center: home, Radius: 100}}}
}

// north is a fix at minute min after t0, n metres north of home, with accuracy acc.
func north(t0 time.Time, min float64, n, acc float64) fence.Fix {
	p := offset(home, n, 0)
	return fence.Fix{Time: t0.Add(time.Duration(min * float64(time.Minute))), Lat: p.Lat, Lon: p.Lon, Accuracy: acc}
}

// run feeds fixes through a fresh tracker and returns the transitions that happened, with times.
func run(f fence.Fence, opt fence.Options, fixes []fence.Fix) (*fence.Tracker, []event) {
	var tr fence.Tracker
	var events []event
	for _, fx := range fixes {
		if got := tr.Update(f, fx, opt); got != fence.None {
			events = append(events, event{got, fx.Time})
		}
	}
	return &tr, events
}

type event struct {
	Transition fence.Transition
	Time       time.Time
}

func kinds(events []event) []fence.Transition {
	var k []fence.Transition
	for _, e := range events {
		k = append(k, e.Transition)
	}
	return k
}
