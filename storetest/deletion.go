package storetest

import (
	"testing"
	"time"

	"kinwatch"
)

var deletionTests = []storeTest{
	{"DeleteRecords", testDeleteRecords},
}

// testDeleteRecords: one record by id, or a time range [from, to), of one watch only; media hand
// back their content keys; a record of another watch is not found.
func testDeleteRecords(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	fam := BoundWatches(t, s, "w1", "w2")
	var recs []kinwatch.Record
	ids := map[string][]string{}
	for _, dev := range []string{"w1", "w2"} {
		for i := range 4 {
			at := t0.Add(time.Duration(i) * time.Hour)
			p := &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: dev, Time: at}
			e := &kinwatch.Event{ID: kinwatch.NewID(), DeviceID: dev, Time: at, Type: kinwatch.EventAlarm, Alarm: "sos"}
			m := &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: dev, Kind: kinwatch.MediaAudio, ContentType: "audio/amr", Key: dev + "/" + kinwatch.NewID(), Size: 1, Time: at}
			recs = append(recs, kinwatch.Record{Position: p}, kinwatch.Record{Event: e}, kinwatch.Record{Media: m},
				kinwatch.Record{Health: &kinwatch.HealthReading{ID: kinwatch.NewID(), DeviceID: dev, Time: at, HeartRate: 70}})
			ids[dev] = append(ids[dev], p.ID)
			if i == 0 {
				ids[dev+"/media"] = append(ids[dev+"/media"], m.ID, m.Key)
			}
		}
	}
	write(t, s, recs...)
	count := func(dev string) int {
		ps, _ := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: dev})
		return len(ps)
	}
	if n, _, err := s.DeleteRecords(ctx, kinwatch.RecordDeletion{FamilyID: fam, Kind: kinwatch.RecordPositions, DeviceID: "w1", ID: ids["w1"][0]}); err != nil || n != 1 {
		t.Fatalf("delete one position: %d, %v", n, err)
	}
	_, _, err := s.DeleteRecords(ctx, kinwatch.RecordDeletion{FamilyID: fam, Kind: kinwatch.RecordPositions, DeviceID: "w1", ID: ids["w2"][1]})
	wantCode(t, "delete another watch's position", err, kinwatch.ENOTFOUND)
	if count("w1") != 3 || count("w2") != 4 {
		t.Errorf("after deleting one: w1 %d, w2 %d", count("w1"), count("w2"))
	}
	// [t0+1h, t0+3h): two positions of w1.
	if n, _, err := s.DeleteRecords(ctx, kinwatch.RecordDeletion{FamilyID: fam, Kind: kinwatch.RecordPositions, DeviceID: "w1", From: t0.Add(time.Hour), To: t0.Add(3 * time.Hour)}); err != nil || n != 2 {
		t.Errorf("delete a range: %d, %v; want 2", n, err)
	}
	if n, _, err := s.DeleteRecords(ctx, kinwatch.RecordDeletion{FamilyID: fam, Kind: kinwatch.RecordEvents, DeviceID: "w1", From: t0, To: t0.Add(time.Hour)}); err != nil || n != 1 {
		t.Errorf("delete events: %d, %v; want 1", n, err)
	}
	if n, _, err := s.DeleteRecords(ctx, kinwatch.RecordDeletion{FamilyID: fam, Kind: kinwatch.RecordHealth, DeviceID: "w1", From: t0, To: t0.Add(24 * time.Hour)}); err != nil || n != 4 {
		t.Errorf("delete health readings: %d, %v; want 4", n, err)
	}
	n, keys, err := s.DeleteRecords(ctx, kinwatch.RecordDeletion{FamilyID: fam, Kind: kinwatch.RecordMedia, DeviceID: "w1", ID: ids["w1/media"][0]})
	if err != nil || n != 1 || len(keys) != 1 || keys[0] != ids["w1/media"][1] {
		t.Errorf("delete a voice message: %d %v %v", n, keys, err)
	}
	if count("w1") != 1 || count("w2") != 4 {
		t.Errorf("at the end: w1 %d positions (want 1), w2 %d (want 4)", count("w1"), count("w2"))
	}
	_, _, err = s.DeleteRecords(ctx, kinwatch.RecordDeletion{FamilyID: fam, Kind: "consents", DeviceID: "w1", ID: "x"})
	wantCode(t, "delete a kind that cannot be deleted", err, kinwatch.EINVALID)
	// Asked by a family the watch is no longer in: nothing goes.
	_, _, err = s.DeleteRecords(ctx, kinwatch.RecordDeletion{FamilyID: "another family", Kind: kinwatch.RecordPositions, DeviceID: "w2", ID: ids["w2"][0]})
	wantCode(t, "delete as another family", err, kinwatch.ENOTFOUND)
	if n, _, _ := s.DeleteRecords(ctx, kinwatch.RecordDeletion{FamilyID: "another family", Kind: kinwatch.RecordPositions, DeviceID: "w2", From: t0, To: t0.Add(24 * time.Hour)}); n != 0 || count("w2") != 4 {
		t.Errorf("a range deleted as another family: %d", n)
	}
}
