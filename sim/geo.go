package sim

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"kinwatch/watchproto"
)

// Point is a WGS84 coordinate in decimal degrees.
type Point struct {
	Lat, Lon float64
}

// ParsePoint reads "lat,lon" in decimal degrees.
func ParsePoint(s string) (Point, error) {
	a, b, ok := strings.Cut(s, ",")
	if !ok {
		return Point{}, fmt.Errorf("want lat,lon, got %q", s)
	}
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	lon, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if err1 != nil || err2 != nil {
		return Point{}, fmt.Errorf("want lat,lon in decimal degrees, got %q", s)
	}
	p := Point{lat, lon}
	if !p.valid() {
		return Point{}, fmt.Errorf("%q is not a coordinate (lat -85..85, lon -180..180)", s)
	}
	return p, nil
}

func (p Point) String() string {
	return strconv.FormatFloat(p.Lat, 'f', 6, 64) + "," + strconv.FormatFloat(p.Lon, 'f', 6, 64)
}

// valid stops short of the poles, where metre offsets in longitude stop making sense.
func (p Point) valid() bool {
	return p.Lat >= -85 && p.Lat <= 85 && p.Lon >= -180 && p.Lon <= 180
}

const earthRadius = 6371000.0

// offset moves p by metres north and east. The flat-earth approximation is far more precise than
// the few kilometres a simulated child travels need.
func (p Point) offset(north, east float64) Point {
	lat := p.Lat + north/earthRadius*180/math.Pi
	lon := p.Lon + east/(earthRadius*math.Cos(p.Lat*math.Pi/180))*180/math.Pi
	return Point{lat, lon}
}

// delta returns the metres north and east from p to q.
func (p Point) delta(q Point) (north, east float64) {
	north = (q.Lat - p.Lat) * math.Pi / 180 * earthRadius
	east = (q.Lon - p.Lon) * math.Pi / 180 * earthRadius * math.Cos(p.Lat*math.Pi/180)
	return north, east
}

func (p Point) distance(q Point) float64 {
	n, e := p.delta(q)
	return math.Hypot(n, e)
}

// bearing is the course from p to q in degrees clockwise from north.
func (p Point) bearing(q Point) float64 {
	n, e := p.delta(q)
	b := math.Atan2(e, n) * 180 / math.Pi
	if b < 0 {
		b += 360
	}
	return b
}

// operator is the network a simulated SIM card belongs to.
type operator struct {
	mcc, mnc int
}

// country is a rough bounding box with the mobile country code and the main networks of that
// country, so that cell reports look like they come from where the routes are. Smaller countries
// come first because the boxes overlap.
type country struct {
	minLat, maxLat, minLon, maxLon float64
	mcc                            int
	mncs                           []int
}

var countries = []country{
	{51.9, 53.6, 3.3, 7.2, 204, []int{4, 8, 16}},      // Netherlands, north
	{50.7, 51.9, 3.3, 6.1, 204, []int{4, 8, 16}},      // Netherlands, south
	{49.5, 51.5, 2.5, 6.0, 206, []int{1, 10, 20}},     // Belgium
	{45.8, 47.8, 5.9, 10.5, 228, []int{1, 2, 3}},      // Switzerland
	{46.4, 49.0, 9.5, 17.2, 232, []int{1, 3, 5}},      // Austria
	{47.3, 55.1, 5.9, 15.0, 262, []int{1, 2, 3}},      // Germany
	{42.3, 51.1, -4.8, 8.2, 208, []int{1, 10, 20}},    // France
	{51.4, 55.4, -10.5, -6.0, 272, []int{1, 2, 5}},    // Ireland
	{49.9, 58.7, -8.2, 1.8, 234, []int{10, 15, 30}},   // United Kingdom
	{36.9, 42.2, -9.5, -6.2, 268, []int{1, 3, 6}},     // Portugal
	{36.0, 43.8, -9.3, 3.3, 214, []int{1, 3, 7}},      // Spain
	{36.6, 47.1, 6.6, 18.5, 222, []int{1, 10, 88}},    // Italy
	{49.0, 54.8, 14.1, 24.2, 260, []int{1, 2, 3}},     // Poland
	{55.3, 69.1, 11.1, 24.2, 240, []int{1, 2, 7}},     // Sweden
	{29.5, 33.3, 34.2, 35.9, 425, []int{1, 2, 3}},     // Israel
	{24.5, 49.4, -125, -66.9, 310, []int{260, 410}},   // United States
	{41.7, 83.0, -141, -52.6, 302, []int{220, 610}},   // Canada
	{-33.8, 5.3, -74, -34.8, 724, []int{2, 5, 6}},     // Brazil
	{24.0, 45.6, 122.9, 145.8, 440, []int{10, 20}},    // Japan
	{6.7, 35.5, 68.1, 97.4, 404, []int{10, 20, 45}},   // India
	{18.0, 53.6, 73.5, 135.0, 460, []int{0, 1, 11}},   // China
	{-43.7, -10.7, 113.3, 153.6, 505, []int{1, 2, 3}}, // Australia
}

