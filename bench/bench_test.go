package bench_test

import (
	"context"
	"testing"
	"time"

	"kinwatch/bench"
	"kinwatch/postgres/pgtest"
)

// BenchmarkIngest measures sustained ingest, TCP to committed rows, with 100 watches:
//
//	go test -run '^$' -bench Ingest -benchtime 3x ./bench
func BenchmarkIngest(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { ingest(b, "") })
	b.Run("postgres", func(b *testing.B) { ingest(b, pgtest.URL(b)) })
}

func ingest(b *testing.B, url string) {
	var total float64
	n := 0
	for b.Loop() {
		res, err := bench.Ingest(context.Background(), bench.IngestConfig{
			DatabaseURL: url, DataDir: b.TempDir(), Watches: 100, Positions: 100000,
		})
		if err != nil {
			b.Fatal(err)
		}
		total += res.PerSecond
		n++
	}
	b.ReportMetric(total/float64(n), "positions/s")
}

// TestIngestSmoke keeps the benchmark's code path working in `make test`.
func TestIngestSmoke(t *testing.T) {
	res, err := bench.Ingest(context.Background(), bench.IngestConfig{DataDir: t.TempDir(), Watches: 5, Positions: 500})
	if err != nil {
		t.Fatal(err)
	}
	if res.Positions != 500 {
		t.Fatalf("%+v", res)
	}
}

// TestAPISmoke and TestStreamSmoke keep the API and live-stream benchmarks' code paths working in
// `make test` (the figures come from `kinwatch bench api|stream`).
func TestAPISmoke(t *testing.T) {
	res, err := bench.API(context.Background(), bench.APIConfig{DataDir: t.TempDir(), Families: 20, Watches: 2, Positions: 3, Requests: 200, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 200 || res.Latency.N != 200 {
		t.Fatalf("%+v", res)
	}
}

func TestStreamSmoke(t *testing.T) {
	res, err := bench.Stream(context.Background(), bench.StreamConfig{DataDir: t.TempDir(), Watches: 10, Rate: 200, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 200 || res.Latency.N != 200 {
		t.Fatalf("%+v", res)
	}
}
