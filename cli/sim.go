package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"kinwatch/sim"
)

func init() {
	register("sim", "run simulated watches against a kinwatch server (demo and load generator)", runSim)
}

func runSim(ctx context.Context, args []string, stdio Stdio) error {
	fs := newFlagSet("sim", stdio)
	var cfg sim.Config
	fs.StringVar(&cfg.Server, "server", sim.DefaultServer, "`host:port` of the kinwatch watch gateway")
	fs.IntVar(&cfg.Watches, "watches", 10, "number of simulated watches")
	fs.DurationVar(&cfg.Interval, "interval", sim.DefaultInterval, "position report interval")
	fs.DurationVar(&cfg.Heartbeat, "heartbeat", sim.DefaultHeartbeat, "LK heartbeat interval")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: until interrupted)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed for routes and behaviour: the same seed replays the same walks")
	fs.StringVar(&cfg.IDPrefix, "id-prefix", sim.DefaultIDPrefix, "4 `digits` that start every watch id; give each sim process its own")
	sourceIPs := fs.String("source-ips", "", "spread connections over these local `addresses`, e.g. 127.0.0.1-127.0.0.20 (each address has ~28k ports)")
	fs.DurationVar(&cfg.Ramp, "ramp", 0, "spread the first connects over this period")
	fs.BoolVar(&cfg.Idle, "idle", false, "only connect and heartbeat (idle-connection benchmark)")
	fs.BoolVar(&cfg.Mix, "mix", false, "use the SG and ZJ-with-index header variants and odd SSIDs on some watches")
	center := fs.String("center", sim.DefaultCenter.String(), "`lat,lon` the routes are around")
	fs.Float64Var(&cfg.Spread, "spread", 3000, "homes lie within this many `metres` of the center")
	fs.DurationVar(&cfg.Dwell, "dwell", 5*time.Minute, "mean stay at home, school or park during the day (in simulated time)")
	fs.Float64Var(&cfg.TimeScale, "speed", 1, "run the children's day this many times faster than the clock (movement, dwell, battery)")
	fs.DurationVar(&cfg.AlarmEvery, "alarm-every", 30*time.Minute, "mean time between alarms per watch (negative: none)")
	fs.DurationVar(&cfg.HealthEvery, "health-every", 10*time.Minute, "mean time between health readings per watch (negative: none)")
	fs.DurationVar(&cfg.VoiceEvery, "voice-every", 30*time.Minute, "mean time between voice messages per watch (negative: none)")
	fs.DurationVar(&cfg.ReplyTimeout, "reply-timeout", 60*time.Second, "wait this long for the answer to LK or AL before resending")
	fs.IntVar(&cfg.LocateBurst, "locate-burst", 9, "positions sent after a CR (locate now) command")
	fs.DurationVar(&cfg.LocateInterval, "locate-interval", 20*time.Second, "interval of the positions after CR")
	report := fs.Duration("report", 0, "print statistics this often (0: only at the end)")
	asJSON := fs.Bool("json", false, "print the final report as JSON")
	verbose := fs.Bool("v", false, "log connection problems to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageErrorf("%v", err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if cfg.Center, err = sim.ParsePoint(*center); err != nil {
		return usageErrorf("--center: %v", err)
	}
	if *sourceIPs != "" {
		if cfg.SourceIPs, err = sim.ParseSourceIPs(*sourceIPs); err != nil {
			return usageErrorf("--source-ips: %v", err)
		}
	}
	if *report < 0 {
		return usageErrorf("--report must not be negative")
	}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stdio.Err, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	fleet, err := sim.NewFleet(cfg)
	if err != nil {
		return usageErrorf("%v", err)
	}

	var wg sync.WaitGroup
	done := make(chan struct{})
	if *report > 0 {
		wg.Go(func() { simProgress(stdio.Err, fleet, *report, done) })
	}
	final, runErr := fleet.Run(ctx)
	close(done)
	wg.Wait()
	if final != nil {
		if *asJSON {
			enc := json.NewEncoder(stdio.Out)
			enc.SetIndent("", "  ")
			if err := enc.Encode(final); err != nil {
				return err
			}
		} else {
			simPrintReport(stdio.Out, final)
		}
	}
	return runErr
}

// simProgress writes one line of statistics every period until done closes.
func simProgress(w io.Writer, fleet *sim.Fleet, period time.Duration, done <-chan struct{}) {
	t := time.NewTicker(period)
	defer t.Stop()
	var lastSent uint64
	last := time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			r := fleet.Snapshot()
			rate := float64(r.FramesSent-lastSent) / now.Sub(last).Seconds()
			lastSent, last = r.FramesSent, now
			fmt.Fprintf(w, "sim %6s connected %d/%d (max %d, failures %d)  sent %d (%.0f/s)  positions %d  replies %d  latency p50 %v p99 %v\n",
				r.Elapsed.Round(time.Second), r.Connected, r.Watches, r.MaxConnected, r.ConnectFailures,
				r.FramesSent, rate, r.Positions, simSum(r.Replies), r.Latency.P50, r.Latency.P99)
		}
	}
}

func simPrintReport(w io.Writer, r *sim.Report) {
	fmt.Fprintf(w, "watches            %d over %v\n", r.Watches, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "connections        %d now, %d max, %d opened, %d failed, %d closed\n",
		r.Connected, r.MaxConnected, r.Connects, r.ConnectFailures, r.Disconnects)
	fmt.Fprintf(w, "handshakes         %d (LK retries %d, reboots %d, powered off %d)\n",
		r.Handshakes, r.LKRetries, r.Reboots, r.PoweredOff)
	fmt.Fprintf(w, "frames sent        %d (%d bytes, %.1f/s)\n", r.FramesSent, r.BytesSent, r.MessagesPerSecond)
	fmt.Fprintf(w, "  by type          %s\n", simCounts(r.SentByType))
	fmt.Fprintf(w, "positions          %d; alarms %d (resent %d, unanswered %d); voice %d; photos %d\n",
		r.Positions, r.Alarms, r.AlarmResends, r.AlarmsUnacked, r.Voices, r.Photos)
	fmt.Fprintf(w, "frames received    %d (%d bytes, %d undecodable)\n", r.FramesReceived, r.BytesReceived, r.BadFrames)
	fmt.Fprintf(w, "  replies          %s\n", simCounts(r.Replies))
	fmt.Fprintf(w, "  commands         %s\n", simCounts(r.Commands))
	fmt.Fprintf(w, "  acked            %s\n", simCounts(r.Acked))
	fmt.Fprintf(w, "reply latency      %s\n", simLatency(r.Latency))
	for _, k := range slices.Sorted(maps.Keys(r.LatencyByType)) {
		fmt.Fprintf(w, "  %-16s %s\n", k, simLatency(r.LatencyByType[k]))
	}
}

func simLatency(l sim.Latency) string {
	if l.Count == 0 {
		return "none"
	}
	return fmt.Sprintf("n=%d p50=%v p90=%v p99=%v max=%v", l.Count, l.P50, l.P90, l.P99, l.Max)
}

func simCounts(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	var b []byte
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = fmt.Appendf(b, "%s=%d", k, m[k])
	}
	return string(b)
}

func simSum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}
