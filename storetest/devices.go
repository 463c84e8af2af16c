package storetest

import (
	"testing"
	"time"

	"kinwatch"
)

func testDeviceRegistration(t *testing.T, s kinwatch.Store) {
	write(t, s, update(kinwatch.DeviceUpdate{ID: "3004010001", Time: t0, Manufacturer: "3G", Online: ptr(true)}))

	same(t, "new device", mustDevice(t, s, "3004010001"), &kinwatch.Device{
		ID: "3004010001", State: kinwatch.DevicePending, Manufacturer: "3G", Online: true,
		FirstSeen: t0, LastSeen: t0, Battery: -1, Signal: -1,
	})

	_, err := s.Device(t.Context(), "3004019999")
	wantCode(t, "Device(unknown)", err, kinwatch.ENOTFOUND)
}

func testDeviceFoldingWithinBatch(t *testing.T, s kinwatch.Store) {
	const id = "3004010002"
	// Bound with consent, so the store keeps what describes the child (battery, signal, steps, SIM).
	write(t, s, update(kinwatch.DeviceUpdate{ID: id, Time: t0.Add(time.Second)}))
	fam := BoundWatches(t, s, id)
	write(t, s,
		update(kinwatch.DeviceUpdate{ID: id, Time: t0.Add(time.Second), Manufacturer: "3G", Online: ptr(true),
			Battery: ptr(80), Signal: ptr(60), Steps: ptr(int64(100)), Firmware: "fw1"}),
		kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: id, Time: t0}},
		update(kinwatch.DeviceUpdate{ID: id, Time: t0.Add(3 * time.Second), Battery: ptr(75), Online: ptr(false)}),
		// Out of time order: its fields still win over earlier records, but it cannot move
		// last_seen back.
		update(kinwatch.DeviceUpdate{ID: id, Time: t0.Add(2 * time.Second), ICCID: "89860000000000000001",
			HasIndex: ptr(true), Encrypted: ptr(true), Steps: ptr(int64(150))}),
		update(kinwatch.DeviceUpdate{ID: id, Time: t0.Add(4 * time.Second), Online: ptr(true), Manufacturer: "ZJ"}),
		update(kinwatch.DeviceUpdate{ID: "3004010003", Time: t0, Online: ptr(false), Signal: ptr(0)}),
	)

	same(t, "folded device", mustDevice(t, s, id), &kinwatch.Device{
		ID: id, State: kinwatch.DeviceBound, Manufacturer: "ZJ", HasIndex: true, Online: true,
		FirstSeen: t0.Add(time.Second), LastSeen: t0.Add(4 * time.Second), Battery: 75, Signal: 60, Steps: 150,
		Firmware: "fw1", ICCID: "89860000000000000001", Encrypted: true, Consent: allChild, FamilyID: fam,
	})
	// A new watch is pending: its signal report is not kept.
	same(t, "second device", mustDevice(t, s, "3004010003"), &kinwatch.Device{
		ID: "3004010003", State: kinwatch.DevicePending, FirstSeen: t0, LastSeen: t0, Battery: -1, Signal: -1,
	})
}

