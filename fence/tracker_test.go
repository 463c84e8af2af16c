package fence_test

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"kinwatch/fence"
)

var t0 = time.Date(2024, 9, 16, 6, 0, 0, 0, time.UTC) // a Monday, 08:00 in Berlin

func TestTracker(t *testing.T) {
	type fx = fence.Fix
	// at builds a fix at minute m, n metres north of home (n-100 from the border of circleFence).
	at := func(m, n, acc float64) fx { return north(t0, m, n, acc) }
	in := func(m float64) fx { return at(m, 0, 40) }    // clearly inside, Wi-Fi
	out := func(m float64) fx { return at(m, 300, 50) } // clearly outside, Wi-Fi
	gpsOut := func(m float64) fx { return at(m, 300, 8) }
	gpsIn := func(m float64) fx { return at(m, 0, 8) }
	cell := func(m float64) fx { return at(m, 5000, 1000) }

	tests := []struct {
		name      string
		opt       fence.Options
		fixes     []fx
		want      []fence.Transition
		wantAt    []float64 // minutes, if given
		wantState fence.State
	}{
		{"start-up inside: no entered", fence.Options{}, []fx{in(0), in(1)}, nil, nil, fence.Inside},
		{"start-up outside: no exited", fence.Options{}, []fx{out(0), out(1)}, nil, nil, fence.Outside},
		{"start-up ambiguous: unknown", fence.Options{}, []fx{at(0, 100, 50), at(1, 60, 50), at(2, 140, 50)}, nil, nil, fence.Unknown},
		{"start-up after ambiguous fixes", fence.Options{}, []fx{at(0, 100, 50), out(1), in(2), in(3)}, []fence.Transition{fence.Entered}, []float64{3}, fence.Inside},
		{"enter after two clear fixes", fence.Options{}, []fx{out(0), out(5), in(10), in(12)}, []fence.Transition{fence.Entered}, []float64{12}, fence.Inside},
		{"exit after two clear fixes", fence.Options{}, []fx{in(0), in(5), out(10), out(12)}, []fence.Transition{fence.Exited}, []float64{12}, fence.Outside},
		{"enter and exit", fence.Options{}, []fx{out(0), out(1), in(2), in(3), out(4), out(5)}, []fence.Transition{fence.Entered, fence.Exited}, []float64{3, 5}, fence.Outside},
		{"ambiguous fixes change nothing", fence.Options{}, []fx{out(0), out(1), at(2, 60, 50), at(3, 60, 50), at(4, 55, 45), at(5, 140, 50)}, nil, nil, fence.Outside},
		{"MinMargin: 15 m with 3 m accuracy is clear", fence.Options{}, []fx{in(0), in(1), at(2, 115, 3), at(2.5, 115, 3)}, []fence.Transition{fence.Exited}, nil, fence.Outside},
		{"MinMargin: 8 m with 3 m accuracy is not", fence.Options{}, []fx{in(0), in(1), at(2, 108, 3), at(3, 108, 3), at(4, 108, 0)}, nil, nil, fence.Inside},
		{"MinMargin 20: 15 m is not clear", fence.Options{MinMargin: 20}, []fx{in(0), in(1), at(2, 115, 3), at(2.5, 115, 3)}, nil, nil, fence.Inside},
		{"a run is broken by an ambiguous fix", fence.Options{}, []fx{in(0), in(1), out(2), at(3, 120, 50), out(4), out(5)}, []fence.Transition{fence.Exited}, []float64{5}, fence.Outside},
		{"a run is broken by a fix on the current side", fence.Options{}, []fx{in(0), in(1), out(2), at(3, 80, 50), out(4), out(5)}, []fence.Transition{fence.Exited}, []float64{5}, fence.Outside},
		{"Confirm 3", fence.Options{Confirm: 3}, []fx{in(0), in(1), in(2), out(3), out(4), out(5)}, []fence.Transition{fence.Exited}, []float64{5}, fence.Outside},
		{"Confirm 1 changes at once", fence.Options{Confirm: 1}, []fx{in(0), out(1), in(2)}, []fence.Transition{fence.Exited, fence.Entered}, []float64{1, 2}, fence.Inside},

		{"fast: a precise fix exits a firm state", fence.Options{}, []fx{in(0), in(5), gpsOut(10)}, []fence.Transition{fence.Exited}, []float64{10}, fence.Outside},
		{"fast: and enters", fence.Options{}, []fx{out(0), out(5), gpsIn(10)}, []fence.Transition{fence.Entered}, []float64{10}, fence.Inside},
		{"fast: exactly MinDwell after the last fix inside", fence.Options{}, []fx{in(0), in(5), gpsOut(6)}, []fence.Transition{fence.Exited}, []float64{6}, fence.Outside},
		{"fast: not within MinDwell of a fix inside", fence.Options{}, []fx{in(0), in(5), gpsOut(5.9), gpsOut(6.5)}, []fence.Transition{fence.Exited}, []float64{6.5}, fence.Outside},
		{"fast: an ambiguous fix leaning inside counts as inside", fence.Options{}, []fx{in(0), in(1), at(9.5, 90, 50), gpsOut(10)}, nil, nil, fence.Inside},
		{"fast: MinDwell 10 min", fence.Options{MinDwell: 10 * time.Minute}, []fx{in(0), in(1), gpsOut(10)}, nil, nil, fence.Inside},
		{"fast: not from a state set by one fix", fence.Options{}, []fx{in(0), gpsOut(10)}, nil, nil, fence.Inside},
		{"fast: not with Wi-Fi accuracy", fence.Options{}, []fx{in(0), in(1), out(10)}, nil, nil, fence.Inside},
		{"fast: FastAccuracy 60", fence.Options{FastAccuracy: 60}, []fx{in(0), in(1), out(10)}, []fence.Transition{fence.Exited}, []float64{10}, fence.Outside},
		{"fast: not after a clear fix outside undid firmness", fence.Options{}, []fx{in(0), in(1), out(2), in(3), gpsOut(10)}, nil, nil, fence.Inside},

		{"cell fixes are ignored", fence.Options{}, []fx{in(0), in(1), cell(2), cell(3), cell(4)}, nil, nil, fence.Inside},
		{"cell fixes do not break a run", fence.Options{}, []fx{in(0), in(1), out(2), cell(3), out(4)}, []fence.Transition{fence.Exited}, []float64{4}, fence.Outside},
		{"cell fixes count under a larger MaxAccuracy", fence.Options{MaxAccuracy: 2000}, []fx{in(0), in(1), cell(2), cell(3)}, []fence.Transition{fence.Exited}, []float64{3}, fence.Outside},
		{"a 1000 m cell fix cannot be clearly inside a 100 m circle", fence.Options{MaxAccuracy: 2000}, []fx{out(0), out(1), at(2, 0, 1000), at(3, 0, 1000)}, nil, nil, fence.Outside},

		{"out of order fixes are ignored", fence.Options{}, []fx{in(0), in(10), out(5), out(6), out(7)}, nil, nil, fence.Inside},
		{"a repeated fix counts once", fence.Options{}, []fx{in(0), in(1), out(10), out(10), out(10)}, nil, nil, fence.Inside},
		{"late fixes after out of order ones", fence.Options{}, []fx{in(0), in(10), out(5), out(11), out(12)}, []fence.Transition{fence.Exited}, []float64{12}, fence.Outside},

		{"unusable fixes are ignored", fence.Options{}, []fx{
			in(0), in(1),
			{Time: t0.Add(2 * time.Minute), Lat: math.NaN(), Lon: 13, Accuracy: 10},
			{Time: t0.Add(3 * time.Minute), Lat: 0, Lon: 0, Accuracy: 10},
			{Time: t0.Add(4 * time.Minute), Lat: 95, Lon: 13, Accuracy: 10},
			{Time: t0.Add(5 * time.Minute), Lat: 52.6, Lon: 13.4, Accuracy: -1},
			{Time: t0.Add(6 * time.Minute), Lat: 52.6, Lon: 13.4, Accuracy: math.NaN()},
			{Time: t0.Add(7 * time.Minute), Lat: 52.6, Lon: 13.4, Accuracy: math.Inf(1)},
			{Lat: 52.6, Lon: 13.4, Accuracy: 10}, // no time
		}, nil, nil, fence.Inside},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, events := run(circleFence(), tt.opt, tt.fixes)
			if got := kinds(events); !slices.Equal(got, tt.want) {
				t.Fatalf("transitions %v, want %v (tracker %+v)", got, tt.want, *tr)
			}
			for i, m := range tt.wantAt {
				if want := t0.Add(time.Duration(m * float64(time.Minute))); !events[i].Time.Equal(want) {
					t.Errorf("%s at minute %g, want %g", events[i].Transition, events[i].Time.Sub(t0).Minutes(), m)
				}
			}
			if tr.State != tt.wantState {
				t.Errorf("state %s, want %s", tr.State, tt.wantState)
			}
		})
	}
}

