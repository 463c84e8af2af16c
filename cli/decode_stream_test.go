package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"kinwatch/cli"
)

// TestDecodeStreamsAsFramesArrive: a frame is printed as soon as it has arrived, before the input
// ends, as someone watching a live watch connection needs.
func TestDecodeStreamsAsFramesArrive(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(context.Background(), []string{"decode"}, inR, outW, io.Discard)
		outW.Close()
	}()
	lines := bufio.NewReader(outR)
	got := make(chan string, 1)
	inW.Write([]byte("[3G*9705141740*0009*LK,0,0,53][3G*97051"))
	go func() { l, _ := lines.ReadString('\n'); got <- l }()
	select {
	case l := <-got:
		if !strings.Contains(l, `"type":"LK"`) {
			t.Fatalf("line %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no output before the input ended")
	}
	inW.Write([]byte("41740*0003*TKQ]"))
	inW.Close()
	rest, _ := io.ReadAll(lines)
	if !strings.Contains(string(rest), `"type":"TKQ"`) {
		t.Fatalf("rest %q", rest)
	}
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestDecodeIsTheSameInAnyChunking: every golden input decodes to the same lines whether it arrives
// whole or one byte at a time.
func TestDecodeIsTheSameInAnyChunking(t *testing.T) {
	ins, _ := filepath.Glob("testdata/decode/*.in")
	if len(ins) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, in := range ins {
		data, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(in, "hex") {
			continue // hex input is read whole by design
		}
		for _, max := range []string{"262144", "64"} {
			var whole, bytewise bytes.Buffer
			cli.Main(context.Background(), []string{"decode", "--max", max}, bytes.NewReader(data), &whole, io.Discard)
			cli.Main(context.Background(), []string{"decode", "--max", max}, iotest.OneByteReader(bytes.NewReader(data)), &bytewise, io.Discard)
			if whole.String() != bytewise.String() {
				t.Errorf("%s (--max %s): one byte at a time gives\n%s\nwhole gives\n%s", in, max, bytewise.String(), whole.String())
			}
			if whole.Len() == 0 {
				t.Errorf("%s: no output", in)
			}
		}
	}
}