func testDeviceFoldingAcrossBatches(t *testing.T, s kinwatch.Store) {
	const id = "3004010004"
	// Pending: the registry entry is kept, what describes the child is not.
	write(t, s, update(kinwatch.DeviceUpdate{ID: id, Time: t0, Manufacturer: "3G", Online: ptr(true),
		Battery: ptr(90), Signal: ptr(50), Steps: ptr(int64(10)), Firmware: "a", ICCID: "i"}))
	want := kinwatch.Device{ID: id, State: kinwatch.DevicePending, Manufacturer: "3G", Online: true,
		FirstSeen: t0, LastSeen: t0, Battery: -1, Signal: -1, Steps: 0, Firmware: "a", ICCID: ""}
	same(t, "pending device", mustDevice(t, s, id), &want)

	// Bound with consent: all of it.
	fam := BoundWatches(t, s, id)
	write(t, s, update(kinwatch.DeviceUpdate{ID: id, Time: t0, Battery: ptr(90), Signal: ptr(50), Steps: ptr(int64(10)), ICCID: "i"}))
	want.State, want.Battery, want.Signal, want.Steps, want.ICCID, want.Consent, want.FamilyID = kinwatch.DeviceBound, 90, 50, 10, "i", allChild, fam
	same(t, "bound device", mustDevice(t, s, id), &want)

	// Unreported fields keep their values; Online false is a report, not an absence.
	write(t, s, update(kinwatch.DeviceUpdate{ID: id, Time: t0.Add(time.Minute), Online: ptr(false)}))
	want.Online, want.LastSeen = false, t0.Add(time.Minute)
	same(t, "after going offline", mustDevice(t, s, id), &want)

	// A late batch updates what it reports but does not make the watch look older.
	write(t, s, update(kinwatch.DeviceUpdate{ID: id, Time: t0.Add(-time.Hour), Battery: ptr(20)}))
	want.Battery = 20
	same(t, "after a late update", mustDevice(t, s, id), &want)

	// Zero values are "not reported", pointers to zero are reports.
	write(t, s, update(kinwatch.DeviceUpdate{ID: id, Firmware: "b", Steps: ptr(int64(0))}))
	want.Firmware, want.Steps = "b", 0
	same(t, "after an update without time", mustDevice(t, s, id), &want)

	// Updates never touch the state the accounts layer set.
	write(t, s, update(kinwatch.DeviceUpdate{ID: id, Time: t0.Add(2 * time.Minute), Online: ptr(true), HasIndex: ptr(true)}))
	want.Online, want.HasIndex, want.LastSeen = true, true, t0.Add(2*time.Minute)
	same(t, "bound device after an update", mustDevice(t, s, id), &want)

	// Flags can be cleared as well as set: a watch re-flashed to plain framing stops being
	// "encrypted", and one whose firmware dropped the index stops getting one.
	write(t, s, update(kinwatch.DeviceUpdate{ID: id, Encrypted: ptr(true)}))
	write(t, s, update(kinwatch.DeviceUpdate{ID: id, HasIndex: ptr(false), Encrypted: ptr(false)}))
	want.HasIndex, want.Encrypted = false, false
	same(t, "flags cleared", mustDevice(t, s, id), &want)
}

func testDataRegistersDevice(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const fresh, bound = "3004010005", "3004010006"
	write(t, s, update(kinwatch.DeviceUpdate{ID: bound, Time: t0, Online: ptr(true), Battery: ptr(40)}))
	BoundWatches(t, s, bound)
	before := mustDevice(t, s, bound)

	write(t, s,
		kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: fresh, Time: t0.Add(time.Hour)}},
		kinwatch.Record{Event: &kinwatch.Event{ID: kinwatch.NewID(), DeviceID: bound, Time: t0.Add(time.Hour), Type: kinwatch.EventConnected}},
	)

	d := mustDevice(t, s, fresh)
	if d.State != kinwatch.DevicePending || d.Online || d.Battery != -1 || d.Signal != -1 || d.FirstSeen.IsZero() || d.LastSeen.Before(d.FirstSeen) {
		t.Errorf("device registered by a position = %+v; want pending, offline, battery and signal -1, first_seen set", d)
	}
	same(t, "device named only by an event", mustDevice(t, s, bound), before)
	// The registered watch is pending: its position is not kept; the bound one's event is.
	_, err := s.LatestPosition(ctx, fresh)
	wantCode(t, "LatestPosition of the registered (pending) device", err, kinwatch.ENOTFOUND)
	if es, err := s.Events(ctx, kinwatch.EventFilter{DeviceID: bound}); err != nil || len(es) != 1 {
		t.Errorf("events of the bound device = %d, %v; want 1", len(es), err)
	}
}

