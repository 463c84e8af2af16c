package storetest

import (
	"testing"
	"time"

	"kinwatch"
)

// RawSQL is direct access to a store's database, for the tests of what the API does not show.
type RawSQL interface {
	// CachedDays returns the device's rows of the history day cache: day → points.
	CachedDays(t *testing.T, deviceID string) map[int64]int
	// MovePosition sets a position's time, as an UPDATE outside the store would.
	MovePosition(t *testing.T, id string, to time.Time)
	// DayGens returns the days of the device that have a generation (track_day_gen).
	DayGens(t *testing.T, deviceID string) map[int64]bool
	// DropDayGen deletes a day's generation; AddDayGen gives a day one.
	DropDayGen(t *testing.T, deviceID string, day int64)
	AddDayGen(t *testing.T, deviceID string, day int64)
	// StaleCachedDay makes a cached day's generation differ from its day's, as a change that
	// did not delete the row would.
	StaleCachedDay(t *testing.T, deviceID string, day int64)
}

// RunTrackCache checks a store's history day cache: the nightly job caches the last days, a read
// the others; complete past days are cached with exactly
// their points (a position at 00:00:00.000000 belongs to its day, one at 23:59:59.999999 too),
// today is not, and every change to a day's positions (a late upload, a deletion, a move to
// another day, the retention job, unbinding) takes its row out, so a read never serves what the
// positions no longer say. A read gives a day with positions a generation if it has none, and a
// day's generation goes with its last position, whatever deletes it.
func RunTrackCache(t *testing.T, s kinwatch.Store, raw RawSQL) {
	ctx := t.Context()
	// "Today" is the store's too: not a run that crosses midnight UTC.
	if left := time.Until(time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)); left < time.Minute {
		time.Sleep(left + time.Second)
	}
	fam := BoundWatches(t, s, "w1")
	today := time.Now().UTC().Truncate(24 * time.Hour)
	start := today.Add(-8 * 24 * time.Hour)
	day0 := kinwatch.TrackDay(start)
	ids := map[string]string{}
	var recs []kinwatch.Record
	add := func(name string, at time.Time, steps int64) {
		id := kinwatch.NewTimeID(at)
		ids[name] = id
		recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: id, DeviceID: "w1", Time: at, HasCoords: true,
			Lat: 45 + float64(steps)/100, Lon: 7, Source: kinwatch.SourceCell, Accuracy: 900, Steps: steps}})
	}
	for d := range 8 {
		base := start.Add(time.Duration(d) * 24 * time.Hour)
		add("", base, int64(10*d))
		add(dayName("noon", d), base.Add(12*time.Hour), int64(10*d+1))
		add("", base.Add(24*time.Hour-time.Microsecond), int64(10*d+2))
	}
	add("", today.Add(time.Second), 99) // today: never cached
	write(t, s, recs...)
	recs = nil
	// Positions of the current day (the ingest's) cost the cache nothing: no generation; late ones
	// (of a past day) give their day one.
	// (In the last ten minutes of a day, its positions count as late.)
	late := time.Until(today.Add(24*time.Hour)) < 11*time.Minute
	if gens := raw.DayGens(t, "w1"); gens[kinwatch.TrackDay(today)] && !late || !gens[day0] {
		t.Errorf("after the first positions, the days with a generation: %v (day 0 is %d)", gens, day0)
	}
	read := func(what string) []int64 {
		t.Helper()
		var steps []int64
		prev := time.Time{}
		if err := s.Track(ctx, "w1", time.Time{}, time.Time{}, func(p *kinwatch.TrackPoint) error {
			if p.Time.Before(prev) {
				t.Errorf("%s: out of order at %s", what, p.Time)
			}
			prev = p.Time
			steps = append(steps, p.Steps)
			return nil
		}); err != nil {
			t.Fatalf("Track (%s): %v", what, err)
		}
		return steps
	}
	wantDays := func(what string, want map[int64]int) {
		t.Helper()
		got := raw.CachedDays(t, "w1")
		for d, n := range want {
			if got[day0+d] != n {
				t.Errorf("%s: day %d cached with %d points, want %d (cache: %v)", what, d, got[day0+d], n, got)
			}
		}
		for d := range got {
			if _, ok := want[d-day0]; !ok {
				t.Errorf("%s: day %d cached, want it not (cache: %v)", what, d-day0, got)
			}
		}
	}
	// The nightly job caches the last three complete days.
	if n, err := kinwatch.WarmTrackDays(ctx, s, time.Now(), kinwatch.MinCachedSpan, 0, func(id string, err error) { t.Errorf("warming %s: %v", id, err) }); err != nil || n != 1 {
		t.Fatalf("WarmTrackDays = %d, %v; want 1 watch", n, err)
	}
	wantDays("after the nightly job", map[int64]int{5: 3, 6: 3, 7: 3})
	all := map[int64]int{0: 3, 1: 3, 2: 3, 3: 3, 4: 3, 5: 3, 6: 3, 7: 3}
	if got := read("first"); len(got) != 25 || got[0] != 0 || got[23] != 72 || got[24] != 99 {
		t.Fatalf("first read: %v", got)
	}
	wantDays("after the first read", all)
	if got := read("from the cache"); len(got) != 25 || got[3] != 10 {
		t.Fatalf("read from the cache: %v", got)
	}

	// A late upload into the last moment of day 2: day 2 is out of the cache until read again.
	add("", start.Add(3*24*time.Hour-time.Microsecond), 1000)
	write(t, s, recs...)
	wantDays("after a late upload", map[int64]int{0: 3, 1: 3, 3: 3, 4: 3, 5: 3, 6: 3, 7: 3})
	if got := read("after a late upload"); len(got) != 26 || got[8] != 1000 && got[9] != 1000 {
		t.Fatalf("after a late upload: %v", got)
	}
	all[2] = 4
	wantDays("read again", all)

	// The family deletes day 5's noon position.
	if _, _, err := s.DeleteRecords(ctx, kinwatch.RecordDeletion{Kind: kinwatch.RecordPositions, DeviceID: "w1", FamilyID: fam, ID: ids[dayName("noon", 5)]}); err != nil {
		t.Fatal(err)
	}
	delete(all, 5)
	wantDays("after a deletion", all)
	if got := read("after a deletion"); len(got) != 25 || contains(got, 51) {
		t.Fatalf("after a deletion: %v", got)
	}
	all[5] = 2

	// Day 3's noon position is moved into day 6: both days go.
	raw.MovePosition(t, ids[dayName("noon", 3)], start.Add(6*24*time.Hour+13*time.Hour))
	delete(all, 3)
	delete(all, 6)
	wantDays("after a move", all)
	got := read("after a move")
	// Day 2 ends with two positions at 23:59:59.999999 (in id order); day 6 now holds 31 at 13:00.
	if len(got) != 25 || got[10] != 30 || got[11] != 32 || got[18] != 61 || got[19] != 31 || got[20] != 62 {
		t.Fatalf("after a move: %v", got)
	}
	all[3], all[6] = 2, 4

	// Day 7's noon position moves within the day, and its generation is gone (as if its positions
	// had come as the current day's, which give none): a read gives it one, and caches it.
	raw.MovePosition(t, ids[dayName("noon", 7)], start.Add(7*24*time.Hour+13*time.Hour))
	raw.DropDayGen(t, "w1", day0+7)
	delete(all, 7)
	wantDays("without a generation", all)
	if got := read("without a generation"); len(got) != 25 || got[21] != 70 || got[22] != 71 || got[23] != 72 {
		t.Fatalf("without a generation: %v", got)
	}
	all[7] = 3
	wantDays("read without a generation", all)
	if !raw.DayGens(t, "w1")[day0+7] {
		t.Error("the read gave day 7 no generation")
	}

	// The retention job takes days 0 and 1.
	purgeLocations(t, s, start.Add(2*24*time.Hour))
	delete(all, 0)
	delete(all, 1)
	wantDays("after the retention job", all)
	if gens := raw.DayGens(t, "w1"); gens[day0] || gens[day0+1] || !gens[day0+2] || !gens[day0+6] {
		t.Errorf("after the retention job, the days with a generation: %v (day 0 is %d)", gens, day0)
	}
	if got := read("after the retention job"); len(got) != 19 || got[0] != 20 {
		t.Fatalf("after the retention job: %v", got)
	}

	// A cached row no longer of its day's generation is not served, and PruneTrackDays deletes it,
	// and the generation of a day without positions (day 0, emptied by the retention job).
	raw.StaleCachedDay(t, "w1", day0+4)
	raw.AddDayGen(t, "w1", day0)
	if n, err := s.PruneTrackDays(ctx); err != nil || n != 1 {
		t.Errorf("PruneTrackDays = %d, %v; want 1", n, err)
	}
	if gens := raw.DayGens(t, "w1"); gens[day0] || !gens[day0+3] {
		t.Errorf("after pruning, the days with a generation: %v (day 0 is %d)", gens, day0)
	}
	delete(all, 4)
	wantDays("after pruning", all)
	if got := read("after pruning"); len(got) != 19 || got[0] != 20 {
		t.Fatalf("after pruning: %v", got)
	}
	all[4] = 3
	wantDays("read after pruning", all)

	// The family deletes day 2 whole: nothing of it is left, its generation neither.
	if _, _, err := s.DeleteRecords(ctx, kinwatch.RecordDeletion{Kind: kinwatch.RecordPositions, DeviceID: "w1", FamilyID: fam,
		From: start.Add(2 * 24 * time.Hour), To: start.Add(3 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	delete(all, 2)
	wantDays("after the family deleted a day", all)
	if gens := raw.DayGens(t, "w1"); gens[day0+2] || !gens[day0+3] {
		t.Errorf("after the family deleted day 2, the days with a generation: %v (day 0 is %d)", gens, day0)
	}
	if got := read("after the family deleted a day"); len(got) != 15 || got[0] != 30 {
		t.Fatalf("after the family deleted a day: %v", got)
	}

	// Unbinding leaves nothing.
	if _, err := s.Unbind(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	wantDays("after unbinding", map[int64]int{})
	if gens := raw.DayGens(t, "w1"); len(gens) != 0 {
		t.Errorf("after unbinding, days with a generation: %v", gens)
	}
}

func dayName(what string, d int) string { return what + string(rune('0'+d)) }

func contains(xs []int64, x int64) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// purgeLocations runs the retention job's location purge for every family until nothing older
// than before is left.
func purgeLocations(t *testing.T, s kinwatch.Store, before time.Time) {
	t.Helper()
	for {
		n, _, err := s.Purge(t.Context(), kinwatch.RetainLocation, "", before, 100)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}
