package storetest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"kinwatch"
)

// canonicalJSON re-encodes raw so that documents equal as JSON compare equal as bytes: a store
// may keep event data as parsed JSON (jsonb), which does not preserve spacing or key order.
func canonicalJSON(t *testing.T, raw json.RawMessage) json.RawMessage {
	t.Helper()
	if raw == nil {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("event data %q: %v", raw, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testEvents(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const dev, other = "3004010020", "3004010021"
	BoundWatches(t, s, dev, other)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	events := []*kinwatch.Event{
		{ID: kinwatch.NewID(), DeviceID: dev, Time: at(0), Type: kinwatch.EventConnected},
		{ID: kinwatch.NewID(), DeviceID: dev, Time: at(1), Type: kinwatch.EventAlarm, Alarm: "sos",
			Data: json.RawMessage(`{"lat": 22.5726459, "lon": 113.8683151, "note": "ä \"q\""}`)},
		{ID: kinwatch.NewID(), DeviceID: dev, Time: at(2), Type: kinwatch.EventCommand,
			Data: json.RawMessage(`{"state":"sent","keyword":"CR","id":"abc"}`)},
		{ID: kinwatch.NewID(), DeviceID: dev, Time: at(3), Type: kinwatch.EventAlarm, Alarm: "fall", Data: json.RawMessage(`{}`)},
		{ID: kinwatch.NewID(), DeviceID: dev, Time: at(4), Type: kinwatch.EventDisconnected},
		{ID: kinwatch.NewID(), DeviceID: other, Time: at(1), Type: kinwatch.EventAlarm, Alarm: "sos"},
	}
	var recs []kinwatch.Record
	for _, i := range []int{3, 0, 5, 4, 1, 2} {
		recs = append(recs, kinwatch.Record{Event: events[i]})
	}
	write(t, s, recs...)

	canonical := func(es []*kinwatch.Event) []*kinwatch.Event {
		out := make([]*kinwatch.Event, len(es))
		for i, e := range es {
			c := *e
			c.Data = canonicalJSON(t, e.Data)
			out[i] = &c
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    kinwatch.EventFilter
		want []*kinwatch.Event
	}{
		{"all, newest first", kinwatch.EventFilter{DeviceID: dev}, []*kinwatch.Event{events[4], events[3], events[2], events[1], events[0]}},
		{"limit", kinwatch.EventFilter{DeviceID: dev, Limit: 2}, []*kinwatch.Event{events[4], events[3]}},
		{"type", kinwatch.EventFilter{DeviceID: dev, Type: kinwatch.EventAlarm}, []*kinwatch.Event{events[3], events[1]}},
		{"type and limit", kinwatch.EventFilter{DeviceID: dev, Type: kinwatch.EventAlarm, Limit: 1}, []*kinwatch.Event{events[3]}},
		{"window is half-open", kinwatch.EventFilter{DeviceID: dev, From: at(1), To: at(3)}, []*kinwatch.Event{events[2], events[1]}},
		{"window and type", kinwatch.EventFilter{DeviceID: dev, Type: kinwatch.EventAlarm, To: at(3)}, []*kinwatch.Event{events[1]}},
		{"other device", kinwatch.EventFilter{DeviceID: other}, []*kinwatch.Event{events[5]}},
		{"unknown device", kinwatch.EventFilter{DeviceID: "3004019999"}, nil},
	} {
		got, err := s.Events(ctx, tc.f)
		if err != nil {
			t.Fatalf("Events(%s): %v", tc.name, err)
		}
		if tc.want == nil {
			same(t, "Events("+tc.name+")", got, []*kinwatch.Event(nil))
			continue
		}
		same(t, "Events("+tc.name+")", canonical(got), canonical(tc.want))
	}

	_, err := s.Events(ctx, kinwatch.EventFilter{})
	wantCode(t, "Events without a device", err, kinwatch.EINVALID)
}

func testMedia(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const dev, other = "3004010022", "3004010023"
	BoundWatches(t, s, dev, other)
	voice := &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: dev, Kind: kinwatch.MediaAudio, ContentType: "audio/amr",
		Key: "media/3004010022/voice.amr", Size: 4_812, Time: t0}
	photo := &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: dev, Kind: kinwatch.MediaImage, ContentType: "image/jpeg",
		Key: "media/3004010022/photo.jpg", Size: 3 << 30, Time: t0.Add(time.Minute)}
	later := &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: dev, Kind: kinwatch.MediaAudio, ContentType: "audio/amr",
		Key: "k3", Size: 1, Time: t0.Add(2 * time.Minute)}
	theirs := &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: other, Kind: kinwatch.MediaAudio, ContentType: "audio/amr",
		Key: "k4", Size: 2, Time: t0}
	write(t, s, kinwatch.Record{Media: photo}, kinwatch.Record{Media: theirs}, kinwatch.Record{Media: voice}, kinwatch.Record{Media: later})

	got, err := s.Media(ctx, photo.ID)
	if err != nil {
		t.Fatalf("Media: %v", err)
	}
	same(t, "media", got, photo)
	_, err = s.Media(ctx, kinwatch.NewID())
	wantCode(t, "Media(unknown)", err, kinwatch.ENOTFOUND)

	list, err := s.MediaList(ctx, dev, kinwatch.Page{Limit: 0})
	if err != nil {
		t.Fatalf("MediaList: %v", err)
	}
	same(t, "media list", list, []*kinwatch.Media{later, photo, voice})
	list, err = s.MediaList(ctx, dev, kinwatch.Page{Limit: 1})
	if err != nil {
		t.Fatalf("MediaList: %v", err)
	}
	same(t, "media list, limit 1", list, []*kinwatch.Media{later})
	list, err = s.MediaList(ctx, "3004019999", kinwatch.Page{Limit: 5})
	if err != nil || len(list) != 0 {
		t.Errorf("MediaList(unknown device) = %v, %v; want none", list, err)
	}
}

