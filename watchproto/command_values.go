package watchproto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TimeOfDay is a wall-clock time on the watch, in the watch's own time zone (see SetTimeZone).
type TimeOfDay struct {
	Hour, Minute int
}

// ParseTimeOfDay parses "hh:mm" (24-hour clock, two digits each).
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	if len(s) != 5 || s[2] != ':' || !cmdIsDigits(s[:2]) || !cmdIsDigits(s[3:]) {
		return TimeOfDay{}, cmdErrorf("", "invalid time %s: want hh:mm, e.g. 07:30", cmdQuote(s))
	}
	t := TimeOfDay{Hour: int(s[0]-'0')*10 + int(s[1]-'0'), Minute: int(s[3]-'0')*10 + int(s[4]-'0')}
	if !t.valid() {
		return TimeOfDay{}, cmdErrorf("", "invalid time %s: must be between 00:00 and 23:59", cmdQuote(s))
	}
	return t, nil
}

func (t TimeOfDay) valid() bool {
	return t.Hour >= 0 && t.Hour <= 23 && t.Minute >= 0 && t.Minute <= 59
}

func (t TimeOfDay) check(param string) error {
	if !t.valid() {
		return cmdErrorf(param, "must be a time between 00:00 and 23:59")
	}
	return nil
}

// String returns the hh:mm form the watch expects.
func (t TimeOfDay) String() string { return string(t.appendTo(nil)) }

func (t TimeOfDay) appendTo(dst []byte) []byte {
	dst = cmdAppend2(dst, t.Hour)
	dst = append(dst, ':')
	return cmdAppend2(dst, t.Minute)
}

func (t TimeOfDay) MarshalText() ([]byte, error) { return t.appendTo(nil), nil }

func (t *TimeOfDay) UnmarshalText(b []byte) error {
	v, err := ParseTimeOfDay(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// cmdAppend2 appends n with at least two digits.
func cmdAppend2(dst []byte, n int) []byte {
	if n >= 0 && n < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(n), 10)
}

// TimeWindow is a daily period hh:mm-hh:mm. An end before the start runs past midnight, as sleep
// and night-time quiet windows do; 00:00-00:00 is the conventional unused slot.
type TimeWindow struct {
	Start TimeOfDay `json:"start"`
	End   TimeOfDay `json:"end"`
}

func (w TimeWindow) check(param string) error {
	if err := w.Start.check("start"); err != nil {
		return cmdNest(param, err)
	}
	if err := w.End.check("end"); err != nil {
		return cmdNest(param, err)
	}
	if w.Start == w.End && w.Start != (TimeOfDay{}) {
		return cmdErrorf(param, "start and end are both %s, which the watch cannot tell from an empty window; use 00:00-00:00 for an unused slot", w.Start)
	}
	return nil
}

func (w TimeWindow) appendTo(dst []byte) []byte {
	dst = w.Start.appendTo(dst)
	dst = append(dst, '-')
	return w.End.appendTo(dst)
}

// WeeklyWindow is a TimeWindow that applies on some days of the week: hh:mm-hh:mm-0111110.
type WeeklyWindow struct {
	Start TimeOfDay `json:"start"`
	End   TimeOfDay `json:"end"`
	Days  Weekdays  `json:"days"`
}

func (w WeeklyWindow) check(param string) error {
	if err := (TimeWindow{w.Start, w.End}).check(param); err != nil {
		return err
	}
	return w.Days.check(param + ".days")
}

func (w WeeklyWindow) appendTo(dst []byte) []byte {
	dst = TimeWindow{w.Start, w.End}.appendTo(dst)
	dst = append(dst, '-')
	return w.Days.appendFlags(dst)
}

// Weekdays is a set of days of the week: bit d is time.Weekday d. The watch receives it as seven
// 0/1 flags, Sunday first.
type Weekdays uint8

const (
	Workdays Weekdays = 1<<time.Monday | 1<<time.Tuesday | 1<<time.Wednesday | 1<<time.Thursday | 1<<time.Friday
	Weekend  Weekdays = 1<<time.Saturday | 1<<time.Sunday
	EveryDay          = Workdays | Weekend
)

// DaysOf returns the set holding days.
func DaysOf(days ...time.Weekday) Weekdays {
	var w Weekdays
	for _, d := range days {
		if d >= time.Sunday && d <= time.Saturday {
			w |= 1 << d
		}
	}
	return w
}

// Has reports whether d is in the set.
func (w Weekdays) Has(d time.Weekday) bool {
	return d >= time.Sunday && d <= time.Saturday && w&(1<<d) != 0
}

// Days returns the days in the set, Sunday first.
func (w Weekdays) Days() []time.Weekday {
	var out []time.Weekday
	for d := time.Sunday; d <= time.Saturday; d++ {
		if w.Has(d) {
			out = append(out, d)
		}
	}
	return out
}

// String returns the wire flags, e.g. "0111110" for Monday to Friday.
func (w Weekdays) String() string { return string(w.appendFlags(nil)) }

func (w Weekdays) appendFlags(dst []byte) []byte {
	for d := time.Sunday; d <= time.Saturday; d++ {
		dst = appendFlag(dst, w.Has(d))
	}
	return dst
}

func (w Weekdays) check(param string) error {
	if w > EveryDay {
		return cmdErrorf(param, "holds bits beyond the seven days of the week")
	}
	return nil
}

// MarshalJSON writes the days as lower-case English names, Sunday first.
func (w Weekdays) MarshalJSON() ([]byte, error) {
	names := make([]string, 0, 7)
	for _, d := range w.Days() {
		names = append(names, strings.ToLower(d.String()))
	}
	return json.Marshal(names)
}

// UnmarshalJSON takes a list of day names (["monday","friday"]) or the wire flags ("0111110").
func (w *Weekdays) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var flags string
	if json.Unmarshal(b, &flags) == nil {
		if len(flags) != 7 || strings.Trim(flags, "01") != "" {
			return cmdErrorf("", "invalid days %s: want seven 0/1 flags, Sunday first, e.g. 0111110", cmdQuote(flags))
		}
		var v Weekdays
		for i := 0; i < 7; i++ {
			if flags[i] == '1' {
				v |= 1 << i
			}
		}
		*w = v
		return nil
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return cmdErrorf("", "days must be a list of day names such as [\"monday\",\"friday\"] or seven 0/1 flags such as \"0111110\"")
	}
	var v Weekdays
	for _, n := range names {
		d, ok := cmdParseWeekday(n)
		if !ok {
			return cmdErrorf("", "unknown day %s: use sunday, monday, tuesday, wednesday, thursday, friday or saturday", cmdQuote(n))
		}
		v |= 1 << d
	}
	*w = v
	return nil
}

