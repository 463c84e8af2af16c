// Package bench measures kinwatch end to end, with real TCP connections against a whole server:
// sustained ingest (positions from the socket to committed rows) and idle connections held. The
// figures it prints go in docs/benchmarks.md; `kinwatch bench` and the Go benchmarks call it.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"kinwatch/app"
	"kinwatch/config"
	"kinwatch/watchproto"
)

// IngestConfig describes one ingest run.
type IngestConfig struct {
	DatabaseURL string // "" = SQLite in DataDir
	DataDir     string
	Watches     int // concurrent watch connections
	Positions   int // positions in all
	BatchSize   int // storage writer batch size (0 = default)
}

// IngestResult is what a run measured.
type IngestResult struct {
	Positions int
	Elapsed   time.Duration
	PerSecond float64
}

func (r IngestResult) String() string {
	return fmt.Sprintf("%d positions in %v: %.0f positions/s", r.Positions, r.Elapsed.Round(time.Millisecond), r.PerSecond)
}

// Ingest starts a server, connects cfg.Watches bound watches that each send their share of
// cfg.Positions position reports as fast as TCP takes them, and stops the clock when every watch has
// its reply to a final LK — which the gateway sends only after everything before it is committed.
func Ingest(ctx context.Context, cfg IngestConfig) (IngestResult, error) {
	c := config.Default()
	c.DataDir, c.DatabaseURL = cfg.DataDir, cfg.DatabaseURL
	c.WatchAddr, c.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.MaxFramesPerSec = 1 << 20 // the benchmark measures storage, not the per-watch rate limit
	if cfg.BatchSize > 0 {
		c.BatchSize = cfg.BatchSize
	}
	if err := c.Validate(); err != nil {
		return IngestResult{}, err
	}
	a := app.New(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := a.Start(ctx); err != nil {
		return IngestResult{}, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		a.Shutdown(sctx)
	}()
	ids := make([]string, cfg.Watches)
	for i := range ids {
		ids[i] = strconv.Itoa(7700000000 + i)
	}
	if _, err := app.BindDevices(ctx, a.Store, ids); err != nil {
		return IngestResult{}, err
	}
	conns := make([]*benchWatch, len(ids))
	for i, id := range ids {
		w, err := dialWatch(a.WatchAddr().String(), id)
		if err != nil {
			return IngestResult{}, err
		}
		defer w.nc.Close()
		conns[i] = w
	}
	per := cfg.Positions / cfg.Watches
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for _, w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- w.pump(per)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			return IngestResult{}, err
		}
	}
	n := per * cfg.Watches
	return IngestResult{Positions: n, Elapsed: elapsed, PerSecond: float64(n) / elapsed.Seconds()}, nil
}

type benchWatch struct {
	id string
	nc net.Conn
	r  *bufio.Reader
}

func dialWatch(addr, id string) (*benchWatch, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	w := &benchWatch{id: id, nc: nc, r: bufio.NewReader(nc)}
	return w, w.heartbeat()
}

// heartbeat sends LK and waits for its reply: the commit barrier.
func (w *benchWatch) heartbeat() error {
	if _, err := w.nc.Write(watchproto.AppendFrame(nil, "3G", w.id, "", []byte("LK"))); err != nil {
		return err
	}
	w.nc.SetReadDeadline(time.Now().Add(2 * time.Minute))
	_, err := w.r.ReadString(']')
	return err
}

// pump writes n position reports in writes of up to 64 frames, then waits on the barrier.
func (w *benchWatch) pump(n int) error {
	var buf []byte
	base := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		t := base.Add(time.Duration(i) * time.Second)
		content := fmt.Appendf(nil, "UD_LTE,%s,A,52.%06d,N,13.%06d,E,4.0,90.0,30.0,7,80,67,%d,0,00000000,2,0,262,1,10006,65799,14,10020,4104,4,2,home,34:60:f9:ec:19:f8,-60,,98:48:27:55:18:20,-70,12.5",
			t.Format("020106,150405"), 500000+i%1000, 400000+i%1000, i)
		buf = watchproto.AppendFrame(buf, "3G", w.id, "", content)
		if i%64 == 63 || i == n-1 {
			if _, err := w.nc.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return w.heartbeat()
}
