package sim

import (
	"bytes"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestSimHistogramPercentiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	l := h.summary()
	within := func(got, want time.Duration) bool {
		return got >= want && float64(got) <= float64(want)*1.13
	}
	if l.Count != 1000 || l.Max != time.Second || !within(l.P50, 500*time.Millisecond) ||
		!within(l.P90, 900*time.Millisecond) || !within(l.P99, 990*time.Millisecond) && l.P99 != time.Second {
		t.Errorf("summary of 1..1000 ms: %+v", l)
	}
	for _, us := range []uint64{0, 1, 7, 8, 9, 15, 16, 1000, 123456, 1 << 40} {
		i := histIndex(us)
		if us > histUpper(i) || i > 0 && i < histBuckets-1 && us <= histUpper(i-1) {
			t.Errorf("%d µs landed in bucket %d (%d..%d]", us, i, histUpper(i-1), histUpper(i))
		}
	}
}

func TestSimRouteWalksBetweenPlaces(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	rt := newRoute(r, DefaultCenter, 3000, false)
	for i, p := range rt.places[1:] {
		if d := rt.places[0].at.distance(p.at); d < 200 || d > 2000 {
			t.Errorf("place %d is %.0f m from home", i+1, d)
		}
	}
	visited := map[placeKind]bool{}
	var walked float64
	prev := rt.pos
	for step := 0; step < 24*60; step++ { // a day in minutes
		walked += rt.advance(r, time.Minute, false, 20*time.Minute)
		if d := prev.distance(rt.pos); d > 10*60+1 {
			t.Fatalf("moved %.0f m in a minute", d)
		}
		prev = rt.pos
		if p := rt.at(); p != nil {
			visited[p.kind] = true
			if p.at != rt.pos {
				t.Fatalf("at %v but positioned at %v", p.kind, rt.pos)
			}
		}
	}
	if len(visited) != 3 || walked == 0 {
		t.Errorf("in a day the child visited %v and walked %.0f m", visited, walked)
	}
	for step := 0; step < 12*60; step++ {
		rt.advance(r, time.Minute, true, 20*time.Minute)
	}
	if p := rt.at(); p == nil || p.kind != home {
		t.Errorf("at night the child is not at home but at %v", rt.pos)
	}
}

func TestSimVoiceFramesAndPhoto(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	amr := appendVoice(nil, r, 3)
	frames := 0
	for i := len(amrMagic); i < len(amr); frames++ {
		if amr[i] != amrHeader(amrMode122) {
			t.Fatalf("unexpected frame header %#x at %d", amr[i], i)
		}
		if i += 1 + amrMode122Bytes; i > len(amr) {
			t.Fatal("last frame truncated")
		}
	}
	if frames != 150 {
		t.Errorf("3 s of audio has %d frames, want 150", frames)
	}
	jpg := appendPhoto(nil, r)
	img, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil || img.Bounds().Dx() != 160 || len(jpg) < 1000 || len(jpg) > 20000 {
		t.Errorf("photo: %d bytes, %v", len(jpg), err)
	}
}

// TestVoiceDecodesWithFFmpeg hands a voice message to a real AMR decoder, the way a guardian's
// app or the server's transcoder would play it.
func TestSimVoiceDecodesWithFFmpeg(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ffmpeg is required in CI (.ci/run installs it)")
		}
		t.Skip("ffmpeg not installed")
	}
	path := filepath.Join(t.TempDir(), "voice.amr")
	if err := os.WriteFile(path, appendVoice(nil, rand.New(rand.NewPCG(5, 6)), 4), 0o600); err != nil {
		t.Fatal(err)
	}
	var pcm, errs bytes.Buffer
	cmd := exec.Command(ffmpeg, "-v", "error", "-i", path, "-f", "s16le", "-")
	cmd.Stdout, cmd.Stderr = &pcm, &errs
	// 4 s of 8 kHz 16-bit samples, and not one complaint about the bitstream.
	if err := cmd.Run(); err != nil || pcm.Len() != 4*8000*2 || errs.Len() > 0 {
		t.Fatalf("ffmpeg: %v; %d bytes of PCM, want %d; %s", err, pcm.Len(), 4*8000*2, errs.String())
	}
}