// TestTrackerOnTheBorder: a fix exactly on the border (here a polygon's vertex) leans nowhere, so
// it breaks a run like any ambiguous fix.
func TestTrackerOnTheBorder(t *testing.T) {
	sq := polygon(home, [2]float64{-100, -100}, [2]float64{100, -100}, [2]float64{100, 100}, [2]float64{-100, 100})
	f := fence.Fence{Name: "square", Shape: fence.Shape{Polygon: sq}}
	if d := f.Shape.SignedDistance(sq[2]); d != 0 {
		t.Fatalf("SignedDistance(vertex) = %g, want 0", d)
	}
	fix := func(m float64, p fence.LatLon, acc float64) fence.Fix {
		return fence.Fix{Time: t0.Add(time.Duration(m) * time.Minute), Lat: p.Lat, Lon: p.Lon, Accuracy: acc}
	}
	far := offset(home, 400, 0)
	tr, events := run(f, fence.Options{}, []fence.Fix{
		fix(0, home, 40), fix(1, home, 40), fix(2, far, 40), fix(3, sq[2], 1), fix(4, far, 40),
	})
	if len(events) != 0 || tr.State != fence.Inside || tr.PendingCount != 1 {
		t.Fatalf("transitions %v, tracker %+v; want none, inside, one fix outside pending", kinds(events), *tr)
	}
}