// testAlarmsStoredOnce: a watch resends an unanswered alarm (with a fresh fix time) until the
// server answers; the store keeps it once, within a batch and across batches, and zeroes the
// repeats so they are not announced again. Other alarms, the same alarm later than
// AlarmRepeatWindow, and other events are kept.
func testAlarmsStoredOnce(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	BoundWatches(t, s, "w1", "w2")
	alarm := func(dev, name string, after time.Duration) kinwatch.Record {
		return kinwatch.Record{Event: &kinwatch.Event{ID: kinwatch.NewID(), DeviceID: dev, Time: t0.Add(after), Type: kinwatch.EventAlarm, Alarm: name}}
	}
	first := []kinwatch.Record{alarm("w1", "sos", 0), alarm("w1", "sos", 20*time.Second), alarm("w1", "fall", 0), alarm("w2", "sos", 0),
		{Event: &kinwatch.Event{ID: kinwatch.NewID(), DeviceID: "w1", Time: t0, Type: kinwatch.EventConnected}},
		{Event: &kinwatch.Event{ID: kinwatch.NewID(), DeviceID: "w1", Time: t0, Type: kinwatch.EventConnected}}}
	write(t, s, first...)
	kept := func(recs []kinwatch.Record) (out []bool) {
		for _, r := range recs {
			out = append(out, r.Event != nil)
		}
		return out
	}
	if got, want := kept(first), []bool{true, false, true, true, true, true}; !slices.Equal(got, want) {
		t.Errorf("within a batch kept %v, want %v (only the resent SOS zeroed)", got, want)
	}
	again := []kinwatch.Record{alarm("w1", "sos", 40*time.Second), alarm("w1", "sos", kinwatch.AlarmRepeatWindow+time.Minute)}
	write(t, s, again...)
	if got, want := kept(again), []bool{false, true}; !slices.Equal(got, want) {
		t.Errorf("across batches kept %v, want %v (a resend zeroed, a later SOS kept)", got, want)
	}
	es, err := s.Events(ctx, kinwatch.EventFilter{DeviceID: "w1", Type: kinwatch.EventAlarm})
	if err != nil || len(es) != 3 {
		t.Errorf("stored %d alarms of w1 (%v); want the first SOS, the fall and the later SOS", len(es), err)
	}
}
