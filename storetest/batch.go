package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kinwatch"
)

func testBatchAtomicity(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const fresh, known, other = "3004010040", "3004010041", "3004010043"
	BoundWatches(t, s, known, other)

	// A duplicate id inside one batch fails it, and nothing of it remains: not the new device,
	// not the rows written before the duplicate.
	dup := kinwatch.NewID()
	mediaID := kinwatch.NewID()
	err := s.WriteBatch(ctx, []kinwatch.Record{
		update(kinwatch.DeviceUpdate{ID: fresh, Time: t0, Online: ptr(true)}),
		{Position: &kinwatch.Position{ID: dup, DeviceID: other, Time: t0}},
		{Event: &kinwatch.Event{ID: kinwatch.NewID(), DeviceID: other, Time: t0, Type: kinwatch.EventConnected}},
		{Health: &kinwatch.HealthReading{ID: kinwatch.NewID(), DeviceID: other, Time: t0, HeartRate: 70}},
		{Media: &kinwatch.Media{ID: mediaID, DeviceID: other, Kind: kinwatch.MediaAudio, Key: "k", Time: t0}},
		{Position: &kinwatch.Position{ID: dup, DeviceID: other, Time: t0.Add(time.Second)}},
	})
	if err == nil {
		t.Fatal("WriteBatch with a duplicate position id succeeded")
	}
	wantCode(t, "duplicate position id", err, kinwatch.ECONFLICT)
	_, err = s.Device(ctx, fresh)
	wantCode(t, "device of the failed batch", err, kinwatch.ENOTFOUND)
	assertNoData(t, s, other)
	_, err = s.Media(ctx, mediaID)
	wantCode(t, "media of the failed batch", err, kinwatch.ENOTFOUND)

	// The same for an id that an earlier batch stored, and for a device that exists: its row
	// keeps the values from before the failed batch.
	stored := kinwatch.NewID()
	write(t, s,
		update(kinwatch.DeviceUpdate{ID: known, Time: t0, Battery: ptr(50), Online: ptr(true)}),
		kinwatch.Record{Position: &kinwatch.Position{ID: stored, DeviceID: known, Time: t0}},
	)
	before := mustDevice(t, s, known)
	err = s.WriteBatch(ctx, []kinwatch.Record{
		update(kinwatch.DeviceUpdate{ID: known, Time: t0.Add(time.Hour), Battery: ptr(10), Online: ptr(false)}),
		{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: known, Time: t0.Add(time.Hour)}},
		{Position: &kinwatch.Position{ID: stored, DeviceID: known, Time: t0.Add(time.Hour)}},
	})
	wantCode(t, "position id stored by an earlier batch", err, kinwatch.ECONFLICT)
	same(t, "device after the failed batch", mustDevice(t, s, known), before)
	ps, err := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: known})
	if err != nil || len(ps) != 1 || ps[0].ID != stored {
		t.Errorf("positions after the failed batch = %d, %v; want only the earlier one", len(ps), err)
	}

	// A cancelled context fails the batch rather than committing part of it.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.WriteBatch(cctx, []kinwatch.Record{update(kinwatch.DeviceUpdate{ID: "3004010042", Time: t0})}); err == nil {
		t.Error("WriteBatch with a cancelled context succeeded")
	}
	_, err = s.Device(ctx, "3004010042")
	wantCode(t, "device of the cancelled batch", err, kinwatch.ENOTFOUND)
}

