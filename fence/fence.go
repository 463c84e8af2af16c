// Package fence owns the logic of safe zones: a fence's shape (a circle or a polygon) and its
// schedules, how far a position is from its border, and a per-(watch, fence) Tracker that turns a
// stream of fixes of varying accuracy into enter and exit transitions without flapping when a
// Wi-Fi fix wobbles across the border.
//
// It is pure logic: no I/O, no clock, no logging. Storing fences and tracker state, raising the
// alarm events and delivering them belong to the callers.
package fence

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// LatLon is a position in degrees (WGS 84).
type LatLon struct {
	Lat, Lon float64
}

// Circle is a centre and a radius in metres along the ground.
type Circle struct {
	Center LatLon
	Radius float64
}

// Shape is exactly one of a Circle or a Polygon.
//
// A Polygon lists 3 to MaxVertices vertices in either winding order, not closed: the edge from
// the last vertex back to the first is implied, and a list whose last vertex repeats the first is
// refused by Validate rather than silently shortened, so that what is stored is what was checked
// (a GeoJSON reader drops the closing position before building a Shape). Edges are straight lines
// in a local equirectangular projection (see SignedDistance), which for a fence at most
// MaxPolygonSpan across is indistinguishable from great circles on a map.
type Shape struct {
	Circle  *Circle
	Polygon []LatLon
}

// Fence is a named safe zone of one watch. It is active when the time falls in any of its
// Schedules, and always when it has none.
//
// ID is the store's business and not checked here. When a fence's shape or schedules change, its
// trackers should start afresh: their state described the old fence.
type Fence struct {
	ID        string
	Name      string
	Shape     Shape
	Schedules []Schedule
}

// Limits checked by Validate.
const (
	// MinRadius is about the accuracy of a good GPS fix: a smaller circle could never be told
	// "clearly inside" (see Tracker).
	MinRadius = 20.0 // metres
	// MaxRadius keeps a circle a place rather than a region.
	MaxRadius = 50_000.0 // metres
	// MaxVertices bounds the work per fix and what a guardian can usefully draw.
	MaxVertices = 100
	// MaxPolygonSpan keeps a polygon small enough for the local projection to be exact to well
	// under a metre near its border; it matches the widest circle.
	MaxPolygonSpan = 2 * MaxRadius // metres, east–west and north–south
	// MaxPolygonLat keeps polygons away from the poles, where a local projection breaks down.
	MaxPolygonLat = 85.0 // degrees
	// MaxSchedules bounds the work per fix.
	MaxSchedules = 20
	// MaxNameLen is in characters.
	MaxNameLen = 100
)

// Validate reports the first problem with f in a message fit to show to the guardian who drew it.
// It does not echo coordinates, which are personal data in a log.
func (f Fence) Validate() error {
	name := strings.TrimSpace(f.Name)
	switch {
	case name == "":
		return errors.New("fence: name: required")
	case !utf8.ValidString(f.Name):
		return errors.New("fence: name: not valid UTF-8")
	case utf8.RuneCountInString(f.Name) > MaxNameLen:
		return fmt.Errorf("fence: name: at most %d characters", MaxNameLen)
	}
	if err := f.Shape.Validate(); err != nil {
		return err
	}
	if len(f.Schedules) > MaxSchedules {
		return fmt.Errorf("fence: schedules: at most %d", MaxSchedules)
	}
	for i, s := range f.Schedules {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("fence: schedule %d: %w", i+1, err)
		}
	}
	return nil
}

// Validate reports the first problem with the shape. Vertices are numbered from 1 in messages.
func (s Shape) Validate() error {
	switch {
	case s.Circle == nil && len(s.Polygon) == 0:
		return errors.New("fence: shape: a circle or a polygon is required")
	case s.Circle != nil && len(s.Polygon) > 0:
		return errors.New("fence: shape: either a circle or a polygon, not both")
	case s.Circle != nil:
		c := s.Circle
		if err := checkPosition(c.Center); err != nil {
			return fmt.Errorf("fence: circle centre: %w", err)
		}
		if !(c.Radius >= MinRadius && c.Radius <= MaxRadius) { // also refuses NaN
			return fmt.Errorf("fence: circle radius: must be %g to %g metres", MinRadius, MaxRadius)
		}
		return nil
	}
	p := s.Polygon
	n := len(p)
	if n >= 2 && p[0] == p[n-1] {
		return errors.New("fence: polygon: the last vertex repeats the first; leave the polygon open, the closing edge is implied")
	}
	if n < 3 || n > MaxVertices {
		return fmt.Errorf("fence: polygon: %d vertices; it needs 3 to %d", n, MaxVertices)
	}
	for i, v := range p {
		if err := checkPosition(v); err != nil {
			return fmt.Errorf("fence: polygon vertex %d: %w", i+1, err)
		}
		if math.Abs(v.Lat) > MaxPolygonLat {
			return fmt.Errorf("fence: polygon vertex %d: polygons are supported up to latitude %g°; use a circle nearer the poles", i+1, MaxPolygonLat)
		}
	}
	for i := range p {
		if j := (i + 1) % n; p[i] == p[j] {
			return fmt.Errorf("fence: polygon: vertices %d and %d are the same point", i+1, j+1)
		}
	}
	pl := newPlane(p)
	xy := pl.project(p)
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, q := range xy {
		minX, maxX = min(minX, q.x), max(maxX, q.x)
		minY, maxY = min(minY, q.y), max(maxY, q.y)
	}
	if maxX-minX > MaxPolygonSpan || maxY-minY > MaxPolygonSpan {
		return fmt.Errorf("fence: polygon: more than %g km across", MaxPolygonSpan/1000)
	}
	if i, j, ok := selfIntersection(xy); ok {
		return fmt.Errorf("fence: polygon: the edge from vertex %d to %d and the edge from vertex %d to %d cross or touch; the outline must not cross itself",
			i+1, (i+1)%n+1, j+1, (j+1)%n+1)
	}
	return nil
}

// checkPosition refuses what is not a place on the globe, and 0,0, which is what a form or a
// broken client sends for "not set".
func checkPosition(p LatLon) error {
	switch {
	case math.IsNaN(p.Lat) || math.IsNaN(p.Lon) || math.Abs(p.Lat) > 90 || math.Abs(p.Lon) > 180:
		return errors.New("latitude must be -90 to 90 and longitude -180 to 180")
	case p.Lat == 0 && p.Lon == 0:
		return errors.New("0,0 is not a place (unset position?)")
	}
	return nil
}