// TestTrackerIgnoresOldFixes checks what is kept: LastFix never goes back, and an ignored fix
// changes nothing at all.
func TestTrackerIgnoresOldFixes(t *testing.T) {
	f := circleFence()
	var tr fence.Tracker
	tr.Update(f, north(t0, 0, 0, 20), fence.Options{})
	tr.Update(f, north(t0, 10, 0, 20), fence.Options{})
	before := tr
	for _, fx := range []fence.Fix{north(t0, 5, 300, 10), north(t0, 10, 300, 10), {Time: t0.Add(time.Hour), Lat: math.NaN()}} {
		if got := tr.Update(f, fx, fence.Options{}); got != fence.None || tr != before {
			t.Fatalf("Update(%v) = %s, tracker %+v; want none and %+v", fx, got, tr, before)
		}
	}
}

// TestNoFlapping feeds fixes that alternate across the border with small accuracy, at every
// cadence and from every starting state: at most one transition.
func TestNoFlapping(t *testing.T) {
	f := circleFence()
	for _, start := range []string{"fresh", "firmly inside", "firmly outside"} {
		for _, every := range []time.Duration{5 * time.Second, time.Minute, 61 * time.Second, 5 * time.Minute, time.Hour} {
			for _, swing := range []float64{1, 5, 11, 15, 40} { // metres either side of the border
				for _, acc := range []float64{0, 3, 8} {
					name := fmt.Sprintf("%s, every %s, ±%g m, accuracy %g m", start, every, swing, acc)
					var fixes []fence.Fix
					switch start {
					case "firmly inside":
						fixes = append(fixes, north(t0, -10, 0, 5), north(t0, -9, 0, 5))
					case "firmly outside":
						fixes = append(fixes, north(t0, -10, 300, 5), north(t0, -9, 300, 5))
					}
					for i := range 200 {
						n := 100 + swing
						if i%2 == 1 {
							n = 100 - swing
						}
						fx := north(t0, 0, n, acc)
						fx.Time = t0.Add(time.Duration(i) * every)
						fixes = append(fixes, fx)
					}
					if _, events := run(f, fence.Options{}, fixes); len(events) > 1 {
						t.Errorf("%s: %d transitions %v, want at most one", name, len(events), kinds(events))
					}
				}
			}
		}
	}
}

