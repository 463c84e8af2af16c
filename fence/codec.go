package fence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zones are stored by name and must load on any machine, with or without a zoneinfo database
)

// The stored form of a fence's definition is JSON, version 1:
//
//	{"version":1,"name":"School",
//	 "circle":{"lat":52.52,"lon":13.405,"radius_m":150},            (or "polygon":[{"lat":…,"lon":…},…])
//	 "schedules":[{"days":["mon","tue"],"from":"08:00","to":"15:00","time_zone":"Europe/Berlin"}]}
//
// It is what a family's data export shows, so it reads as what the guardian drew. Days are
// lower-case three-letter English names, sorted from Sunday and without repeats; a time zone is
// its IANA name. The ID is not part of it: the store keeps it beside the definition.
//
// A change to the form that an older Decode could misread needs a new version: stored
// definitions are never rewritten, so Decode must go on reading every version Encode ever wrote.
const codecVersion = 1

type storedFence struct {
	Version   int              `json:"version"`
	Name      string           `json:"name"`
	Circle    *storedCircle    `json:"circle,omitempty"`
	Polygon   []storedLatLon   `json:"polygon,omitempty"`
	Schedules []storedSchedule `json:"schedules"`
}

type storedCircle struct {
	Lat    float64 `json:"lat"`
	Lon    float64 `json:"lon"`
	Radius float64 `json:"radius_m"`
}

type storedLatLon struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

type storedSchedule struct {
	Days     []string `json:"days"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	TimeZone string   `json:"time_zone"`
}

// Encode returns the stored form of f's definition (name, shape, schedules; not the ID). It
// refuses a fence that fails Validate, with Validate's message, so that what is stored was
// checked, and a schedule whose Location cannot be found again by name (time.Local, a
// time.FixedZone).
func Encode(f Fence) ([]byte, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	out := storedFence{Version: codecVersion, Name: f.Name, Schedules: make([]storedSchedule, len(f.Schedules))}
	if c := f.Shape.Circle; c != nil {
		out.Circle = &storedCircle{c.Center.Lat, c.Center.Lon, c.Radius}
	}
	for _, p := range f.Shape.Polygon {
		out.Polygon = append(out.Polygon, storedLatLon(p))
	}
	for i, s := range f.Schedules {
		zone := s.Location.String()
		if _, err := LoadZone(zone); err != nil {
			return nil, fmt.Errorf("fence: schedule %d: time zone: %q is not an IANA time zone name such as Europe/Berlin", i+1, zone)
		}
		days := slices.Clone(s.Days)
		slices.Sort(days)
		days = slices.Compact(days)
		names := make([]string, len(days))
		for j, d := range days {
			names[j] = dayNames[d]
		}
		out.Schedules[i] = storedSchedule{Days: names, From: s.From, To: s.To, TimeZone: zone}
	}
	return json.Marshal(out)
}

// Decode reads a definition that Encode wrote. The fence's ID is left empty: the caller sets it
// from the store.
//
// Decode checks the form (a known version, no unknown fields, days and zones that exist) but not
// Validate's limits: what was valid when it was stored stays readable if a limit ever tightens,
// and the caller calls Validate if it wants today's. Loading a zone reads the embedded time zone
// database the first time a name is seen; later loads are served from memory.
func Decode(def []byte) (Fence, error) {
	// The version first (Unmarshal also refuses data after the value), so that a newer
	// definition is reported as such rather than as unknown fields.
	var probe struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(def, &probe); err != nil {
		return Fence{}, fmt.Errorf("fence: decode: %w", err)
	}
	if probe.Version != codecVersion {
		return Fence{}, fmt.Errorf("fence: decode: version %d is not one this build reads", probe.Version)
	}
	var in storedFence
	dec := json.NewDecoder(bytes.NewReader(def))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Fence{}, fmt.Errorf("fence: decode: %w", err)
	}
	f := Fence{Name: in.Name}
	if c := in.Circle; c != nil {
		f.Shape.Circle = &Circle{Center: LatLon{c.Lat, c.Lon}, Radius: c.Radius}
	}
	for _, p := range in.Polygon {
		f.Shape.Polygon = append(f.Shape.Polygon, LatLon(p))
	}
	for i, s := range in.Schedules {
		loc, err := LoadZone(s.TimeZone)
		if err != nil {
			return Fence{}, fmt.Errorf("fence: decode: schedule %d: %w", i+1, err)
		}
		sc := Schedule{Days: make([]time.Weekday, len(s.Days)), From: s.From, To: s.To, Location: loc}
		for j, name := range s.Days {
			d, ok := ParseDay(name)
			if !ok {
				return Fence{}, fmt.Errorf("fence: decode: schedule %d: %q is not a day", i+1, name)
			}
			sc.Days[j] = d
		}
		f.Schedules = append(f.Schedules, sc)
	}
	return f, nil
}

var dayNames = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// DayName is the stored name of a day of the week: "sun" to "sat".
func DayName(d time.Weekday) string {
	if d < time.Sunday || d > time.Saturday {
		return d.String() // "%!Weekday(…)", as time does
	}
	return dayNames[d]
}

// ParseDay reads a day of the week as its three-letter or full English name, in any case:
// "mon", "Monday", "MON".
func ParseDay(s string) (time.Weekday, bool) {
	s = strings.ToLower(s)
	for d := time.Sunday; d <= time.Saturday; d++ {
		if s == dayNames[d] || s == strings.ToLower(d.String()) {
			return d, true
		}
	}
	return 0, false
}

// zones caches loaded locations by name: time.LoadLocation reads and parses the zone each call,
// and a fence is decoded for every position evaluated. Only names that loaded are kept, so the
// cache is bounded by the time zone database.
var zones sync.Map // string → *time.Location

// LoadZone returns the IANA time zone name (such as Europe/Berlin, or UTC). Unlike
// time.LoadLocation it refuses "" and "Local", which mean UTC and the server's own zone: neither
// is a family's.
func LoadZone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("time zone: %q is not an IANA time zone such as Europe/Berlin", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone: %q is not an IANA time zone such as Europe/Berlin", name)
	}
	zones.Store(name, loc)
	return loc, nil
}
