package kinwatch

import (
	"context"
	"math"
	"time"
)

// CellKey names a mobile network cell.
type CellKey struct {
	MCC, MNC int
	LAC, CID int64
}

// Cell tower sources.
const (
	TowerImported = "import"  // from an OpenCellID file
	TowerLearned  = "learned" // from the fleet's reports with a GPS fix
)

// CellTower is where a cell is, and how far it reaches.
type CellTower struct {
	CellKey
	Lat, Lon  float64
	Range     float64 // metres
	Samples   int
	Source    string
	UpdatedAt time.Time
}

// AccessPoint is a learned Wi-Fi access point: the mean of the GPS fixes it was heard at and how
// far they spread.
type AccessPoint struct {
	MAC      string // normalised, lower-case aa:bb:cc:dd:ee:ff
	Lat, Lon float64
	Spread   float64 // metres: the standard deviation of the fixes around the mean
	Samples  int
}

// Sighting is a transmitter heard at a GPS fix, to learn from: no watch, no child, no time of day
// beyond the learning itself.
type Sighting struct {
	MAC      string  // for an access point
	Cell     CellKey // for a cell (MAC "")
	Lat, Lon float64
}

// GeoStore keeps the local geolocation database.
type GeoStore interface {
	// PutCellTowers inserts or replaces towers (an import run again updates them); learned towers
	// are replaced by imported ones, never the other way round.
	PutCellTowers(ctx context.Context, towers []CellTower) error
	CellTowers(ctx context.Context, keys []CellKey) (map[CellKey]CellTower, error)
	AccessPoints(ctx context.Context, macs []string) (map[string]AccessPoint, error)
	// Learn folds sightings into the learned access points and cells (running mean and spread).
	Learn(ctx context.Context, sightings []Sighting, at time.Time) error
}

// metresPerDegree is the length of one degree of latitude (and of longitude at the equator).
const metresPerDegree = 111_320.0

// movedAfter is how far from the learned mean a fix may be before the transmitter counts as moved
// (its learning starts again there) rather than as a wider one.
const movedAfter = 5_000.0

// LearnFix folds one GPS fix into a running mean (lat, lon) and spread (m2: the sum of squared
// distances from the mean, in m², Welford's method) of n fixes, and returns the new values. A fix
// farther than movedAfter from a mean of at least 3 fixes restarts the learning there: access
// points move house, and the old position must not pull the new one.
func LearnFix(lat, lon, m2 float64, n int, fixLat, fixLon float64) (float64, float64, float64, int) {
	if n <= 0 {
		return fixLat, fixLon, 0, 1
	}
	cos := math.Cos(lat * math.Pi / 180)
	dy := (fixLat - lat) * metresPerDegree
	dx := (fixLon - lon) * metresPerDegree * cos
	if n >= 3 && math.Hypot(dx, dy) > movedAfter {
		return fixLat, fixLon, 0, 1
	}
	n++
	// The mean moves by d/n; m2 grows by d·(d - d/n) in each axis.
	mx, my := dx/float64(n), dy/float64(n)
	m2 += dx*(dx-mx) + dy*(dy-my)
	return lat + my/metresPerDegree, lon + mx/(metresPerDegree*cos), m2, n
}

// Spread is the standard deviation in metres of n learned fixes with sum of squares m2.
func Spread(m2 float64, n int) float64 {
	if n < 2 {
		return 0
	}
	return math.Sqrt(m2 / float64(n))
}

// LearnedRange is how far a learned cell is taken to reach: twice the spread of the fixes it was
// heard at, and never less than a small cell's.
func LearnedRange(m2 float64, n int) float64 {
	return math.Max(2*Spread(m2, n), 500)
}
