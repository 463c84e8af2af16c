package fence

import (
	"math"
	"time"
)

// Fix is a position of the watch with its accuracy radius in metres (0 for a fix that claims to
// be exact, such as GPS without an estimate; MinMargin still applies).
//
// Time must be trustworthy: a fix dated in the future would make every later fix look out of
// order until that time passes, so callers clamp a watch's clock to the time the fix arrived.
type Fix struct {
	Time               time.Time
	Lat, Lon, Accuracy float64
}

// usable refuses fixes that tell nothing: no time, no place on the globe, 0,0 (what broken data
// says for "unknown"), or an accuracy that is not a finite, non-negative number.
func (f Fix) usable() bool {
	return !f.Time.IsZero() && checkPosition(LatLon{f.Lat, f.Lon}) == nil &&
		f.Accuracy >= 0 && !math.IsInf(f.Accuracy, 1) // NaN fails the comparison
}

// State is where a Tracker last decided the watch is.
type State int

const (
	Unknown State = iota // no clear fix yet in this active period
	Inside
	Outside
)

func (s State) String() string {
	switch s {
	case Inside:
		return "inside"
	case Outside:
		return "outside"
	}
	return "unknown"
}

// Transition is what an Update decided: the events a caller raises as alarms.
type Transition int

const (
	None Transition = iota
	Entered
	Exited
)

func (t Transition) String() string {
	switch t {
	case Entered:
		return "entered"
	case Exited:
		return "exited"
	}
	return "none"
}

// Options tune a Tracker. Zero values mean the defaults; the same Options should be passed to
// every Update of a tracker.
type Options struct {
	// Confirm is how many clear fixes in a row on the other side change the state. Default 2;
	// 1 trusts every clear fix, and flaps on the first GPS reflection.
	Confirm int
	// MinMargin is the least distance from the border, in metres, for a fix to count as clear
	// however small its claimed accuracy: GPS claims 5 m and wanders 15. Default 10 m.
	MinMargin float64
	// MinDwell and FastAccuracy allow a single precise fix to change a well-established state:
	// its accuracy is at most FastAccuracy and no fix has placed the watch on the old side for
	// MinDwell. With reports minutes apart this saves one report's delay. Defaults 60 s and 30 m.
	MinDwell     time.Duration
	FastAccuracy float64
	// MaxAccuracy: a fix with a larger accuracy radius is not evaluated at all. A cell fix
	// (1000 m and more, and often wrong by more than it claims) cannot place a child at a school
	// gate, and two of them in a row must not raise an alarm. Raise it for fences kilometres
	// wide. Default 500 m.
	MaxAccuracy float64
}

// Defaults of Options.
const (
	DefaultConfirm      = 2
	DefaultMinMargin    = 10.0 // metres
	DefaultMinDwell     = 60 * time.Second
	DefaultFastAccuracy = 30.0  // metres
	DefaultMaxAccuracy  = 500.0 // metres
)

func (o Options) withDefaults() Options {
	if o.Confirm <= 0 {
		o.Confirm = DefaultConfirm
	}
	if !(o.MinMargin > 0) {
		o.MinMargin = DefaultMinMargin
	}
	if o.MinDwell <= 0 {
		o.MinDwell = DefaultMinDwell
	}
	if !(o.FastAccuracy > 0) {
		o.FastAccuracy = DefaultFastAccuracy
	}
	if !(o.MaxAccuracy > 0) {
		o.MaxAccuracy = DefaultMaxAccuracy
	}
	return o
}

