package storetest

import (
	"errors"
	"math"
	"testing"
	"time"

	"kinwatch"
)

func testPositionRoundTrip(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const dev = "3004010010"
	BoundWatches(t, s, dev, "3004010011", "3004010012")
	full := &kinwatch.Position{
		ID: kinwatch.NewID(), DeviceID: dev, Type: "UD_LTE", Time: t0, Received: t0.Add(2 * time.Second),
		Valid: true, Source: kinwatch.SourceGPS, Lat: 22.5726459, Lon: -113.8683151, HasCoords: true,
		Speed: 3.7, Course: 359.9, Altitude: -12.5, Accuracy: 35.2, Satellites: 9, Signal: 87, Battery: 64,
		Steps: 1 << 40, Rolls: 12, Status: "00100010", Alarms: kinwatch.AlarmSOS | kinwatch.AlarmFall | kinwatch.AlarmPowerCut,
		Worn: ptr(true), Static: true,
		Cells: []kinwatch.Cell{
			{MCC: 460, MNC: 0, LAC: 9520, CID: 268435455, RSSI: -61},
			{MCC: 460, MNC: 11, LAC: 65534, CID: 4294967296, RSSI: -97},
		},
		WiFi: []kinwatch.WiFi{
			{SSID: `Home "5G" \ <net> & ä文`, MAC: "a4:56:02:61:7f:1a", RSSI: -44},
			{SSID: "", MAC: "00:00:00:00:00:01", RSSI: -90},
		},
	}
	notWorn := &kinwatch.Position{
		ID: kinwatch.NewID(), DeviceID: dev, Type: "UD", Time: t0.Add(time.Minute), Received: t0.Add(time.Minute),
		Source: kinwatch.SourceWiFi, Lat: 0, Lon: 0, HasCoords: false, Worn: ptr(false),
		WiFi: []kinwatch.WiFi{{SSID: "x", MAC: "02:00:00:00:00:00", RSSI: -70}},
	}
	bare := &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: dev, Type: "UD2", Time: t0.Add(2 * time.Minute),
		Cells: []kinwatch.Cell{{MCC: 310, MNC: 260, LAC: 1, CID: 2, RSSI: 0}}}
	write(t, s, kinwatch.Record{Position: full}, kinwatch.Record{Position: notWorn}, kinwatch.Record{Position: bare})

	got, err := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: dev})
	if err != nil {
		t.Fatalf("Positions: %v", err)
	}
	same(t, "positions", got, []*kinwatch.Position{bare, notWorn, full})
	if len(got) == 3 {
		if math.Abs(got[2].Lat-full.Lat) > 1e-7 || math.Abs(got[2].Lon-full.Lon) > 1e-7 {
			t.Errorf("coordinates %v,%v lost precision (want %v,%v)", got[2].Lat, got[2].Lon, full.Lat, full.Lon)
		}
		if got[1].Worn == nil || *got[1].Worn || got[0].Worn != nil {
			t.Errorf("Worn: got %v and %v, want false and nil", got[1].Worn, got[0].Worn)
		}
	}

	latest, err := s.LatestPosition(ctx, dev)
	if err != nil {
		t.Fatalf("LatestPosition: %v", err)
	}
	same(t, "latest position", latest, bare)

	// A store keeps at least microseconds; any more is a bonus.
	ns := &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: "3004010011", Time: t0.Add(123 * time.Nanosecond)}
	write(t, s, kinwatch.Record{Position: ns})
	p, err := s.LatestPosition(ctx, "3004010011")
	if err != nil {
		t.Fatalf("LatestPosition: %v", err)
	}
	if !p.Time.Equal(ns.Time) && !p.Time.Equal(ns.Time.Truncate(time.Microsecond)) {
		t.Errorf("time %v came back as %v", ns.Time, p.Time)
	}
	if p.Time.Location() != time.UTC {
		t.Errorf("time comes back in %v, want UTC", p.Time.Location())
	}

	// The store fills in a missing id rather than failing the batch, and leaves the record alone.
	noID := &kinwatch.Position{DeviceID: "3004010012", Time: t0}
	write(t, s, kinwatch.Record{Position: noID})
	if p, err := s.LatestPosition(ctx, "3004010012"); err != nil || p.ID == "" {
		t.Errorf("position written without id came back as %+v, %v; want a generated id", p, err)
	}
	if noID.ID != "" {
		t.Errorf("WriteBatch changed the caller's record (ID %q)", noID.ID)
	}
}

