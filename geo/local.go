package geo

import (
	"context"
	"fmt"
	"math"

	"kinwatch"
)

// Tower is a cell's position as a tower database has it: Range is how far it reaches (metres,
// 0 = unknown), Samples how many measurements placed it.
type Tower struct {
	Lat, Lon, Range float64
	Samples         int
}

// AccessPoint is an access point's learned position: Accuracy is its radius (metres, 0 = unknown),
// Samples how many reports placed it. Only positions are kept, never who heard them.
type AccessPoint struct {
	Lat, Lon, Accuracy float64
	Samples            int
}

// Towers reads cell positions. Keys not known are absent from the result; an error is a failure of
// the store, never "not found". A store decides what it trusts enough to return (Samples is for it).
type Towers interface {
	Towers(ctx context.Context, keys []CellKey) (map[CellKey]Tower, error)
}

// AccessPoints reads access point positions by MAC as NormalizeMAC spells it; unknown ones are
// absent from the result.
type AccessPoints interface {
	AccessPoints(ctx context.Context, macs []string) (map[string]AccessPoint, error)
}

// NewLocal returns the provider named "local", reading the deployment's own data: imported towers
// and the self-learned access point map. Either may be nil.
//
// Wi-Fi comes first and needs at least two known access points: a single one may be a travelling
// hotspot, and two agreeing ones rarely are. Otherwise it falls back to cells. When the query has
// cells too, they check the Wi-Fi fix: if it lies farther from the cell fix than twice the cell
// accuracy plus its own, the access points have moved (a family took its router along) and the cell
// fix is returned instead.
func NewLocal(towers Towers, aps AccessPoints) Provider {
	return &local{towers: towers, aps: aps}
}

type local struct {
	towers Towers
	aps    AccessPoints
}

func (l *local) Name() string { return "local" }

func (l *local) Locate(ctx context.Context, q Query) (Fix, error) {
	h := prepare(q)
	var wifi Fix
	haveWiFi := false
	if l.aps != nil && len(h.aps) >= 2 {
		var err error
		wifi, haveWiFi, err = l.locateWiFi(ctx, h.aps)
		if err != nil {
			return Fix{}, fmt.Errorf("geo: local access points: %w", err)
		}
	}
	if l.towers != nil && len(h.cells) > 0 {
		cell, ok, err := l.locateCells(ctx, h.cells)
		switch {
		case err != nil && haveWiFi:
			return wifi, nil // the cells were only a check
		case err != nil:
			return Fix{}, fmt.Errorf("geo: local towers: %w", err)
		case ok && (!haveWiFi || Distance(wifi.Lat, wifi.Lon, cell.Lat, cell.Lon) > 2*cell.Accuracy+wifi.Accuracy):
			return cell, nil
		}
	}
	if haveWiFi {
		return wifi, nil
	}
	return Fix{}, ErrNotFound
}

func (l *local) locateWiFi(ctx context.Context, heard []heardAP) (Fix, bool, error) {
	macs := make([]string, len(heard))
	for i, a := range heard {
		macs[i] = a.mac
	}
	known, err := l.aps.AccessPoints(ctx, macs)
	if err != nil {
		return Fix{}, false, err
	}
	if len(known) < 2 {
		return Fix{}, false, nil
	}
	var buf [maxAccessPoints]Observation
	obs := buf[:0]
	for _, a := range heard {
		ap, ok := known[a.mac]
		if !ok || !validCoords(ap.Lat, ap.Lon) {
			continue
		}
		r := ap.Accuracy
		if !(r > 0) || math.IsInf(r, 0) {
			r = DefaultAccessPointRadius
		}
		s, _ := WiFiSignal(a.raw)
		obs = append(obs, Observation{Lat: ap.Lat, Lon: ap.Lon, Radius: r, Signal: s})
	}
	if len(obs) < 2 {
		return Fix{}, false, nil
	}
	lat, lon, acc, ok := Estimate(obs)
	if !ok {
		return Fix{}, false, nil
	}
	return Fix{Lat: lat, Lon: lon, Accuracy: max(acc, MinWiFiAccuracy), Source: kinwatch.SourceWiFi, Provider: "local"}, true, nil
}

func (l *local) locateCells(ctx context.Context, heard []heardCell) (Fix, bool, error) {
	keys := make([]CellKey, len(heard))
	for i, c := range heard {
		keys[i] = c.key
	}
	known, err := l.towers.Towers(ctx, keys)
	if err != nil {
		return Fix{}, false, err
	}
	var buf [maxCells]Observation
	obs := buf[:0]
	for _, c := range heard {
		t, ok := known[c.key]
		if !ok || !validCoords(t.Lat, t.Lon) {
			continue
		}
		r := t.Range
		if !(r > 0) || math.IsInf(r, 0) {
			r = DefaultTowerRange
		}
		s, _, _ := CellSignal(c.raw)
		obs = append(obs, Observation{Lat: t.Lat, Lon: t.Lon, Radius: r, Signal: s})
	}
	lat, lon, acc, ok := Estimate(obs)
	if !ok {
		return Fix{}, false, nil
	}
	return Fix{Lat: lat, Lon: lon, Accuracy: max(acc, MinCellAccuracy), Source: kinwatch.SourceCell, Provider: "local"}, true, nil
}
