package geo_test

import (
	"math"
	"testing"

	"kinwatch/geo"
)

// around returns an observation east and north metres from the home point, heard as the path loss
// model says from there.
func around(east, north, radius float64) geo.Observation {
	lat, lon := offset(homeLat, homeLon, east, north)
	return geo.Observation{Lat: lat, Lon: lon, Radius: radius, Signal: signalAt(math.Hypot(east, north))}
}

func TestEstimate(t *testing.T) {
	four := []geo.Observation{around(30, 0, 30), around(0, 60, 30), around(-45, -20, 40), around(10, -80, 30)}
	movedLat, movedLon := offset(homeLat, homeLon, 5000, 0)
	moved := append(append([]geo.Observation(nil), four...),
		geo.Observation{Lat: movedLat, Lon: movedLon, Radius: 30, Signal: -60}) // strong: the router moved and came along
	l1, o1 := offset(homeLat, homeLon, 40, 10)
	l2, o2 := offset(homeLat, homeLon, -20, 70)
	l3, o3 := offset(homeLat, homeLon, 5, -50)
	farLat, farLon := offset(homeLat, homeLon, 3000, 0)

	tests := []struct {
		name       string
		obs        []geo.Observation
		wantOK     bool
		lat, lon   float64 // where the estimate must be
		within     float64 // metres; 0: within the reported accuracy
		accAtLeast float64
		accAtMost  float64
	}{
		{name: "among four access points", obs: four, wantOK: true, lat: homeLat, lon: homeLon, accAtLeast: geo.MinAccuracy, accAtMost: 120},
		{name: "a moved access point is rejected", obs: moved, wantOK: true, lat: homeLat, lon: homeLon, accAtMost: 120},
		{name: "equal signals give the centroid", wantOK: true,
			obs: []geo.Observation{{Lat: l1, Lon: o1, Radius: 20, Signal: -70}, {Lat: l2, Lon: o2, Radius: 20, Signal: -70}, {Lat: l3, Lon: o3, Radius: 20, Signal: -70}},
			lat: (l1 + l2 + l3) / 3, lon: (o1 + o2 + o3) / 3, within: 0.5},
		{name: "unknown signals give the centroid", wantOK: true,
			obs: []geo.Observation{{Lat: l1, Lon: o1}, {Lat: l2, Lon: o2}, {Lat: l3, Lon: o3}},
			lat: (l1 + l2 + l3) / 3, lon: (o1 + o2 + o3) / 3, within: 0.5},
		{name: "a single observation is its position and radius", wantOK: true,
			obs: []geo.Observation{{Lat: l1, Lon: o1, Radius: 40, Signal: -60}}, lat: l1, lon: o1, within: 0.01, accAtLeast: 40, accAtMost: 40},
		{name: "a single observation keeps the floor", wantOK: true,
			obs: []geo.Observation{{Lat: l1, Lon: o1, Radius: 3, Signal: -60}}, lat: l1, lon: o1, within: 0.01, accAtLeast: geo.MinAccuracy, accAtMost: geo.MinAccuracy},
		{name: "two that disagree keep both and say so", wantOK: true,
			obs: []geo.Observation{{Lat: homeLat, Lon: homeLon, Radius: 30, Signal: -70}, {Lat: farLat, Lon: farLon, Radius: 30, Signal: -70}},
			lat: (homeLat + farLat) / 2, lon: (homeLon + farLon) / 2, within: 5, accAtLeast: 1500},
		{name: "across the antimeridian", wantOK: true,
			obs: []geo.Observation{{Lat: -16.5, Lon: 179.9999, Radius: 30, Signal: -70}, {Lat: -16.5, Lon: -179.9999, Radius: 30, Signal: -70}},
			lat: -16.5, lon: 180, within: 1},
		{name: "unusable coordinates are ignored", wantOK: true,
			obs: []geo.Observation{{Lat: 0, Lon: 0, Radius: 10}, {Lat: math.NaN(), Lon: 1}, {Lat: 91, Lon: 1}, {Lat: l1, Lon: o1, Radius: 25}},
			lat: l1, lon: o1, within: 0.01, accAtLeast: 25, accAtMost: 25},
		{name: "no observations", obs: nil},
		{name: "only 0,0", obs: []geo.Observation{{Lat: 0, Lon: 0, Radius: 10}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lat, lon, acc, ok := geo.Estimate(tt.obs)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			d := geo.Distance(lat, lon, tt.lat, tt.lon)
			within := tt.within
			if within == 0 {
				within = acc
			}
			if d > within {
				t.Errorf("estimate %.6f,%.6f is %.1f m from %.6f,%.6f, more than %.1f m (accuracy %.1f m)", lat, lon, d, tt.lat, tt.lon, within, acc)
			}
			if acc < tt.accAtLeast || (tt.accAtMost > 0 && acc > tt.accAtMost) || acc < geo.MinAccuracy {
				t.Errorf("accuracy %.1f m, want within [%.1f, %.1f]", acc, max(tt.accAtLeast, geo.MinAccuracy), tt.accAtMost)
			}
		})
	}
}

