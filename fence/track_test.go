package fence_test

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"kinwatch/fence"
)

var update = flag.Bool("update", false, "rewrite testdata/school_day.csv from its generator")

// The school day: a 940 m walk from home (east, then north) through the school's south gate, five
// minutes in the yard 50 m inside it waiting for the bell, a classroom 20 m inside the school's
// north border until six hours after arriving, and the walk back.
var (
	schoolCentre = offset(home, 400, 600)
	schoolYard   = polygon(schoolCentre, // (east, north) metres: a 170 × 130 m hexagon
		[2]float64{-80, -60}, [2]float64{70, -60}, [2]float64{90, 0},
		[2]float64{70, 70}, [2]float64{-60, 70}, [2]float64{-80, 20})
	schoolFence = fence.Fence{ID: "school", Name: "school", Shape: fence.Shape{Polygon: schoolYard}}
)

const (
	walkSpeed  = 1.25  // m/s
	toGate     = 940.0 // metres walked from home to the gate, on the border
	gateToYard = 50.0  // metres from the gate to where the child waits for the bell
	gateToRoom = 110.0 // metres from the gate to the classroom, 20 m inside the north border
	schoolSrc  = "testdata/school_day.csv"
	trackSeed  = 20240916
)

// The day, in Berlin: Monday 2024-09-16. Departures are fixed, so the true crossings are too.
var (
	dayStart   = time.Date(2024, 9, 16, 5, 0, 0, 0, time.UTC) // 07:00 CEST, at home
	leaveHome  = dayStart.Add(30 * time.Minute)
	trueEnter  = leaveHome.Add(seconds(toGate / walkSpeed))
	inYard     = trueEnter.Add(seconds(gateToYard / walkSpeed))
	bell       = inYard.Add(5 * time.Minute)
	atDesk     = bell.Add(seconds((gateToRoom - gateToYard) / walkSpeed))
	leaveDesk  = trueEnter.Add(6 * time.Hour)
	trueExit   = leaveDesk.Add(seconds(gateToRoom / walkSpeed))
	backHome   = trueExit.Add(seconds(toGate / walkSpeed))
	dayEnd     = backHome.Add(30 * time.Minute)
	walkFixes  = time.Minute     // GPS outdoors
	indoorFix  = 2 * time.Minute // Wi-Fi indoors
	cellShare  = 0.04            // of the fixes, at random places up to 1.5 km off
	cellAcc    = 1000.0
	wifiWobble = 60.0 // metres, at most
)

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// truePosition is where the child is at t, in metres (north, east) from home.
func truePosition(t time.Time) (n, e float64) {
	along := func(d float64) (float64, float64) { // metres along the route from home
		if d <= 600 {
			return 0, d
		}
		return d - 600, 600
	}
	switch {
	case t.Before(leaveHome):
		return 0, 0
	case t.Before(inYard):
		return along(t.Sub(leaveHome).Seconds() * walkSpeed)
	case t.Before(bell):
		return along(toGate + gateToYard)
	case t.Before(atDesk):
		return along(toGate + gateToYard + t.Sub(bell).Seconds()*walkSpeed)
	case t.Before(leaveDesk):
		return along(toGate + gateToRoom)
	case t.Before(backHome):
		return along(toGate + gateToRoom - t.Sub(leaveDesk).Seconds()*walkSpeed)
	}
	return 0, 0
}

// schoolDay generates the recorded day: Wi-Fi fixes every two minutes at home (±10 m, accuracy
// 20–40 m) and in the classroom, where they wobble up to ±60 m around the child, across the
// border, with accuracy 40–80 m (a slow drift, as access points come and go, plus noise), and 2%
// of them, never two in a row, are 150–400 m off with the same accuracy (a moved access point);
// GPS every minute outdoors (accuracy 5–15 m, error about that); and 4% cell fixes with
// accuracy 1000 m anywhere within 1.5 km. Positions are rounded to 1e-7° so that the file does
// not depend on the last bit of math.Cos.
func schoolDay(seed uint64) []fence.Fix {
	rng := rand.New(rand.NewPCG(seed, 5))
	normal := func() float64 { // Box–Muller on Float64, whose output the PCG pins down
		return math.Sqrt(-2*math.Log(1-rng.Float64())) * math.Cos(2*math.Pi*rng.Float64())
	}
	var fixes []fence.Fix
	var driftN, driftE float64
	outlier := false
	for t := dayStart; !t.After(dayEnd); {
		n, e := truePosition(t)
		outdoors := !t.Before(leaveHome) && t.Before(atDesk) || !t.Before(leaveDesk) && t.Before(backHome)
		atSchool := !t.Before(atDesk) && t.Before(leaveDesk)
		var acc, dn, de float64
		switch {
		case rng.Float64() < cellShare:
			acc = cellAcc
			r, a := 1500*math.Sqrt(rng.Float64()), 2*math.Pi*rng.Float64()
			dn, de = r*math.Sin(a), r*math.Cos(a)
		case outdoors:
			acc = 5 + 10*rng.Float64()
			dn, de = acc/1.5*normal(), acc/1.5*normal()
		case atSchool:
			const rho = 0.875 // two minutes of a drift that forgets in a quarter of an hour
			driftN = rho*driftN + math.Sqrt(1-rho*rho)*30*normal()
			driftE = rho*driftE + math.Sqrt(1-rho*rho)*30*normal()
			dn, de = driftN+12*normal(), driftE+12*normal()
			if r := math.Hypot(dn, de); r > wifiWobble {
				dn, de = dn*wifiWobble/r, de*wifiWobble/r
			}
			acc = 40 + 40*rng.Float64()
			if outlier = !outlier && rng.Float64() < 0.02; outlier {
				r, a := 150+250*rng.Float64(), 2*math.Pi*rng.Float64()
				dn, de = r*math.Sin(a), r*math.Cos(a)
			}
		default: // at home
			acc = 20 + 20*rng.Float64()
			dn, de = 10*normal(), 10*normal()
		}
		p := offset(home, n+dn, e+de)
		fixes = append(fixes, fence.Fix{
			Time: t,
			Lat:  math.Round(p.Lat*1e7) / 1e7, Lon: math.Round(p.Lon*1e7) / 1e7,
			Accuracy: math.Round(acc*10) / 10,
		})
		step := indoorFix
		if outdoors {
			step = walkFixes
		}
		t = t.Add(step + time.Duration(rng.IntN(10))*time.Second)
	}
	return fixes
}

