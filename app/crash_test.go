package app_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/app"
	"kinwatch/cli"
	"kinwatch/config"
	"kinwatch/watchproto"
)

// TestMain lets the test binary act as `kinwatch serve` in a child process, so a test can kill a
// real server with SIGKILL.
func TestMain(m *testing.M) {
	if args := os.Getenv("KINWATCH_TEST_CHILD_ARGS"); args != "" {
		os.Exit(cli.Main(context.Background(), strings.Split(args, "\x1f"), os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startChild(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "KINWATCH_TEST_CHILD_ARGS="+strings.Join(args, "\x1f"))
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func waitReady(t *testing.T, httpAddr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + httpAddr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("server not ready")
}

// TestAcknowledgedSurvivesSIGKILL: whatever a watch got an acknowledgement for is in the database
// after the server process is killed without warning and started again.
func TestAcknowledgedSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	watchAddr, httpAddr := freeAddr(t), freeAddr(t)
	args := []string{"serve", "--data-dir", dir, "--watch-addr", watchAddr, "--http-addr", httpAddr, "--log-level", "error"}
	child := startChild(t, args...)
	waitReady(t, httpAddr)

	cfg := config.Default()
	cfg.DataDir = dir
	ctx := context.Background()
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.BindDevices(ctx, st, []string{"4400000001"}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	nc, err := net.Dial("tcp", watchAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	r := bufio.NewReader(nc)
	frame := func(content string) []byte {
		return watchproto.AppendFrame(nil, "3G", "4400000001", "", []byte(content))
	}
	var burst []byte
	burst = append(burst, frame("LK")...)
	for i := 0; i < 50; i++ {
		burst = append(burst, frame("UD,281126,101500,A,52.520000,N,13.405000,E,1.0,0,30,7,80,67,100,0,00000000,0,0")...)
	}
	burst = append(burst, frame("AL,281126,101501,A,52.520000,N,13.405000,E,0,0,30,7,80,67,100,0,00010000,0,0")...)
	if _, err := nc.Write(burst); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range []string{"[3G*4400000001*0002*LK]", "[3G*4400000001*0002*AL]"} {
		got, err := r.ReadString(']')
		if err != nil || got != want {
			t.Fatalf("reply %q (%v), want %q", got, err, want)
		}
	}
	// Acknowledged: now kill the server without any chance to flush.
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()

	// A new process starts on the same data.
	child = startChild(t, args...)
	waitReady(t, httpAddr)
	child.Process.Signal(syscall.SIGTERM)
	child.Wait()

	st, err = app.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ps, err := st.Positions(ctx, kinwatch.PositionFilter{DeviceID: "4400000001", Limit: 1000})
	if err != nil || len(ps) != 51 {
		t.Fatalf("%d positions survived, want 51 (%v)", len(ps), err)
	}
	es, err := st.Events(ctx, kinwatch.EventFilter{DeviceID: "4400000001", Type: kinwatch.EventAlarm, Limit: 10})
	if err != nil || len(es) != 1 || es[0].Alarm != "sos" {
		t.Fatalf("alarm events %v (%v)", es, err)
	}
	d, err := st.Device(ctx, "4400000001")
	if err != nil || d.Online {
		t.Fatalf("device after restart: %+v %v", d, err)
	}
}
