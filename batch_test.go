package kinwatch_test

import (
	"strings"
	"testing"
	"time"

	"kinwatch"
)

func ptr[T any](v T) *T { return &v }

func always(time.Time) bool { return true }

func TestFoldBatchFoldsPerDeviceInIDOrder(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	recs := []kinwatch.Record{
		{Device: &kinwatch.DeviceUpdate{ID: "b", Time: t0.Add(time.Minute), Battery: ptr(50), Online: ptr(true)}},
		{Position: &kinwatch.Position{DeviceID: "c", Time: t0}},
		{Device: &kinwatch.DeviceUpdate{ID: "b", Time: t0, Battery: ptr(40), Firmware: "v2", HasIndex: ptr(false)}},
		{Device: &kinwatch.DeviceUpdate{ID: "a", Time: t0, Online: ptr(false)}},
	}
	got, err := kinwatch.FoldBatch(recs, always)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != "a" || got[1].ID != "b" || got[2].ID != "c" {
		t.Fatalf("order %+v", got)
	}
	b := got[1]
	if !b.Updated || *b.Battery != 40 || !*b.Online || b.Firmware != "v2" || *b.HasIndex || !b.First.Equal(t0) || !b.Last.Equal(t0.Add(time.Minute)) {
		t.Fatalf("b folded to %+v", b)
	}
	if got[2].Updated {
		t.Fatal("a device named only by data must not count as updated")
	}
}

func TestFoldBatchRejectsBadRecords(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		rec  kinwatch.Record
		want string
	}{
		{kinwatch.Record{}, "exactly one field"},
		{kinwatch.Record{Device: &kinwatch.DeviceUpdate{}, Event: &kinwatch.Event{}}, "exactly one field"},
		{kinwatch.Record{Device: &kinwatch.DeviceUpdate{}}, "without a device id"},
		{kinwatch.Record{Position: &kinwatch.Position{Time: now}}, "position without a device id"},
		{kinwatch.Record{Health: &kinwatch.HealthReading{DeviceID: "a"}}, "health reading without a time"},
		{kinwatch.Record{Event: &kinwatch.Event{DeviceID: "a", Time: now, Data: []byte("{nope")}}, "not valid JSON"},
		{kinwatch.Record{Media: &kinwatch.Media{DeviceID: "a", Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}}, "out of range"},
	} {
		_, err := kinwatch.FoldBatch([]kinwatch.Record{tc.rec}, func(t time.Time) bool { return t.Year() < 2500 })
		if kinwatch.ErrorCode(err) != kinwatch.EINVALID || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.rec, err, tc.want)
		}
	}
}