// operatorsAt lists the networks a SIM bought near p could belong to; outside the table it is the
// ITU test network 001-01.
func operatorsAt(p Point) []operator {
	for _, c := range countries {
		if p.Lat >= c.minLat && p.Lat <= c.maxLat && p.Lon >= c.minLon && p.Lon <= c.maxLon {
			ops := make([]operator, len(c.mncs))
			for i, mnc := range c.mncs {
				ops[i] = operator{c.mcc, mnc}
			}
			return ops
		}
	}
	return []operator{{1, 1}}
}

// mix64 is the splitmix64 finaliser: a cheap, well-spread hash for deriving stable identifiers
// (cell ids, MAC addresses) from coordinates and seeds.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func hashInts(vs ...int64) uint64 {
	h := uint64(0x6a09e667f3bcc908)
	for _, v := range vs {
		h = mix64(h ^ uint64(v))
	}
	return h
}

// Cell grids: a cell covers roughly 450 m × 400 m, a location area roughly 5 km. Deriving the ids
// from the grid (and not from the watch) makes watches near each other hear the same cells, as a
// geolocation service would expect.
const (
	cellGridLat = 0.004
	cellGridLon = 0.006
	areaGrid    = 0.05
)

// cellAt returns the cell of operator op covering grid square (gy, gx); lte selects 28-bit E-UTRAN
// cell ids instead of 16-bit GSM ones.
func cellAt(op operator, gy, gx int64, lte bool) (lac, cid int64) {
	ay := int64(math.Floor(float64(gy) * cellGridLat / areaGrid))
	ax := int64(math.Floor(float64(gx) * cellGridLon / areaGrid))
	lac = int64(hashInts(int64(op.mcc), int64(op.mnc), ay, ax)%65000) + 100
	h := hashInts(int64(op.mcc), int64(op.mnc), gy, gx, 7)
	if lte {
		// eNodeB id (20 bits) and a sector of that site.
		return lac, int64(h%(1<<20-1)+1)<<8 | int64(h>>60%3+1)
	}
	return lac, int64(h%65534) + 1
}

// cellsNear fills dst with the serving cell at p and up to n-1 neighbours, strongest first.
func cellsNear(dst []watchproto.Cell, op operator, p Point, n int, lte bool, rnd func(int) int) []watchproto.Cell {
	gy := int64(math.Floor(p.Lat / cellGridLat))
	gx := int64(math.Floor(p.Lon / cellGridLon))
	// Neighbours in the direction of the nearer grid edges come first, as they would be heard best.
	fy, fx := p.Lat/cellGridLat-float64(gy), p.Lon/cellGridLon-float64(gx)
	dy, dx := int64(1), int64(1)
	if fy < 0.5 {
		dy = -1
	}
	if fx < 0.5 {
		dx = -1
	}
	squares := [4][2]int64{{gy, gx}, {gy + dy, gx}, {gy, gx + dx}, {gy + dy, gx + dx}}
	rssi := 55 + rnd(30)
	for i := 0; i < n && i < len(squares); i++ {
		lac, cid := cellAt(op, squares[i][0], squares[i][1], lte)
		dst = append(dst, watchproto.Cell{MCC: op.mcc, MNC: op.mnc, LAC: lac, CID: cid, RSSI: rssi, HasRSSI: true})
		rssi -= 5 + rnd(12)
		if rssi < 1 {
			rssi = 1
		}
	}
	return dst
}

// Tower is a simulated cell: where it is and how far it reaches, as a tower database lists it.
type Tower struct {
	MCC, MNC int
	LAC, CID int64
	Lat, Lon float64
	Range    float64 // metres
}

// Towers lists the simulated cells (GSM and LTE, of every network the country has) of the grid
// squares within km kilometres of around: seeded into the local geolocation database, they let
// kinwatch place simulated watches indoors, as an OpenCellID import does for real ones.
func Towers(around Point, km float64) []Tower {
	dLat := km / 111.32
	dLon := km / (111.32 * math.Cos(around.Lat*math.Pi/180))
	y0, y1 := int64(math.Floor((around.Lat-dLat)/cellGridLat)), int64(math.Floor((around.Lat+dLat)/cellGridLat))
	x0, x1 := int64(math.Floor((around.Lon-dLon)/cellGridLon)), int64(math.Floor((around.Lon+dLon)/cellGridLon))
	var out []Tower
	for _, op := range operatorsAt(around) {
		for gy := y0; gy <= y1; gy++ {
			for gx := x0; gx <= x1; gx++ {
				lat, lon := (float64(gy)+0.5)*cellGridLat, (float64(gx)+0.5)*cellGridLon
				for _, lte := range []bool{false, true} {
					lac, cid := cellAt(op, gy, gx, lte)
					out = append(out, Tower{MCC: op.mcc, MNC: op.mnc, LAC: lac, CID: cid, Lat: lat, Lon: lon, Range: 500})
				}
			}
		}
	}
	return out
}
