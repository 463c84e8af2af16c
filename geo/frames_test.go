package geo_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kinwatch/geo"
	"kinwatch/watchproto"
)

// TestCapturedSignals pins what signal.go says about the units, on the real frames of the shared
// capture files: Wi-Fi negative dBm, cells positive on a firmware scale. A frame that breaks
// this is news, and the interpretation must be revisited.
func TestCapturedSignals(t *testing.T) {
	files := []string{
		filepath.Join("..", "..", "shared", "protocol", "captured-frames.tsv"),
		filepath.Join("..", "watchproto", "testdata", "unseen-frames.tsv"),
	}
	var m watchproto.Message
	var frames, cells, aps int
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("the captured frames are missing: %v", err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			// Take every bracketed frame of plain text on the line; escapes (\n) never occur in location frames.
			for rest := line; ; {
				i := strings.Index(rest, "[")
				if i < 0 {
					break
				}
				j := strings.Index(rest[i:], "]")
				if j < 0 {
					break
				}
				frame := rest[i : i+j+1]
				rest = rest[i+j+1:]
				if watchproto.Decode([]byte(frame), &m) != nil || m.Kind != watchproto.KindLocation {
					continue
				}
				frames++
				for _, w := range m.Location.WiFi {
					aps++
					if s, ok := geo.WiFiSignal(w.RSSI); w.RSSI != 0 && (!ok || w.RSSI > 0 || s != w.RSSI) { // 0: sent empty
						t.Errorf("%s: Wi-Fi %s signal %d is not negative dBm", frame, w.MAC, w.RSSI)
					}
				}
				for _, c := range m.Location.Cells {
					cells++
					if c.RSSI < 0 {
						t.Errorf("%s: cell signal %d is negative", frame, c.RSSI)
					}
					if s, dBm, ok := geo.CellSignal(c.RSSI); c.RSSI != 0 && (!ok || dBm || s >= 0) {
						t.Errorf("%s: cell signal %d reads as %d, %v, %v", frame, c.RSSI, s, dBm, ok)
					}
				}
			}
		}
	}
	if frames < 20 || cells < 40 || aps < 30 {
		t.Fatalf("only %d location frames, %d cells, %d access points read", frames, cells, aps)
	}
	t.Logf("%d location frames, %d cells, %d access points", frames, cells, aps)
}
