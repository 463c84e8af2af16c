package deident

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
)

// MinK is the smallest k-anonymity threshold: a group of one is one person.
const MinK = 2

// OtherGroup names the row that pools the withheld groups.
const OtherGroup = "other"

// Aggregator collects values per group and releases them k-anonymously. It is safe for
// concurrent use.
type Aggregator struct {
	// K is the least number of distinct subjects a released row must have. Release treats a K
	// below MinK as MinK, so changing it after NewAggregator cannot release a single person.
	K int

	mu     sync.Mutex
	groups map[string]*groupStats
}

type groupStats struct {
	subjects map[string]struct{}
	count    int
	sum      float64
}

// NewAggregator returns an Aggregator that releases only groups of at least k distinct subjects.
func NewAggregator(k int) (*Aggregator, error) {
	if k < MinK {
		return nil, fmt.Errorf("deident: k-anonymity threshold %d is below the minimum %d", k, MinK)
	}
	return &Aggregator{K: k, groups: map[string]*groupStats{}}, nil
}

// Add records value for subject in group. subject must be a pseudonym, never a raw id. A subject
// counts once towards a group's size however many values it adds, so one busy person cannot make
// a group look big enough to release.
func (a *Aggregator) Add(group, subject string, value float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.groups == nil {
		a.groups = map[string]*groupStats{}
	}
	g := a.groups[group]
	if g == nil {
		g = newGroup()
		a.groups[group] = g
	}
	g.subjects[subject] = struct{}{}
	g.count++
	g.sum += value
}

func newGroup() *groupStats { return &groupStats{subjects: map[string]struct{}{}} }

// Row is one released group.
type Row struct {
	Group    string
	Subjects int // distinct subjects, at least K
	Count    int // values added
	Sum      float64
	Mean     float64 // Sum / Count
}

// Release is what an aggregation may show.
type Release struct {
	Rows       []Row // groups with at least K distinct subjects, sorted by group
	Suppressed int   // groups withheld for having fewer than K
	// Other pools the withheld groups as group OtherGroup, counting a subject in several of them
	// once. It is nil unless they together have at least K distinct subjects.
	Other *Row
}

// Release returns the rows that may be shown. It does not reset the aggregation; releasing the
// same aggregation again after more Adds lets a reader difference the two, so release once.
// There is deliberately no grand total (see the package comment).
func (a *Aggregator) Release() Release {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := max(a.K, MinK)
	r := Release{Rows: []Row{}}
	other := newGroup()
	for name, g := range a.groups {
		if len(g.subjects) >= k {
			r.Rows = append(r.Rows, g.row(name))
			continue
		}
		r.Suppressed++
		for s := range g.subjects {
			other.subjects[s] = struct{}{}
		}
		other.count += g.count
		other.sum += g.sum
	}
	slices.SortFunc(r.Rows, func(x, y Row) int { return cmp.Compare(x.Group, y.Group) })
	if len(other.subjects) >= k {
		row := other.row(OtherGroup)
		r.Other = &row
	}
	return r
}

func (g *groupStats) row(name string) Row {
	return Row{
		Group:    name,
		Subjects: len(g.subjects),
		Count:    g.count,
		Sum:      g.sum,
		Mean:     g.sum / float64(g.count),
	}
}