func assertNoData(t *testing.T, s kinwatch.Store, dev string) {
	t.Helper()
	ctx := t.Context()
	ps, err := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: dev})
	if err != nil || len(ps) != 0 {
		t.Errorf("positions of %s = %d, %v; want none", dev, len(ps), err)
	}
	es, err := s.Events(ctx, kinwatch.EventFilter{DeviceID: dev})
	if err != nil || len(es) != 0 {
		t.Errorf("events of %s = %d, %v; want none", dev, len(es), err)
	}
	hs, err := s.HealthReadings(ctx, dev, kinwatch.Page{Limit: 0})
	if err != nil || len(hs) != 0 {
		t.Errorf("health readings of %s = %d, %v; want none", dev, len(hs), err)
	}
	ms, err := s.MediaList(ctx, dev, kinwatch.Page{Limit: 0})
	if err != nil || len(ms) != 0 {
		t.Errorf("media of %s = %d, %v; want none", dev, len(ms), err)
	}
}

func testBatchValidation(t *testing.T, s kinwatch.Store) {
	const dev = "3004010043"
	good := kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: dev, Time: t0}}
	for _, tc := range []struct {
		name string
		bad  kinwatch.Record
	}{
		{"empty record", kinwatch.Record{}},
		{"two fields", kinwatch.Record{Position: &kinwatch.Position{DeviceID: dev, Time: t0}, Event: &kinwatch.Event{DeviceID: dev, Time: t0}}},
		{"device update without id", update(kinwatch.DeviceUpdate{Time: t0})},
		{"position without device", kinwatch.Record{Position: &kinwatch.Position{Time: t0}}},
		{"position without time", kinwatch.Record{Position: &kinwatch.Position{DeviceID: dev}}},
		{"event without time", kinwatch.Record{Event: &kinwatch.Event{DeviceID: dev, Type: kinwatch.EventConnected}}},
		{"event with broken data", kinwatch.Record{Event: &kinwatch.Event{DeviceID: dev, Time: t0, Type: kinwatch.EventAlarm, Data: json.RawMessage(`{"a":`)}}},
		{"health without device", kinwatch.Record{Health: &kinwatch.HealthReading{Time: t0}}},
		{"media without time", kinwatch.Record{Media: &kinwatch.Media{DeviceID: dev, Key: "k"}}},
	} {
		err := s.WriteBatch(t.Context(), []kinwatch.Record{good, update(kinwatch.DeviceUpdate{ID: dev, Time: t0}), tc.bad})
		wantCode(t, tc.name, err, kinwatch.EINVALID)
	}
	_, err := s.Device(t.Context(), dev)
	wantCode(t, "device of the rejected batches", err, kinwatch.ENOTFOUND)
	assertNoData(t, s, dev)
}

// testReadsDuringBigBatch checks that readers neither wait for a long write transaction nor see
// part of it.
func testReadsDuringBigBatch(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const (
		big    = "3004010050"
		seen   = "3004010051"
		nBatch = 10000
	)
	BoundWatches(t, s, big, seen)
	write(t, s, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: seen, Time: t0}})

	recs := make([]kinwatch.Record, 0, nBatch+1)
	recs = append(recs, update(kinwatch.DeviceUpdate{ID: big, Time: t0, Online: ptr(true)}))
	for i := range nBatch {
		recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: big,
			Time: t0.Add(time.Duration(i) * time.Second), HasCoords: true, Lat: 22.5, Lon: 113.9,
			Cells: []kinwatch.Cell{{MCC: 460, LAC: 1, CID: int64(i), RSSI: -70}}}})
	}

	var (
		wg                      sync.WaitGroup
		writeStart, writeEnd    time.Time
		writeErr                error
		readsDuring, readsTotal int
	)
	finished := make(chan struct{})
	wg.Go(func() {
		defer close(finished)
		writeStart = time.Now()
		writeErr = s.WriteBatch(ctx, recs)
		writeEnd = time.Now()
	})
	type read struct {
		start, end time.Time
		err        error
	}
	var reads []read
	for running := true; running; {
		select {
		case <-finished:
			running = false // one more read after the commit
		case <-time.After(time.Millisecond):
		}
		r := read{start: time.Now()}
		r.err = readBigBatch(ctx, s, seen, big, t0.Add((nBatch-1)*time.Second))
		r.end = time.Now()
		reads = append(reads, r)
	}
	wg.Wait()
	if writeErr != nil {
		t.Fatalf("WriteBatch of %d positions: %v", nBatch, writeErr)
	}
	if last := reads[len(reads)-1]; last.err != nil || !last.start.After(writeEnd) {
		t.Fatalf("no read after the batch committed (%v)", last.err)
	}
	for _, r := range reads {
		if r.err != nil {
			t.Fatal(r.err)
		}
		readsTotal++
		if r.start.After(writeStart) && r.end.Before(writeEnd) {
			readsDuring++
		}
	}
	t.Logf("batch of %d positions took %v; %d of %d reads started and ended while it ran", nBatch, writeEnd.Sub(writeStart), readsDuring, readsTotal)
	if readsDuring == 0 {
		t.Errorf("no read completed while the %v batch was being written: readers wait for the writer", writeEnd.Sub(writeStart))
	}
	ps, err := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: big})
	if err != nil || len(ps) != nBatch {
		t.Errorf("after the batch: %d positions, %v; want %d", len(ps), err, nBatch)
	}
}

