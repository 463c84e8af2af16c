package cli

import (
	"context"
	"fmt"
	"kinwatch"
	"log/slog"
	"net"
	"os"
	"time"

	"kinwatch/app"
	"kinwatch/config"
	"kinwatch/sim"
	"kinwatch/watchproto"
)

func init() {
	register("serve", "run the server: watch gateway, storage writer and HTTP API", runServe)
	register("migrate", "apply database migrations and exit", runMigrate)
}

// loadConfig parses the common configuration flags for a subcommand.
func loadConfig(name string, args []string, stdio Stdio) (config.Config, error) {
	fs := newFlagSet(name, stdio)
	cfg, err := config.Load(fs, args, os.Getenv)
	if err != nil {
		return cfg, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}

// newLogger builds the process logger from the configuration.
func newLogger(cfg config.Config, stdio Stdio) *slog.Logger {
	level, _ := config.ParseLevel(cfg.LogLevel) // validated already
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(stdio.Err, opts))
	}
	return slog.New(slog.NewTextHandler(stdio.Err, opts))
}

func runServe(ctx context.Context, args []string, stdio Stdio) error {
	cfg, err := loadConfig("serve", args, stdio)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stdio)
	a := app.New(cfg, log)
	if err := a.Start(ctx); err != nil {
		return err
	}
	if cfg.DemoWatches > 0 {
		if err := startDemo(ctx, a, cfg.DemoWatches, stdio); err != nil {
			a.Shutdown(context.Background())
			return err
		}
	}
	<-ctx.Done()
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return a.Shutdown(sctx)
}

// startDemo binds a demo family's watches and runs them as simulated watches over the real TCP
// gateway, so a newcomer sees live data. The demo is labelled everywhere it shows: its watch ids
// start with 9000 and the log says so.
func startDemo(ctx context.Context, a *app.App, n int, stdio Stdio) error {
	fleet, err := sim.NewFleet(sim.Config{
		Server:    localAddr(a.WatchAddr()),
		Watches:   n,
		IDPrefix:  "9000",
		Seed:      2026,
		Interval:  5 * time.Second,
		Heartbeat: time.Minute,
		// A child's school run in minutes rather than hours.
		TimeScale: 20,
		// The demo's own LK answers are instant; no need to wait a minute to resend.
		ReplyTimeout: 10 * time.Second,
	})
	if err != nil {
		return err
	}
	var ids []string
	for _, w := range fleet.Watches() {
		ids = append(ids, w.ID())
	}
	if err := app.DemoFamily(ctx, a.Store, ids); err != nil {
		return fmt.Errorf("demo family: %w", err)
	}
	// The simulated cells of the demo's town, as an OpenCellID import would give them, so the
	// watches are placed indoors too.
	var towers []kinwatch.CellTower
	for _, t := range sim.Towers(sim.DefaultCenter, 8) {
		towers = append(towers, kinwatch.CellTower{CellKey: kinwatch.CellKey{MCC: t.MCC, MNC: t.MNC, LAC: t.LAC, CID: t.CID},
			Lat: t.Lat, Lon: t.Lon, Range: t.Range, Samples: 1, Source: kinwatch.TowerImported, UpdatedAt: time.Now()})
	}
	if err := a.Store.PutCellTowers(ctx, towers); err != nil {
		return fmt.Errorf("demo towers: %w", err)
	}
	go fleet.Run(ctx)
	// Ask each demo watch for its firmware version: the command travels the real queue, the watch
	// acknowledges it, and the registry shows the answer.
	svc := a.Commands
	for _, id := range ids {
		if _, err := svc.Send(ctx, id, watchproto.Version{}); err != nil {
			return fmt.Errorf("demo family: %w", err)
		}
	}
	fmt.Fprintf(stdio.Out, `
DEMO: %d simulated watches of a demo family (ids %s…) are walking around Berlin over the real
TCP gateway at %s. Sign in to the API as the demo parent:

  curl -s http://%s/api/v1/auth/login -H 'Content-Type: application/json' -d '{"login":"%s","password":"%s"}'
  curl -s -H "Authorization: Bearer <token>" http://%s/api/v1/positions/latest

or look from the operator's side:

  bin/kinwatch watches --data-dir %s                       # the registry
  bin/kinwatch watches --data-dir %s --positions %s  # one watch's positions
  curl -s http://%s/metrics | grep kinwatch_            # what the gateway and writer do

Point a real watch here with the SMS  pw,123456,ip,<this host>,%s#   Stop with Ctrl-C.

`, n, ids[0][:4], localAddr(a.WatchAddr()), localAddr(a.HTTPAddr()), app.DemoEmail, app.DemoPassword, localAddr(a.HTTPAddr()), a.Config.DataDir, a.Config.DataDir, ids[0], localAddr(a.HTTPAddr()), port(a.WatchAddr().String()))
	return nil
}

// localAddr is how a program on this machine reaches a listener: a wildcard address (":8080")
// becomes the loopback one.
func localAddr(a net.Addr) string {
	host, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, p)
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func runMigrate(ctx context.Context, args []string, stdio Stdio) error {
	cfg, err := loadConfig("migrate", args, stdio)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintln(stdio.Out, "database is up to date")
	return nil
}
