package geo_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/envelope"
	"kinwatch/geo"
	"kinwatch/sqlite"
)

// BenchmarkLocalLocateSQLite: lookups/s of the local provider over a SQLite store holding 100,000
// imported towers and 20,000 learned access points, for reports with 3 cells and 3 access points.
func BenchmarkLocalLocateSQLite(b *testing.B) {
	ctx := b.Context()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "k.db"), envelope.NewMaster())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	const towers, aps = 100_000, 20_000
	batch := make([]kinwatch.CellTower, 0, 5000)
	for i := range towers {
		batch = append(batch, kinwatch.CellTower{CellKey: kinwatch.CellKey{MCC: 262, MNC: 1, LAC: int64(i / 100), CID: int64(i)},
			Lat: 52 + float64(i%1000)/1000, Lon: 13 + float64(i/1000)/100, Range: 1000, Samples: 10, Source: kinwatch.TowerImported, UpdatedAt: time.Now()})
		if len(batch) == cap(batch) {
			if err := db.PutCellTowers(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	mac := func(i int) string {
		return fmt.Sprintf("a4:56:%02x:%02x:%02x:%02x", (i>>24)&0xff, (i>>16)&0xff, (i>>8)&0xff, i&0xff)
	}
	var sightings []kinwatch.Sighting
	for i := range aps {
		lat, lon := 52+float64(i%1000)/1000, 13+float64(i/1000)/100
		sightings = append(sightings, kinwatch.Sighting{MAC: mac(i), Lat: lat, Lon: lon}, kinwatch.Sighting{MAC: mac(i), Lat: lat + 0.0001, Lon: lon})
	}
	if err := db.Learn(ctx, sightings, time.Now()); err != nil {
		b.Fatal(err)
	}
	local := geo.NewLocal(geo.StoreData{Store: db}, geo.StoreData{Store: db})
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		k := (i * 7919) % (aps - 3)
		q := geo.Query{
			Cells: []kinwatch.Cell{{MCC: 262, MNC: 1, LAC: int64(k / 100), CID: int64(k), RSSI: 60}, {MCC: 262, MNC: 1, LAC: int64((k + 1) / 100), CID: int64(k + 1), RSSI: 50}, {MCC: 262, MNC: 1, LAC: int64((k + 2) / 100), CID: int64(k + 2), RSSI: 40}},
			WiFi:  []kinwatch.WiFi{{MAC: mac(k), RSSI: -50}, {MAC: mac(k + 1), RSSI: -60}, {MAC: mac(k + 2), RSSI: -70}},
		}
		if _, err := local.Locate(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}