func TestSimCellsAreSharedByNeighbours(t *testing.T) {
	op := operatorsAt(DefaultCenter)[0]
	if op.mcc != 262 {
		t.Errorf("Berlin has MCC %d", op.mcc)
	}
	zero := func(int) int { return 0 }
	a := cellsNear(nil, op, DefaultCenter, 4, true, zero)
	b := cellsNear(nil, op, DefaultCenter.offset(10, 10), 4, true, zero)
	if len(a) != 4 || a[0].CID != b[0].CID || a[0].CID >= 1<<28 {
		t.Errorf("two watches 14 m apart hear %v and %v", a, b)
	}
	g := cellsNear(nil, op, DefaultCenter, 1, false, zero)
	if g[0].CID > 65535 || g[0].LAC > 65535 {
		t.Errorf("GSM cell %+v does not fit 16 bits", g[0])
	}
	if ops := operatorsAt(Point{-60, -30}); len(ops) != 1 || ops[0].mcc != 1 {
		t.Errorf("the South Atlantic has operators %v, want the test network", ops)
	}
}

func TestSimParseSourceIPsAndPoint(t *testing.T) {
	ips, err := ParseSourceIPs("127.0.0.254-127.0.1.1, 10.0.0.5")
	want := []string{"127.0.0.254", "127.0.0.255", "127.0.1.0", "127.0.1.1", "10.0.0.5"}
	if err != nil || len(ips) != len(want) {
		t.Fatalf("got %v, %v", ips, err)
	}
	for i, w := range want {
		if ips[i] != netip.MustParseAddr(w) {
			t.Errorf("address %d is %v, want %s", i, ips[i], w)
		}
	}
	for _, bad := range []string{"", "127.0.0.5-127.0.0.1", "x", "127.0.0.1-::1"} {
		if _, err := ParseSourceIPs(bad); err == nil {
			t.Errorf("ParseSourceIPs(%q) accepted it", bad)
		}
	}
	if p, err := ParsePoint("48.8566, 2.3522"); err != nil || p != (Point{48.8566, 2.3522}) {
		t.Errorf("ParsePoint: %v %v", p, err)
	}
	for _, bad := range []string{"48.8", "a,b", "95,0"} {
		if _, err := ParsePoint(bad); err == nil {
			t.Errorf("ParsePoint(%q) accepted it", bad)
		}
	}
}

// BenchmarkPositionReport measures what one position costs the load generator: advancing the
// child, building the fix and encoding the frame.
func BenchmarkSimPositionReport(b *testing.B) {
	f, err := NewFleet(Config{Server: "127.0.0.1:1", Watches: 1, TimeScale: 60})
	if err != nil {
		b.Fatal(err)
	}
	w := f.watches[0]
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		w.report(now, 10*time.Second)
		w.out = w.out[:0]
	}
}

// TestTowersCoverWhatWatchesHear: every cell a simulated watch near the centre reports is in the
// tower list, placed within a cell's reach of the watch.
func TestTowersCoverWhatWatchesHear(t *testing.T) {
	towers := map[[4]int64]Tower{}
	for _, tw := range Towers(DefaultCenter, 8) {
		towers[[4]int64{int64(tw.MCC), int64(tw.MNC), tw.LAC, tw.CID}] = tw
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		p := Point{DefaultCenter.Lat + (r.Float64()-0.5)*0.06, DefaultCenter.Lon + (r.Float64()-0.5)*0.08}
		for _, op := range operatorsAt(p) {
			for _, c := range cellsNear(nil, op, p, 4, i%2 == 0, r.IntN) {
				tw, ok := towers[[4]int64{int64(c.MCC), int64(c.MNC), c.LAC, c.CID}]
				if !ok {
					t.Fatalf("cell %+v heard at %v is not in the tower list", c, p)
				}
				dy := (tw.Lat - p.Lat) * 111320
				dx := (tw.Lon - p.Lon) * 111320 * math.Cos(p.Lat*math.Pi/180)
				if d := math.Hypot(dx, dy); d > 1000 {
					t.Fatalf("cell %+v heard %0.f m from its tower", c, d)
				}
			}
		}
	}
}