func TestScheduleStartAndEnd(t *testing.T) {
	loc := berlin(t)
	school := circleFence()
	school.Schedules = []fence.Schedule{{Days: weekdays, From: "08:00", To: "15:00", Location: loc}}
	lunch := circleFence() // at school until 12:00, at home for lunch, back from 13:00
	lunch.Schedules = []fence.Schedule{
		{Days: weekdays, From: "08:00", To: "12:00", Location: loc},
		{Days: weekdays, From: "13:00", To: "15:00", Location: loc},
	}
	seamless := circleFence() // two windows that meet at 12:00 are one
	seamless.Schedules = []fence.Schedule{
		{Days: weekdays, From: "08:00", To: "12:00", Location: loc},
		{Days: []time.Weekday{time.Monday}, From: "12:00", To: "15:00", Location: loc},
	}
	berlinTime := func(day int, hm string, n, acc float64) fence.Fix {
		var h, m int
		fmt.Sscanf(hm, "%d:%d", &h, &m)
		fx := north(t0, 0, n, acc)
		fx.Time = time.Date(2024, 9, day, h, m, 0, 0, loc) // the 16th is a Monday
		return fx
	}
	in := func(day int, hm string) fence.Fix { return berlinTime(day, hm, 0, 20) }
	out := func(day int, hm string) fence.Fix { return berlinTime(day, hm, 300, 20) }

	tests := []struct {
		name      string
		fence     fence.Fence
		fixes     []fence.Fix
		want      []fence.Transition
		wantState fence.State
	}{
		{"inside when the schedule starts: no entered", school, []fence.Fix{out(16, "07:50"), out(16, "07:55"), in(16, "08:00"), in(16, "08:05")}, nil, fence.Inside},
		{"fixes before the schedule are not evaluated", school, []fence.Fix{out(16, "07:50"), out(16, "07:55"), in(16, "07:58"), in(16, "07:59")}, nil, fence.Unknown},
		{"leaving after the schedule ends: no exited", school, []fence.Fix{in(16, "14:50"), in(16, "14:55"), out(16, "15:05"), out(16, "15:10")}, nil, fence.Unknown},
		{"a new day starts afresh even with no fix between", school, []fence.Fix{in(16, "14:50"), in(16, "14:55"), out(17, "08:05"), out(17, "08:10"), in(17, "08:20"), in(17, "08:25")}, []fence.Transition{fence.Entered}, fence.Inside},
		{"within the schedule: entered and exited", school, []fence.Fix{out(16, "08:00"), out(16, "08:05"), in(16, "08:10"), in(16, "08:15"), out(16, "14:00"), out(16, "14:05")}, []fence.Transition{fence.Entered, fence.Exited}, fence.Outside},
		{"after a break in the schedule, afresh", lunch, []fence.Fix{in(16, "11:50"), in(16, "11:55"), out(16, "13:05"), out(16, "13:10")}, nil, fence.Outside},
		{"windows that meet are one", seamless, []fence.Fix{in(16, "11:50"), in(16, "11:55"), out(16, "12:05"), out(16, "12:10")}, []fence.Transition{fence.Exited}, fence.Outside},
		{"a weekend between", school, []fence.Fix{in(20, "14:50"), in(20, "14:55"), out(21, "10:00"), out(23, "08:00"), out(23, "08:05")}, nil, fence.Outside},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, events := run(tt.fence, fence.Options{}, tt.fixes)
			if got := kinds(events); !slices.Equal(got, tt.want) {
				t.Fatalf("transitions %v, want %v (tracker %+v)", got, tt.want, *tr)
			}
			if tr.State != tt.wantState {
				t.Errorf("state %s, want %s", tr.State, tt.wantState)
			}
		})
	}
}

func BenchmarkUpdate(b *testing.B) {
	fixes := schoolDay(1)
	scheduled := schoolFence
	scheduled.Schedules = []fence.Schedule{{Days: weekdays, From: "07:15", To: "16:00", Location: berlin(b)}}
	for _, f := range []fence.Fence{circleFence(), schoolFence, scheduled} {
		name := "circle"
		if f.Shape.Circle == nil {
			name = "polygon"
		}
		if len(f.Schedules) > 0 {
			name += "+schedule"
		}
		b.Run(name, func(b *testing.B) {
			var tr fence.Tracker
			for i := 0; b.Loop(); i++ {
				fx := fixes[i%len(fixes)]
				fx.Time = t0.Add(time.Duration(i) * time.Second)
				tr.Update(f, fx, fence.Options{})
			}
		})
	}
}
