// Package app wires kinwatch together: it opens the store, starts the storage writer, the watch
// gateway and the HTTP server, and stops them in the order that loses nothing. Tests start a whole
// server with it on :0 ports, exactly as `kinwatch serve` does.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"kinwatch"
	"kinwatch/config"
	"kinwatch/fileblob"
	"kinwatch/gateway"
	"kinwatch/httpapi"
	"kinwatch/ingest"
	"kinwatch/inproc"
	"kinwatch/metrics"
	"kinwatch/postgres"
	"kinwatch/sqlite"
)

// App is one kinwatch process.
type App struct {
	Config  config.Config
	Log     *slog.Logger
	Store   kinwatch.Store
	Bus     *inproc.Bus
	Blobs   kinwatch.BlobStore
	Metrics *metrics.Metrics
	Gateway *gateway.Server
	Writer  *ingest.Writer

	httpServer *http.Server
	watchLn    net.Listener
	httpLn     net.Listener
	ready      atomic.Bool

	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Command expiry publishes events, so it stops before the bus closes.
	stopMaintenance context.CancelFunc
	maintenanceDone chan struct{}
	writerErr       chan error
}

// New returns an App for cfg; nothing is opened until Start.
func New(cfg config.Config, log *slog.Logger) *App {
	return &App{Config: cfg, Log: log}
}

// OpenStore opens (and migrates) the store the configuration names.
func OpenStore(ctx context.Context, cfg config.Config) (kinwatch.Store, error) {
	type migrator interface{ Migrate(context.Context) error }
	var (
		st  kinwatch.Store
		err error
	)
	if path := cfg.SQLitePath(); path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		var db *sqlite.DB
		db, err = sqlite.Open(ctx, path)
		st = db
	} else {
		var db *postgres.DB
		db, err = postgres.Open(ctx, cfg.DatabaseURL)
		st = db
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := st.(migrator).Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	return st, nil
}

// Start opens everything and starts serving. It returns once the listeners are up; WatchAddr and
// HTTPAddr then give the bound addresses (useful with :0).
func (a *App) Start(ctx context.Context) (err error) {
	cfg := a.Config
	defer func() {
		if err != nil {
			a.closeAll()
		}
	}()
	if a.Store == nil {
		if a.Store, err = OpenStore(ctx, cfg); err != nil {
			return err
		}
	}
	if a.Blobs == nil {
		if a.Blobs, err = fileblob.New(filepath.Join(cfg.DataDir, "media")); err != nil {
			return err
		}
	}
	if err := a.Store.MarkAllOffline(ctx, time.Now()); err != nil {
		return fmt.Errorf("reset online state: %w", err)
	}
	// The queue holds a few batches: enough to ride out a slow commit, small enough that a stuck
	// database pushes back on the watches quickly.
	a.Bus = inproc.New(max(4*cfg.BatchSize, 4096))
	a.Metrics = metrics.New(func() float64 { return float64(a.Bus.Depth()) })
	a.Writer = &ingest.Writer{
		Store: a.Store, Bus: a.Bus, Metrics: a.Metrics, Log: a.Log,
		MaxBatch: cfg.BatchSize, MaxWait: cfg.BatchInterval, Retries: -1,
	}
	a.Gateway = &gateway.Server{
		Opts: gateway.Options{
			MaxFrame:          cfg.MaxFrame,
			ReadTimeout:       cfg.ReadTimeout,
			WriteTimeout:      cfg.WriteTimeout,
			MaxFramesPerSec:   cfg.MaxFramesPerSec,
			MaxConnsPerIP:     cfg.MaxConnsPerIP,
			AllowUnknown:      cfg.AllowUnknown,
			DownlinkPrefix:    cfg.DownlinkPrefix,
			CommandAckTimeout: cfg.CommandAckTimeout,
		},
		Store: a.Store, Bus: a.Bus, Blobs: a.Blobs, Metrics: a.Metrics, Log: a.Log,
	}
	if a.watchLn, err = net.Listen("tcp", cfg.WatchAddr); err != nil {
		return fmt.Errorf("watch gateway: %w", err)
	}
	if a.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return fmt.Errorf("http: %w", err)
	}
	api := &httpapi.Server{Store: a.Store, Metrics: a.Metrics, Log: a.Log, Ready: a.ready.Load}
	a.httpServer = &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	a.writerErr = make(chan error, 1)
	go func() { a.writerErr <- a.Writer.Run(runCtx) }()
	a.goFunc(func() {
		if err := a.Gateway.Serve(a.watchLn); err != nil && !errors.Is(err, gateway.ErrServerClosed) {
			// Without its gateway the process must not look healthy to a load balancer.
			a.ready.Store(false)
			a.Log.Error("watch gateway stopped", "err", err)
		}
	})
	a.goFunc(func() {
		if err := a.httpServer.Serve(a.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Log.Error("http server stopped", "err", err)
		}
	})
	mctx, stopMaintenance := context.WithCancel(runCtx)
	a.maintenanceDone = make(chan struct{})
	a.stopMaintenance = stopMaintenance
	go func() {
		defer close(a.maintenanceDone)
		a.Gateway.RunMaintenance(mctx, 30*time.Second)
	}()
	a.ready.Store(true)
	a.Log.Info("kinwatch started", "watch_addr", a.WatchAddr().String(), "http_addr", a.HTTPAddr().String(),
		"region", cfg.Region, "database", databaseKind(cfg))
	return nil
}

