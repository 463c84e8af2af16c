package httpapi

import (
	"testing"
	"time"

	"kinwatch/fence"
	"kinwatch/track"
)

// A day's time at a safe zone is the time of the stops inside it; a stop outside every zone
// counts for none.
func TestZoneTimes(t *testing.T) {
	home := fence.Fence{ID: "h", Name: "Home", Shape: fence.Shape{Circle: &fence.Circle{Center: fence.LatLon{Lat: 52.52, Lon: 13.405}, Radius: 60}}}
	school := fence.Fence{ID: "s", Name: "School", Shape: fence.Shape{Circle: &fence.Circle{Center: fence.LatLon{Lat: 52.53, Lon: 13.41}, Radius: 100}}}
	t0 := time.Date(2026, 11, 2, 6, 0, 0, 0, time.UTC)
	stops := []track.Stop{
		{Lat: 52.5201, Lon: 13.4051, Arrive: t0, Leave: t0.Add(90 * time.Minute)},                                  // home
		{Lat: 52.5300, Lon: 13.4100, Arrive: t0.Add(2 * time.Hour), Leave: t0.Add(8 * time.Hour)},                  // school
		{Lat: 52.5400, Lon: 13.4300, Arrive: t0.Add(9 * time.Hour), Leave: t0.Add(10 * time.Hour)},                 // a friend's
		{Lat: 52.5200, Lon: 13.4049, Arrive: t0.Add(11 * time.Hour), Leave: t0.Add(11*time.Hour + 30*time.Minute)}, // home again
	}
	got := zoneTimes([]fence.Fence{home, school}, stops)
	if len(got) != 2 || got[0].FenceID != "h" || got[0].Seconds != 2*3600 || got[1].Name != "School" || got[1].Seconds != 6*3600 {
		t.Errorf("zoneTimes = %+v", got)
	}
	if got := zoneTimes([]fence.Fence{home}, stops[2:3]); len(got) != 0 {
		t.Errorf("a stop outside: %+v", got)
	}
}
