package fence_test

import (
	"testing"
	"time"

	"kinwatch/fence"
)

func TestActive(t *testing.T) {
	loc := berlin(t)
	shape := fence.Shape{Circle: &fence.Circle{Center: home, Radius: 100}}
	with := func(s ...fence.Schedule) fence.Fence { return fence.Fence{Name: "x", Shape: shape, Schedules: s} }
	school := with(fence.Schedule{Days: weekdays, From: "08:00", To: "15:00", Location: loc})
	night := with(fence.Schedule{Days: []time.Weekday{time.Friday}, From: "22:00", To: "06:00", Location: loc})
	everyNight := with(fence.Schedule{Days: []time.Weekday{0, 1, 2, 3, 4, 5, 6}, From: "01:00", To: "04:00", Location: loc})
	split := with( // a lunch break at home
		fence.Schedule{Days: weekdays, From: "08:00", To: "12:00", Location: loc},
		fence.Schedule{Days: weekdays, From: "13:00", To: "15:00", Location: loc},
	)
	always := with()
	broken := with(fence.Schedule{Days: weekdays, From: "8", To: "15:00", Location: loc})
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}

	tests := []struct {
		name  string
		fence fence.Fence
		at    time.Time
		want  bool
	}{
		// 2024-09-16 is a Monday; Berlin is on summer time, UTC+2.
		{"school: Monday 07:59", school, utc("2024-09-16T05:59:59Z"), false},
		{"school: Monday 08:00", school, utc("2024-09-16T06:00:00Z"), true},
		{"school: Monday 14:59:59", school, utc("2024-09-16T12:59:59Z"), true},
		{"school: Monday 15:00", school, utc("2024-09-16T13:00:00Z"), false},
		{"school: Friday 10:00", school, utc("2024-09-20T08:00:00Z"), true},
		{"school: Saturday 10:00", school, utc("2024-09-21T08:00:00Z"), false},
		{"school: Sunday 10:00", school, utc("2024-09-22T08:00:00Z"), false},
		{"school: winter, 08:00 is 07:00 UTC", school, utc("2024-01-15T07:00:00Z"), true},
		{"school: winter, 07:59 is 06:59 UTC", school, utc("2024-01-15T06:59:00Z"), false},
		{"school: any zone of t", school, utc("2024-09-16T06:00:00Z").In(time.FixedZone("NYC", -4*3600)), true},
		// Summer time began on Sunday 2024-03-31; on Friday 08:00 was 07:00 UTC, on Monday 06:00 UTC.
		{"school: Friday before DST, 07:00 UTC", school, utc("2024-03-29T07:00:00Z"), true},
		{"school: Friday before DST, 06:30 UTC", school, utc("2024-03-29T06:30:00Z"), false},
		{"school: Monday after DST, 06:00 UTC", school, utc("2024-04-01T06:00:00Z"), true},
		{"school: Monday after DST, 13:00 UTC is 15:00", school, utc("2024-04-01T13:00:00Z"), false},

		// 01:00–04:00 on the DST days: the spring day skips 02:00–03:00, the autumn day repeats it.
		{"DST spring: 01:30 CET", everyNight, utc("2024-03-31T00:30:00Z"), true},
		{"DST spring: 03:30 CEST", everyNight, utc("2024-03-31T01:30:00Z"), true},
		{"DST spring: 04:00 CEST, two hours after 01:00", everyNight, utc("2024-03-31T02:00:00Z"), false},
		{"DST autumn: 02:30 CEST", everyNight, utc("2024-10-27T00:30:00Z"), true},
		{"DST autumn: 02:30 CET", everyNight, utc("2024-10-27T01:30:00Z"), true},
		{"DST autumn: 03:59 CET, four hours after 01:00", everyNight, utc("2024-10-27T02:59:00Z"), true},
		{"DST autumn: 04:00 CET", everyNight, utc("2024-10-27T03:00:00Z"), false},
		{"DST autumn: 00:59 CEST", everyNight, utc("2024-10-26T22:59:00Z"), false},

		// Friday 22:00 to Saturday 06:00 only.
		{"overnight: Friday 21:59", night, utc("2024-09-20T19:59:00Z"), false},
		{"overnight: Friday 22:00", night, utc("2024-09-20T20:00:00Z"), true},
		{"overnight: Friday 23:59", night, utc("2024-09-20T21:59:00Z"), true},
		{"overnight: Saturday 00:00", night, utc("2024-09-20T22:00:00Z"), true},
		{"overnight: Saturday 05:59", night, utc("2024-09-21T03:59:00Z"), true},
		{"overnight: Saturday 06:00", night, utc("2024-09-21T04:00:00Z"), false},
		{"overnight: Saturday 23:00", night, utc("2024-09-21T21:00:00Z"), false},
		{"overnight: Friday 05:00 (Thursday night is not in)", night, utc("2024-09-20T03:00:00Z"), false},

		{"split: 11:59", split, utc("2024-09-16T09:59:00Z"), true},
		{"split: lunch at home", split, utc("2024-09-16T10:30:00Z"), false},
		{"split: 13:00", split, utc("2024-09-16T11:00:00Z"), true},

		{"no schedules: always", always, utc("2024-09-21T03:00:00Z"), true},
		{"invalid schedule never matches", broken, utc("2024-09-16T08:00:00Z"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.fence.Active(tt.at); got != tt.want {
				t.Fatalf("Active(%s) = %v, want %v", tt.at.In(loc).Format("Mon 2006-01-02 15:04:05 MST"), got, tt.want)
			}
		})
	}
}