func testPositionQueries(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const a, b, empty = "3004010013", "3004010014", "3004010015"
	BoundWatches(t, s, a, b)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	var recs []kinwatch.Record
	for _, i := range []int{3, 9, 0, 5, 1, 8, 2, 7, 4, 6} { // inserted out of time order
		recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: a, Time: at(i), Steps: int64(i)}})
	}
	for i := range 3 {
		recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: b, Time: at(20 + i), Steps: int64(100 + i)}})
	}
	recs = append(recs, update(kinwatch.DeviceUpdate{ID: empty, Time: t0}))
	write(t, s, recs...)

	for _, tc := range []struct {
		name string
		f    kinwatch.PositionFilter
		want []int64 // Steps, which number the positions
	}{
		{"all, newest first", kinwatch.PositionFilter{DeviceID: a}, []int64{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
		{"limit", kinwatch.PositionFilter{DeviceID: a, Limit: 3}, []int64{9, 8, 7}},
		{"window is half-open", kinwatch.PositionFilter{DeviceID: a, From: at(2), To: at(5)}, []int64{4, 3, 2}},
		{"window and limit", kinwatch.PositionFilter{DeviceID: a, From: at(2), To: at(5), Limit: 2}, []int64{4, 3}},
		{"from only", kinwatch.PositionFilter{DeviceID: a, From: at(8)}, []int64{9, 8}},
		{"to only", kinwatch.PositionFilter{DeviceID: a, To: at(2)}, []int64{1, 0}},
		{"empty window", kinwatch.PositionFilter{DeviceID: a, From: at(5), To: at(5)}, nil},
		{"other device", kinwatch.PositionFilter{DeviceID: b}, []int64{102, 101, 100}},
		{"device without positions", kinwatch.PositionFilter{DeviceID: empty}, nil},
		{"unknown device", kinwatch.PositionFilter{DeviceID: "3004019999"}, nil},
	} {
		ps, err := s.Positions(ctx, tc.f)
		if err != nil {
			t.Fatalf("Positions(%s): %v", tc.name, err)
		}
		var got []int64
		for _, p := range ps {
			got = append(got, p.Steps)
		}
		same(t, "Positions("+tc.name+")", got, tc.want)
	}

	_, err := s.Positions(ctx, kinwatch.PositionFilter{})
	wantCode(t, "Positions without a device", err, kinwatch.EINVALID)

	if p, err := s.LatestPosition(ctx, a); err != nil || p.Steps != 9 {
		t.Errorf("LatestPosition(a) = %+v, %v; want the one at minute 9", p, err)
	}
	_, err = s.LatestPosition(ctx, empty)
	wantCode(t, "LatestPosition(device without positions)", err, kinwatch.ENOTFOUND)
	_, err = s.LatestPosition(ctx, "3004019999")
	wantCode(t, "LatestPosition(unknown device)", err, kinwatch.ENOTFOUND)
}

func testHealthReadings(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const dev = "3004010016"
	BoundWatches(t, s, dev, "3004010017")
	first := &kinwatch.HealthReading{ID: kinwatch.NewID(), DeviceID: dev, Time: t0, HeartRate: 72, Systolic: 118, Diastolic: 76, SpO2: 98, Temperature: 36.6}
	second := &kinwatch.HealthReading{ID: kinwatch.NewID(), DeviceID: dev, Time: t0.Add(time.Hour), HeartRate: 80}
	third := &kinwatch.HealthReading{ID: kinwatch.NewID(), DeviceID: dev, Time: t0.Add(2 * time.Hour), Temperature: 37.25}
	other := &kinwatch.HealthReading{ID: kinwatch.NewID(), DeviceID: "3004010017", Time: t0, SpO2: 95}
	write(t, s, kinwatch.Record{Health: second}, kinwatch.Record{Health: first}, kinwatch.Record{Health: other}, kinwatch.Record{Health: third})

	got, err := s.HealthReadings(ctx, dev, kinwatch.Page{Limit: 0})
	if err != nil {
		t.Fatalf("HealthReadings: %v", err)
	}
	same(t, "health readings", got, []*kinwatch.HealthReading{third, second, first})
	got, err = s.HealthReadings(ctx, dev, kinwatch.Page{Limit: 2})
	if err != nil {
		t.Fatalf("HealthReadings: %v", err)
	}
	same(t, "health readings, limit 2", got, []*kinwatch.HealthReading{third, second})
	got, err = s.HealthReadings(ctx, "3004019999", kinwatch.Page{Limit: 10})
	if err != nil || len(got) != 0 {
		t.Errorf("HealthReadings(unknown device) = %v, %v; want none", got, err)
	}
}

// testHistoryPagingTies pages through positions, events, health readings and media that share times, continuing each page
// from the last item's (time, id) the way the API's cursor does: every record comes exactly once,
// newest first.
func testHistoryPagingTies(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const dev = "3004010016"
	BoundWatches(t, s, dev)
	var recs []kinwatch.Record
	want := map[string]bool{}
	for i := range 11 {
		at := t0.Add(time.Duration(i/4) * time.Second) // four records per second
		id := kinwatch.NewID()
		want[id] = true
		recs = append(recs,
			kinwatch.Record{Position: &kinwatch.Position{ID: id, DeviceID: dev, Time: at}},
			kinwatch.Record{Event: &kinwatch.Event{ID: id, DeviceID: dev, Time: at, Type: kinwatch.EventConnected}},
			kinwatch.Record{Health: &kinwatch.HealthReading{ID: id, DeviceID: dev, Time: at, HeartRate: 80}},
			kinwatch.Record{Media: &kinwatch.Media{ID: id, DeviceID: dev, Time: at, Kind: "photo", ContentType: "image/jpeg", Key: "k/" + id}})
	}
	write(t, s, recs...)

	type item struct {
		id string
		at time.Time
	}
	check := func(what string, page func(to time.Time, before string) ([]item, error)) {
		t.Helper()
		seen := map[string]bool{}
		var prev *item
		to, before := time.Time{}, ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatalf("%s: paging does not end", what)
			}
			items, err := page(to, before)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			for _, it := range items {
				if seen[it.id] {
					t.Errorf("%s: %s came twice", what, it.id)
				}
				seen[it.id] = true
				if prev != nil && (it.at.After(prev.at) || it.at.Equal(prev.at) && it.id > prev.id) {
					t.Errorf("%s: %s (%s) after %s (%s): not newest first", what, it.id, it.at, prev.id, prev.at)
				}
				prev = &it
			}
			if len(items) < 3 {
				break
			}
			to, before = items[len(items)-1].at, items[len(items)-1].id
		}
		if len(seen) != len(want) {
			t.Errorf("%s: %d of %d records seen", what, len(seen), len(want))
		}
	}
	check("positions", func(to time.Time, before string) ([]item, error) {
		ps, err := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: dev, To: to, BeforeID: before, Limit: 3})
		out := make([]item, len(ps))
		for i, p := range ps {
			out[i] = item{p.ID, p.Time}
		}
		return out, err
	})
	check("health readings", func(to time.Time, before string) ([]item, error) {
		hs, err := s.HealthReadings(ctx, dev, kinwatch.Page{Before: to, BeforeID: before, Limit: 3})
		out := make([]item, len(hs))
		for i, h := range hs {
			out[i] = item{h.ID, h.Time}
		}
		return out, err
	})
	check("media", func(to time.Time, before string) ([]item, error) {
		ms, err := s.MediaList(ctx, dev, kinwatch.Page{Before: to, BeforeID: before, Limit: 3})
		out := make([]item, len(ms))
		for i, m := range ms {
			out[i] = item{m.ID, m.Time}
		}
		return out, err
	})
	check("events", func(to time.Time, before string) ([]item, error) {
		es, err := s.Events(ctx, kinwatch.EventFilter{DeviceID: dev, To: to, BeforeID: before, Limit: 3})
		out := make([]item, len(es))
		for i, e := range es {
			out[i] = item{e.ID, e.Time}
		}
		return out, err
	})
}

