package storetest

import (
	"slices"
	"testing"
	"time"

	"kinwatch"
)

var retentionTests = []storeTest{
	{"Purge", testPurge},
}

// testPurge: Purge deletes only what is older than the cut-off, at most limit records a call, of
// one family's watches when asked, and hands back the content keys of deleted media.
func testPurge(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	famA := BoundWatches(t, s, "a1")
	BoundWatches(t, s, "b1")
	old, young := t0.Add(-48*time.Hour), t0
	var recs []kinwatch.Record
	for _, dev := range []string{"a1", "b1"} {
		for i := range 3 {
			recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: dev, Time: old.Add(time.Duration(i) * time.Second)}})
		}
		recs = append(recs,
			kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: dev, Time: young}},
			kinwatch.Record{Media: &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: dev, Kind: kinwatch.MediaImage, ContentType: "image/jpeg", Key: dev + "/photo", Size: 1, Time: old}},
			kinwatch.Record{Media: &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: dev, Kind: kinwatch.MediaAudio, ContentType: "audio/amr", Key: dev + "/voice", Size: 1, Time: old}},
		)
	}
	write(t, s, recs...)
	cut := t0.Add(-time.Hour)
	n, _, err := s.Purge(ctx, kinwatch.RetainLocation, famA, cut, 2)
	if err != nil || n != 2 {
		t.Fatalf("Purge(family A, limit 2) = %d, %v; want 2", n, err)
	}
	n, _, err = s.Purge(ctx, kinwatch.RetainLocation, famA, cut, 10)
	if err != nil || n != 1 {
		t.Fatalf("Purge(family A again) = %d, %v; want the last old one", n, err)
	}
	if ps, _ := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: "b1"}); len(ps) != 4 {
		t.Errorf("another family's positions: %d left, want 4", len(ps))
	}
	if n, _, err := s.Purge(ctx, kinwatch.RetainLocation, "", cut, 100); err != nil || n != 3 {
		t.Errorf("Purge(every family) = %d, %v; want 3", n, err)
	}
	for _, dev := range []string{"a1", "b1"} {
		if ps, _ := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: dev}); len(ps) != 1 || !ps[0].Time.Equal(young) {
			t.Errorf("%s kept %d positions; want the young one", dev, len(ps))
		}
	}
	n, keys, err := s.Purge(ctx, kinwatch.RetainPhotos, "", cut, 100)
	slices.Sort(keys)
	same(t, "photo keys", keys, []string{"a1/photo", "b1/photo"})
	if err != nil || n != 2 {
		t.Errorf("Purge(photos) = %d, %v", n, err)
	}
	if ms, _ := s.MediaList(ctx, "a1", kinwatch.Page{}); len(ms) != 1 || ms[0].Kind != kinwatch.MediaAudio {
		t.Errorf("after purging photos: %d media, want the voice message", len(ms))
	}
	_, _, err = s.Purge(ctx, "everything", "", cut, 10)
	wantCode(t, "Purge(unknown class)", err, kinwatch.EINVALID)
	_, _, err = s.Purge(ctx, kinwatch.RetainLoginRecords, famA, cut, 10)
	wantCode(t, "Purge(login records of a family)", err, kinwatch.EINVALID)
	if _, _, err := s.Purge(ctx, kinwatch.RetainLoginRecords, "", cut, 10); err != nil {
		t.Errorf("Purge(login records): %v", err)
	}
	// A family's choice round-trips.
	if err := s.SetFamilyRetention(ctx, famA, map[kinwatch.RetentionClass]int{kinwatch.RetainVoice: 3}); err != nil {
		t.Fatalf("SetFamilyRetention: %v", err)
	}
	all, err := s.FamilyRetentions(ctx)
	if err != nil || len(all) != 1 || all[famA][kinwatch.RetainVoice] != 3 {
		t.Errorf("FamilyRetentions = %v, %v", all, err)
	}
	if err := s.SetFamilyRetention(ctx, famA, nil); err != nil {
		t.Fatalf("SetFamilyRetention(clear): %v", err)
	}
	if one, err := s.FamilyRetention(ctx, famA); err != nil || len(one) != 0 {
		t.Errorf("after clearing: %v, %v", one, err)
	}
	err = s.SetFamilyRetention(ctx, "nope", nil)
	wantCode(t, "SetFamilyRetention(no such family)", err, kinwatch.ENOTFOUND)
}
