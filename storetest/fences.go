package storetest

import (
	"fmt"
	"testing"
	"time"

	"kinwatch"
)

var fenceTests = []storeTest{
	{"Fences", testFences},
}

// testFences: a watch's safe zones round-trip sealed, are replaced (which resets their state),
// stay within MaxFences, belong to their watch and family only, and go with the watch's unbinding.
func testFences(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	fam := BoundWatches(t, s, "w1")
	other := BoundWatches(t, s, "w2")
	f := &kinwatch.GeoFence{ID: kinwatch.NewID(), DeviceID: "w1", Definition: []byte(`{"name":"school"}`), CreatedAt: t0}
	if err := s.PutFence(ctx, fam, f); err != nil {
		t.Fatalf("PutFence: %v", err)
	}
	if err := s.SaveFenceState(ctx, "w1", f.ID, "inside", t0); err != nil {
		t.Fatalf("SaveFenceState: %v", err)
	}
	got, err := s.Fences(ctx, "w1")
	if err != nil || len(got) != 1 || string(got[0].Definition) != `{"name":"school"}` || got[0].State != "inside" {
		t.Fatalf("Fences = %+v, %v", got, err)
	}
	// Replaced: the state starts again.
	f.Definition, f.UpdatedAt = []byte(`{"name":"new school"}`), t0.Add(time.Hour)
	if err := s.PutFence(ctx, fam, f); err != nil {
		t.Fatalf("PutFence(replace): %v", err)
	}
	if got, _ := s.Fences(ctx, "w1"); len(got) != 1 || string(got[0].Definition) != `{"name":"new school"}` || got[0].State != "" || !got[0].UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("after replacing: %+v", got[0])
	}
	// A state worked out for the old definition is not kept for the new one.
	wantCode(t, "SaveFenceState for a replaced definition", s.SaveFenceState(ctx, "w1", f.ID, "outside", t0), kinwatch.ENOTFOUND)
	if got, _ := s.Fences(ctx, "w1"); got[0].State != "" {
		t.Errorf("state after a stale save = %q", got[0].State)
	}
	// Not another family's watch, not another watch's fence id.
	err = s.PutFence(ctx, other, &kinwatch.GeoFence{ID: kinwatch.NewID(), DeviceID: "w1", Definition: []byte(`{}`), CreatedAt: t0})
	wantCode(t, "PutFence for a watch of another family", err, kinwatch.ENOTFOUND)
	err = s.PutFence(ctx, other, &kinwatch.GeoFence{ID: f.ID, DeviceID: "w2", Definition: []byte(`{}`), CreatedAt: t0})
	wantCode(t, "PutFence reusing another watch's fence id", err, kinwatch.ENOTFOUND)
	wantCode(t, "DeleteFence of another watch", s.DeleteFence(ctx, "w2", f.ID), kinwatch.ENOTFOUND)
	wantCode(t, "SaveFenceState of another watch", s.SaveFenceState(ctx, "w2", f.ID, "x", t0), kinwatch.ENOTFOUND)
	// At most MaxFences.
	for i := 1; i < kinwatch.MaxFences; i++ {
		if err := s.PutFence(ctx, fam, &kinwatch.GeoFence{ID: kinwatch.NewID(), DeviceID: "w1", Definition: []byte(fmt.Sprintf(`{"n":%d}`, i)), CreatedAt: t0}); err != nil {
			t.Fatalf("PutFence %d: %v", i, err)
		}
	}
	err = s.PutFence(ctx, fam, &kinwatch.GeoFence{ID: kinwatch.NewID(), DeviceID: "w1", Definition: []byte(`{}`), CreatedAt: t0})
	wantCode(t, "PutFence beyond MaxFences", err, kinwatch.ECONFLICT)
	if err := s.DeleteFence(ctx, "w1", f.ID); err != nil {
		t.Fatalf("DeleteFence: %v", err)
	}
	// The watch unbound: its fences go.
	if _, err := s.Unbind(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Fences(ctx, "w1"); err != nil || len(got) != 0 {
		t.Errorf("after unbinding: %d fences, %v", len(got), err)
	}
}
