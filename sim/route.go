package sim

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

type placeKind uint8

const (
	home placeKind = iota
	school
	park
)

var placeNames = [...]string{"home", "school", "park"}

func (k placeKind) String() string { return placeNames[k] }

// place is where a child spends time. Indoors the watch gets no GPS fix and reports the cells and
// Wi-Fi access points it hears; the access points of a place never change, so a server that learns
// them can locate the watch.
type place struct {
	kind   placeKind
	at     Point
	indoor bool
	aps    []accessPoint
}

type accessPoint struct {
	ssid, mac string
	rssi      int // typical strength at the spot where the child sits
}

// ouis are vendor prefixes of common home and office routers, so generated MACs look like
// hardware a geolocation database would know.
var ouis = [...][3]byte{
	{0x34, 0x60, 0xf9}, {0x98, 0x48, 0x27}, {0xa8, 0x3f, 0xa1}, {0x00, 0x0c, 0x42},
	{0x3c, 0xa6, 0x2f}, {0xe0, 0x28, 0x6d}, {0x60, 0x45, 0xcb}, {0x04, 0xf0, 0x21},
}

func macString(b [6]byte) string {
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 0, 17)
	for i, x := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, hexdigits[x>>4], hexdigits[x&0x0F])
	}
	return string(out)
}

// newAccessPoints derives the access points of a place from its coordinates, so that two watches
// at the same school hear the same networks. weird adds an SSID with brackets, as real firmware
// sends them raw (the protocol notes show "[LG_Wall-Mount A/C]e725").
func newAccessPoints(kind placeKind, at Point, weird bool) []accessPoint {
	h := hashInts(int64(math.Round(at.Lat*1e5)), int64(math.Round(at.Lon*1e5)), int64(kind))
	n := 3 + int(h%4)
	aps := make([]accessPoint, n)
	for i := range aps {
		x := mix64(h + uint64(i))
		var mac [6]byte
		copy(mac[:3], ouis[x%uint64(len(ouis))][:])
		mac[3], mac[4], mac[5] = byte(x>>8), byte(x>>16), byte(x>>24)
		suffix := strconv.FormatUint(x>>32&0xFFFF, 16)
		var ssid string
		switch {
		case weird && i == n-1:
			ssid = "[LG_Wall-Mount A/C]" + suffix
		case kind == school && i == 0:
			ssid = "School-Guest"
		case kind == school && i == 1:
			ssid = "eduroam"
		default:
			names := [...]string{"FRITZ!Box 7530 ", "Vodafone-", "TP-Link_", "NETGEAR", "HUAWEI-", "Telekom-", "DIRECT-", ""}
			ssid = names[x>>48%uint64(len(names))] + suffix
		}
		aps[i] = accessPoint{ssid: ssid, mac: macString(mac), rssi: -40 - int(x>>56%45)}
	}
	return aps
}

// route is one child's day: home, school and a park, the legs between them walked (or taken by
// bus when long) along an L-shaped street path, with dwell times at each place. At night the child
// goes home and stays there while the watch charges.
type route struct {
	places [3]place

	cur        int  // the place the child is at, or heading to when travelling
	travelling bool // on a leg between places
	bus        bool
	path       [2]Point // the corner and the destination of the current leg
	leg        int      // which of path is next
	pos        Point
	speed      float64 // m/s
	course     float64
	dwell      float64 // seconds left at the current place
}

// newRoute places a child's home within spread metres of center, its school 0.4–2 km from home
// and a park 0.2–1.2 km from home.
func newRoute(r *rand.Rand, center Point, spread float64, weird bool) *route {
	polar := func(from Point, minD, maxD float64) Point {
		d := minD + (maxD-minD)*math.Sqrt(r.Float64())
		a := r.Float64() * 2 * math.Pi
		return from.offset(d*math.Cos(a), d*math.Sin(a))
	}
	h := polar(center, 0, spread)
	s := polar(h, 400, 2000)
	p := polar(h, 200, 1200)
	rt := &route{
		places: [3]place{
			{kind: home, at: h, indoor: true, aps: newAccessPoints(home, h, weird)},
			{kind: school, at: s, indoor: true, aps: newAccessPoints(school, s, false)},
			{kind: park, at: p},
		},
		pos: h,
	}
	return rt
}

// busDistance is the leg length above which a child takes the bus.
const busDistance = 1500

// advance moves the child on by dt. It returns the metres walked (not ridden), for the pedometer.
func (rt *route) advance(r *rand.Rand, dt time.Duration, night bool, meanDwell time.Duration) (walked float64) {
	left := dt.Seconds()
	for left > 0 {
		if !rt.travelling {
			if rt.dwell > left {
				rt.dwell -= left
				return walked
			}
			left -= rt.dwell
			next := (rt.cur + 1) % len(rt.places)
			if night {
				if rt.cur == int(home) {
					// Asleep until morning; then children leave at different times.
					rt.dwell = meanDwell.Seconds() * r.Float64()
					return walked
				}
				next = int(home)
			}
			rt.startLeg(r, next)
			continue
		}
		target := rt.path[rt.leg]
		d := rt.pos.distance(target)
		if step := rt.speed * left; step < d {
			f := step / d
			rt.pos = Point{rt.pos.Lat + (target.Lat-rt.pos.Lat)*f, rt.pos.Lon + (target.Lon-rt.pos.Lon)*f}
			if !rt.bus {
				walked += step
			}
			return walked
		}
		rt.pos = target
		if !rt.bus {
			walked += d
		}
		left -= d / rt.speed
		rt.leg++
		if rt.leg < len(rt.path) {
			rt.course = rt.pos.bearing(rt.path[rt.leg])
			continue
		}
		rt.travelling = false
		rt.dwell = meanDwell.Seconds() * (0.5 + r.Float64())
	}
	return walked
}

func (rt *route) startLeg(r *rand.Rand, next int) {
	from, to := rt.places[rt.cur].at, rt.places[next].at
	corner := Point{from.Lat, to.Lon}
	if r.IntN(2) == 0 {
		corner = Point{to.Lat, from.Lon}
	}
	rt.cur = next
	rt.travelling = true
	rt.path = [2]Point{corner, to}
	rt.leg = 0
	rt.bus = from.distance(to) > busDistance
	if rt.bus {
		rt.speed = 6 + 4*r.Float64()
	} else {
		rt.speed = 1.0 + 0.6*r.Float64()
	}
	rt.course = rt.pos.bearing(corner)
}

// at returns the place the child is at, or nil while travelling.
func (rt *route) at() *place {
	if rt.travelling {
		return nil
	}
	return &rt.places[rt.cur]
}