// testTrackLongWindow: a history of several days comes out the same the second time, and a
// position stored late into a past day, deleted by the family or by the retention job shows in
// (or goes from) the next read. (A store that caches long reads must keep this true.)
func testTrackLongWindow(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	fam := BoundWatches(t, s, "w1")
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(-10 * 24 * time.Hour)
	var recs []kinwatch.Record
	for i := range 10 * 24 {
		at := start.Add(time.Duration(i)*time.Hour + 17*time.Minute)
		recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewTimeID(at), DeviceID: "w1", Time: at, HasCoords: true,
			Lat: 50 + float64(i)/1000, Lon: 8, Accuracy: 12, Source: kinwatch.SourceWiFi, Steps: int64(i)}})
	}
	write(t, s, recs...)
	read := func(what string) []kinwatch.TrackPoint {
		t.Helper()
		var got []kinwatch.TrackPoint
		if err := s.Track(ctx, "w1", start.Add(-time.Hour), time.Time{}, func(p *kinwatch.TrackPoint) error {
			got = append(got, *p)
			return nil
		}); err != nil {
			t.Fatalf("Track (%s): %v", what, err)
		}
		return got
	}
	first := read("first")
	if len(first) != 240 || first[0].Steps != 0 || first[239].Steps != 239 || first[5].Source != kinwatch.SourceWiFi || first[5].Lat != 50.005 {
		t.Fatalf("first read: %d points", len(first))
	}
	same(t, "second read", read("second"), first)

	// Stored late into day 3.
	late := start.Add(3*24*time.Hour + 30*time.Minute)
	write(t, s, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewTimeID(late), DeviceID: "w1", Time: late, HasCoords: true,
		Lat: 51, Lon: 9, Source: kinwatch.SourceGPS, Steps: 1000}})
	got := read("after a late position")
	if len(got) != 241 || got[72].Steps != 72 || got[73].Steps != 1000 {
		t.Fatalf("after a late position: %d points (at 73: %+v)", len(got), got[min(73, len(got)-1)])
	}
	// The family deletes day 5's morning.
	from := start.Add(5 * 24 * time.Hour)
	if _, _, err := s.DeleteRecords(ctx, kinwatch.RecordDeletion{Kind: kinwatch.RecordPositions, DeviceID: "w1", FamilyID: fam,
		From: from, To: from.Add(12 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got := read("after a deletion"); len(got) != 229 {
		t.Fatalf("after deleting 12 positions: %d points, want 229", len(got))
	}
	// The retention job takes the first two days.
	purgeLocations(t, s, start.Add(2*24*time.Hour))
	got = read("after the retention job")
	if len(got) != 229-48 || got[0].Steps != 48 {
		t.Fatalf("after the retention job: %d points from %d, want 181 from 48", len(got), got[0].Steps)
	}
}

// testTrack: Track streams the positions with coordinates in [from, to), oldest first, with their
// sealed coordinates opened; positions without coordinates are left out.
func testTrack(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	BoundWatches(t, s, "w1", "w2")
	var recs []kinwatch.Record
	for i := range 6 {
		at := t0.Add(time.Duration(i) * time.Minute)
		recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: "w1", Time: at, HasCoords: i != 3,
			Lat: 48 + float64(i)/100, Lon: 11, Accuracy: float64(i), Source: kinwatch.SourceGPS, Steps: int64(10 * i)}})
	}
	recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: "w2", Time: t0, HasCoords: true, Lat: 1, Lon: 1}})
	// Out of order on the wire: the track comes out in time order.
	recs[0], recs[5] = recs[5], recs[0]
	write(t, s, recs...)
	var got []kinwatch.TrackPoint
	err := s.Track(ctx, "w1", t0.Add(time.Minute), t0.Add(5*time.Minute), func(p *kinwatch.TrackPoint) error {
		got = append(got, *p)
		return nil
	})
	if err != nil {
		t.Fatalf("Track: %v", err)
	}
	want := []kinwatch.TrackPoint{
		{Time: t0.Add(time.Minute), Lat: 48.01, Lon: 11, Accuracy: 1, Source: kinwatch.SourceGPS, Steps: 10},
		{Time: t0.Add(2 * time.Minute), Lat: 48.02, Lon: 11, Accuracy: 2, Source: kinwatch.SourceGPS, Steps: 20},
		{Time: t0.Add(4 * time.Minute), Lat: 48.04, Lon: 11, Accuracy: 4, Source: kinwatch.SourceGPS, Steps: 40},
	}
	same(t, "track", got, want)
	stop := errors.New("enough")
	n := 0
	err = s.Track(ctx, "w1", time.Time{}, time.Time{}, func(*kinwatch.TrackPoint) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("an error from each: %v after %d points; want it back after 1", err, n)
	}

	// A long window (which a store may read in slices at once) comes out whole and in order,
	// also across where slices meet, and an error from each stops it anywhere.
	recs = recs[:0]
	for i := range 400 {
		at := t0.Add(time.Duration(i) * 26 * time.Hour).Add(time.Duration(i%7) * time.Second)
		recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: "w2", Time: at.Add(time.Hour),
			HasCoords: true, Lat: 10 + float64(i)/1000, Lon: 1, Source: kinwatch.SourceCell, Steps: int64(i)}})
	}
	write(t, s, recs...)
	var steps []int64
	prev := time.Time{}
	err = s.Track(ctx, "w2", time.Time{}, time.Time{}, func(p *kinwatch.TrackPoint) error {
		if p.Time.Before(prev) {
			t.Errorf("long track out of order at %s", p.Time)
		}
		prev = p.Time
		if p.Source == kinwatch.SourceCell {
			steps = append(steps, p.Steps)
		}
		return nil
	})
	if err != nil || len(steps) != 400 || steps[0] != 0 || steps[399] != 399 {
		t.Fatalf("long track: %d points, %v", len(steps), err)
	}
	for i, st := range steps {
		if st != int64(i) {
			t.Fatalf("long track: point %d is %d", i, st)
		}
	}
	for _, at := range []int{1, 150, 399} {
		n = 0
		err = s.Track(ctx, "w2", time.Time{}, time.Time{}, func(p *kinwatch.TrackPoint) error {
			if n++; n == at {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != at {
			t.Errorf("long track stopped at %d: %v after %d", at, err, n)
		}
	}
}
