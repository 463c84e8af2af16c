// Package watchdog raises the alarms that come from what the server does not hear: a watch
// silent for longer than configured is "offline". (The battery_critical alarm is the gateway's,
// which sees the level fall.)
package watchdog

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"kinwatch"
)

// Watchdog raises offline alarms.
type Watchdog struct {
	Store kinwatch.Store
	Bus   kinwatch.Bus
	// After is how long a watch may be silent; 0 disables the watchdog.
	After time.Duration
	Log   *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
	// Started is when this server began accepting watches: a watch is not called offline for a
	// silence that was the server's (an outage, an upgrade) until After has passed since.
	Started time.Time
}

// Run checks every interval until ctx ends.
func (w *Watchdog) Run(ctx context.Context, every time.Duration) {
	if w.After <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := w.Check(ctx); err != nil && ctx.Err() == nil {
			w.Log.Warn("offline alarms", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check raises the alarm for every watch silent for After, and reports how many it raised. The
// alarm's time is when the watch became overdue (last seen + After), the same for every process
// that notices, so the store keeps one however many raise it; and once raised it is not raised
// again until the watch is heard from, even if the alarm is deleted.
func (w *Watchdog) Check(ctx context.Context) (int, error) {
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	if now.Sub(w.Started) < w.After {
		return 0, nil
	}
	n := 0
	for range 20 { // bounded: 10k a minute is plenty, and a batch that stores nothing cannot spin

		silent, err := w.Store.SilentWatches(ctx, now, w.After, 500)
		if err != nil {
			return n, err
		}
		if len(silent) == 0 {
			return n, nil
		}
		recs := make([]kinwatch.Record, len(silent))
		for i, d := range silent {
			at := d.LastSeen.Add(w.After)
			recs[i] = kinwatch.Record{Event: &kinwatch.Event{ID: kinwatch.NewTimeID(at), DeviceID: d.ID, Time: at,
				Type: kinwatch.EventAlarm, Alarm: kinwatch.AlarmOffline,
				Data: fmt.Appendf(nil, `{"last_seen":%q}`, d.LastSeen.UTC().Format(time.RFC3339))}}
		}
		if err := w.Bus.Publish(ctx, recs, true); err != nil {
			return n, err
		}
		// Stored: this silence has had its alarm, whatever happens to the alarm later. (A crash
		// before this raises it again with the same time, which the store keeps once.)
		for _, d := range silent {
			if err := w.Store.MarkOfflineAlarmed(ctx, d.ID, d.LastSeen); err != nil {
				return n, err
			}
		}
		n += len(silent)
		if len(silent) < 500 {
			return n, nil
		}
	}
	return n, nil
}
