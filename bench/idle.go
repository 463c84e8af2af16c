package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// IdleConfig describes an idle-connection run. The server and the simulated watches run as separate
// processes of the kinwatch binary, because each process here may open at most 20,000 files: one
// server holding 18,000 watches needs the load on the other side of the socket in other processes.
type IdleConfig struct {
	Binary    string        // the kinwatch executable
	Conns     int           // watches to connect
	Sims      int           // sim processes sharing them
	Ramp      time.Duration // how long the connects are spread over
	Settle    time.Duration // wait after the last connect before measuring
	Heartbeat time.Duration // LK interval of the idle watches
	DataDir   string
	Log       io.Writer
}

// IdleResult is what an idle run measured, from the server process.
type IdleResult struct {
	Conns          int
	RSSBefore      int64 // bytes, server before any watch connected
	RSSAfter       int64
	HeapStackDelta int64 // Go heap in use + goroutine stacks, after minus before
}

// PerConn is the server's resident memory per connection.
func (r IdleResult) PerConn() float64 {
	if r.Conns == 0 {
		return 0
	}
	return float64(r.RSSAfter-r.RSSBefore) / float64(r.Conns)
}

func (r IdleResult) String() string {
	per := r.PerConn()
	return fmt.Sprintf("%d idle watches held; server RSS %s → %s: %.1f KiB per connection (Go heap+stacks %.1f KiB); a million watches ≈ %.1f GiB across processes",
		r.Conns, mib(r.RSSBefore), mib(r.RSSAfter), per/1024, float64(r.HeapStackDelta)/float64(max(r.Conns, 1))/1024, per*1e6/(1<<30))
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// Idle runs the idle-connection measurement.
func Idle(ctx context.Context, cfg IdleConfig) (IdleResult, error) {
	var res IdleResult
	watchAddr, err := freeAddr()
	if err != nil {
		return res, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return res, err
	}
	server := exec.CommandContext(ctx, cfg.Binary, "serve", "--data-dir", cfg.DataDir,
		"--watch-addr", watchAddr, "--http-addr", httpAddr, "--read-timeout", "1h", "--log-level", "warn")
	server.Stdout, server.Stderr = cfg.Log, cfg.Log
	if err := server.Start(); err != nil {
		return res, err
	}
	defer func() {
		server.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { server.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			server.Process.Kill()
		}
	}()
	if err := waitReady(ctx, httpAddr); err != nil {
		return res, err
	}
	if res.RSSBefore, err = rss(server.Process.Pid); err != nil {
		return res, err
	}
	before, err := scrape(httpAddr)
	if err != nil {
		return res, err
	}

	per := (cfg.Conns + cfg.Sims - 1) / cfg.Sims
	var sims []*exec.Cmd
	defer func() {
		for _, s := range sims {
			s.Process.Signal(syscall.SIGTERM)
			s.Wait()
		}
	}()
	for i := 0; i < cfg.Sims; i++ {
		n := min(per, cfg.Conns-i*per)
		if n <= 0 {
			break
		}
		// Each sim process spreads its connections over its own 127.x addresses.
		first, last := 1+i*10, 10+i*10
		s := exec.CommandContext(ctx, cfg.Binary, "sim", "--server", watchAddr, "--watches", strconv.Itoa(n),
			"--idle", "--heartbeat", cfg.Heartbeat.String(), "--ramp", cfg.Ramp.String(),
			"--id-prefix", fmt.Sprintf("%04d", 5100+i), "--seed", strconv.Itoa(i+1),
			"--source-ips", fmt.Sprintf("127.0.1.%d-127.0.1.%d", first, last))
		s.Stdout, s.Stderr = cfg.Log, cfg.Log
		if err := s.Start(); err != nil {
			return res, err
		}
		sims = append(sims, s)
	}
	deadline := time.Now().Add(cfg.Ramp + 2*time.Minute)
	for {
		m, err := scrape(httpAddr)
		if err == nil && int(m["kinwatch_gateway_connections"]) >= cfg.Conns {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("only %v of %d watches connected", m["kinwatch_gateway_connections"], cfg.Conns)
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	time.Sleep(cfg.Settle)
	after, err := scrape(httpAddr)
	if err != nil {
		return res, err
	}
	res.Conns = int(after["kinwatch_gateway_connections"])
	if res.RSSAfter, err = rss(server.Process.Pid); err != nil {
		return res, err
	}
	res.HeapStackDelta = int64(after["go_memstats_heap_inuse_bytes"] + after["go_memstats_stack_inuse_bytes"] -
		before["go_memstats_heap_inuse_bytes"] - before["go_memstats_stack_inuse_bytes"])
	return res, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitReady(ctx context.Context, httpAddr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("server at %s not ready", httpAddr)
}

// scrape reads the unlabelled samples of /metrics.
func scrape(httpAddr string) (map[string]float64, error) {
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.Contains(line, "{") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = f
		}
	}
	return out, sc.Err()
}

// rss reads a process's resident set size from /proc.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
