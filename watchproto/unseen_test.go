package watchproto_test

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"kinwatch/watchproto"
)

// TestUnseenFieldFrames decodes real frames that the decoder was not written against (they are not
// in captured-frames.tsv) and checks kinwatch's reading of each.
func TestUnseenFieldFrames(t *testing.T) {
	f, err := os.Open("testdata/unseen-frames.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		frame, want, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		n++
		var m watchproto.Message
		if err := watchproto.Decode([]byte(frame), &m); err != nil {
			t.Errorf("%s: %v", frame, err)
			continue
		}
		for _, kv := range strings.Fields(want) {
			k, v, _ := strings.Cut(kv, "=")
			if got := field(&m, k); !same(got, v) {
				t.Errorf("%s\n\t%s = %q, want %q", frame, k, got, v)
			}
		}
	}
	if n < 15 {
		t.Fatalf("only %d frames read", n)
	}
}

func field(m *watchproto.Message, k string) string {
	l := &m.Location
	switch k {
	case "kind":
		return m.Kind.String()
	case "index":
		return m.Index
	case "type":
		return m.Type
	case "valid":
		return strconv.FormatBool(l.Valid)
	case "lat":
		return strconv.FormatFloat(l.Lat, 'f', -1, 64)
	case "lon":
		return strconv.FormatFloat(l.Lon, 'f', -1, 64)
	case "alarms":
		if names := l.Alarms.Names(); len(names) > 0 {
			return strings.Join(names, ",")
		}
		return "-"
	case "cells":
		return strconv.Itoa(len(l.Cells))
	case "wifi":
		return strconv.Itoa(len(l.WiFi))
	case "accuracy":
		return strconv.FormatFloat(l.Accuracy, 'f', -1, 64)
	case "battery":
		if m.Kind == watchproto.KindHeartbeat {
			return strconv.Itoa(m.Heartbeat.Battery)
		}
		return strconv.Itoa(l.Battery)
	case "steps":
		return strconv.FormatInt(l.Steps, 10)
	case "heart":
		return strconv.Itoa(m.Health.HeartRate)
	case "systolic":
		return strconv.Itoa(m.Health.Systolic)
	case "diastolic":
		return strconv.Itoa(m.Health.Diastolic)
	case "temperature":
		return strconv.FormatFloat(m.Health.Temperature, 'f', -1, 64)
	case "worn":
		return strconv.FormatBool(l.Wear == watchproto.WearOn)
	case "static":
		return strconv.FormatBool(l.Static)
	}
	return "unknown key " + k
}

// same compares numbers numerically (1e-7 for coordinates) and everything else as text.
func same(got, want string) bool {
	g, err1 := strconv.ParseFloat(got, 64)
	w, err2 := strconv.ParseFloat(want, 64)
	if err1 == nil && err2 == nil {
		return math.Abs(g-w) < 1e-7
	}
	return got == want
}
