package track_test

import (
	"fmt"
	"math"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin wherever the tests run

	"kinwatch/track"
)

func berlin(t testing.TB) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// counter makes points at home, at the given RFC 3339 times with the given step counter values.
func counter(pairs ...any) []track.Point {
	var pts []track.Point
	for i := 0; i < len(pairs); i += 2 {
		tm, err := time.Parse(time.RFC3339, pairs[i].(string))
		if err != nil {
			panic(err)
		}
		pts = append(pts, track.Point{Time: tm, Lat: 52.52, Lon: 13.405, Accuracy: 10, Source: "gps", Steps: int64(pairs[i+1].(int))})
	}
	return pts
}

// summary is what the table compares of a Day.
func summary(days []track.Day) []string {
	out := make([]string, len(days))
	for i, d := range days {
		out[i] = fmt.Sprintf("%s points=%d steps=%d stops=%d", d.Date, d.Points, d.Steps, len(d.Stops))
	}
	return out
}

func TestDays(t *testing.T) {
	tests := []struct {
		name string
		pts  []track.Point
		loc  *time.Location
		want []string
	}{
		{"no points", nil, time.UTC, []string{}},
		{"midnight reset",
			counter("2025-03-03T08:00:00Z", 100, "2025-03-03T12:00:00Z", 500, "2025-03-03T20:00:00Z", 1000,
				"2025-03-04T00:30:00Z", 0, "2025-03-04T08:00:00Z", 200, "2025-03-04T12:00:00Z", 800),
			time.UTC, []string{"2025-03-03 points=3 steps=1000 stops=1", "2025-03-04 points=3 steps=800 stops=1"}},
		{"a reboot mid-day",
			counter("2025-03-03T08:00:00Z", 100, "2025-03-03T11:00:00Z", 2000, "2025-03-03T11:05:00Z", 50, "2025-03-03T18:00:00Z", 300),
			time.UTC, []string{"2025-03-03 points=4 steps=2300 stops=1"}},
		{"a counter without a midnight reset",
			counter("2025-03-03T20:00:00Z", 1000, "2025-03-04T08:00:00Z", 1200),
			time.UTC, []string{"2025-03-03 points=1 steps=1000 stops=1", "2025-03-04 points=1 steps=200 stops=1"}},
		{"unknown counters are skipped",
			counter("2025-03-03T08:00:00Z", 300, "2025-03-03T09:00:00Z", 0, "2025-03-03T10:00:00Z", 400),
			time.UTC, []string{"2025-03-03 points=3 steps=400 stops=1"}},
		{"a day without points is absent",
			counter("2025-03-03T08:00:00Z", 10, "2025-03-05T08:00:00Z", 20),
			time.UTC, []string{"2025-03-03 points=1 steps=10 stops=1", "2025-03-05 points=1 steps=10 stops=1"}},
		{"23:30 UTC is the same day in UTC",
			counter("2025-03-03T22:30:00Z", 10, "2025-03-03T23:30:00Z", 20),
			time.UTC, []string{"2025-03-03 points=2 steps=20 stops=1"}},
		{"23:30 UTC is the next day in Berlin",
			counter("2025-03-03T22:30:00Z", 10, "2025-03-03T23:30:00Z", 20),
			berlin(t), []string{"2025-03-03 points=1 steps=10 stops=1", "2025-03-04 points=1 steps=10 stops=1"}},
		{"the 23-hour day of summer time in Berlin",
			counter("2025-03-29T22:59:59Z", 1, "2025-03-29T23:00:00Z", 2, "2025-03-30T21:59:59Z", 3, "2025-03-30T22:00:00Z", 4),
			berlin(t), []string{"2025-03-29 points=1 steps=1 stops=1", "2025-03-30 points=2 steps=2 stops=1", "2025-03-31 points=1 steps=1 stops=1"}},
		{"nil location is UTC",
			counter("2025-03-03T23:30:00Z", 10),
			nil, []string{"2025-03-03 points=1 steps=10 stops=0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summary(track.Days(tt.pts, tt.loc, track.Options{}))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Days =\n\t%q\nwant\n\t%q", got, tt.want)
			}
		})
	}
}

func TestDaysClipsStopsAtMidnight(t *testing.T) {
	// Home every ten minutes from 20:00 to 08:00 (Berlin), then a walk to school.
	loc := berlin(t)
	start := time.Date(2025, 3, 3, 20, 0, 0, 0, loc)
	var ne [][2]float64
	for range 73 {
		ne = append(ne, [2]float64{0, 0})
	}
	ne = append(ne, line(24, 75, 0, 75, 0, 1)...)
	pts := path(ne...)
	for i := range pts {
		step := 10 * time.Minute
		if i > 72 {
			step = time.Minute
		}
		if i == 0 {
			pts[i].Time = start
		} else {
			pts[i].Time = pts[i-1].Time.Add(step)
		}
	}
	days := track.Days(pts, loc, track.Options{})
	if len(days) != 2 {
		t.Fatalf("%d days, want 2", len(days))
	}
	midnight := time.Date(2025, 3, 4, 0, 0, 0, 0, loc)
	first, second := days[0].Stops, days[1].Stops
	if len(first) != 1 || !first[0].Arrive.Equal(start) || !first[0].Leave.Equal(midnight) || first[0].Points != 24 {
		t.Errorf("first day's stops %+v, want 20:00 to midnight with 24 points", first)
	}
	// 49 at home and the first step out, 75 m away, still within the stop's radius.
	if len(second) != 1 || !second[0].Arrive.Equal(midnight) || second[0].Points != 50 {
		t.Errorf("second day's stops %+v, want from midnight with 50 points", second)
	}
	if days[0].Distance != 0 || math.Abs(days[1].Distance-24*75) > 1 {
		t.Errorf("distances %.1f and %.1f m, want 0 and %d", days[0].Distance, days[1].Distance, 24*75)
	}
}
