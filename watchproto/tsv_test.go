package watchproto_test

import (
	"bytes"
	"encoding/hex"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"kinwatch/watchproto"
)

// tsvLine is one sample of the shared captured-frames.tsv.
type tsvLine struct {
	no       int
	source   string
	kind     string
	input    []byte // the bytes the sample stands for
	asserted string // what Traccar's test asserts
	derived  string // what a careful reading of Traccar's decoder yields
	reply    string // the frame Traccar answers with, "" if none
}

func tsvPath() string { return filepath.Join("..", "..", "shared", "protocol", "captured-frames.tsv") }

// readTSV loads the shared capture file; the tests are meaningless without it, so its absence fails.
func readTSV(tb testing.TB) []tsvLine {
	tb.Helper()
	raw, err := os.ReadFile(tsvPath())
	if err != nil {
		tb.Fatalf("the captured frames are missing: %v (they live in /work/shared/protocol beside the repository)", err)
	}
	var lines []tsvLine
	for i, text := range strings.Split(string(raw), "\n") {
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cols := strings.SplitN(text, "\t", 4)
		if len(cols) != 4 {
			tb.Fatalf("tsv line %d: %d columns", i+1, len(cols))
		}
		l := tsvLine{no: i + 1, source: cols[0], kind: cols[1]}
		l.input = tsvBytes(tb, cols[1], cols[2])
		rest := strings.TrimPrefix(cols[3], "=> ")
		if j := strings.Index(rest, " || Traccar reply: "); j >= 0 {
			l.reply = rest[j+len(" || Traccar reply: "):]
			rest = rest[:j]
		}
		if j := strings.Index(rest, " || derived: "); j >= 0 {
			l.derived = rest[j+len(" || derived: "):]
			rest = rest[:j]
		}
		l.asserted = rest
		lines = append(lines, l)
	}
	if len(lines) < 40 {
		tb.Fatalf("only %d samples in %s", len(lines), tsvPath())
	}
	return lines
}

// tsvBytes turns a TEXT (Java literal), HEX or MIXED sample into bytes.
func tsvBytes(tb testing.TB, kind, s string) []byte {
	tb.Helper()
	switch kind {
	case "TEXT":
		return javaUnquote(tb, s)
	case "HEX":
		b, err := hex.DecodeString(s)
		if err != nil {
			tb.Fatalf("bad HEX sample %q: %v", s, err)
		}
		return b
	case "MIXED":
		var out []byte
		for _, piece := range strings.Split(s, " + ") {
			switch {
			case strings.HasPrefix(piece, "text:"):
				out = append(out, javaUnquote(tb, piece[len("text:"):])...)
			case strings.HasPrefix(piece, "hex:"):
				b, err := hex.DecodeString(piece[len("hex:"):])
				if err != nil {
					tb.Fatalf("bad MIXED hex %q: %v", piece, err)
				}
				out = append(out, b...)
			default:
				tb.Fatalf("bad MIXED piece %q", piece)
			}
		}
		return out
	}
	tb.Fatalf("unknown sample kind %q", kind)
	return nil
}

func javaUnquote(tb testing.TB, s string) []byte {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			out = append(out, s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case '\\', '"', '\'':
			out = append(out, s[i])
		default:
			tb.Fatalf("unsupported escape \\%c in %q", s[i], s)
		}
	}
	return out
}

// corrected lists the samples where the derived column records a Traccar mistake, with what kinwatch
// decodes instead: hex cells read as hex, and the Wi-Fi list of a report without cells kept.
var corrected = map[string]struct{ cells, wifi []string }{
	"9059011020 UD2": {cells: []string{"65535/65535/65534/62423714/132"}},
	"8800000015 UD": {wifi: []string{"f4:db:e6:d2:a8:00/-53", "f4:db:e6:da:d0:80/-79", "78:0c:f0:24:f9:80/-82",
		"b0:be:76:0a:05:9a/-82", "f4:db:e6:d2:a8:01/-53"}},
}

// traccarAlarm maps Traccar's alarm names to kinwatch's.
var traccarAlarm = map[string]string{"sos": "sos", "removing": "removed", "lowBattery": "low_battery",
	"geofenceExit": "geofence_exit", "geofenceEnter": "geofence_enter", "fallDown": "fall", "powerCut": "power_cut"}

