package fence_test

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"kinwatch/fence"
)

// FuzzTracker feeds arbitrary fix sequences (out of order, NaN, far away, any accuracy) around the
// school yard, always watched and on a schedule: Update never panics, keeps its counters in range,
// and every transition leaves the state it claims to leave. On an always-active fence the state only
// changes with a transition, so transitions alternate Entered, Exited, Entered…; on a scheduled
// one the state is also forgotten and set afresh when a new active period begins.
func FuzzTracker(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(encodeTrack(schoolDay(1))[:64])
	f.Add([]byte("\x02\x10\x3c\x00\x30\x00\x00\x0a\x00\x3c\xff\x30\x00\x00\x0a\x00\x3c\x00\x40\x00\x80\x05\x00\xc4\x00\x10\x01\x02\x05"))
	seq := []byte{3}
	for i := range 64 { // alternating just across the yard's north border, a minute apart
		n := int16(60 + 8*(i%2)*2)
		seq = append(seq, 60, byte(n>>8), byte(n), 0, 0, 3, 0)
	}
	f.Add(seq)
	loc := time.FixedZone("CET", 3600)
	scheduled := schoolFence
	scheduled.Schedules = []fence.Schedule{
		{Days: weekdays, From: "08:00", To: "15:00", Location: loc},
		{Days: []time.Weekday{time.Saturday}, From: "22:00", To: "06:00", Location: loc},
	}
	circle := fence.Fence{Name: "yard", Shape: fence.Shape{Circle: &fence.Circle{Center: schoolCentre, Radius: 70}}}

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		opt := fence.Options{Confirm: int(data[0] % 4), FastAccuracy: float64(data[0] / 4 % 4 * 20)}
		fences := []fence.Fence{schoolFence, circle, scheduled}
		trackers := make([]fence.Tracker, len(fences))
		last := make([]fence.Transition, len(fences))
		tm := time.Date(2024, 9, 16, 6, 0, 0, 0, time.UTC)
		for data = data[1:]; len(data) >= 7; data = data[7:] {
			// 7 bytes: seconds step (signed, ×13), north and east of the yard's centre (metres),
			// accuracy (×4 m), and a byte that spoils the fix now and then.
			tm = tm.Add(time.Duration(int8(data[0])) * 13 * time.Second)
			n := float64(int16(binary.BigEndian.Uint16(data[1:])))
			e := float64(int16(binary.BigEndian.Uint16(data[3:])))
			p := offset(schoolCentre, n, e)
			fx := fence.Fix{Time: tm, Lat: p.Lat, Lon: p.Lon, Accuracy: float64(data[5]) * 4}
			switch data[6] {
			case 1:
				fx.Lat = math.NaN()
			case 2:
				fx.Accuracy = math.NaN()
			case 3:
				fx.Accuracy = -1
			case 4:
				fx.Lat, fx.Lon = -p.Lat, p.Lon+180 // the other side of the globe
			case 5:
				fx.Time = time.Time{}
			}
			for i, fc := range fences {
				tr := &trackers[i]
				before := *tr
				got := tr.Update(fc, fx, opt)
				confirm := opt.Confirm
				if confirm <= 0 {
					confirm = fence.DefaultConfirm
				}
				switch {
				case tr.LastFix.Before(before.LastFix):
					t.Fatalf("%s: LastFix went back from %v to %v", fc.Name, before.LastFix, tr.LastFix)
				case tr.Support < 0 || tr.Support > confirm || tr.PendingCount < 0 || tr.PendingCount >= confirm:
					t.Fatalf("%s: counters out of range: %+v (Confirm %d)", fc.Name, *tr, confirm)
				case got == fence.Entered && (before.State != fence.Outside || tr.State != fence.Inside),
					got == fence.Exited && (before.State != fence.Inside || tr.State != fence.Outside):
					t.Fatalf("%s: %s took the state from %s to %s", fc.Name, got, before.State, tr.State)
				case len(fc.Schedules) == 0 && got == fence.None && before.State != fence.Unknown && tr.State != before.State:
					t.Fatalf("%s: state changed from %s to %s without a transition", fc.Name, before.State, tr.State)
				}
				if got != fence.None {
					if len(fc.Schedules) == 0 && got == last[i] {
						t.Fatalf("%s: %s twice in a row", fc.Name, got)
					}
					last[i] = got
				}
			}
		}
	})
}
