package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"kinwatch/bench"
)

func init() {
	register("bench", "measure ingest throughput (ingest), idle connections held (idle), API latency (api) or live-stream fan-out (stream)", runBench)
}

func runBench(ctx context.Context, args []string, stdio Stdio) error {
	if len(args) == 0 {
		return usageErrorf("want a benchmark: ingest, idle, api or stream")
	}
	switch args[0] {
	case "ingest":
		fs := newFlagSet("bench ingest", stdio)
		var cfg bench.IngestConfig
		fs.StringVar(&cfg.DatabaseURL, "database-url", "", "database to measure (empty: SQLite in a temporary directory)")
		fs.IntVar(&cfg.Watches, "watches", 100, "concurrent watch connections")
		fs.IntVar(&cfg.Positions, "positions", 200000, "positions to send in all")
		fs.IntVar(&cfg.BatchSize, "batch-size", 0, "storage writer batch size (0: the server default)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if cfg.Watches < 1 || cfg.Positions < cfg.Watches {
			return usageErrorf("want --watches ≥ 1 and --positions ≥ --watches")
		}
		dir, err := os.MkdirTemp("", "kinwatch-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
		res, err := bench.Ingest(ctx, cfg)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdio.Out, res)
		return nil
	case "idle":
		fs := newFlagSet("bench idle", stdio)
		cfg := bench.IdleConfig{Log: stdio.Err}
		fs.IntVar(&cfg.Conns, "conns", 18000, "idle watches to connect")
		fs.IntVar(&cfg.Sims, "sims", 3, "sim processes (each may hold at most ~19,000 connections)")
		fs.DurationVar(&cfg.Ramp, "ramp", 30*time.Second, "spread the connects over this long")
		fs.DurationVar(&cfg.Settle, "settle", 10*time.Second, "wait after the last connect before measuring")
		fs.DurationVar(&cfg.Heartbeat, "heartbeat", 5*time.Minute, "LK interval of the idle watches")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		cfg.Binary = exe
		dir, err := os.MkdirTemp("", "kinwatch-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
		res, err := bench.Idle(ctx, cfg)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdio.Out, res)
		return nil
	case "api":
		fs := newFlagSet("bench api", stdio)
		cfg := bench.APIConfig{Log: stdio.Err}
		fs.StringVar(&cfg.DatabaseURL, "database-url", "", "database to measure (empty: SQLite in a temporary directory)")
		fs.IntVar(&cfg.Families, "families", 10000, "families in the store")
		fs.IntVar(&cfg.Watches, "watches", 2, "watches per family")
		fs.IntVar(&cfg.Positions, "positions", 20, "positions per watch")
		fs.IntVar(&cfg.Requests, "requests", 20000, "requests to time")
		fs.IntVar(&cfg.Concurrency, "concurrency", 8, "concurrent clients")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if cfg.Families < 1 || cfg.Watches < 1 || cfg.Positions < 1 || cfg.Requests < 1 || cfg.Concurrency < 1 {
			return usageErrorf("every count must be at least 1")
		}
		dir, err := os.MkdirTemp("", "kinwatch-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
		res, err := bench.API(ctx, cfg)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdio.Out, res)
		return nil
	case "stream":
		fs := newFlagSet("bench stream", stdio)
		cfg := bench.StreamConfig{Log: stdio.Err}
		fs.StringVar(&cfg.DatabaseURL, "database-url", "", "database to measure (empty: SQLite in a temporary directory)")
		fs.IntVar(&cfg.Watches, "watches", 200, "watches, each with a guardian holding a live stream")
		fs.IntVar(&cfg.Rate, "rate", 1000, "positions per second in all")
		fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if cfg.Watches < 1 || cfg.Rate < 1 || cfg.Rate > 100000 || cfg.Duration < time.Second || cfg.Duration > time.Hour {
			return usageErrorf("want --watches ≥ 1, --rate 1..100000, --duration 1s..1h")
		}
		dir, err := os.MkdirTemp("", "kinwatch-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
		res, err := bench.Stream(ctx, cfg)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdio.Out, res)
		return nil
	}
	return usageErrorf("unknown benchmark %q: want ingest, idle, api or stream", args[0])
}
