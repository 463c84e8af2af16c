package kinwatch_test

import (
	"sort"
	"testing"
	"time"

	"kinwatch"
)

func TestNewIDIsRandomAndWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := kinwatch.NewID()
		if len(id) != 26 || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestNewTimeIDSortsByTime(t *testing.T) {
	base := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	var ids []string
	for i := 0; i < 500; i++ {
		ids = append(ids, kinwatch.NewTimeID(base.Add(time.Duration(i)*time.Millisecond)))
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("time ids do not sort by time")
	}
	a, b := kinwatch.NewTimeID(base), kinwatch.NewTimeID(base)
	if a == b || len(a) != 26 {
		t.Fatalf("same-millisecond ids %q %q", a, b)
	}
}