// readBigBatch reads what testReadsDuringBigBatch writes: it must see all of the batch or none.
// The batch's device update is the only one that sets the (bound) device online.
func readBigBatch(ctx context.Context, s kinwatch.Store, seen, big string, newest time.Time) error {
	if _, err := s.LatestPosition(ctx, seen); err != nil {
		return fmt.Errorf("LatestPosition of another device: %w", err)
	}
	d, err := s.Device(ctx, big)
	if err != nil {
		return fmt.Errorf("reading the device: %w", err)
	}
	updateVisible := d.Online
	// Read after the device: the batch may commit in between, so positions without the device
	// update is possible, but the update without its positions means its row was visible alone.
	ps, err := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: big, Limit: 1})
	if err != nil {
		return fmt.Errorf("reading positions: %w", err)
	}
	if updateVisible && len(ps) == 0 || len(ps) == 1 && !ps[0].Time.Equal(newest) {
		return errors.New("a reader saw part of the batch")
	}
	return nil
}

// testConcurrentBatches runs writers whose batches update the same devices in different orders,
// as several bus consumers would: none may fail (a deadlock between them would) or lose a row.
// Each writer reports half the devices and sends only data for the other half, the half another
// writer reports: a store that locked reported and unreported devices in two passes would
// deadlock here.
func testConcurrentBatches(t *testing.T, s kinwatch.Store) {
	const writers, batches, devices = 4, 5, 20
	ids := make([]string, devices)
	for d := range ids {
		ids[d] = fmt.Sprintf("30040200%02d", d)
	}
	BoundWatches(t, s, ids...)
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				var recs []kinwatch.Record
				for i := range devices {
					d := i
					if w%2 == 1 {
						d = devices - 1 - i // the other writers go the other way
					}
					dev := fmt.Sprintf("30040200%02d", d)
					at := t0.Add(time.Duration(b) * time.Minute)
					if d%2 == w%2 {
						recs = append(recs, update(kinwatch.DeviceUpdate{ID: dev, Time: at, Online: ptr(true), Battery: ptr(w*10 + b)}))
					}
					recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: dev, Time: at}})
				}
				if err := s.WriteBatch(t.Context(), recs); err != nil {
					errs <- fmt.Errorf("writer %d batch %d: %w", w, b, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for d := range devices {
		ps, err := s.Positions(t.Context(), kinwatch.PositionFilter{DeviceID: fmt.Sprintf("30040200%02d", d)})
		if err != nil || len(ps) != writers*batches {
			t.Errorf("device %d: %d positions, %v; want %d", d, len(ps), err, writers*batches)
		}
	}
}

// testUnboundWatchData: a batch stores the positions, events, health readings and media of bound
// watches only. Every other watch keeps just its registry entry, which device updates still change.
func testUnboundWatchData(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const (
		bound   = "3004010060" // sends device updates with its data
		quiet   = "3004010061" // bound, sends only data
		pending = "3004010062"
		blocked = "3004010063"
		unbound = "3004010064" // bound once, unbound before the batch
		fresh   = "3004010065" // first seen in the batch, with a device update
		named   = "3004010066" // first seen in the batch, named only by data
	)
	BoundWatches(t, s, bound, quiet, unbound)
	pendingWatch(t, s, pending, blocked)
	if err := s.SetDeviceState(ctx, blocked, kinwatch.DeviceBlocked); err != nil {
		t.Fatalf("SetDeviceState(blocked): %v", err)
	}
	if _, err := s.Unbind(ctx, unbound); err != nil {
		t.Fatalf("Unbind: %v", err)
	}

	at := t0.Add(time.Hour)
	media := map[string]string{} // device → id of its media record
	var recs []kinwatch.Record
	for _, dev := range []string{named, bound, pending, blocked, unbound, fresh, quiet} {
		if dev != named && dev != quiet {
			recs = append(recs, update(kinwatch.DeviceUpdate{ID: dev, Time: at, Online: ptr(true), Battery: ptr(42), Signal: ptr(3),
				Steps: ptr(int64(1200)), ICCID: "89860012345678901234", Firmware: "G36_V1.2"}))
		}
		media[dev] = kinwatch.NewID()
		recs = append(recs,
			kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: dev, Time: at, Lat: 48.2, Lon: 16.37, HasCoords: true}},
			kinwatch.Record{Event: &kinwatch.Event{ID: kinwatch.NewID(), DeviceID: dev, Time: at, Type: kinwatch.EventAlarm, Alarm: "sos"}},
			kinwatch.Record{Health: &kinwatch.HealthReading{ID: kinwatch.NewID(), DeviceID: dev, Time: at, HeartRate: 90}},
			kinwatch.Record{Media: &kinwatch.Media{ID: media[dev], DeviceID: dev, Kind: kinwatch.MediaAudio, ContentType: "audio/amr",
				Key: "media/" + dev + "/voice.amr", Size: 10, Time: at}})
	}
	write(t, s, recs...)

	// The caller learns what was dropped: those entries are zero now, the rest untouched.
	for i, r := range recs {
		isBound := false
		switch {
		case r.Device != nil:
			continue
		case r.Position != nil:
			isBound = r.Position.DeviceID == bound || r.Position.DeviceID == quiet
		case r.Event != nil:
			isBound = r.Event.DeviceID == bound || r.Event.DeviceID == quiet
		case r.Health != nil:
			isBound = r.Health.DeviceID == bound || r.Health.DeviceID == quiet
		case r.Media != nil:
			isBound = r.Media.DeviceID == bound || r.Media.DeviceID == quiet
		}
		if !isBound && r != (kinwatch.Record{}) {
			t.Errorf("record %d of a watch that is not bound was dropped but left in recs: %+v", i, r)
		}
	}
	if n := len(slices.DeleteFunc(slices.Clone(recs), func(r kinwatch.Record) bool { return r != (kinwatch.Record{}) })); n != 5*4 {
		t.Errorf("%d records zeroed, want the 20 data records of the 5 watches that are not bound", n)
	}

	for _, dev := range []string{bound, quiet} {
		if ps, err := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: dev}); err != nil || len(ps) != 1 {
			t.Errorf("positions of bound %s = %d, %v; want 1", dev, len(ps), err)
		}
		if es, err := s.Events(ctx, kinwatch.EventFilter{DeviceID: dev}); err != nil || len(es) != 1 {
			t.Errorf("events of bound %s = %d, %v; want 1", dev, len(es), err)
		}
		if hs, err := s.HealthReadings(ctx, dev, kinwatch.Page{}); err != nil || len(hs) != 1 {
			t.Errorf("health readings of bound %s = %d, %v; want 1", dev, len(hs), err)
		}
		if _, err := s.Media(ctx, media[dev]); err != nil {
			t.Errorf("media of bound %s: %v", dev, err)
		}
	}
	for dev, state := range map[string]kinwatch.DeviceState{pending: kinwatch.DevicePending, blocked: kinwatch.DeviceBlocked,
		unbound: kinwatch.DevicePending, fresh: kinwatch.DevicePending, named: kinwatch.DevicePending} {
		assertNoData(t, s, dev)
		_, err := s.Media(ctx, media[dev])
		wantCode(t, "Media of "+string(state)+" "+dev, err, kinwatch.ENOTFOUND)
		d := mustDevice(t, s, dev)
		if d.State != state {
			t.Errorf("%s is %s after the batch, want %s", dev, d.State, state)
		}
		if dev == named {
			continue
		}
		// The registry entry follows the update; what describes a child does not stick to a watch
		// no guardian is responsible for.
		if !d.Online || !d.LastSeen.Equal(at) || d.Firmware != "G36_V1.2" || d.Battery != -1 || d.Signal != -1 || d.Steps != 0 || d.ICCID != "" {
			t.Errorf("%s %s after its device update: %+v; want online, last seen %v, firmware, and no battery, signal, steps or SIM",
				state, dev, d, at)
		}
	}
	if d := mustDevice(t, s, bound); !d.Online || d.Battery != 42 || d.Signal != 3 || d.Steps != 1200 || d.ICCID != "89860012345678901234" {
		t.Errorf("bound watch after its device update: %+v; want online, battery 42, signal 3, steps 1200, the SIM", d)
	}
}

