package storetest

import (
	"fmt"
	"testing"
	"time"

	"kinwatch"
)

// BenchWriteBatch measures WriteBatch on the gateway's usual traffic, so adapters report
// comparable numbers: batches of batchSize positions from 200 bound watches, each position with the
// device update the gateway sends alongside it (last seen, battery, steps), every other one with
// the cells and Wi-Fi networks the watch heard. It reports positions/s.
func BenchWriteBatch(b *testing.B, s kinwatch.Store, batchSize int) {
	const watches = 200
	positions := make([]kinwatch.Position, batchSize)
	updates := make([]kinwatch.DeviceUpdate, batchSize)
	recs := make([]kinwatch.Record, 0, 2*batchSize)
	ids := make([]string, watches)
	for i := range ids {
		ids[i] = fmt.Sprintf("30040%05d", i)
	}
	BoundWatches(b, s, ids...) // the store drops the data of watches nobody bound
	for i := range positions {
		dev := ids[i%watches]
		p := &positions[i]
		*p = kinwatch.Position{DeviceID: dev, Type: "UD_LTE", Valid: true, Source: kinwatch.SourceGPS,
			Lat: 22.5726459 + float64(i)*1e-5, Lon: 113.8683151, HasCoords: true, Speed: 3.5, Course: 120,
			Altitude: 12, Accuracy: 8, Satellites: 9, Signal: 80, Battery: 64, Steps: int64(i), Status: "00000010",
			Worn: ptr(true)}
		if i%2 == 0 {
			p.Cells = []kinwatch.Cell{{MCC: 460, MNC: 0, LAC: 9520, CID: 21000 + int64(i), RSSI: -61},
				{MCC: 460, MNC: 0, LAC: 9520, CID: 21001, RSSI: -75}, {MCC: 460, MNC: 0, LAC: 9521, CID: 3, RSSI: -90}}
			p.WiFi = []kinwatch.WiFi{{SSID: "home", MAC: "a4:56:02:61:7f:1a", RSSI: -44}, {SSID: "cafe", MAC: "a4:56:02:61:7f:1b", RSSI: -80}}
		}
		updates[i] = kinwatch.DeviceUpdate{ID: dev, Online: ptr(true), Battery: ptr(64), Steps: ptr(int64(i))}
		recs = append(recs, kinwatch.Record{Device: &updates[i]}, kinwatch.Record{Position: p})
	}

	ctx := b.Context()
	start := time.Now() // live traffic: positions of the current day, a millisecond apart
	n := 0
	for b.Loop() {
		// Fresh ids and times each round, as the gateway would send: time-ordered ids, because
		// random ones load the primary-key index in a way the gateway no longer does. The records
		// are reused because a store must not keep them after WriteBatch returns.
		for i := range positions {
			t := start.Add(time.Duration(n) * time.Millisecond)
			positions[i].ID, positions[i].Time, positions[i].Received = kinwatch.NewTimeID(t), t, t
			updates[i].Time = t
			n++
		}
		if err := s.WriteBatch(ctx, recs); err != nil {
			b.Fatalf("WriteBatch: %v", err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "positions/s")
}

// BenchTrack measures Track over a year of one watch reporting every minute (525,600
// positions, half with cells and Wi-Fi): the read and the opening of every position's
// coordinates a history view needs. It reports positions/s.
func BenchTrack(b *testing.B, s kinwatch.Store) {
	const n = 525_600
	BoundWatches(b, s, "3004099999")
	start := time.Date(2025, 11, 29, 0, 0, 0, 0, time.UTC)
	recs := make([]kinwatch.Record, 0, 5000)
	for i := range n {
		p := &kinwatch.Position{ID: kinwatch.NewTimeID(start.Add(time.Duration(i) * time.Minute)), DeviceID: "3004099999", Type: "UD",
			Time: start.Add(time.Duration(i) * time.Minute), Valid: true, Source: kinwatch.SourceGPS, HasCoords: true,
			Lat: 52.5 + float64(i%1000)*1e-5, Lon: 13.4, Accuracy: 10, Steps: int64(i % 20000)}
		if i%2 == 0 {
			p.Cells = []kinwatch.Cell{{MCC: 262, MNC: 1, LAC: 1, CID: int64(i % 50), RSSI: 60}}
			p.WiFi = []kinwatch.WiFi{{SSID: "home", MAC: "a4:56:02:61:7f:1a", RSSI: -44}}
		}
		recs = append(recs, kinwatch.Record{Position: p})
		if len(recs) == cap(recs) || i == n-1 {
			if err := s.WriteBatch(b.Context(), recs); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	read := func() {
		got := 0
		if err := s.Track(b.Context(), "3004099999", time.Time{}, time.Time{}, func(*kinwatch.TrackPoint) error {
			got++
			return nil
		}); err != nil || got != n {
			b.Fatalf("Track: %d points, %v", got, err)
		}
	}
	// The first read goes to the positions and fills the day cache; the timed ones read the cache.
	cold := time.Now()
	read()
	coldTime := time.Since(cold)
	b.ResetTimer()
	for b.Loop() {
		read()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "positions/s")
	b.ReportMetric(coldTime.Seconds(), "cold-s")
}

// BenchUnbind measures unbinding a watch with a long, cached history (200,000 one-minute
// positions, its days read through the day cache first): the triggers on positions keep the
// cache right as every row goes.
func BenchUnbind(b *testing.B, s kinwatch.Store) {
	ctx := b.Context()
	const n = 200_000
	recs := make([]kinwatch.Record, 0, 5000)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		id := fmt.Sprintf("30050%05d", i)
		BoundWatches(b, s, id)
		start := time.Now().Add(-n * time.Minute)
		for j := range n {
			at := start.Add(time.Duration(j) * time.Minute)
			recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewTimeID(at), DeviceID: id, Time: at,
				HasCoords: true, Lat: 47.37, Lon: 8.54, Source: kinwatch.SourceGPS}})
			if len(recs) == cap(recs) || j == n-1 {
				if err := s.WriteBatch(ctx, recs); err != nil {
					b.Fatal(err)
				}
				recs = recs[:0]
			}
		}
		if err := s.Track(ctx, id, time.Time{}, time.Time{}, func(*kinwatch.TrackPoint) error { return nil }); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := s.Unbind(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}
