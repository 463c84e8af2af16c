package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"kinwatch"
	"kinwatch/fence"
	"kinwatch/track"
)

// maxTrackPoints bounds what one history request reads: a year of one-minute reports, with room.
const maxTrackPoints = 1_000_000

type trackJSON struct {
	WatchID   string           `json:"watch_id"`
	From      *string          `json:"from"`
	To        *string          `json:"to"`
	Distance  float64          `json:"distance_m"`
	Points    []trackPointJSON `json:"points"`
	Stops     []stopJSON       `json:"stops"`
	Truncated bool             `json:"truncated"`
}

type trackPointJSON struct {
	Time     string  `json:"time"`
	Lat      float64 `json:"lat"`
	Lon      float64 `json:"lon"`
	Accuracy float64 `json:"accuracy_m"`
	Source   string  `json:"source"`
}

type stopJSON struct {
	Lat    float64 `json:"lat"`
	Lon    float64 `json:"lon"`
	Radius float64 `json:"radius_m"`
	Arrive string  `json:"arrive"`
	Leave  string  `json:"leave"`
}

// watchTrack answers a history view: the positions of a time window, simplified to at most
// max_points (default 2000) with the shape kept, the stops, and the distance walked; as JSON,
// GeoJSON (format=geojson) or GPX (format=gpx). It is a read of the location history and is
// recorded as one.
func (s *Server) watchTrack(w http.ResponseWriter, r *http.Request, c *caller) {
	from, to, _, _, err := window(r, 1, 1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	opt := track.Options{}
	if v := r.URL.Query().Get("max_points"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 || n > 20000 {
			s.writeError(w, r, kinwatch.Errorf(kinwatch.EINVALID, "max_points: a number from 2 to 20000"))
			return
		}
		opt.MaxPoints = n
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "geojson" && format != "gpx" {
		s.writeError(w, r, kinwatch.Errorf(kinwatch.EINVALID, "format: json, geojson or gpx"))
		return
	}
	acc := s.audited(w, r, c, kinwatch.AccessLocationHistory, rangeItem(from, to))
	if acc == nil {
		return
	}
	var pts []track.Point
	truncated := false
	errFull := kinwatch.Errorf(kinwatch.EINVALID, "full")
	err = s.Store.Track(ctx(r), acc.DeviceID, from, to, func(p *kinwatch.TrackPoint) error {
		if len(pts) == maxTrackPoints {
			truncated = true
			return errFull
		}
		pts = append(pts, track.Point{Time: p.Time, Lat: p.Lat, Lon: p.Lon, Accuracy: p.Accuracy, Source: p.Source, Steps: p.Steps})
		return nil
	})
	if err != nil && err != errFull {
		s.writeError(w, r, err)
		return
	}
	switch format {
	case "gpx":
		w.Header().Set("Content-Type", "application/gpx+xml")
		w.Header().Set("Cache-Control", "private, no-store")
		track.WriteGPX(w, acc.DeviceID, pts)
		return
	case "geojson":
		w.Header().Set("Content-Type", "application/geo+json")
		w.Header().Set("Cache-Control", "private, no-store")
		track.WriteGeoJSON(w, track.Build(pts, opt))
		return
	}
	t := track.Build(pts, opt)
	out := trackJSON{WatchID: acc.DeviceID, From: rfc3339(from), To: rfc3339(to), Distance: t.Distance,
		Points: make([]trackPointJSON, len(t.Points)), Stops: make([]stopJSON, len(t.Stops)), Truncated: truncated}
	for i, p := range t.Points {
		out.Points[i] = trackPointJSON{p.Time.UTC().Format(time.RFC3339), p.Lat, p.Lon, p.Accuracy, p.Source}
	}
	for i, st := range t.Stops {
		out.Stops[i] = stopJSON{st.Lat, st.Lon, st.Radius, st.Arrive.UTC().Format(time.RFC3339), st.Leave.UTC().Format(time.RFC3339)}
	}
	writeJSON(w, http.StatusOK, out)
}

type dayJSON struct {
	Date     string     `json:"date"`
	Distance float64    `json:"distance_m"`
	Steps    int64      `json:"steps"`
	Points   int        `json:"points"`
	Stops    []stopJSON `json:"stops"`
	// Zones is the time spent at each safe zone (home, school): the stops inside it.
	Zones []zoneTimeJSON `json:"zones"`
}

type zoneTimeJSON struct {
	FenceID string  `json:"fence_id"`
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// zoneTimes sums, for each of the watch's safe zones, the time of the stops whose centre is in it.
// Stops, not single fixes: a fix wobbling across the border does not move time in or out.
func zoneTimes(fences []fence.Fence, stops []track.Stop) []zoneTimeJSON {
	out := []zoneTimeJSON{}
	for _, f := range fences {
		var secs float64
		for _, st := range stops {
			if f.Shape.SignedDistance(fence.LatLon{Lat: st.Lat, Lon: st.Lon}) <= 0 {
				secs += st.Leave.Sub(st.Arrive).Seconds()
			}
		}
		if secs > 0 {
			out = append(out, zoneTimeJSON{f.ID, f.Name, secs})
		}
	}
	return out
}

// watchDays summarises a watch's days in a time zone (tz, default the caller's preference, else
// UTC): distance walked, steps from the watch's cumulative counter, places stayed at, time at
// each safe zone. At most
// 400 days a request. It reads the location history and is recorded as such.
func (s *Server) watchDays(w http.ResponseWriter, r *http.Request, c *caller) {
	// Access first: another family's watch is not found, whatever the query says.
	if s.access(w, r, c, false) == nil {
		return
	}
	from, to, _, _, err := window(r, 1, 1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if from.IsZero() || to.IsZero() || !from.Before(to) || to.Sub(from) > 400*24*time.Hour {
		s.writeError(w, r, kinwatch.Errorf(kinwatch.EINVALID, "from, to: a range of at most 400 days, both ends given"))
		return
	}
	tz := r.URL.Query().Get("tz")
	if tz == "" {
		tz = c.account.Preferences.TimeZone
	}
	loc := time.UTC
	if tz != "" {
		if loc, err = time.LoadLocation(tz); err != nil {
			s.writeError(w, r, kinwatch.Errorf(kinwatch.EINVALID, "tz: an IANA time zone such as Europe/Berlin"))
			return
		}
	}
	acc := s.audited(w, r, c, kinwatch.AccessLocationHistory, rangeItem(from, to))
	if acc == nil {
		return
	}
	var pts []track.Point
	errFull := kinwatch.Errorf(kinwatch.EINVALID, "full")
	err = s.Store.Track(ctx(r), acc.DeviceID, from, to, func(p *kinwatch.TrackPoint) error {
		if len(pts) == maxTrackPoints {
			return errFull
		}
		pts = append(pts, track.Point{Time: p.Time, Lat: p.Lat, Lon: p.Lon, Accuracy: p.Accuracy, Source: p.Source, Steps: p.Steps})
		return nil
	})
	if err != nil && err != errFull {
		s.writeError(w, r, err)
		return
	}
	stored, err := s.Store.Fences(ctx(r), acc.DeviceID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var fences []fence.Fence
	for _, g := range stored {
		if f, err := fence.Decode(g.Definition); err == nil {
			f.ID = g.ID
			fences = append(fences, f)
		}
	}
	days := track.Days(pts, loc, track.Options{})
	out := list(make([]dayJSON, len(days)))
	for i, d := range days {
		dj := dayJSON{Date: d.Date, Distance: d.Distance, Steps: d.Steps, Points: d.Points, Stops: make([]stopJSON, len(d.Stops)),
			Zones: zoneTimes(fences, d.Stops)}
		for j, st := range d.Stops {
			dj.Stops[j] = stopJSON{st.Lat, st.Lon, st.Radius, st.Arrive.UTC().Format(time.RFC3339), st.Leave.UTC().Format(time.RFC3339)}
		}
		out.Items[i] = dj
	}
	writeJSON(w, http.StatusOK, out)
}