func encodeTrack(fixes []fence.Fix) []byte {
	var b bytes.Buffer
	b.WriteString("time,lat,lon,accuracy\n")
	for _, f := range fixes {
		fmt.Fprintf(&b, "%s,%s,%s,%s\n", f.Time.UTC().Format(time.RFC3339),
			strconv.FormatFloat(f.Lat, 'f', 7, 64), strconv.FormatFloat(f.Lon, 'f', 7, 64),
			strconv.FormatFloat(f.Accuracy, 'f', 1, 64))
	}
	return b.Bytes()
}

func readTrack(t *testing.T, file string) []fence.Fix {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 || fmt.Sprint(rows[0]) != "[time lat lon accuracy]" {
		t.Fatalf("%s: want a header time,lat,lon,accuracy and rows", file)
	}
	var fixes []fence.Fix
	for i, r := range rows[1:] {
		tm, err1 := time.Parse(time.RFC3339, r[0])
		lat, err2 := strconv.ParseFloat(r[1], 64)
		lon, err3 := strconv.ParseFloat(r[2], 64)
		acc, err4 := strconv.ParseFloat(r[3], 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			t.Fatalf("%s: row %d: %v", file, i+2, r)
		}
		fixes = append(fixes, fence.Fix{Time: tm, Lat: lat, Lon: lon, Accuracy: acc})
	}
	return fixes
}

// TestSchoolDayFile keeps the recorded track what its generator makes (go test -update rewrites
// it), so that the file can be read, plotted and replayed on its own.
func TestSchoolDayFile(t *testing.T) {
	got := encodeTrack(schoolDay(trackSeed))
	if *update {
		if err := os.MkdirAll(filepath.Dir(schoolSrc), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(schoolSrc, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schoolSrc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what schoolDay(%d) generates (go test -update to rewrite it)", schoolSrc, trackSeed)
	}
}

// checkSchoolDay wants exactly one Entered and one Exited, each within a few minutes after the
// true crossing.
func checkSchoolDay(t *testing.T, f fence.Fence, fixes []fence.Fix) {
	t.Helper()
	_, events := run(f, fence.Options{}, fixes)
	if len(events) != 2 || events[0].Transition != fence.Entered || events[1].Transition != fence.Exited {
		t.Fatalf("transitions %v at %v, want [entered exited]", kinds(events), events)
	}
	for i, want := range []time.Time{trueEnter, trueExit} {
		t.Logf("%s %s after the true crossing", events[i].Transition, events[i].Time.Sub(want))
		if lag := events[i].Time.Sub(want); lag.Abs() > 5*time.Minute {
			t.Errorf("%s at %s, %s after the true crossing; want within 5 minutes", events[i].Transition,
				events[i].Time.Format(time.TimeOnly), lag)
		}
	}
}

// TestJitteryTrack replays the recorded day: the classroom's Wi-Fi fixes wobble across the border
// all day and cell fixes land anywhere, and the guardian hears exactly "entered" and "exited".
func TestJitteryTrack(t *testing.T) {
	fixes := readTrack(t, schoolSrc)
	var wifiOutside, wifiClearOutside, cells, naive int
	prevInside := false
	for _, f := range fixes {
		d := schoolFence.Shape.SignedDistance(fence.LatLon{Lat: f.Lat, Lon: f.Lon})
		if inside := d < 0; inside != prevInside { // what a tracker without hysteresis would raise
			naive++
			prevInside = inside
		}
		switch {
		case f.Accuracy >= cellAcc:
			cells++
		case f.Time.After(atDesk) && f.Time.Before(leaveDesk) && d > 0:
			wifiOutside++
			if d > f.Accuracy {
				wifiClearOutside++
			}
		}
	}
	// The track must be as nasty as it claims.
	if wifiOutside < 20 || cells < 5 || naive < 20 {
		t.Fatalf("the track has %d classroom fixes outside the border, %d cell fixes and %d naive transitions; regenerate a jittery one",
			wifiOutside, cells, naive)
	}
	t.Logf("%d fixes; in class %d beyond the border (%d of them by more than their accuracy); %d cell fixes; %d transitions without hysteresis",
		len(fixes), wifiOutside, wifiClearOutside, cells, naive)

	t.Run("always active", func(t *testing.T) { checkSchoolDay(t, schoolFence, fixes) })
	t.Run("school hours", func(t *testing.T) {
		f := schoolFence
		f.Schedules = []fence.Schedule{{Days: weekdays, From: "07:15", To: "16:00", Location: berlin(t)}}
		checkSchoolDay(t, f, fixes)
	})
}

// TestJitteryTrackSeeds replays many more such days, so that the recorded one is not a lucky draw.
func TestJitteryTrackSeeds(t *testing.T) {
	n := 500
	if testing.Short() {
		n = 50
	}
	for seed := range uint64(n) {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) { checkSchoolDay(t, schoolFence, schoolDay(seed)) })
	}
}