var (
	reMfr      = regexp.MustCompile(`manufacturer=([^;]+);`)
	reID       = regexp.MustCompile(`\bid=([^;]+);`)
	reIndex    = regexp.MustCompile(`\bindex=([0-9A-Fa-f]{4});`)
	reLen      = regexp.MustCompile(`len=([0-9A-Fa-f]{4}) \(0x[0-9A-Fa-f]+=(\d+); actual content bytes=(\d+)( MISMATCH)?\)`)
	reType     = regexp.MustCompile(`type=([^;\s]+)`)
	reTime     = regexp.MustCompile(`time=(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)`)
	reValid    = regexp.MustCompile(`valid=(True|False)`)
	reNum      = func(k string) *regexp.Regexp { return regexp.MustCompile(`[ ,]` + k + `=(-?[0-9.]+)`) }
	reStatus   = regexp.MustCompile(`status=([0-9A-Fa-f]+)`)
	reAlarm    = regexp.MustCompile(`alarm=(\w+)`)
	reCells    = regexp.MustCompile(`cells\(mcc/mnc/lac/cid/rssi\)=\[([^\]]*)\]`)
	reWiFi     = regexp.MustCompile(`wifi\(mac/rssi\)=\[([^\]]*)\]`)
	reAsserted = regexp.MustCompile(`POSITION asserted: time=([0-9: .-]+) UTC, valid=(true|false), lat=(-?[0-9.]+), lon=(-?[0-9.]+)`)
	reAttrAl   = regexp.MustCompile(`"alarm" = "(\w+)"`)
	reBP       = regexp.MustCompile(`pressureHigh=(\d+) pressureLow=(\d+)`)
	reHR       = regexp.MustCompile(`heartRate=(\d+)`)
	reFirstOut = regexp.MustCompile(`first frame out = (HEX|MIXED) (.*)$`)
	reInput    = regexp.MustCompile(`input as text: (.*)$`)
)

func TestCapturedFrames(t *testing.T) {
	for _, l := range readTSV(t) {
		t.Run(strconv.Itoa(l.no)+"_"+l.source, func(t *testing.T) {
			switch l.source {
			case "FrameDecoderTest":
				checkFramerSample(t, l)
			case "EncoderTest":
				checkEncoderSample(t, l)
			case "DecoderTest.testDecodeVoiceMessage":
				checkVoiceSample(t, l)
			default:
				checkDecoderSample(t, l)
			}
		})
	}
}

func sub(re *regexp.Regexp, s string) (string, bool) {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return m[1], true
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("bad number %q", s)
	}
	return f
}

func checkDecoderSample(t *testing.T, l tsvLine) {
	var m watchproto.Message
	if err := watchproto.Decode(l.input, &m); err != nil {
		t.Fatalf("Decode(%q): %v", l.input, err)
	}
	d := l.derived
	if v, _ := sub(reMfr, d); m.Manufacturer != v {
		t.Errorf("manufacturer %q, want %q", m.Manufacturer, v)
	}
	if v, _ := sub(reID, d); m.Device != v {
		t.Errorf("device %q, want %q", m.Device, v)
	}
	if v, _ := sub(reIndex, d); m.Index != v {
		t.Errorf("index %q, want %q", m.Index, v)
	}
	if v, _ := sub(reType, d); m.Type != v {
		t.Errorf("type %q, want %q", m.Type, v)
	}
	lm := reLen.FindStringSubmatch(d)
	if lm == nil {
		t.Fatalf("no len in derived %q", d)
	}
	if want, _ := strconv.Atoi(lm[2]); m.Length != want {
		t.Errorf("length %d, want %d", m.Length, want)
	}
	if want := lm[4] == ""; m.LengthOK != want {
		t.Errorf("LengthOK %v, want %v (actual %s)", m.LengthOK, want, lm[3])
	}

	switch {
	case strings.Contains(d, "position:"):
		checkPosition(t, l, &m)
	case strings.HasPrefix(l.asserted, "ATTRIBUTES-ONLY"):
		if m.Kind != watchproto.KindHealth {
			t.Fatalf("kind %v, want health", m.Kind)
		}
		if bp := reBP.FindStringSubmatch(d); bp != nil {
			if !m.Present.Has(watchproto.FieldBloodPressure) || strconv.Itoa(m.Health.Systolic) != bp[1] || strconv.Itoa(m.Health.Diastolic) != bp[2] {
				t.Errorf("blood pressure %d/%d, want %s/%s", m.Health.Systolic, m.Health.Diastolic, bp[1], bp[2])
			}
		}
		if hr, ok := sub(reHR, d); ok {
			if !m.Present.Has(watchproto.FieldHeartRate) || strconv.Itoa(m.Health.HeartRate) != hr {
				t.Errorf("heart rate %d, want %s", m.Health.HeartRate, hr)
			}
		}
	case strings.HasPrefix(l.asserted, "NULL"):
		if m.Kind != watchproto.KindHeartbeat && m.Kind != watchproto.KindVoiceQuery {
			t.Errorf("kind %v for %q", m.Kind, l.input)
		}
	default:
		t.Fatalf("sample %d asserts something this test does not check: %q", l.no, l.asserted)
	}

	got := string(watchproto.AppendReply(nil, &m))
	if got != l.reply {
		t.Errorf("reply %q, want %q", got, l.reply)
	}
}

