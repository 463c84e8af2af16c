package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"

	"kinwatch/cli"
	"kinwatch/sim"
	"kinwatch/watchproto"
)

// replyServer answers what a server owes each frame (watchproto.AppendReply) and sends no commands.
func replyServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				fr := watchproto.NewFramer(0)
				var m watchproto.Message
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					var out []byte
					fr.Feed(buf[:n], func(frame []byte) error {
						if watchproto.Decode(frame, &m) == nil {
							out = watchproto.AppendReply(out, &m)
						}
						return nil
					})
					if len(out) > 0 {
						c.Write(out)
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cli.Main(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestSimJSONReport(t *testing.T) {
	addr := replyServer(t)
	code, out, errOut := runCLI("sim", "--server", addr, "--watches", "3", "--interval", "20ms",
		"--duration", "600ms", "--report", "200ms", "--speed", "600", "--json", "--seed", "5", "--id-prefix", "4321")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r sim.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, out)
	}
	if r.Watches != 3 || r.Handshakes != 3 || r.Positions == 0 || !r.Complete || r.Replies["LK"] < 3 {
		t.Errorf("report: %+v", r)
	}
	if !strings.Contains(errOut, "connected 3/3") {
		t.Errorf("no progress lines on stderr:\n%s", errOut)
	}
}

func TestSimTextReport(t *testing.T) {
	addr := replyServer(t)
	code, out, errOut := runCLI("sim", "--server", addr, "--watches", "2", "--idle", "--duration", "300ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"handshakes         2", "reply latency", "LK="} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestSimUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"sim", "--center", "north"},
		{"sim", "--id-prefix", "12"},
		{"sim", "--source-ips", "127.0.0.9-127.0.0.1"},
		{"sim", "--watches", "0"},
		{"sim", "--no-such-flag"},
		{"sim", "extra"},
	} {
		if code, _, errOut := runCLI(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
	if code, _, errOut := runCLI("sim", "-h"); code != 0 || !strings.Contains(errOut, "-source-ips") {
		t.Errorf("sim -h: exit %d:\n%s", code, errOut)
	}
}

func TestSimNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, _, errOut := runCLI("sim", "--server", addr, "--watches", "2", "--duration", "200ms")
	if code != 1 || !strings.Contains(errOut, "no watch could connect") {
		t.Errorf("exit %d, stderr %q; want 1 and a clear message", code, errOut)
	}
}
