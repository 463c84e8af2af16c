package fence

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Schedule is a weekly window of wall-clock time in Location, such as "school, weekdays
// 08:00–15:00" in Europe/Berlin. Wall-clock time, not elapsed time, is what a family means, so a
// window keeps its hours across daylight-saving changes (and is an hour shorter or longer that day).
//
// From and To are "HH:MM"; the window includes From and excludes To. To may be "24:00" (the end
// of the day) and may be earlier than From for an overnight window: Days names the day a window
// starts, so Friday 22:00–06:00 runs into Saturday morning. From equal to To is refused as
// ambiguous: an all-day window is 00:00–24:00.
type Schedule struct {
	Days     []time.Weekday
	From, To string
	Location *time.Location
}

// Validate reports the first problem with the schedule.
func (s Schedule) Validate() error {
	if len(s.Days) == 0 {
		return errors.New("days: at least one day is required")
	}
	for _, d := range s.Days {
		if d < time.Sunday || d > time.Saturday {
			return fmt.Errorf("days: %d is not a day of the week (0 Sunday to 6 Saturday)", int(d))
		}
	}
	from, ok := parseClock(s.From, false)
	if !ok {
		return fmt.Errorf("from: %q is not a time of day as HH:MM, 00:00 to 23:59", s.From)
	}
	to, ok := parseClock(s.To, true)
	if !ok {
		return fmt.Errorf("to: %q is not a time of day as HH:MM, 00:00 to 24:00", s.To)
	}
	if from == to {
		return errors.New("from and to are the same time; for the whole day use 00:00 to 24:00")
	}
	if s.Location == nil {
		return errors.New("time zone: required (the family's, such as Europe/Berlin)")
	}
	return nil
}

// Active reports whether the fence is watched at t: always when it has no schedules, else when t
// falls in any of them. A schedule that fails Validate never matches.
func (f Fence) Active(t time.Time) bool {
	_, ok := f.activeSince(t)
	return ok
}

// activeSince reports whether the fence is active at t and, if so, since when without a break:
// windows that meet or overlap (Monday 08:00–12:00 and 12:00–15:00) count as one. The zero time
// means always, or for more than a week. A Tracker forgets what it knew before that moment.
func (f Fence) activeSince(t time.Time) (time.Time, bool) {
	if len(f.Schedules) == 0 {
		return time.Time{}, true
	}
	start, ok := f.windowStart(t)
	if !ok {
		return time.Time{}, false
	}
	// Each step goes back to an earlier window start; 8 days hold at most 9 starts per schedule.
	limit := t.Add(-8 * 24 * time.Hour)
	for range 10 * (len(f.Schedules) + 1) {
		if !start.After(limit) {
			break
		}
		prev, ok := f.windowStart(start.Add(-time.Nanosecond))
		if !ok || !prev.Before(start) {
			return start, true
		}
		start = prev
	}
	return time.Time{}, true
}

// windowStart returns the earliest start of the schedule windows that contain t.
func (f Fence) windowStart(t time.Time) (time.Time, bool) {
	var start time.Time
	found := false
	for _, s := range f.Schedules {
		if st, ok := s.windowStart(t); ok && (!found || st.Before(start)) {
			start, found = st, true
		}
	}
	return start, found
}

// windowStart returns the start of the window of s that contains t.
func (s Schedule) windowStart(t time.Time) (time.Time, bool) {
	from, ok1 := parseClock(s.From, false)
	to, ok2 := parseClock(s.To, true)
	if !ok1 || !ok2 || from == to {
		return time.Time{}, false
	}
	loc := s.Location
	if loc == nil {
		return time.Time{}, false
	}
	local := t.In(loc)
	h, m, sec := local.Clock()
	clock := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second +
		time.Duration(local.Nanosecond())
	y, mo, d := local.Date()
	var day int // 0: the window started today, -1: yesterday
	switch {
	case from < to && clock >= from && clock < to && s.on(local.Weekday()):
	case from > to && clock >= from && s.on(local.Weekday()):
	case from > to && clock < to && s.on((local.Weekday()+6)%7):
		day = -1
	default:
		return time.Time{}, false
	}
	start := time.Date(y, mo, d+day, int(from/time.Hour), int(from%time.Hour/time.Minute), 0, 0, loc)
	// A start inside a daylight-saving gap or overlap may be placed an hour off; never after t.
	if start.After(t) {
		start = t
	}
	return start, true
}

func (s Schedule) on(d time.Weekday) bool { return slices.Contains(s.Days, d) }

// parseClock parses "HH:MM" strictly, as the duration since midnight; "24:00" only if end.
func parseClock(s string, end bool) (time.Duration, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 || h > 24 || h == 24 && (!end || m != 0) {
		return 0, false
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, true
}
