package watchproto

import "strconv"

// WalkTime sets up to three daily windows in which the pedometer counts steps.
type WalkTime struct {
	Windows []TimeWindow `json:"windows"`
}

func (WalkTime) Keyword() string { return "WALKTIME" }

func (c WalkTime) AppendContent(dst []byte) []byte {
	return cmdAppendWindows(append(dst, "WALKTIME"...), c.Windows)
}

func (c WalkTime) Validate() error { return cmdCheckWindows(c.Windows, 3) }

// SleepTime sets the window in which the watch monitors sleep (body tumbling); it usually runs
// past midnight, e.g. 21:00-07:00.
type SleepTime struct {
	Window TimeWindow `json:"window"`
}

func (SleepTime) Keyword() string { return "SLEEPTIME" }

func (c SleepTime) AppendContent(dst []byte) []byte {
	return c.Window.appendTo(append(dst, "SLEEPTIME,"...))
}

func (c SleepTime) Validate() error { return c.Window.check("window") }

// SilenceTime sets up to four daily do-not-disturb ("class mode") windows: calls are rejected and
// the screen locked, SOS still works. Only the given windows are sent; send 00:00-00:00 to empty
// a slot the watch still holds.
type SilenceTime struct {
	Windows []TimeWindow `json:"windows"`
}

func (SilenceTime) Keyword() string { return "SILENCETIME" }

func (c SilenceTime) AppendContent(dst []byte) []byte {
	return cmdAppendWindows(append(dst, "SILENCETIME"...), c.Windows)
}

func (c SilenceTime) Validate() error { return cmdCheckWindows(c.Windows, 4) }

// SilenceTime2 is the weekly form of SilenceTime: up to four windows, each on its own days
// (SILENCETIME2,08:00-12:00-0111110). A window with no days is switched off.
type SilenceTime2 struct {
	Windows []WeeklyWindow `json:"windows"`
}

func (SilenceTime2) Keyword() string { return "SILENCETIME2" }

func (c SilenceTime2) AppendContent(dst []byte) []byte {
	dst = append(dst, "SILENCETIME2"...)
	for _, w := range c.Windows {
		dst = w.appendTo(append(dst, ','))
	}
	return dst
}

func (c SilenceTime2) Validate() error {
	if len(c.Windows) == 0 || len(c.Windows) > 4 {
		return cmdErrorf("windows", "must hold 1 to 4 windows")
	}
	for i, w := range c.Windows {
		if err := w.check(cmdIndex("windows", i)); err != nil {
			return err
		}
	}
	return nil
}

func cmdAppendWindows(dst []byte, ws []TimeWindow) []byte {
	for _, w := range ws {
		dst = w.appendTo(append(dst, ','))
	}
	return dst
}

func cmdCheckWindows(ws []TimeWindow, max int) error {
	if len(ws) == 0 || len(ws) > max {
		return cmdErrorf("windows", "must hold 1 to %d windows", max)
	}
	for i, w := range ws {
		if err := w.check(cmdIndex("windows", i)); err != nil {
			return err
		}
	}
	return nil
}

// AlarmRepeat says when an alarm clock rings again.
type AlarmRepeat int

const (
	AlarmOnce       AlarmRepeat = 1
	AlarmDaily      AlarmRepeat = 2
	AlarmCustomDays AlarmRepeat = 3
)

var alarmRepeatEnum = cmdEnum{what: "repeat", names: []cmdEnumName{
	{1, "once"}, {2, "daily"}, {3, "custom_days"},
}}

func (r AlarmRepeat) MarshalJSON() ([]byte, error) { return alarmRepeatEnum.marshal(int(r)) }

func (r *AlarmRepeat) UnmarshalJSON(b []byte) error {
	v, err := alarmRepeatEnum.unmarshal(b)
	*r = AlarmRepeat(v)
	return err
}

// AlarmClock is one alarm of Remind: hh:mm-on-type, plus the day flags for custom days
// (08:10-1-3-0111110).
type AlarmClock struct {
	Time    TimeOfDay   `json:"time"`
	Enabled bool        `json:"enabled"`
	Repeat  AlarmRepeat `json:"repeat"`
	// Days applies to AlarmCustomDays only.
	Days Weekdays `json:"days,omitempty"`
}

func (a AlarmClock) check(param string) error {
	if err := a.Time.check("time"); err != nil {
		return cmdNest(param, err)
	}
	if a.Repeat < AlarmOnce || a.Repeat > AlarmCustomDays {
		return cmdErrorf(param+".repeat", "must be one of %s", alarmRepeatEnum.list())
	}
	if err := a.Days.check("days"); err != nil {
		return cmdNest(param, err)
	}
	if a.Repeat == AlarmCustomDays && a.Days == 0 {
		return cmdErrorf(param+".days", "must name at least one day for repeat custom_days")
	}
	if a.Repeat != AlarmCustomDays && a.Days != 0 {
		return cmdErrorf(param+".days", "apply only to repeat custom_days")
	}
	return nil
}

func (a AlarmClock) appendTo(dst []byte) []byte {
	dst = a.Time.appendTo(dst)
	dst = appendFlag(append(dst, '-'), a.Enabled)
	dst = strconv.AppendInt(append(dst, '-'), int64(a.Repeat), 10)
	if a.Repeat == AlarmCustomDays {
		dst = a.Days.appendFlags(append(dst, '-'))
	}
	return dst
}

// Remind sets the watch's up to three alarm clocks. To silence one, send it with Enabled false.
type Remind struct {
	Alarms []AlarmClock `json:"alarms"`
}

func (Remind) Keyword() string { return "REMIND" }

func (c Remind) AppendContent(dst []byte) []byte {
	dst = append(dst, "REMIND"...)
	for _, a := range c.Alarms {
		dst = a.appendTo(append(dst, ','))
	}
	return dst
}

func (c Remind) Validate() error {
	if len(c.Alarms) == 0 || len(c.Alarms) > 3 {
		return cmdErrorf("alarms", "must hold 1 to 3 alarms")
	}
	for i, a := range c.Alarms {
		if err := a.check(cmdIndex("alarms", i)); err != nil {
			return err
		}
	}
	return nil
}
