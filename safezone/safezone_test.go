package safezone_test

import (
	"context"
	"encoding/csv"
	"errors"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/fence"
	"kinwatch/safezone"
	"kinwatch/storetest"
)

// failingState makes the first SaveFenceState of an "inside" tracker fail, as a crash between
// raising the enter alarm and storing the trackers would.
type failingState struct {
	kinwatch.Store
	failed bool
}

func (f *failingState) SaveFenceState(ctx context.Context, deviceID, id, state string, version time.Time) error {
	if !f.failed && strings.Contains(state, `"state":"inside"`) {
		f.failed = true
		return errors.New("disk full")
	}
	return f.Store.SaveFenceState(ctx, deviceID, id, state, version)
}

const metresPerDeg = 6371008.8 * math.Pi / 180

func offset(lat, lon, north, east float64) (float64, float64) {
	return lat + north/metresPerDeg, lon + east/(metresPerDeg*math.Cos(lat*math.Pi/180))
}

// The school of fence/testdata/school_day.csv (see fence/track_test.go): a hexagon 600 m east
// and 400 m north of home.
func schoolFence(t *testing.T) []byte {
	cLat, cLon := offset(52.5200, 13.4050, 400, 600)
	var poly []fence.LatLon
	for _, en := range [][2]float64{{-80, -60}, {70, -60}, {90, 0}, {70, 70}, {-60, 70}, {-80, 20}} {
		lat, lon := offset(cLat, cLon, en[1], en[0])
		poly = append(poly, fence.LatLon{Lat: lat, Lon: lon})
	}
	def, err := fence.Encode(fence.Fence{Name: "School", Shape: fence.Shape{Polygon: poly}})
	if err != nil {
		t.Fatal(err)
	}
	return def
}

func schoolDay(t *testing.T) []kinwatch.Record {
	f, err := os.Open("../fence/testdata/school_day.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var recs []kinwatch.Record
	for _, row := range rows[1:] {
		at, _ := time.Parse(time.RFC3339, row[0])
		lat, _ := strconv.ParseFloat(row[1], 64)
		lon, _ := strconv.ParseFloat(row[2], 64)
		acc, _ := strconv.ParseFloat(row[3], 64)
		recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewTimeID(at), DeviceID: "w1", Time: at, Received: at,
			Lat: lat, Lon: lon, HasCoords: true, Accuracy: acc, Source: kinwatch.SourceWiFi}})
	}
	return recs
}

// The recorded jittery school day, stored in batches as a watch would send it, with the process
// restarted halfway and a crash between raising an alarm and storing the trackers, gives
// exactly one "arrived at School" and one "left School".
func TestSchoolDayGivesOneEnterAndOneExit(t *testing.T) {
	ctx := t.Context()
	db := storetest.SQLite(t)
	fam := storetest.BoundWatches(t, db, "w1")
	drawn := time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC)
	g := &kinwatch.GeoFence{ID: kinwatch.NewID(), DeviceID: "w1", Definition: schoolFence(t), CreatedAt: drawn}
	if err := db.PutFence(ctx, fam, g); err != nil {
		t.Fatal(err)
	}
	recs := schoolDay(t)
	var now time.Time
	newEvaluator := func(st kinwatch.Store) *safezone.Evaluator {
		return &safezone.Evaluator{Store: st, Bus: storetest.DirectBus{Store: db}, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}
	}
	crashing := &failingState{Store: db}
	ev := newEvaluator(crashing)
	for i := 0; i < len(recs); i += 7 {
		chunk := recs[i:min(i+7, len(recs))]
		if err := db.WriteBatch(ctx, chunk); err != nil {
			t.Fatal(err)
		}
		now = chunk[len(chunk)-1].Position.Time.Add(time.Second)
		if i == len(recs)/2/7*7 {
			ev = newEvaluator(crashing) // a restart: nothing but the store carries over
		}
		if err := ev.Evaluate(ctx, "w1"); err != nil {
			// The crash: the enter alarm is stored, the tracker is not. Starting again from
			// what was stored decides the same enter, which the store keeps once.
			ev = newEvaluator(crashing)
			if err := ev.Evaluate(ctx, "w1"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !crashing.failed {
		t.Fatal("the crash was not exercised")
	}
	es, err := db.Events(ctx, kinwatch.EventFilter{DeviceID: "w1", Type: kinwatch.EventAlarm})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Subject != g.ID {
			t.Errorf("alarm %s about %q, want the fence", es[i].Alarm, es[i].Subject)
		}
		kinds = append(kinds, es[i].Alarm)
	}
	if len(kinds) != 2 || kinds[0] != kinwatch.AlarmFenceEnter || kinds[1] != kinwatch.AlarmFenceExit {
		t.Fatalf("alarms = %v, want [fence_enter fence_exit]", kinds)
	}
	// Both came within minutes of the true crossings (fence/track_test.go: 05:42:32 and 11:44).
	enter, exit := es[1].Time, es[0].Time
	if enter.Before(time.Date(2024, 9, 16, 5, 40, 0, 0, time.UTC)) || enter.After(time.Date(2024, 9, 16, 5, 55, 0, 0, time.UTC)) ||
		exit.Before(time.Date(2024, 9, 16, 11, 40, 0, 0, time.UTC)) || exit.After(time.Date(2024, 9, 16, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("enter at %s, exit at %s", enter, exit)
	}
	// Both are waiting to be notified.
	if p, err := db.PendingAlarms(ctx, 10); err != nil || len(p) != 2 {
		t.Errorf("PendingAlarms = %d, %v", len(p), err)
	}
}

// A fence drawn after the positions were stored says nothing about them; one replaced starts
// afresh without announcing where the child already is.
func TestNewFenceIgnoresThePast(t *testing.T) {
	ctx := t.Context()
	db := storetest.SQLite(t)
	fam := storetest.BoundWatches(t, db, "w1")
	recs := schoolDay(t)
	if err := db.WriteBatch(ctx, recs); err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1].Position.Time
	g := &kinwatch.GeoFence{ID: kinwatch.NewID(), DeviceID: "w1", Definition: schoolFence(t), CreatedAt: last.Add(time.Minute)}
	if err := db.PutFence(ctx, fam, g); err != nil {
		t.Fatal(err)
	}
	ev := &safezone.Evaluator{Store: db, Bus: storetest.DirectBus{Store: db}, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return last.Add(time.Hour) }}
	if err := ev.Evaluate(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if es, _ := db.Events(ctx, kinwatch.EventFilter{DeviceID: "w1", Type: kinwatch.EventAlarm}); len(es) != 0 {
		t.Errorf("alarms about positions from before the fence: %d", len(es))
	}
}
