package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"kinwatch"
	"kinwatch/family"
	"kinwatch/fence"
)

// Safe zones are not recorded in the access log: a fence is a place the family drew, not where
// the child was, and the same rule leaves the latest position, the live stream and the events
// (which will say when the child entered or left a fence) unrecorded.

type fenceJSON struct {
	ID        string         `json:"id"`
	WatchID   string         `json:"watch_id"`
	Name      string         `json:"name"`
	Circle    *circleJSON    `json:"circle"`  // null for a polygon
	Polygon   []latLonJSON   `json:"polygon"` // null for a circle
	Schedules []scheduleJSON `json:"schedules"`
	CreatedAt *string        `json:"created_at"`
	UpdatedAt *string        `json:"updated_at"`
}

type circleJSON struct {
	Lat    float64 `json:"lat"`
	Lon    float64 `json:"lon"`
	Radius float64 `json:"radius_m"`
}

type latLonJSON struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

type scheduleJSON struct {
	Days     []string `json:"days"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	TimeZone string   `json:"time_zone"`
}

func toFence(deviceID string, f *family.Fence) fenceJSON {
	out := fenceJSON{ID: f.ID, WatchID: deviceID, Name: f.Name, Schedules: make([]scheduleJSON, len(f.Schedules)),
		CreatedAt: rfc3339(f.CreatedAt), UpdatedAt: rfc3339(f.UpdatedAt)}
	if c := f.Shape.Circle; c != nil {
		out.Circle = &circleJSON{c.Center.Lat, c.Center.Lon, c.Radius}
	}
	for _, p := range f.Shape.Polygon {
		out.Polygon = append(out.Polygon, latLonJSON(p))
	}
	for i, s := range f.Schedules {
		days := make([]string, len(s.Days))
		for j, d := range s.Days {
			days[j] = fence.DayName(d)
		}
		out.Schedules[i] = scheduleJSON{Days: days, From: s.From, To: s.To, TimeZone: s.Location.String()}
	}
	return out
}

// fenceInJSON is a safe zone as a client sends it. Coordinates are pointers so that a missing one
// is an error rather than 0. The read-only fields are accepted, and ignored, so that a safe zone
// read with GET can be changed and sent back.
type fenceInJSON struct {
	Name   string `json:"name"`
	Circle *struct {
		Lat    *float64 `json:"lat"`
		Lon    *float64 `json:"lon"`
		Radius *float64 `json:"radius_m"`
	} `json:"circle"`
	Polygon []struct {
		Lat *float64 `json:"lat"`
		Lon *float64 `json:"lon"`
	} `json:"polygon"`
	Schedules []scheduleJSON `json:"schedules"`

	ID        json.RawMessage `json:"id"`
	WatchID   json.RawMessage `json:"watch_id"`
	CreatedAt json.RawMessage `json:"created_at"`
	UpdatedAt json.RawMessage `json:"updated_at"`
}

// fenceBody reads the body of a POST or PUT into a fence, or writes the error. The name is
// trimmed; days are "sun" to "sat" or full English names in any case; a schedule without a time
// zone is in the caller's preferred one. Limits (radius, vertices, times of day …) are fence.Validate's, in the service.
func (s *Server) fenceBody(w http.ResponseWriter, r *http.Request, c *caller) (fence.Fence, bool) {
	var in fenceInJSON
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return fence.Fence{}, false
	}
	f, err := in.fence(c.account.Preferences.TimeZone)
	if err != nil {
		s.writeError(w, r, err)
		return fence.Fence{}, false
	}
	return f, true
}

func (in *fenceInJSON) fence(defaultZone string) (fence.Fence, error) {
	invalid := func(format string, args ...any) error {
		return kinwatch.Errorf(kinwatch.EINVALID, "fence: "+format, args...)
	}
	f := fence.Fence{Name: strings.TrimSpace(in.Name)}
	if c := in.Circle; c != nil {
		if c.Lat == nil || c.Lon == nil || c.Radius == nil {
			return f, invalid("circle: lat, lon and radius_m are required")
		}
		f.Shape.Circle = &fence.Circle{Center: fence.LatLon{Lat: *c.Lat, Lon: *c.Lon}, Radius: *c.Radius}
	}
	for i, p := range in.Polygon {
		if p.Lat == nil || p.Lon == nil {
			return f, invalid("polygon vertex %d: lat and lon are required", i+1)
		}
		f.Shape.Polygon = append(f.Shape.Polygon, fence.LatLon{Lat: *p.Lat, Lon: *p.Lon})
	}
	if defaultZone == "" {
		defaultZone = "UTC"
	}
	for i, sc := range in.Schedules {
		out := fence.Schedule{From: sc.From, To: sc.To}
		for _, name := range sc.Days {
			d, ok := fence.ParseDay(name)
			if !ok {
				return f, invalid("schedule %d: days: %q is not a day of the week: sun, mon … sat, or the full English name", i+1, name)
			}
			out.Days = append(out.Days, d)
		}
		zone := sc.TimeZone
		if zone == "" {
			zone = defaultZone
		}
		loc, err := fence.LoadZone(zone)
		if err != nil {
			return f, invalid("schedule %d: %v", i+1, err)
		}
		out.Location = loc
		f.Schedules = append(f.Schedules, out)
	}
	return f, nil
}

func (s *Server) listFences(w http.ResponseWriter, r *http.Request, c *caller) {
	watch := r.PathValue("watch")
	fs, err := s.Families.Fences(ctx(r), c.account.ID, watch)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := list(make([]fenceJSON, len(fs)))
	for i, f := range fs {
		out.Items[i] = toFence(watch, f)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getFence(w http.ResponseWriter, r *http.Request, c *caller) {
	watch := r.PathValue("watch")
	f, err := s.Families.Fence(ctx(r), c.account.ID, watch, r.PathValue("fence"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toFence(watch, f))
}

func (s *Server) createFence(w http.ResponseWriter, r *http.Request, c *caller) {
	// Access first: another family's watch is not found, and a viewer is refused, whatever the body.
	acc := s.access(w, r, c, true)
	if acc == nil {
		return
	}
	in, ok := s.fenceBody(w, r, c)
	if !ok {
		return
	}
	f, err := s.Families.CreateFence(ctx(r), c.account.ID, acc.DeviceID, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/watches/%s/fences/%s", acc.DeviceID, f.ID))
	writeJSON(w, http.StatusCreated, toFence(acc.DeviceID, f))
}

func (s *Server) replaceFence(w http.ResponseWriter, r *http.Request, c *caller) {
	acc := s.access(w, r, c, true)
	if acc == nil {
		return
	}
	in, ok := s.fenceBody(w, r, c)
	if !ok {
		return
	}
	f, err := s.Families.ReplaceFence(ctx(r), c.account.ID, acc.DeviceID, r.PathValue("fence"), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toFence(acc.DeviceID, f))
}

func (s *Server) deleteFence(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.Families.DeleteFence(ctx(r), c.account.ID, r.PathValue("watch"), r.PathValue("fence")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
