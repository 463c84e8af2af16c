package cli_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"kinwatch/cli"
)

func run(ctx context.Context, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := cli.Main(ctx, args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestServeStartsAndStopsOnCancel(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	code, _, errOut := run(ctx, "serve", "--data-dir", dir, "--watch-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "kinwatch started") || !strings.Contains(errOut, "kinwatch stopped") {
		t.Fatalf("log: %s", errOut)
	}
	// The database it created is migrated and readable by the other subcommands.
	code, out, errOut := run(context.Background(), "migrate", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate: %d %s %s", code, out, errOut)
	}
	code, out, errOut = run(context.Background(), "watches", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "DEVICE") {
		t.Fatalf("watches: %d %s %s", code, out, errOut)
	}
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	code, _, errOut := run(context.Background(), "serve", "--data-dir", t.TempDir(), "--watch-addr", "nowhere", "--log-format", "xml")
	if code == 0 || !strings.Contains(errOut, "watch-addr") || !strings.Contains(errOut, "log-format") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestServeReportsBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	code, _, errOut := run(context.Background(), "serve", "--data-dir", t.TempDir(),
		"--watch-addr", l.Addr().String(), "--http-addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "watch gateway") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestUnknownCommand(t *testing.T) {
	code, _, errOut := run(context.Background(), "frobnicate")
	if code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("%d %s", code, errOut)
	}
	code, _, errOut = run(context.Background(), "help")
	if code != 0 || !strings.Contains(errOut, "serve") || !strings.Contains(errOut, "decode") || !strings.Contains(errOut, "sim") {
		t.Fatalf("help: %d %s", code, errOut)
	}
}

func TestWatchesMaintainsTheAllowList(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	code, out, errOut := run(ctx, "watches", "--data-dir", dir, "--add", "1234567890, 1234567891")
	if code != 0 || strings.Count(out, "registered (pending)") != 2 {
		t.Fatalf("add: %d %s %s", code, out, errOut)
	}
	code, out, _ = run(ctx, "watches", "--data-dir", dir, "--block", "1234567891")
	if code != 0 || !strings.Contains(out, "now blocked") {
		t.Fatalf("block: %d %s", code, out)
	}
	code, out, _ = run(ctx, "watches", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "1234567890  pending") || !strings.Contains(out, "1234567891  blocked") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	if code, _, errOut = run(ctx, "watches", "--data-dir", dir, "--add", "12/34"); code != 2 || !strings.Contains(errOut, "letters or digits") {
		t.Fatalf("bad id: %d %s", code, errOut)
	}
	if code, _, errOut = run(ctx, "watches", "--data-dir", dir, "--block", "999"); code != 1 || !strings.Contains(errOut, "not") {
		t.Fatalf("unknown id: %d %s", code, errOut)
	}
}

func TestCommandQueuesAndLists(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if code, _, errOut := run(ctx, "watches", "--data-dir", dir, "--add", "1234567890"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := run(ctx, "command", "--data-dir", dir, "--device", "1234567890", "upload", `{"interval_seconds":600}`)
	if code != 0 || !strings.Contains(out, "queued") {
		t.Fatalf("queue: %d %s %s", code, out, errOut)
	}
	code, out, _ = run(ctx, "command", "--data-dir", dir, "--device", "1234567890", "--list")
	if code != 0 || !strings.Contains(out, "UPLOAD") || !strings.Contains(out, "queued") {
		t.Fatalf("list: %d %s", code, out)
	}
	if code, _, errOut = run(ctx, "command", "--data-dir", dir, "--device", "1234567890", "upload", `{"interval_seconds":5}`); code != 2 || !strings.Contains(errOut, "60") {
		t.Fatalf("bad parameter: %d %s", code, errOut)
	}
	if code, _, errOut = run(ctx, "command", "--data-dir", dir, "--device", "555", "locate_now"); code != 1 || !strings.Contains(errOut, "not") {
		t.Fatalf("unknown watch: %d %s", code, errOut)
	}
	if code, out, _ = run(ctx, "command", "--catalog"); code != 0 || !strings.Contains(out, "locate_now") {
		t.Fatalf("catalog: %d %s", code, out)
	}
}
