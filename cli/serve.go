package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"kinwatch/app"
	"kinwatch/config"
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
	<-ctx.Done()
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return a.Shutdown(sctx)
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