func databaseKind(cfg config.Config) string {
	if cfg.SQLitePath() != "" {
		return "sqlite"
	}
	return "postgres"
}

func (a *App) goFunc(f func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}

// WatchAddr is the gateway's bound address.
func (a *App) WatchAddr() net.Addr { return a.watchLn.Addr() }

// HTTPAddr is the HTTP server's bound address.
func (a *App) HTTPAddr() net.Addr { return a.httpLn.Addr() }

// Shutdown stops in the order that loses nothing acknowledged: first the HTTP API (no new commands),
// then the gateway (connections finish the frames they read and are recorded offline), then the bus
// is closed and the writer drains every queued record into the store, and finally the store closes.
func (a *App) Shutdown(ctx context.Context) error {
	a.ready.Store(false)
	var errs []error
	if a.httpServer != nil {
		if err := a.httpServer.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http: %w", err))
		}
	}
	if a.stopMaintenance != nil {
		a.stopMaintenance()
		<-a.maintenanceDone
	}
	if a.Gateway != nil {
		if err := a.Gateway.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("gateway: %w", err))
		}
	}
	if a.Bus != nil {
		a.Bus.Close()
		select {
		case err := <-a.writerErr:
			if err != nil && !errors.Is(err, context.Canceled) {
				errs = append(errs, fmt.Errorf("storage writer: %w", err))
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("storage writer did not drain: %w", ctx.Err()))
		}
	}
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
	a.closeAll()
	a.Log.Info("kinwatch stopped")
	return errors.Join(errs...)
}

func (a *App) closeAll() {
	if a.watchLn != nil {
		a.watchLn.Close()
	}
	if a.httpLn != nil {
		a.httpLn.Close()
	}
	if a.Store != nil {
		a.Store.Close()
	}
}

// BindDevices registers ids and marks them bound, so the gateway stores their data. Binding proper
// (a guardian proving possession) is the accounts layer's; this is for the demo and benchmarks.
func BindDevices(ctx context.Context, st kinwatch.Store, ids []string) error {
	recs := make([]kinwatch.Record, len(ids))
	now := time.Now()
	for i, id := range ids {
		recs[i] = kinwatch.Record{Device: &kinwatch.DeviceUpdate{ID: id, Time: now}}
	}
	if err := st.WriteBatch(ctx, recs); err != nil {
		return err
	}
	for _, id := range ids {
		if err := st.SetDeviceState(ctx, id, kinwatch.DeviceBound); err != nil {
			return err
		}
	}
	return nil
}
