package storetest

import (
	"math"
	"testing"
	"time"

	"kinwatch"
)

var geoTests = []storeTest{
	{"CellTowers", testCellTowers},
	{"LearnAccessPoints", testLearnAccessPoints},
}

// testCellTowers: towers round-trip, an import run again updates them, learning never moves an
// imported tower, and an import replaces a learned one.
func testCellTowers(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	a := kinwatch.CellKey{MCC: 262, MNC: 1, LAC: 1234, CID: 567890123}
	b := kinwatch.CellKey{MCC: 262, MNC: 2, LAC: 9, CID: 42}
	imported := kinwatch.CellTower{CellKey: a, Lat: 52.52, Lon: 13.40, Range: 1200, Samples: 30, Source: kinwatch.TowerImported, UpdatedAt: t0}
	if err := s.PutCellTowers(ctx, []kinwatch.CellTower{imported}); err != nil {
		t.Fatalf("PutCellTowers: %v", err)
	}
	got, err := s.CellTowers(ctx, []kinwatch.CellKey{a, b})
	if err != nil || len(got) != 1 {
		t.Fatalf("CellTowers = %v, %v; want a only", got, err)
	}
	same(t, "imported tower", got[a], imported)
	// Learning: b is new, a is imported and stays where the import put it.
	if err := s.Learn(ctx, []kinwatch.Sighting{{Cell: a, Lat: 48.1, Lon: 11.5}, {Cell: b, Lat: 48.1, Lon: 11.5}, {Cell: b, Lat: 48.102, Lon: 11.5}}, t0); err != nil {
		t.Fatalf("Learn: %v", err)
	}
	got, _ = s.CellTowers(ctx, []kinwatch.CellKey{a, b})
	if got[a].Lat != 52.52 || got[b].Source != kinwatch.TowerLearned || got[b].Samples != 2 || math.Abs(got[b].Lat-48.101) > 1e-6 || got[b].Range < 500 {
		t.Errorf("after learning: a %+v, b %+v", got[a], got[b])
	}
	// Imported again, with new figures; and b imported replaces the learned one.
	imported.Range, imported.UpdatedAt = 900, t0.Add(time.Hour)
	bi := kinwatch.CellTower{CellKey: b, Lat: 48.2, Lon: 11.6, Range: 2000, Samples: 5, Source: kinwatch.TowerImported, UpdatedAt: t0}
	if err := s.PutCellTowers(ctx, []kinwatch.CellTower{imported, bi}); err != nil {
		t.Fatalf("PutCellTowers again: %v", err)
	}
	got, _ = s.CellTowers(ctx, []kinwatch.CellKey{a, b})
	same(t, "re-imported tower", got[a], imported)
	same(t, "imported over learned", got[b], bi)
	// A learned tower never replaces an imported one.
	if err := s.PutCellTowers(ctx, []kinwatch.CellTower{{CellKey: a, Lat: 1, Lon: 1, Range: 1, Samples: 1, Source: kinwatch.TowerLearned, UpdatedAt: t0}}); err != nil {
		t.Fatalf("PutCellTowers(learned): %v", err)
	}
	if got, _ := s.CellTowers(ctx, []kinwatch.CellKey{a}); got[a].Lat != 52.52 {
		t.Errorf("a learned tower replaced an imported one: %+v", got[a])
	}
}

// testLearnAccessPoints: an access point is learned as the mean of the fixes it was heard at,
// with their spread, and one that moved starts again where it is now.
func testLearnAccessPoints(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const mac = "00:11:22:33:44:55"
	var sightings []kinwatch.Sighting
	for _, d := range []float64{-0.0002, 0, 0.0002} { // about ±22 m north and south
		sightings = append(sightings, kinwatch.Sighting{MAC: mac, Lat: 52.5 + d, Lon: 13.4})
	}
	if err := s.Learn(ctx, sightings, t0); err != nil {
		t.Fatalf("Learn: %v", err)
	}
	aps, err := s.AccessPoints(ctx, []string{mac, "00:11:22:33:44:66"})
	if err != nil || len(aps) != 1 {
		t.Fatalf("AccessPoints = %v, %v", aps, err)
	}
	ap := aps[mac]
	if ap.Samples != 3 || math.Abs(ap.Lat-52.5) > 1e-9 || math.Abs(ap.Lon-13.4) > 1e-9 || ap.Spread < 15 || ap.Spread > 25 {
		t.Errorf("learned %+v; want 3 samples at 52.5,13.4 with a spread of about 18 m", ap)
	}
	// The access point moved 30 km: its learning starts again there.
	if err := s.Learn(ctx, []kinwatch.Sighting{{MAC: mac, Lat: 52.77, Lon: 13.4}}, t0.Add(time.Hour)); err != nil {
		t.Fatalf("Learn(moved): %v", err)
	}
	aps, _ = s.AccessPoints(ctx, []string{mac})
	if ap := aps[mac]; ap.Samples != 1 || ap.Lat != 52.77 || ap.Spread != 0 {
		t.Errorf("after moving: %+v", ap)
	}
}
