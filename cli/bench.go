package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"kinwatch/bench"
)

func init() {
	register("bench", "measure ingest throughput (bench ingest) or idle connections held (bench idle)", runBench)
}

func runBench(ctx context.Context, args []string, stdio Stdio) error {
	if len(args) == 0 {
		return usageErrorf("want a benchmark: ingest or idle")
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
	}
	return usageErrorf("unknown benchmark %q: want ingest or idle", args[0])
}