func checkPosition(t *testing.T, l tsvLine, m *watchproto.Message) {
	d := l.derived
	loc := &m.Location
	if m.Kind != watchproto.KindLocation {
		t.Fatalf("kind %v, want location", m.Kind)
	}
	ts, _ := sub(reTime, d)
	if want, _ := time.Parse("2006-01-02 15:04:05", ts); !loc.Time.Equal(want) {
		t.Errorf("time %v, want %v", loc.Time, want)
	}
	if v, _ := sub(reValid, d); loc.Valid != (v == "True") {
		t.Errorf("valid %v, want %s", loc.Valid, v)
	}
	lat, lon := num(t, mustSub(t, reNum("lat"), d)), num(t, mustSub(t, reNum("lon"), d))
	if lat == 0 && lon == 0 {
		if loc.HasCoords {
			t.Errorf("HasCoords for 0/0 coordinates")
		}
	} else if !loc.HasCoords || math.Abs(loc.Lat-lat) > 1e-6 || math.Abs(loc.Lon-lon) > 1e-6 {
		t.Errorf("coords %v %v,%v, want %v,%v", loc.HasCoords, loc.Lat, loc.Lon, lat, lon)
	}
	for _, c := range []struct {
		key string
		got float64
		bit watchproto.Fields
	}{
		{"speedKph", loc.Speed, watchproto.FieldSpeed},
		{"course", loc.Course, watchproto.FieldCourse},
		{"alt", loc.Altitude, watchproto.FieldAltitude},
		{"sats", float64(loc.Satellites), watchproto.FieldSatellites},
		{"rssi", float64(loc.Signal), watchproto.FieldSignal},
		{"battery", float64(loc.Battery), watchproto.FieldBattery},
		{"steps", float64(loc.Steps), watchproto.FieldSteps},
	} {
		want := num(t, mustSub(t, reNum(c.key), d))
		if !m.Present.Has(c.bit) || math.Abs(c.got-want) > 1e-9 {
			t.Errorf("%s = %v (present %v), want %v", c.key, c.got, m.Present.Has(c.bit), want)
		}
	}
	if v, _ := sub(reStatus, d); loc.Status != v {
		t.Errorf("status %q, want %q", loc.Status, v)
	}
	wantAlarm := ""
	if a, ok := sub(reAlarm, d); ok {
		wantAlarm = traccarAlarm[a]
	}
	if got := strings.Join(loc.Alarms.Names(), ","); got != wantAlarm {
		t.Errorf("alarms %q, want %q", got, wantAlarm)
	}
	cells, _ := sub(reCells, d)
	wifi, _ := sub(reWiFi, d)
	wantCells, wantWiFi := splitList(cells), splitList(wifi)
	if strings.Contains(d, "network=skipped") {
		fix, ok := corrected[m.Device+" "+m.Type]
		if !ok {
			t.Fatalf("sample %d records a Traccar network mistake this test has no correction for", l.no)
		}
		wantCells, wantWiFi = fix.cells, fix.wifi
	}
	var gotCells []string
	for _, c := range loc.Cells {
		s := strconv.Itoa(c.MCC) + "/" + strconv.Itoa(c.MNC) + "/" + strconv.FormatInt(c.LAC, 10) + "/" + strconv.FormatInt(c.CID, 10)
		if c.HasRSSI {
			s += "/" + strconv.Itoa(c.RSSI)
		}
		gotCells = append(gotCells, s)
	}
	if strings.Join(gotCells, " ") != strings.Join(wantCells, " ") {
		t.Errorf("cells %q, want %q", gotCells, wantCells)
	}
	var gotWiFi []string
	for _, w := range loc.WiFi {
		gotWiFi = append(gotWiFi, w.MAC+"/"+strconv.Itoa(w.RSSI))
	}
	if strings.Join(gotWiFi, " ") != strings.Join(wantWiFi, " ") {
		t.Errorf("wifi %q, want %q", gotWiFi, wantWiFi)
	}

	if a := reAsserted.FindStringSubmatch(l.asserted); a != nil {
		want, err := time.Parse("2006-01-02 15:04:05.000", a[1])
		if err != nil {
			t.Fatal(err)
		}
		if !loc.Time.Equal(want) || loc.Valid != (a[2] == "true") ||
			math.Abs(loc.Lat-num(t, a[3])) > 1e-5 || math.Abs(loc.Lon-num(t, a[4])) > 1e-5 {
			t.Errorf("asserted %v; got %v %v %v,%v", a[1:], loc.Time, loc.Valid, loc.Lat, loc.Lon)
		}
	}
	if a, ok := sub(reAttrAl, l.asserted); ok {
		if got := strings.Join(loc.Alarms.Names(), ","); got != traccarAlarm[a] {
			t.Errorf("asserted alarm %s; got %q", a, got)
		}
	}
}