// testUnbindDuringBatches unbinds watches while writers keep sending their data, as the gateway
// does until it learns of the Unbind: nothing written for a watch survives its Unbind, whichever of
// a batch and the Unbind commits first.
func testUnbindDuringBatches(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const rounds, writers, positions = 5, 2, 50
	for round := range rounds {
		dev := fmt.Sprintf("30040300%02d", round)
		BoundWatches(t, s, dev)
		var (
			wg      sync.WaitGroup
			batches atomic.Int64
		)
		stop := make(chan struct{})
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					recs := make([]kinwatch.Record, 0, positions+2)
					// Half the batches report the device too, half carry only its data.
					if (w+i)%2 == 1 {
						recs = append(recs, update(kinwatch.DeviceUpdate{ID: dev, Time: t0, Online: ptr(true)}))
					}
					for j := range positions {
						recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: dev,
							Time: t0.Add(time.Duration(i*positions+j) * time.Second)}})
					}
					recs = append(recs, kinwatch.Record{Event: &kinwatch.Event{ID: kinwatch.NewID(), DeviceID: dev, Time: t0, Type: kinwatch.EventConnected}})
					if err := s.WriteBatch(ctx, recs); err != nil {
						errs <- fmt.Errorf("writer %d: %w", w, err)
						return
					}
					batches.Add(1)
				}
			})
		}
		// Batches flow before, during and after the Unbind.
		waitBatches := func(n int64) {
			t.Helper()
			for deadline := time.Now().Add(30 * time.Second); batches.Load() < n; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) || len(errs) > 0 {
					close(stop)
					wg.Wait()
					close(errs)
					for err := range errs {
						t.Error(err)
					}
					t.Fatalf("round %d: the writers wrote %d batches, not %d", round, batches.Load(), n)
				}
			}
		}
		waitBatches(2 * writers)
		if _, err := s.Unbind(ctx, dev); err != nil {
			t.Fatalf("Unbind: %v", err)
		}
		waitBatches(batches.Load() + 2*writers)
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		assertNoData(t, s, dev)
		if st := mustDevice(t, s, dev).State; st != kinwatch.DevicePending {
			t.Errorf("%s is %s after Unbind, want pending", dev, st)
		}
	}
}
