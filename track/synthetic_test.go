package track_test

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"kinwatch/track"
)

// metresPerDeg is a degree of latitude on the sphere the package measures on.
const metresPerDeg = 6371008.8 * math.Pi / 180

// offset returns the position north metres from lat, lon and then east metres along that parallel.
func offset(lat, lon, north, east float64) (float64, float64) {
	lat += north / metresPerDeg
	return lat, lon + east/(metresPerDeg*math.Cos(lat*math.Pi/180))
}

// year is a synthetic year of one watch reporting every minute.
type year struct {
	pts          []track.Point
	start        time.Time // 2024-01-01T00:00Z, a Monday
	homeLat      float64
	homeLon      float64
	schoolLat    float64
	schoolLon    float64
	walked       float64 // metres truly walked
	weekdays     int
	stepsPerTrip int64
}

// The school is 1 km east and 800 m north of home; the child walks east, then north.
const (
	yearDays     = 365 // 525,600 minutes, from 2024-01-01 to 2024-12-30
	routeEast    = 1000.0
	routeNorth   = 800.0
	routeLength  = routeEast + routeNorth
	walkSpeed    = 1.25 // m/s: 75 m a minute, 24 minutes a trip
	stepsPerMin  = 107  // at 0.7 m a step
	gpsNoise     = 10.0 // metres, uniform in a disc
	cellShare    = 0.02
	cellAccuracy = 1000.0
	jumpShare    = 0.001
	jumpDistance = 50e3
)

var departures = [2]time.Duration{7*time.Hour + 30*time.Minute, 14 * time.Hour}

// syntheticYear is a home–school–home pattern on weekdays (home all weekend), every minute of
// 365 days from 2024-01-01 (UTC): GPS with ±10 m noise, 2% cell fixes of 1 km accuracy up to 1 km
// off, and 0.1% GPS jumps of 50 km. The step counter resets at midnight. Built once and shared: treat as read-only.
var syntheticYear = sync.OnceValue(func() *year {
	rng := rand.New(rand.NewPCG(5, 2024))
	y := &year{start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), homeLat: 52.5200, homeLon: 13.4050}
	y.schoolLat, y.schoolLon = offset(y.homeLat, y.homeLon, routeNorth, routeEast)
	tripTime := time.Duration(routeLength / walkSpeed * float64(time.Second))
	y.stepsPerTrip = int64(tripTime/time.Minute) * stepsPerMin
	y.pts = make([]track.Point, 0, yearDays*24*60)
	for day := range yearDays {
		midnight := y.start.AddDate(0, 0, day)
		weekday := midnight.Weekday() != time.Saturday && midnight.Weekday() != time.Sunday
		if weekday {
			y.weekdays++
			y.walked += 2 * routeLength
		}
		var steps int64
		for m := range 24 * 60 {
			since := time.Duration(m) * time.Minute
			// s: metres along the route from home.
			s := 0.0
			if weekday {
				switch {
				case since < departures[0]:
				case since < departures[0]+tripTime:
					s = walkSpeed * (since - departures[0]).Seconds()
				case since < departures[1]:
					s = routeLength
				case since < departures[1]+tripTime:
					s = routeLength - walkSpeed*(since-departures[1]).Seconds()
				}
			}
			if weekday && ((since > departures[0] && since <= departures[0]+tripTime) || (since > departures[1] && since <= departures[1]+tripTime)) {
				steps += stepsPerMin
			}
			north, east := 0.0, s
			if s > routeEast {
				north, east = s-routeEast, routeEast
			}
			p := track.Point{Time: midnight.Add(since), Accuracy: gpsNoise, Source: "gps", Steps: steps}
			switch r := rng.Float64(); {
			case r < jumpShare:
				a := rng.Float64() * 2 * math.Pi
				north, east = north+jumpDistance*math.Sin(a), east+jumpDistance*math.Cos(a)
			case r < jumpShare+cellShare:
				p.Source, p.Accuracy = "cell", cellAccuracy
				dn, de := disc(rng, cellAccuracy)
				north, east = north+dn, east+de
			default:
				dn, de := disc(rng, gpsNoise)
				north, east = north+dn, east+de
			}
			p.Lat, p.Lon = offset(y.homeLat, y.homeLon, north, east)
			y.pts = append(y.pts, p)
		}
	}
	return y
})

// disc returns a uniform random offset within r metres.
func disc(rng *rand.Rand, r float64) (north, east float64) {
	d, a := r*math.Sqrt(rng.Float64()), rng.Float64()*2*math.Pi
	return d * math.Sin(a), d * math.Cos(a)
}
