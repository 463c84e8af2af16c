package geo_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"kinwatch"
	"kinwatch/geo"
)

// benchData is a city's worth of local data in maps: 50k towers and 200k access points, and
// 1,000 indoor reports of 5 access points and 3 cells heard at places within it.
func benchData() (towerMap, apMap, []geo.Query) {
	rnd := rand.New(rand.NewPCG(1, 2))
	towers, aps := towerMap{}, apMap{}
	for i := range 50_000 {
		lat, lon := offset(homeLat, homeLon, rnd.Float64()*20_000, rnd.Float64()*20_000)
		towers[geo.CellKey{MCC: 262, MNC: 1, LAC: int64(100 + i/500), CID: int64(i + 1)}] = geo.Tower{Lat: lat, Lon: lon, Range: 800 + rnd.Float64()*2000, Samples: 50}
	}
	mac := func(i int) string { return fmt.Sprintf("34:60:f9:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff) }
	for i := range 200_000 {
		lat, lon := offset(homeLat, homeLon, rnd.Float64()*20_000, rnd.Float64()*20_000)
		aps[mac(i)] = geo.AccessPoint{Lat: lat, Lon: lon, Accuracy: 20 + rnd.Float64()*60, Samples: 5}
	}
	queries := make([]geo.Query, 1000)
	for i := range queries {
		var q geo.Query
		for j := range 5 {
			q.WiFi = append(q.WiFi, kinwatch.WiFi{SSID: "net", MAC: mac(rnd.IntN(200_000)), RSSI: -50 - 8*j})
		}
		for j := range 3 {
			c := rnd.IntN(50_000)
			q.Cells = append(q.Cells, kinwatch.Cell{MCC: 262, MNC: 1, LAC: int64(100 + c/500), CID: int64(c + 1), RSSI: 140 - 6*j})
		}
		queries[i] = q
	}
	return towers, aps, queries
}

// BenchmarkLocalLocate measures lookups per second from map-backed local data (the estimation and
// the provider's work; a real store adds its query time).
func BenchmarkLocalLocate(b *testing.B) {
	towers, aps, queries := benchData()
	cellsOnly := make([]geo.Query, len(queries))
	for i, q := range queries {
		cellsOnly[i] = geo.Query{Cells: q.Cells}
	}
	for _, bb := range []struct {
		name    string
		p       geo.Provider
		queries []geo.Query
	}{
		{"wifi+cells", geo.NewLocal(towers, aps), queries},
		{"wifi", geo.NewLocal(nil, aps), queries},
		{"cells", geo.NewLocal(towers, nil), cellsOnly},
	} {
		b.Run(bb.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := bb.p.Locate(ctx, bb.queries[i%len(bb.queries)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
		})
	}
}

// BenchmarkChainCached measures an answer from the chain's cache, the common case of a child
// sitting in one room.
func BenchmarkChainCached(b *testing.B) {
	towers, aps, queries := benchData()
	c := &geo.Chain{Providers: []geo.Provider{geo.NewLocal(towers, aps)}}
	ctx := context.Background()
	for _, q := range queries {
		c.Locate(ctx, q)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := c.Locate(ctx, queries[i%len(queries)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

func BenchmarkEstimate(b *testing.B) {
	for _, n := range []int{5, 100} {
		b.Run(fmt.Sprintf("%d", n), func(b *testing.B) {
			rnd := rand.New(rand.NewPCG(3, 4))
			obs := make([]geo.Observation, n)
			for i := range obs {
				lat, lon := offset(homeLat, homeLon, rnd.Float64()*100, rnd.Float64()*100)
				obs[i] = geo.Observation{Lat: lat, Lon: lon, Radius: 30, Signal: -50 - rnd.IntN(40)}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, ok := geo.Estimate(obs); !ok {
					b.Fatal("not ok")
				}
			}
		})
	}
}