func testDevicesFilter(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	// Written in scrambled order: listing is by id.
	for _, u := range []kinwatch.DeviceUpdate{
		{ID: "d4", Time: t0, Online: ptr(false)},
		{ID: "d1", Time: t0, Online: ptr(true)},
		{ID: "d5", Time: t0, Online: ptr(true)},
		{ID: "d3", Time: t0, Online: ptr(true)},
		{ID: "d2", Time: t0, Online: ptr(false)},
	} {
		write(t, s, update(u))
	}
	for id, st := range map[string]kinwatch.DeviceState{"d2": kinwatch.DeviceBound, "d3": kinwatch.DeviceBound, "d5": kinwatch.DeviceBlocked} {
		if err := s.SetDeviceState(ctx, id, st); err != nil {
			t.Fatalf("SetDeviceState(%s): %v", id, err)
		}
	}
	for _, tc := range []struct {
		name string
		f    kinwatch.DeviceFilter
		want []string
	}{
		{"all", kinwatch.DeviceFilter{}, []string{"d1", "d2", "d3", "d4", "d5"}},
		{"bound", kinwatch.DeviceFilter{State: kinwatch.DeviceBound}, []string{"d2", "d3"}},
		{"pending", kinwatch.DeviceFilter{State: kinwatch.DevicePending}, []string{"d1", "d4"}},
		{"online", kinwatch.DeviceFilter{Online: ptr(true)}, []string{"d1", "d3", "d5"}},
		{"offline", kinwatch.DeviceFilter{Online: ptr(false)}, []string{"d2", "d4"}},
		{"bound and online", kinwatch.DeviceFilter{State: kinwatch.DeviceBound, Online: ptr(true)}, []string{"d3"}},
		{"page 1", kinwatch.DeviceFilter{Limit: 2}, []string{"d1", "d2"}},
		{"page 2", kinwatch.DeviceFilter{After: "d2", Limit: 2}, []string{"d3", "d4"}},
		{"last page", kinwatch.DeviceFilter{After: "d4", Limit: 2}, []string{"d5"}},
		{"past the end", kinwatch.DeviceFilter{After: "d5"}, nil},
	} {
		devices, err := s.Devices(ctx, tc.f)
		if err != nil {
			t.Fatalf("Devices(%s): %v", tc.name, err)
		}
		var got []string
		for _, d := range devices {
			got = append(got, d.ID)
		}
		same(t, "Devices("+tc.name+")", got, tc.want)
	}
}

func testSetDeviceState(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	write(t, s, update(kinwatch.DeviceUpdate{ID: "3004010007", Time: t0}))
	for _, st := range []kinwatch.DeviceState{kinwatch.DeviceBound, kinwatch.DeviceBlocked, kinwatch.DevicePending} {
		if err := s.SetDeviceState(ctx, "3004010007", st); err != nil {
			t.Fatalf("SetDeviceState(%s): %v", st, err)
		}
		if got := mustDevice(t, s, "3004010007").State; got != st {
			t.Errorf("state = %s, want %s", got, st)
		}
	}
	wantCode(t, "SetDeviceState(unknown device)", s.SetDeviceState(ctx, "3004019999", kinwatch.DeviceBound), kinwatch.ENOTFOUND)
	wantCode(t, "SetDeviceState(bad state)", s.SetDeviceState(ctx, "3004010007", "lost"), kinwatch.EINVALID)
}

func testMarkAllOffline(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	write(t, s,
		update(kinwatch.DeviceUpdate{ID: "a", Time: t0, Online: ptr(true)}),
		update(kinwatch.DeviceUpdate{ID: "b", Time: t0.Add(2 * time.Hour), Online: ptr(true)}),
		update(kinwatch.DeviceUpdate{ID: "c", Time: t0, Online: ptr(false)}),
	)
	// b was seen after the cut-off: it already reconnected to the new process.
	if err := s.MarkAllOffline(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatalf("MarkAllOffline: %v", err)
	}
	for id, want := range map[string]bool{"a": false, "b": true, "c": false} {
		if got := mustDevice(t, s, id).Online; got != want {
			t.Errorf("device %s online = %v, want %v", id, got, want)
		}
	}
	if err := s.MarkAllOffline(ctx, t0.Add(3*time.Hour)); err != nil {
		t.Fatalf("MarkAllOffline: %v", err)
	}
	online, err := s.Devices(ctx, kinwatch.DeviceFilter{Online: ptr(true)})
	if err != nil || len(online) != 0 {
		t.Errorf("online devices after MarkAllOffline = %d, %v; want 0", len(online), err)
	}
	if d := mustDevice(t, s, "b"); !d.LastSeen.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("MarkAllOffline changed last_seen to %v", d.LastSeen)
	}
}
