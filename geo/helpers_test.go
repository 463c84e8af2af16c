package geo_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"kinwatch/geo"
)

// The place the tests locate: a schoolyard in Berlin.
const homeLat, homeLon = 52.520008, 13.404954

// offset returns the point east and north metres from lat, lon.
func offset(lat, lon, east, north float64) (float64, float64) {
	const k = 6371008.8 * math.Pi / 180
	return lat + north/k, lon + east/(k*math.Cos(lat*math.Pi/180))
}

// signalAt is an indoor log-distance path loss: -40 dBm at 1 m, exponent 2.5.
func signalAt(metres float64) int {
	return int(math.Round(-40 - 25*math.Log10(math.Max(1, metres))))
}

// towerMap and apMap are the local data as a store will provide it.
type towerMap map[geo.CellKey]geo.Tower

func (m towerMap) Towers(_ context.Context, keys []geo.CellKey) (map[geo.CellKey]geo.Tower, error) {
	out := make(map[geo.CellKey]geo.Tower, len(keys))
	for _, k := range keys {
		if t, ok := m[k]; ok {
			out[k] = t
		}
	}
	return out, nil
}

type apMap map[string]geo.AccessPoint

func (m apMap) AccessPoints(_ context.Context, macs []string) (map[string]geo.AccessPoint, error) {
	out := make(map[string]geo.AccessPoint, len(macs))
	for _, k := range macs {
		if a, ok := m[k]; ok {
			out[k] = a
		}
	}
	return out, nil
}

var errStore = errors.New("store unavailable")

type brokenStore struct{}

func (brokenStore) Towers(context.Context, []geo.CellKey) (map[geo.CellKey]geo.Tower, error) {
	return nil, errStore
}

func (brokenStore) AccessPoints(context.Context, []string) (map[string]geo.AccessPoint, error) {
	return nil, errStore
}

// fakeProvider answers what it is told and counts its calls. Providers are this package's own
// interface, so a stand-in is not a mocked dependency.
type fakeProvider struct {
	name  string
	fix   geo.Fix
	err   error
	block chan struct{} // if set, Locate waits for it or the context
	calls atomic.Int64
}

func (p *fakeProvider) Name() string { return p.name }

func (p *fakeProvider) Locate(ctx context.Context, q geo.Query) (geo.Fix, error) {
	p.calls.Add(1)
	if p.block != nil {
		select {
		case <-p.block:
		case <-ctx.Done():
			return geo.Fix{}, ctx.Err()
		}
	}
	return p.fix, p.err
}

// clock is a controllable Chain.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