func cmdParseWeekday(name string) (time.Weekday, bool) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(name, d.String()) {
			return d, true
		}
	}
	return 0, false
}

// HourWindow is a period in whole hours, Start inclusive to End (WORK,6-9).
type HourWindow struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

func (w HourWindow) check(param string) error {
	if w.Start < 0 || w.End > 24 || w.Start >= w.End {
		return cmdErrorf(param, "must be whole hours with 0 <= start < end <= 24, got %d-%d", w.Start, w.End)
	}
	return nil
}

func (w HourWindow) appendTo(dst []byte) []byte {
	dst = strconv.AppendInt(dst, int64(w.Start), 10)
	dst = append(dst, '-')
	return strconv.AppendInt(dst, int64(w.End), 10)
}

// cmdEnum gives the codes of a small closed set API names. JSON takes either the name or the
// number, so a code a future firmware adds can be sent before it gets a name here.
type cmdEnum struct {
	what  string
	names []cmdEnumName
}

type cmdEnumName struct {
	code int
	name string
}

func (e cmdEnum) name(code int) (string, bool) {
	for _, n := range e.names {
		if n.code == code {
			return n.name, true
		}
	}
	return "", false
}

func (e cmdEnum) list() string {
	var b strings.Builder
	for i, n := range e.names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%d)", n.name, n.code)
	}
	return b.String()
}

func (e cmdEnum) marshal(code int) ([]byte, error) {
	if n, ok := e.name(code); ok {
		return json.Marshal(n)
	}
	return json.Marshal(code)
}

func (e cmdEnum) unmarshal(b []byte) (int, error) {
	var code int
	if json.Unmarshal(b, &code) == nil {
		return code, nil
	}
	var name string
	if json.Unmarshal(b, &name) != nil {
		return 0, cmdErrorf("", "%s must be a name or a number; known: %s", e.what, e.list())
	}
	for _, n := range e.names {
		if n.name == name {
			return n.code, nil
		}
	}
	return 0, cmdErrorf("", "unknown %s %s; known: %s", e.what, cmdQuote(name), e.list())
}
