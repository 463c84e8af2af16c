package storetest

import (
	"testing"
	"time"

	"kinwatch"
)

var accessTests = []storeTest{
	{"AccessLog", testAccessLog},
}

// testAccessLog: a family's log lists its reads newest first, pages without gaps, shows no other
// family's, and goes with the family.
func testAccessLog(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	famA := BoundWatches(t, s, "a1")
	famB := BoundWatches(t, s, "b1")
	var want []*kinwatch.Access
	for i, what := range []string{kinwatch.AccessLocationHistory, kinwatch.AccessVoice, kinwatch.AccessChildProfile} {
		a := &kinwatch.Access{ID: kinwatch.NewID(), FamilyID: famA, DeviceID: "a1", AccessorID: "acc1", What: what,
			Item: "item", Time: t0.Add(time.Duration(i) * time.Minute)}
		if err := s.RecordAccess(ctx, a); err != nil {
			t.Fatalf("RecordAccess: %v", err)
		}
		want = append([]*kinwatch.Access{a}, want...)
	}
	staff := &kinwatch.Access{ID: kinwatch.NewID(), FamilyID: famB, DeviceID: "b1", AccessorID: "olga", Staff: true,
		What: kinwatch.AccessLocationHistory, Reason: "ticket 42", Time: t0}
	if err := s.RecordAccess(ctx, staff); err != nil {
		t.Fatalf("RecordAccess(staff): %v", err)
	}
	got, err := s.AccessLog(ctx, famA, kinwatch.Page{})
	if err != nil {
		t.Fatalf("AccessLog: %v", err)
	}
	same(t, "family A's log", got, want)
	page, _ := s.AccessLog(ctx, famA, kinwatch.Page{Limit: 2})
	rest, _ := s.AccessLog(ctx, famA, kinwatch.Page{Limit: 2, Before: page[1].Time, BeforeID: page[1].ID})
	same(t, "family A's log in pages", append(page, rest...), want)
	gotB, _ := s.AccessLog(ctx, famB, kinwatch.Page{})
	same(t, "family B's log", gotB, []*kinwatch.Access{staff})
	err = s.RecordAccess(ctx, &kinwatch.Access{ID: kinwatch.NewID(), FamilyID: "no such family", DeviceID: "x", AccessorID: "a", What: "x", Time: t0})
	if err == nil {
		t.Error("an access was recorded for a family that does not exist")
	}
}