// Tracker holds one fence's state for one watch. The zero Tracker knows nothing; its fields are
// exported so that a store can persist it between fixes and across restarts. It is not safe for
// concurrent use: a watch's fixes are processed one at a time, in order.
//
// Update decides with hysteresis, so that a fix wobbling across the border changes nothing:
//
//   - A fix that is not usable (see Fix) or not newer than the last fix processed (out of order,
//     or a repeat of the same fix) is ignored. One vaguer than MaxAccuracy counts only for its
//     time: it tells nothing about the side.
//   - While the fence is inactive (outside its schedules) fixes are not evaluated and the state is
//     forgotten; the first fix of a new active period starts from Unknown, even when no fix came
//     in between. No enter or exit is ever raised because a schedule starts or ends.
//   - With d the SignedDistance and m = max(Accuracy, MinMargin), a fix is clearly inside when
//     d + m < 0, clearly outside when d - m > 0, and ambiguous otherwise. A fix with d ≠ 0 leans
//     to its side.
//   - From Unknown, the first clear fix sets the state without a transition: we do not know where
//     the child came from, so there is no "entered" on start-up.
//   - A clear fix on the other side is counted, and the state changes, with a transition, when
//     Confirm such fixes come in a row: any other fix in between (ambiguous, or on the current
//     side) starts the count again. One is enough when it is precise (Accuracy ≤ FastAccuracy),
//     no fix has leant to the current side for MinDwell, and the current state is firm.
//   - A state is firm after Confirm clear fixes on its side (the ones that set it count) with no
//     clear fix on the other side since. A state set by a single fix is not firm, so a
//     precise fix cannot turn it straight back: fixes alternating across the border change the
//     state at most once.
//
// So a fix whose error is within max(Accuracy, MinMargin) never causes a wrong transition, and
// fewer than Confirm wrong ones in a row (a moved access point, a GPS reflection) do not either;
// what it cannot survive is a position source wrong by more than it claims, fix after fix.
// Transitions alternate, Entered, Exited, Entered…, within an active period.
type Tracker struct {
	State State
	// Support counts the clear fixes on State's side since the last clear one on the other side,
	// up to Confirm (then State is firm).
	Support int
	// PendingCount counts the clear fixes on the other side in a row, up to the last fix.
	PendingCount int
	// LastFix is the time of the newest fix processed; older ones are ignored.
	LastFix time.Time
	// LastAgree is the time of the newest fix that leant to State's side.
	LastAgree time.Time
}

// Update feeds one fix of the watch through the tracker of fence f and reports the transition it
// decided, if any.
func (t *Tracker) Update(f Fence, fix Fix, opt Options) Transition {
	opt = opt.withDefaults()
	if !fix.usable() || !fix.Time.After(t.LastFix) {
		return None
	}
	prev := t.LastFix
	t.LastFix = fix.Time
	since, active := f.activeSince(fix.Time)
	if !active || prev.Before(since) {
		t.forget()
	}
	if !active || fix.Accuracy > opt.MaxAccuracy {
		return None
	}
	d := f.Shape.SignedDistance(LatLon{fix.Lat, fix.Lon})
	if math.IsNaN(d) { // a shape that fails Validate
		return None
	}
	side := Unknown // exactly on the border: ambiguous, leaning nowhere
	switch {
	case d < 0:
		side = Inside
	case d > 0:
		side = Outside
	}
	clear := math.Abs(d) > math.Max(fix.Accuracy, opt.MinMargin)

	switch {
	case t.State == Unknown:
		if clear {
			t.State, t.Support, t.PendingCount, t.LastAgree = side, 1, 0, fix.Time
		}
		return None
	case side == t.State:
		t.PendingCount = 0
		t.LastAgree = fix.Time
		if clear {
			t.Support = min(t.Support+1, opt.Confirm)
		}
		return None
	case !clear:
		t.PendingCount = 0
		return None
	}

	firm := t.Support >= opt.Confirm
	t.Support = 0
	t.PendingCount++
	fast := firm && fix.Accuracy <= opt.FastAccuracy && fix.Time.Sub(t.LastAgree) >= opt.MinDwell
	if t.PendingCount < opt.Confirm && !fast {
		return None
	}
	t.State, t.Support, t.PendingCount, t.LastAgree = side, min(t.PendingCount, opt.Confirm), 0, fix.Time
	if side == Inside {
		return Entered
	}
	return Exited
}

// forget returns to Unknown, keeping LastFix so that order is still enforced.
func (t *Tracker) forget() {
	*t = Tracker{LastFix: t.LastFix}
}