// TestEstimateRejectsLikeWithout checks that the moved access point has no influence at all: the
// estimate is the one without it.
func TestEstimateRejectsLikeWithout(t *testing.T) {
	four := []geo.Observation{around(30, 0, 30), around(0, 60, 30), around(-45, -20, 40), around(10, -80, 30)}
	movedLat, movedLon := offset(homeLat, homeLon, 0, -5000)
	with := append(append([]geo.Observation(nil), four...), geo.Observation{Lat: movedLat, Lon: movedLon, Radius: 30, Signal: -45})
	lat1, lon1, acc1, _ := geo.Estimate(four)
	lat2, lon2, acc2, _ := geo.Estimate(with)
	if d := geo.Distance(lat1, lon1, lat2, lon2); d > 0.01 || math.Abs(acc1-acc2) > 0.01 {
		t.Errorf("with the moved access point: %.2f m away, accuracy %.1f instead of %.1f m", d, acc2, acc1)
	}
}

// TestEstimateStrongerIsCloser checks the weighting: the estimate leans to the stronger of two.
func TestEstimateStrongerIsCloser(t *testing.T) {
	aLat, aLon := offset(homeLat, homeLon, -50, 0)
	bLat, bLon := offset(homeLat, homeLon, 50, 0)
	lat, lon, _, _ := geo.Estimate([]geo.Observation{{Lat: aLat, Lon: aLon, Signal: -50}, {Lat: bLat, Lon: bLon, Signal: -80}})
	if da, db := geo.Distance(lat, lon, aLat, aLon), geo.Distance(lat, lon, bLat, bLon); da >= db {
		t.Errorf("estimate %.1f m from the strong one, %.1f m from the weak one", da, db)
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want, tolerance        float64
	}{
		{"same point", homeLat, homeLon, homeLat, homeLon, 0, 1e-9},
		{"one degree of latitude", 0, 10, 1, 10, 111195, 1},
		{"Berlin to Paris", 52.520008, 13.404954, 48.856613, 2.352222, 877_500, 1500},
		{"across the antimeridian", 0, 179.5, 0, -179.5, 111195, 1},
		{"antipodes", 0, 0, 0, 180, math.Pi * 6371008.8, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := geo.Distance(tt.lat1, tt.lon1, tt.lat2, tt.lon2); math.Abs(got-tt.want) > tt.tolerance {
				t.Errorf("Distance = %.1f m, want %.1f ± %.1f", got, tt.want, tt.tolerance)
			}
		})
	}
}

// FuzzEstimate checks that no input makes Estimate panic or answer something impossible.
func FuzzEstimate(f *testing.F) {
	f.Add(52.5, 13.4, 30.0, -70, 52.5005, 13.4, 20.0, -80, 0.0, 0.0, 0.0, 0)
	f.Add(-16.5, 179.9999, 1e9, 5, -16.5, -179.9999, math.NaN(), -200, 89.99, 0.1, -1.0, 0)
	f.Fuzz(func(t *testing.T, la1, lo1, r1 float64, s1 int, la2, lo2, r2 float64, s2 int, la3, lo3, r3 float64, s3 int) {
		lat, lon, acc, ok := geo.Estimate([]geo.Observation{
			{Lat: la1, Lon: lo1, Radius: r1, Signal: s1}, {Lat: la2, Lon: lo2, Radius: r2, Signal: s2}, {Lat: la3, Lon: lo3, Radius: r3, Signal: s3},
		})
		if !ok {
			return
		}
		if math.IsNaN(lat) || math.IsNaN(lon) || math.Abs(lat) > 90 || math.Abs(lon) > 180 || !(acc >= geo.MinAccuracy) {
			t.Fatalf("Estimate = %v, %v, %v", lat, lon, acc)
		}
	})
}
