package track

import (
	"slices"
	"time"
)

// Day sums up one calendar day.
type Day struct {
	Date     string  // YYYY-MM-DD in the location asked for
	Distance float64 // metres, as Track.Distance, each leg counted on the day it ends
	Steps    int64
	// Stops are the stops of the whole history clipped to this day: a night at home appears on
	// both days, ending and starting at midnight. Points counts the stop's points on this day.
	Stops  []Stop
	Points int // all points of the day, filtered or not
}

// Days splits pts (in time order) by calendar day in loc (UTC if nil) and sums up each day that has
// points. Filtering, stops and distance are computed over the whole history, as Build does, so a
// jump or a stop across midnight is judged with both days in view.
//
// Steps come from the watch's cumulative counter: the increments are summed, and a counter that
// goes down (the watch resets it at midnight, and on reboot) starts a new run whose first value
// counts as steps since the reset. The first value of all is taken as such a run too, which is
// right when pts starts at a midnight; a zero counter means unknown and is skipped.
func Days(pts []Point, loc *time.Location, opt Options) []Day {
	if len(pts) == 0 {
		return nil
	}
	if loc == nil {
		loc = time.UTC
	}
	opt = opt.withDefaults()

	type bounds struct{ start, end time.Time }
	var days []Day
	var limits []bounds
	byDate := map[string]int{}
	dayOf := make([]int32, len(pts))
	cur := -1
	for i, p := range pts {
		if cur < 0 || p.Time.Before(limits[cur].start) || !p.Time.Before(limits[cur].end) {
			y, m, d := p.Time.In(loc).Date()
			start := time.Date(y, m, d, 0, 0, 0, 0, loc)
			date := start.Format(time.DateOnly)
			k, ok := byDate[date]
			if !ok {
				k = len(days)
				byDate[date] = k
				days = append(days, Day{Date: date})
				limits = append(limits, bounds{start, time.Date(y, m, d+1, 0, 0, 0, 0, loc)})
			}
			cur = k
		}
		dayOf[i] = int32(cur)
		days[cur].Points++
	}

	prev := int64(-1)
	for i, p := range pts {
		if p.Steps <= 0 {
			continue
		}
		if p.Steps < prev || prev < 0 {
			days[dayOf[i]].Steps += p.Steps
		} else {
			days[dayOf[i]].Steps += p.Steps - prev
		}
		prev = p.Steps
	}

	f := filter(pts, opt)
	member := make([]bool, len(f.idx))
	stops := findStops(pts, f.idx, opt, member)
	walk(pts, f, stops, func(end int, d float64) { days[dayOf[end]].Distance += d })

	for _, s := range stops {
		pos := s.first
		hi := f.idx[s.last]
		for i := f.idx[s.first]; i <= hi; {
			d := dayOf[i]
			j := i + 1
			for j <= hi && dayOf[j] == d {
				j++
			}
			n := 0
			for ; pos <= s.last && f.idx[pos] < j; pos++ {
				if member[pos] {
					n++
				}
			}
			c := s.Stop
			if c.Arrive.Before(limits[d].start) {
				c.Arrive = limits[d].start
			}
			if c.Leave.After(limits[d].end) {
				c.Leave = limits[d].end
			}
			c.Points = n
			if n > 0 || c.Leave.After(c.Arrive) {
				days[d].Stops = append(days[d].Stops, c)
			}
			i = j
		}
	}

	// Days come out in order of their first point, which is date order for points in time order.
	slices.SortStableFunc(days, func(a, b Day) int {
		if a.Date < b.Date {
			return -1
		}
		if a.Date > b.Date {
			return 1
		}
		return 0
	})
	return days
}
