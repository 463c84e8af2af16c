package deident_test

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"kinwatch/deident"
)

type add struct {
	group, subject string
	value          float64
}

// subjects returns one add per subject s1…sn in group, each with value v.
func subjects(group string, n int, v float64) []add {
	var adds []add
	for i := range n {
		adds = append(adds, add{group, fmt.Sprintf("s%d", i+1), v})
	}
	return adds
}

func concat(lists ...[]add) []add {
	var all []add
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

func TestNewAggregatorRefusesKBelowTwo(t *testing.T) {
	for _, k := range []int{-1, 0, 1} {
		a, err := deident.NewAggregator(k)
		if err == nil || a != nil || !strings.Contains(err.Error(), "below the minimum 2") {
			t.Errorf("NewAggregator(%d) = %v, %v; want an error", k, a, err)
		}
	}
	if a, err := deident.NewAggregator(2); err != nil || a.K != 2 {
		t.Errorf("NewAggregator(2) = %v, %v", a, err)
	}
}

func TestRelease(t *testing.T) {
	tests := []struct {
		name string
		k    int
		adds []add
		want deident.Release
	}{
		{
			name: "nothing added",
			k:    3,
			want: deident.Release{Rows: []deident.Row{}},
		},
		{
			name: "groups at K released, below K suppressed and counted, sorted by group",
			k:    3,
			adds: concat(subjects("zone-b", 3, 1), subjects("zone-a", 4, 2), subjects("zone-c", 2, 5)),
			want: deident.Release{
				Rows: []deident.Row{
					{Group: "zone-a", Subjects: 4, Count: 4, Sum: 8, Mean: 2},
					{Group: "zone-b", Subjects: 3, Count: 3, Sum: 3, Mean: 1},
				},
				Suppressed: 1, // zone-c; alone it cannot form "other"
			},
		},
		{
			name: "a subject adding many values counts once",
			k:    3,
			adds: concat(
				[]add{{"night", "s1", 1}, {"night", "s1", 2}, {"night", "s1", 3}, {"night", "s1", 4}, {"night", "s2", 5}},
				subjects("day", 3, 10),
			),
			want: deident.Release{
				Rows:       []deident.Row{{Group: "day", Subjects: 3, Count: 3, Sum: 30, Mean: 10}},
				Suppressed: 1,
			},
		},
		{
			name: "values summed and averaged over values, not subjects",
			k:    2,
			adds: []add{{"g", "s1", 1}, {"g", "s1", 2}, {"g", "s2", 6}, {"g", "s3", -1}},
			want: deident.Release{Rows: []deident.Row{{Group: "g", Subjects: 3, Count: 4, Sum: 8, Mean: 2}}},
		},
		{
			name: "withheld groups pooled as other when together at K",
			k:    3,
			adds: concat(
				subjects("big", 5, 1),
				[]add{{"small-1", "s1", 2}, {"small-1", "s2", 4}, {"small-2", "s3", 6}},
			),
			want: deident.Release{
				Rows:       []deident.Row{{Group: "big", Subjects: 5, Count: 5, Sum: 5, Mean: 1}},
				Suppressed: 2,
				Other:      &deident.Row{Group: "other", Subjects: 3, Count: 3, Sum: 12, Mean: 4},
			},
		},
		{
			name: "withheld groups below K together give no other",
			k:    4,
			adds: concat(subjects("big", 4, 1), subjects("small-1", 2, 1), subjects("small-2", 1, 1)),
			want: deident.Release{
				Rows:       []deident.Row{{Group: "big", Subjects: 4, Count: 4, Sum: 4, Mean: 1}},
				Suppressed: 2,
			},
		},
		{
			name: "a subject in several withheld groups counts once towards other",
			k:    3,
			// s1 and s2 in both small groups: 4 memberships but 2 people.
			adds: concat(subjects("small-1", 2, 1), subjects("small-2", 2, 1)),
			want: deident.Release{Rows: []deident.Row{}, Suppressed: 2},
		},
		{
			name: "everything withheld, pooled at K",
			k:    3,
			adds: concat(subjects("a", 2, 1), []add{{"b", "s3", 1}, {"b", "s4", 1}}),
			want: deident.Release{
				Rows:       []deident.Row{},
				Suppressed: 2,
				Other:      &deident.Row{Group: "other", Subjects: 4, Count: 4, Sum: 4, Mean: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := deident.NewAggregator(tt.k)
			if err != nil {
				t.Fatal(err)
			}
			for _, ad := range tt.adds {
				a.Add(ad.group, ad.subject, ad.value)
			}
			got := a.Release()
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Release() =\n%s\nwant\n%s", show(got), show(tt.want))
			}
			for _, r := range append(got.Rows, *orEmpty(got.Other)) {
				if r.Group != "" && r.Subjects < tt.k {
					t.Fatalf("released %+v with fewer than K=%d subjects", r, tt.k)
				}
			}
		})
	}
}

func orEmpty(r *deident.Row) *deident.Row {
	if r == nil {
		return &deident.Row{}
	}
	return r
}

func show(r deident.Release) string {
	return fmt.Sprintf("rows %+v suppressed %d other %+v", r.Rows, r.Suppressed, orEmpty(r.Other))
}

// TestReleaseNeverBelowTwo: K is exported, so lowering it afterwards must still not release a
// single person, nor may a zero-value Aggregator.
func TestReleaseNeverBelowTwo(t *testing.T) {
	a, _ := deident.NewAggregator(3)
	a.K = 1
	var zero deident.Aggregator
	for name, a := range map[string]*deident.Aggregator{"K lowered to 1": a, "zero value": &zero} {
		t.Run(name, func(t *testing.T) {
			a.Add("alone", "s1", 1)
			a.Add("pair", "s1", 1)
			a.Add("pair", "s2", 1)
			got := a.Release()
			if len(got.Rows) != 1 || got.Rows[0].Group != "pair" || got.Suppressed != 1 || got.Other != nil {
				t.Fatalf("Release() = %s; want only the pair", show(got))
			}
		})
	}
}

func TestAggregatorConcurrentAdd(t *testing.T) {
	a, _ := deident.NewAggregator(2)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				a.Add(fmt.Sprintf("g%d", i%4), fmt.Sprintf("s%d", g), 1)
			}
		})
	}
	wg.Go(func() { a.Release() })
	wg.Wait()
	got := a.Release()
	if len(got.Rows) != 4 {
		t.Fatalf("Release() = %s; want 4 groups", show(got))
	}
	for _, r := range got.Rows {
		if r.Subjects != 8 || r.Count != 200 || r.Sum != 200 || r.Mean != 1 {
			t.Errorf("row %+v; want 8 subjects, 200 values", r)
		}
	}
}
