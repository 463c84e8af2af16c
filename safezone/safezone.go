// Package safezone watches the safe zones: after each batch of positions is stored it feeds the
// new fixes of each watch through the trackers of the watch's fences (package fence) and raises
// an alarm for each enter and exit they decide. The trackers' state is stored after the alarms
// are, so a restart neither forgets where a child was nor announces it twice: positions stored
// while the process was down are fed in when the watch's next position arrives, from where each
// tracker stopped.
package safezone

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"kinwatch"
	"kinwatch/fence"
)

// MaxCatchUp bounds how far back an evaluation reads: a tracker whose last fix is older starts
// from this long ago (a watch that was off for a month has nothing to announce about it).
const MaxCatchUp = 7 * 24 * time.Hour

// Evaluator evaluates the fences of watches that have new positions.
type Evaluator struct {
	Store   kinwatch.Store
	Bus     kinwatch.Bus
	Log     *slog.Logger
	Options fence.Options
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time

	once  sync.Once
	mu    sync.Mutex
	dirty map[string]bool
	wake  chan struct{}
}

func (e *Evaluator) init() {
	e.once.Do(func() {
		e.dirty = map[string]bool{}
		e.wake = make(chan struct{}, 1)
	})
}

// Stored is told what the storage writer committed (OnCommit); it never blocks.
func (e *Evaluator) Stored(recs []kinwatch.Record) {
	e.init()
	e.mu.Lock()
	n := len(e.dirty)
	for i := range recs {
		if p := recs[i].Position; p != nil && p.HasCoords {
			e.dirty[p.DeviceID] = true
		}
	}
	grew := len(e.dirty) > n
	e.mu.Unlock()
	if grew {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
}

// Run evaluates the watches with new positions until ctx ends.
func (e *Evaluator) Run(ctx context.Context) {
	e.init()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		}
		e.mu.Lock()
		devices := e.dirty
		e.dirty = map[string]bool{}
		e.mu.Unlock()
		for id := range devices {
			if err := e.Evaluate(ctx, id); err != nil && ctx.Err() == nil {
				e.Log.Warn("safe zones", "device", id, "err", err)
			}
		}
	}
}

// trackerState is a tracker as stored in kinwatch.GeoFence.State.
type trackerState struct {
	State     string    `json:"state"`
	Support   int       `json:"support,omitempty"`
	Pending   int       `json:"pending,omitempty"`
	LastFix   time.Time `json:"last_fix"`
	LastAgree time.Time `json:"last_agree,omitzero"`
}

func loadTracker(s string) (fence.Tracker, bool) {
	var ts trackerState
	if s == "" || json.Unmarshal([]byte(s), &ts) != nil {
		return fence.Tracker{}, false
	}
	t := fence.Tracker{Support: ts.Support, PendingCount: ts.Pending, LastFix: ts.LastFix, LastAgree: ts.LastAgree}
	switch ts.State {
	case "inside":
		t.State = fence.Inside
	case "outside":
		t.State = fence.Outside
	}
	return t, true
}

func saveTracker(t fence.Tracker) string {
	b, _ := json.Marshal(trackerState{State: t.State.String(), Support: t.Support, Pending: t.PendingCount, LastFix: t.LastFix, LastAgree: t.LastAgree})
	return string(b)
}

type watched struct {
	id      string
	def     fence.Fence
	tracker fence.Tracker
	start   time.Time // the definition's version: fixes before it are not its business
	changed bool
}

// Evaluate feeds a watch's positions since its trackers' last fixes through its fences, raises
// an alarm for each transition and stores the trackers.
func (e *Evaluator) Evaluate(ctx context.Context, deviceID string) error {
	fences, err := e.Store.Fences(ctx, deviceID)
	if err != nil || len(fences) == 0 {
		return err
	}
	now := time.Now()
	if e.Now != nil {
		now = e.Now()
	}
	var (
		ws   []*watched
		from = now
	)
	for _, g := range fences {
		def, err := fence.Decode(g.Definition)
		if err != nil {
			e.Log.Warn("safe zone does not decode; skipped", "fence", g.ID, "err", err)
			continue
		}
		def.ID = g.ID
		w := &watched{id: g.ID, def: def, start: g.UpdatedAt}
		w.tracker, _ = loadTracker(g.State)
		begin := w.start
		if w.tracker.LastFix.After(begin) {
			begin = w.tracker.LastFix
		}
		if begin.Before(from) {
			from = begin
		}
		ws = append(ws, w)
	}
	if len(ws) == 0 {
		return nil
	}
	if limit := now.Add(-MaxCatchUp); from.Before(limit) {
		from = limit
	}
	var alarms []kinwatch.Record
	// A fix dated ahead of now (a watch's clock running fast) would block the fixes after it
	// until that time comes: it waits until it is not in the future.
	err = e.Store.Track(ctx, deviceID, from, now.Add(time.Minute), func(p *kinwatch.TrackPoint) error {
		for _, w := range ws {
			if p.Time.Before(w.start) {
				continue
			}
			before := w.tracker
			tr := w.tracker.Update(w.def, fence.Fix{Time: p.Time, Lat: p.Lat, Lon: p.Lon, Accuracy: p.Accuracy}, e.Options)
			w.changed = w.changed || w.tracker != before
			if tr == fence.None {
				continue
			}
			kind := kinwatch.AlarmFenceEnter
			if tr == fence.Exited {
				kind = kinwatch.AlarmFenceExit
			}
			alarms = append(alarms, kinwatch.Record{Event: &kinwatch.Event{ID: kinwatch.NewTimeID(p.Time), DeviceID: deviceID, Time: p.Time,
				Type: kinwatch.EventAlarm, Alarm: kind, Subject: w.id, Data: fmt.Appendf(nil, `{"fence":%q}`, w.id)}})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading positions: %w", err)
	}
	// The alarms first: if storing the state fails, the next evaluation decides the same
	// transitions again, and the store keeps one of each (same kind, fence and time).
	if len(alarms) > 0 {
		if err := e.Bus.Publish(ctx, alarms, true); err != nil {
			return fmt.Errorf("raising alarms: %w", err)
		}
	}
	for _, w := range ws {
		if w.changed {
			if err := e.Store.SaveFenceState(ctx, deviceID, w.id, saveTracker(w.tracker), w.start); err != nil && kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
				return fmt.Errorf("saving a tracker: %w", err)
			}
		}
	}
	return nil
}
