package geo

import (
	"context"
	"log/slog"
	"time"

	"kinwatch"
)

// StoreData reads the local provider's data from a kinwatch store.
type StoreData struct {
	Store kinwatch.GeoStore
}

// Towers reads cell positions.
func (d StoreData) Towers(ctx context.Context, keys []CellKey) (map[CellKey]Tower, error) {
	ks := make([]kinwatch.CellKey, len(keys))
	for i, k := range keys {
		ks[i] = kinwatch.CellKey(k)
	}
	got, err := d.Store.CellTowers(ctx, ks)
	if err != nil {
		return nil, err
	}
	out := make(map[CellKey]Tower, len(got))
	for k, t := range got {
		out[CellKey(k)] = Tower{Lat: t.Lat, Lon: t.Lon, Range: t.Range, Samples: t.Samples}
	}
	return out, nil
}

// AccessPoints reads learned access point positions. One heard at a single fix is not trusted
// yet: it may be a hotspot passing by.
func (d StoreData) AccessPoints(ctx context.Context, macs []string) (map[string]AccessPoint, error) {
	got, err := d.Store.AccessPoints(ctx, macs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]AccessPoint, len(got))
	for mac, ap := range got {
		if ap.Samples < 2 {
			continue
		}
		out[mac] = AccessPoint{Lat: ap.Lat, Lon: ap.Lon, Accuracy: max(ap.Spread, DefaultAccessPointRadius), Samples: ap.Samples}
	}
	return out, nil
}

// Learner learns where cells and access points are from reports that carry a GPS fix: the
// self-learning map. It keeps only where each transmitter is (a running mean and spread), never
// which watch heard it or when; sightings wait in a bounded queue and are written in batches, and
// when the queue is full new ones are dropped (learning is best effort, never back-pressure on
// watches).
type Learner struct {
	Store    kinwatch.GeoStore
	Log      *slog.Logger
	Interval time.Duration // between writes (default 5 s)
	queue    chan []kinwatch.Sighting
}

// NewLearner returns a learner with a queue of size reports.
func NewLearner(store kinwatch.GeoStore, size int, log *slog.Logger) *Learner {
	return &Learner{Store: store, Log: log, queue: make(chan []kinwatch.Sighting, size)}
}

// Offer queues what a watch heard at a GPS fix (lat, lon). Only usable transmitters are learned:
// valid cells and access points with a global address (randomised ones move with their owner).
func (l *Learner) Offer(q Query, lat, lon float64) {
	if !validCoords(lat, lon) || (lat == 0 && lon == 0) {
		return
	}
	h := prepare(q)
	if h.empty() {
		return
	}
	s := make([]kinwatch.Sighting, 0, len(h.cells)+len(h.aps))
	for _, c := range h.cells {
		s = append(s, kinwatch.Sighting{Cell: kinwatch.CellKey(c.key), Lat: lat, Lon: lon})
	}
	for _, a := range h.aps {
		s = append(s, kinwatch.Sighting{MAC: a.mac, Lat: lat, Lon: lon})
	}
	select {
	case l.queue <- s:
	default:
	}
}

// Run writes queued sightings every Interval until ctx ends, then writes what is left.
func (l *Learner) Run(ctx context.Context) {
	interval := l.Interval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.flush(context.WithoutCancel(ctx))
			return
		case <-t.C:
			l.flush(ctx)
		}
	}
}

func (l *Learner) flush(ctx context.Context) {
	var batch []kinwatch.Sighting
	for len(batch) < 5000 {
		select {
		case s := <-l.queue:
			batch = append(batch, s...)
			continue
		default:
		}
		break
	}
	if len(batch) == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := l.Store.Learn(wctx, batch, time.Now()); err != nil && l.Log != nil {
		l.Log.Warn("learning the geolocation map failed", "sightings", len(batch), "err", err)
	}
}