func mustSub(t *testing.T, re *regexp.Regexp, s string) string {
	t.Helper()
	v, ok := sub(re, s)
	if !ok {
		t.Fatalf("%v not found in %q", re, s)
	}
	return v
}

// splitList parses a Python-style list of quoted strings.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.Trim(strings.TrimSpace(item), "'"); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// checkFramerSample feeds a FrameDecoderTest stream and checks the first frame, and that every frame
// of it decodes.
func checkFramerSample(t *testing.T, l tsvLine) {
	frames := feedAll(t, watchproto.NewFramer(0), l.input, len(l.input))
	if len(frames) == 0 {
		t.Fatalf("no frame from %q", l.input)
	}
	fo := reFirstOut.FindStringSubmatch(l.asserted)
	if fo == nil {
		t.Fatalf("no first frame in %q", l.asserted)
	}
	want := tsvBytes(t, fo[1], fo[2])
	// Traccar unescapes the whole frame while framing; kinwatch hands out the wire form and unescapes
	// payloads when decoding, so the unescaped frame is what must agree.
	got, err := watchproto.AppendUnescaped(nil, frames[0])
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("first frame (unescaped) %q, %v; want %q", got, err, want)
	}
	if in, ok := sub(reInput, l.derived); ok && !bytes.ContainsRune([]byte(in), 0x7D) {
		if joined := bytes.Join(frames, nil); string(joined) != in {
			t.Errorf("frames %q, want %q", joined, in)
		}
	}
	var m watchproto.Message
	for _, f := range frames {
		if err := watchproto.Decode(f, &m); err != nil {
			t.Errorf("Decode(%q): %v", f, err)
		}
	}
}

// checkEncoderSample rebuilds a Traccar downlink frame with AppendFrame (LEN lower-case, computed).
func checkEncoderSample(t *testing.T, l tsvLine) {
	parts := bytes.SplitN(l.input[1:len(l.input)-1], []byte("*"), 4)
	if len(parts) != 4 {
		t.Fatalf("unexpected encoder sample %q", l.input)
	}
	got := watchproto.AppendFrame(nil, string(parts[0]), string(parts[1]), "", parts[3])
	if !bytes.Equal(got, l.input) {
		t.Errorf("AppendFrame = %q, want %q", got, l.input)
	}
	var m watchproto.Message
	if err := watchproto.Decode(l.input, &m); err != nil {
		t.Errorf("Decode(%q): %v", l.input, err)
	}
}

// checkVoiceSample: the sample shows the payload already unescaped, which is not a wire frame, so the
// test builds the wire form around the same payload and checks the payload comes back.
func checkVoiceSample(t *testing.T, l tsvLine) {
	i := bytes.Index(l.input, []byte("TK,"))
	payload := l.input[i+3 : len(l.input)-1]
	wire := watchproto.AppendFrame(nil, "CS", "1234567890", "", watchproto.AppendEscaped([]byte("TK,"), payload))
	var m watchproto.Message
	if err := watchproto.Decode(wire, &m); err != nil {
		t.Fatal(err)
	}
	if m.Kind != watchproto.KindAudio || !bytes.Equal(m.Payload, payload) || m.BadEscape {
		t.Errorf("kind %v payload %q bad %v; want audio %q", m.Kind, m.Payload, m.BadEscape, payload)
	}
	if !bytes.HasPrefix(m.Payload, []byte("#!AMR")) {
		t.Errorf("payload lost its AMR header: %q", m.Payload)
	}
	if got, want := string(watchproto.AppendReply(nil, &m)), "[CS*1234567890*0004*TK,1]"; got != want {
		t.Errorf("reply %q, want %q", got, want)
	}
}
