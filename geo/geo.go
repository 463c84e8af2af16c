// Package geo turns what a watch heard indoors (mobile cells and Wi-Fi access points, a V fix) into a
// position with a source (wifi or cell) and an honest accuracy radius: estimation from weighted
// observations, a provider on local tower and access-point data, a remote provider speaking the
// widely used "geolocate" format, and a chain that tries them in order behind a bounded cache.
//
// It stores nothing itself: the local data comes through the Towers and AccessPoints interfaces a
// store implements (StoreData), and the Learner folds GPS-fixed reports into the store's map of
// where transmitters are, never which watch heard them or when. It must not log positions,
// MAC addresses or cell identities, and never answers 0,0 for "unknown": that is ErrNotFound.
package geo

import (
	"context"
	"errors"
	"math"

	"kinwatch"
)

// Query is what a watch heard. Signals are as the watch reported them; see WiFiSignal and
// CellSignal for what they mean.
type Query struct {
	Cells []kinwatch.Cell
	WiFi  []kinwatch.WiFi
}

// Fix is a resolved position. Accuracy is a radius in metres; Source is kinwatch.SourceWiFi or
// kinwatch.SourceCell, so a guardian is told how far to trust it; Provider names who placed it.
type Fix struct {
	Lat, Lon, Accuracy float64
	Source             string
	Provider           string
}

// ErrNotFound says a provider cannot place the query: nothing it knows was heard. It is an answer,
// not a failure, so the chain caches it (briefly) and moves to the next provider.
var ErrNotFound = errors.New("geo: position not found")

// Provider places a query. Locate returns ErrNotFound when it cannot, and any other error when it
// failed (so the answer must not be cached).
type Provider interface {
	Name() string
	Locate(ctx context.Context, q Query) (Fix, error)
}

// Accuracy floors. Nothing located from Wi-Fi is better than a room or two, nothing from cells
// better than a street block, however tight the data looks; reporting less would be dishonest.
const (
	MinAccuracy     = 15.0  // metres; also the floor of Estimate
	MinWiFiAccuracy = 15.0  // metres
	MinCellAccuracy = 100.0 // metres
)

// Radii assumed when the data has none: a typical indoor access point, and a cell in town.
const (
	DefaultAccessPointRadius = 50.0   // metres
	DefaultTowerRange        = 1000.0 // metres
)

const earthRadius = 6371008.8 // metres, the mean radius (IUGG)

// Distance returns the great-circle distance in metres between two points in degrees (haversine).
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	φ1, φ2 := lat1*rad, lat2*rad
	dφ := (lat2 - lat1) * rad
	dλ := (lon2 - lon1) * rad
	s1, s2 := math.Sin(dφ/2), math.Sin(dλ/2)
	a := s1*s1 + math.Cos(φ1)*math.Cos(φ2)*s2*s2
	return 2 * earthRadius * math.Asin(math.Sqrt(math.Min(1, a)))
}

// validCoords reports whether a position is usable: finite, on the globe, and not 0,0, which is
// what broken data says instead of "unknown" (the complaint this package exists to answer).
func validCoords(lat, lon float64) bool {
	return !math.IsNaN(lat) && !math.IsNaN(lon) && math.Abs(lat) <= 90 && math.Abs(lon) <= 180 &&
		(lat != 0 || lon != 0)
}

// validFix reports whether a provider's answer may be handed on.
func validFix(f Fix) bool {
	return validCoords(f.Lat, f.Lon) && !math.IsNaN(f.Accuracy) && !math.IsInf(f.Accuracy, 0) &&
		f.Accuracy >= 0 && (f.Source == kinwatch.SourceWiFi || f.Source == kinwatch.SourceCell)
}

// floorFor returns the accuracy floor of a source.
func floorFor(source string) float64 {
	if source == kinwatch.SourceCell {
		return MinCellAccuracy
	}
	return MinWiFiAccuracy
}
