package geo

import (
	"cmp"
	"crypto/sha256"
	"math"
	"slices"
	"strconv"
	"strings"
)

// CellKey identifies a cell the way tower databases (OpenCellID) do.
type CellKey struct {
	MCC, MNC int
	LAC, CID int64
}

// Limits on what one query may carry. A watch reports at most 7 cells and 6 access points; the
// bounds keep a malformed query from turning into an unbounded store lookup or remote request.
const (
	maxCells        = 32
	maxAccessPoints = 32
	maxRead         = 256 // entries of each list read at all; deduplication is quadratic
)

// heardCell is a usable cell of a query with its raw signal.
type heardCell struct {
	key CellKey
	raw int
}

// heardAP is a usable access point of a query, its MAC normalised, with its raw signal.
type heardAP struct {
	mac string
	raw int
}

// heard is a query reduced to what any provider may use: valid cells and access points, each
// once, in key order. Every provider and the cache key start from it, so they agree on what a
// query means.
type heard struct {
	cells []heardCell
	aps   []heardAP
}

func (h heard) empty() bool { return len(h.cells) == 0 && len(h.aps) == 0 }

// prepare reduces q; see heard.
func prepare(q Query) heard {
	var h heard
	for _, c := range q.Cells[:min(len(q.Cells), maxRead)] {
		k := CellKey{MCC: c.MCC, MNC: c.MNC, LAC: c.LAC, CID: c.CID}
		if !validCell(k) {
			continue
		}
		if i := slices.IndexFunc(h.cells, func(x heardCell) bool { return x.key == k }); i >= 0 {
			if cellStrength(c.RSSI) > cellStrength(h.cells[i].raw) {
				h.cells[i].raw = c.RSSI
			}
			continue
		}
		h.cells = append(h.cells, heardCell{key: k, raw: c.RSSI})
	}
	for _, w := range q.WiFi[:min(len(q.WiFi), maxRead)] {
		if optedOut(w.SSID) {
			continue
		}
		mac, ok := NormalizeMAC(w.MAC)
		if !ok {
			continue
		}
		if i := slices.IndexFunc(h.aps, func(x heardAP) bool { return x.mac == mac }); i >= 0 {
			if wifiStrength(w.RSSI) > wifiStrength(h.aps[i].raw) {
				h.aps[i].raw = w.RSSI
			}
			continue
		}
		h.aps = append(h.aps, heardAP{mac: mac, raw: w.RSSI})
	}
	if len(h.cells) > maxCells {
		slices.SortStableFunc(h.cells, func(a, b heardCell) int { return cmp.Compare(cellStrength(b.raw), cellStrength(a.raw)) })
		h.cells = h.cells[:maxCells]
	}
	if len(h.aps) > maxAccessPoints {
		slices.SortStableFunc(h.aps, func(a, b heardAP) int { return cmp.Compare(wifiStrength(b.raw), wifiStrength(a.raw)) })
		h.aps = h.aps[:maxAccessPoints]
	}
	slices.SortFunc(h.cells, func(a, b heardCell) int { return compareCellKeys(a.key, b.key) })
	slices.SortFunc(h.aps, func(a, b heardAP) int { return strings.Compare(a.mac, b.mac) })
	return h
}

// cacheKey identifies a query by what it heard, signals ignored: the same cells and access points
// are the same place, and a signal that wobbles from one report to the next must still hit the
// cache. A digest keeps every cache entry small and holds no MAC address or cell id in memory.
func (h heard) cacheKey() [sha256.Size]byte {
	b := make([]byte, 0, 24*len(h.cells)+18*len(h.aps))
	for _, c := range h.cells {
		b = append(b, 'c')
		b = strconv.AppendInt(b, int64(c.key.MCC), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(c.key.MNC), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, c.key.LAC, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, c.key.CID, 10)
		b = append(b, ';')
	}
	for _, a := range h.aps {
		b = append(b, 'w')
		b = append(b, a.mac...)
		b = append(b, ';')
	}
	return sha256.Sum256(b)
}

func compareCellKeys(a, b CellKey) int {
	return cmp.Or(cmp.Compare(a.MCC, b.MCC), cmp.Compare(a.MNC, b.MNC), cmp.Compare(a.LAC, b.LAC), cmp.Compare(a.CID, b.CID))
}

// validCell reports whether a cell can be looked up: a real country and network code, and area and
// cell ids other than the reserved values and the "unknown" markers firmwares and modems send
// (the SG firmwares' FFFF/FFFE, Android's 0x7FFFFFFF, LTE's 0xFFFFFFF).
func validCell(k CellKey) bool {
	return k.MCC >= 1 && k.MCC <= 999 && k.MNC >= 0 && k.MNC <= 999 &&
		k.LAC >= 1 && k.LAC <= 0xFFFFFF && k.LAC != 0xFFFE && k.LAC != 0xFFFF &&
		k.CID >= 1 && k.CID < 1<<36 && k.CID != 0xFFFFFFF && k.CID != math.MaxInt32
}

// optedOut reports whether an access point's owner asked not to be mapped: the "_nomap" suffix
// (Google, Mozilla) and "_optout" (Microsoft) conventions.
func optedOut(ssid string) bool {
	s := strings.ToLower(ssid)
	return strings.HasSuffix(s, "_nomap") || strings.Contains(s, "_optout")
}

// cellStrength and wifiStrength order raw signals, unknown below every known one.
func cellStrength(raw int) int {
	if s, _, ok := CellSignal(raw); ok {
		return s
	}
	return math.MinInt
}

func wifiStrength(raw int) int {
	if s, ok := WiFiSignal(raw); ok {
		return s
	}
	return math.MinInt
}
