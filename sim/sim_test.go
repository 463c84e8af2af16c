package sim_test

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"kinwatch/sim"
	"kinwatch/watchproto"
)

func TestSimLKFirstAndOnlyAfterReply(t *testing.T) {
	srv := startServer(t, func(s *fakeServer) { s.ignoreLK = 2 })
	cfg := fastConfig(srv.addr(), 3)
	f, stop := runFleet(t, cfg)
	for _, w := range f.Watches() {
		waitFor(t, "a position from "+w.ID(), 3*time.Second, func() bool {
			return srv.count(func(r rec) bool { return r.device == w.ID() && isPosition(r) }) > 0
		})
	}
	r := stop()
	for _, w := range f.Watches() {
		frames := srv.got(ofDevice(w.ID(), ""))
		// Two LKs go unanswered, so the third one is the first the server answers; nothing else
		// may come before it, and the ICCID comes right after.
		for i := 0; i < 3; i++ {
			if frames[i].typ != "LK" {
				t.Fatalf("%s: frame %d is %s, want LK (frames: %v)", w.ID(), i, frames[i].typ, types(frames[:i+1]))
			}
			if i > 0 {
				if gap := frames[i].at.Sub(frames[i-1].at); gap < cfg.ReplyTimeout*8/10 {
					t.Errorf("%s: LK resent after %v, want about the reply timeout %v", w.ID(), gap, cfg.ReplyTimeout)
				}
			}
		}
		if frames[3].typ != "ICCID" {
			t.Errorf("%s: after the answered LK came %s, want ICCID", w.ID(), frames[3].typ)
		}
		m := frames[0].msg(t)
		if !m.Present.Has(watchproto.FieldSteps|watchproto.FieldRolls|watchproto.FieldBattery) || m.Heartbeat.Battery < 1 || m.Heartbeat.Battery > 100 {
			t.Errorf("%s: LK %q lacks steps,rolls,battery", w.ID(), frames[0].raw)
		}
	}
	if r.LKRetries < 6 || r.Handshakes != 3 {
		t.Errorf("report: LK retries %d (want >= 6), handshakes %d (want 3)", r.LKRetries, r.Handshakes)
	}
}

func TestSimRebootAfterFiveUnansweredLKs(t *testing.T) {
	srv := startServer(t, func(s *fakeServer) { s.ignoreLK = 1000 })
	cfg := fastConfig(srv.addr(), 1)
	cfg.ReplyTimeout = 20 * time.Millisecond
	_, stop := runFleet(t, cfg)
	waitFor(t, "a second connection", 3*time.Second, func() bool {
		return srv.count(func(r rec) bool { return r.conn == 2 }) > 0
	})
	r := stop()
	if n := srv.count(func(r rec) bool { return r.conn == 1 && r.typ == "LK" }); n != 5 {
		t.Errorf("first connection carried %d LKs, want 5 before the reboot", n)
	}
	if n := srv.count(func(r rec) bool { return r.conn == 1 && r.typ != "LK" }); n != 0 {
		t.Errorf("%d non-LK frames sent before any LK was answered", n)
	}
	if r.Reboots < 1 {
		t.Errorf("report counts %d reboots", r.Reboots)
	}
}

func TestSimPositionsAreWellFormed(t *testing.T) {
	srv := startServer(t, nil)
	cfg := fastConfig(srv.addr(), 6)
	cfg.TimeScale = 3000 // a report every minute of the child's day
	cfg.Dwell = 20 * time.Minute
	// Children stay home at night: run their day in daylight whenever the test runs (09:00 UTC is
	// mid-morning at the default center).
	now := time.Now().UTC()
	shift := time.Date(now.Year(), now.Month(), now.Day(), 9, 0, 0, 0, time.UTC).Sub(now)
	cfg.Clock = func() time.Time { return time.Now().Add(shift) }
	f, stop := runFleet(t, cfg)
	for _, w := range f.Watches() {
		waitFor(t, "positions from "+w.ID(), 5*time.Second, func() bool {
			return srv.count(func(r rec) bool { return r.device == w.ID() && isPosition(r) }) >= 60
		})
	}
	stop()

	var gps, indoor, cellOnly int
	for _, w := range f.Watches() {
		macs := map[string]bool{}
		for _, r := range srv.got(func(r rec) bool { return r.device == w.ID() && isPosition(r) }) {
			m := r.msg(t)
			loc := &m.Location
			if m.Kind != watchproto.KindLocation {
				t.Fatalf("%q decoded as %v", r.raw, m.Kind)
			}
			if !m.LengthOK {
				t.Errorf("%q: LEN %d does not match the content", r.raw, m.Length)
			}
			if d := cfg.Clock().Sub(loc.Time); d < -time.Minute || d > time.Minute {
				t.Errorf("%q: fix time %v is not now", r.raw, loc.Time)
			}
			if len(loc.Cells) < 1 || len(loc.Cells) > 4 {
				t.Errorf("%q: %d cells, want 1..4", r.raw, len(loc.Cells))
			}
			for _, c := range loc.Cells {
				if c.MCC != 262 || c.LAC <= 0 || c.CID <= 0 {
					t.Errorf("%q: cell %+v is not a German cell", r.raw, c)
				}
			}
			for _, ap := range loc.WiFi {
				macs[ap.MAC] = true
			}
			switch {
			case loc.Valid:
				gps++
				if !loc.HasCoords || loc.Satellites < 4 {
					t.Errorf("%q: A fix without coordinates or satellites", r.raw)
				}
				if d := distance(sim.DefaultCenter, loc.Lat, loc.Lon); d > 6000 {
					t.Errorf("%q: %.0f m from the center", r.raw, d)
				}
			case len(loc.WiFi) > 0:
				indoor++
				if loc.HasCoords || len(loc.WiFi) < 2 || len(loc.WiFi) > 5 {
					t.Errorf("%q: indoor fix with coordinates or %d access points (want 2..5)", r.raw, len(loc.WiFi))
				}
			default:
				cellOnly++
				if loc.HasCoords {
					t.Errorf("%q: V fix with coordinates", r.raw)
				}
			}
		}
		// Home and school have at most six access points each, always the same ones.
		if len(macs) > 12 {
			t.Errorf("%s reported %d different access points; places must keep theirs", w.ID(), len(macs))
		}
	}
	if gps == 0 || indoor == 0 {
		t.Errorf("got %d GPS fixes, %d indoor Wi-Fi fixes and %d cell-only fixes; want GPS and indoor fixes", gps, indoor, cellOnly)
	}
	t.Logf("%d GPS fixes, %d indoor Wi-Fi fixes, %d cell-only fixes", gps, indoor, cellOnly)
}

func TestSimAlarmResentUntilAnswered(t *testing.T) {
	srv := startServer(t, func(s *fakeServer) { s.ignoreAL = 2 })
	cfg := fastConfig(srv.addr(), 2)
	cfg.Interval = time.Hour
	cfg.AlarmEvery = 30 * time.Millisecond
	cfg.ReplyTimeout = 60 * time.Millisecond
	f, stop := runFleet(t, cfg)
	for _, w := range f.Watches() {
		waitFor(t, "an answered alarm from "+w.ID(), 3*time.Second, func() bool {
			return srv.count(func(r rec) bool { return r.device == w.ID() && strings.HasPrefix(r.typ, "AL") }) >= 4
		})
	}
	r := stop()
	for _, w := range f.Watches() {
		als := srv.got(func(r rec) bool { return r.device == w.ID() && strings.HasPrefix(r.typ, "AL") })
		first := als[0].msg(t).Location
		if first.Alarms == 0 || !first.AlarmReport {
			t.Errorf("%q: no alarm bit set", als[0].raw)
		}
		// The server ignores the first two: they come again, the same alarm, after the timeout.
		for i := 1; i < 3; i++ {
			loc := als[i].msg(t).Location
			if loc.Alarms != first.Alarms {
				t.Errorf("resend %d carries alarms %v, want %v", i, loc.Alarms.Names(), first.Alarms.Names())
			}
			// Measured where the frames arrive, a late first arrival shortens the gap; a resend
			// with no wait at all would show as a gap near zero.
			if gap := als[i].at.Sub(als[i-1].at); gap < cfg.ReplyTimeout/3 {
				t.Errorf("alarm resent after %v, want the reply timeout %v", gap, cfg.ReplyTimeout)
			}
		}
	}
	if r.AlarmResends < 4 || r.Replies["AL"] < 2 || r.LatencyByType["AL"].Count < 2 {
		t.Errorf("report: %d resends, %d AL replies, %d AL latencies", r.AlarmResends, r.Replies["AL"], r.LatencyByType["AL"].Count)
	}
}

// testAMR is a one-second AMR-NB file a server could push.
func testAMR() []byte {
	b := []byte("#!AMR\n")
	for i := 0; i < 50; i++ {
		b = append(b, 0x3C)
		b = append(b, bytes.Repeat([]byte{byte(i), ',', ']'}, 31)[:31]...)
	}
	return b
}

func TestSimCommandsAnsweredAsFirmwareDoes(t *testing.T) {
	srv := startServer(t, nil)
	cfg := fastConfig(srv.addr(), 1)
	cfg.Interval = time.Hour // only the first position and CR bursts
	cfg.Heartbeat = time.Hour
	f, stop := runFleet(t, cfg)
	id := f.Watches()[0].ID()
	waitFor(t, "the first position", 3*time.Second, func() bool { return srv.count(ofDevice(id, "UD"))+srv.count(ofDevice(id, "UD_LTE")) > 0 })

	reply := func(keyword string) func(rec) bool {
		return func(r rec) bool { return r.device == id && r.kind == watchproto.KindCommandReply && r.typ == keyword }
	}
	data := func(keyword string) []string {
		var out []string
		for _, r := range srv.got(reply(keyword)) {
			out = append(out, r.msg(t).Data)
		}
		return out
	}
	positions := func() int { return srv.count(func(r rec) bool { return r.device == id && isPosition(r) }) }

	before := positions()
	srv.send(id, []byte("CR"))
	waitFor(t, "the CR burst", 3*time.Second, func() bool { return positions() >= before+cfg.LocateBurst })
	if srv.count(reply("CR")) != 1 {
		t.Errorf("CR acknowledged %d times", srv.count(reply("CR")))
	}
	time.Sleep(5 * cfg.LocateInterval)
	if n := positions() - before; n != cfg.LocateBurst {
		t.Errorf("CR produced %d positions, want %d", n, cfg.LocateBurst)
	}

	srv.send(id, []byte("rcapture"))
	waitFor(t, "the photo", 3*time.Second, func() bool { return srv.count(ofDevice(id, "img")) > 0 })
	img := srv.got(ofDevice(id, "img"))[0].msg(t)
	if img.Kind != watchproto.KindImage || img.ImageSource != 5 || img.ImageTime.IsZero() || img.BadEscape {
		t.Errorf("img frame: kind %v, source %d, time %v, bad escape %v", img.Kind, img.ImageSource, img.ImageTime, img.BadEscape)
	}
	pic, err := jpeg.Decode(bytes.NewReader(img.Payload))
	if err != nil {
		t.Fatalf("photo is not a JPEG: %v", err)
	}
	if pic.Bounds().Dx() < 100 || len(img.Payload) < 1000 || len(img.Payload) > 30000 {
		t.Errorf("photo is %v, %d bytes; want a small snapshot of a few KB", pic.Bounds(), len(img.Payload))
	}

	srv.send(id, watchproto.AppendEscaped([]byte("TK,"), testAMR()))
	srv.send(id, []byte("TK,not audio"))
	for _, c := range []string{"VERNO", "TS", "FIND", "MESSAGE,0074006500780074", "SOS1,12345678", "FOO,1", "IP,192.0.2.1,5093", "UPLOAD,1"} {
		srv.send(id, []byte(c))
	}
	waitFor(t, "the UPLOAD ack", 3*time.Second, func() bool { return srv.count(reply("UPLOAD")) > 0 })
	uploadAck := srv.got(reply("UPLOAD"))[0].at

	if got := data("TK"); !slices.Equal(got, []string{"1", "0"}) {
		t.Errorf("voice pushes answered %q, want TK,1 for the AMR and TK,0 for the garbage", got)
	}
	if got := data("VERNO"); len(got) != 1 || !strings.Contains(got[0], "_V") {
		t.Errorf("VERNO answered %q, want a firmware version", got)
	}
	if got := data("TS"); len(got) != 1 || !strings.Contains(got[0], "ver:") || !strings.Contains(got[0], "ID:"+id) {
		t.Errorf("TS answered %q, want the settings text", got)
	}
	for _, kw := range []string{"FIND", "MESSAGE", "SOS1"} {
		if srv.count(reply(kw)) != 1 {
			t.Errorf("%s acknowledged %d times, want once", kw, srv.count(reply(kw)))
		}
	}
	if srv.count(ofDevice(id, "FOO")) != 1 {
		t.Errorf("the unknown command FOO was not acknowledged with its keyword")
	}
	if srv.count(ofDevice(id, "IP")) != 0 {
		t.Errorf("IP was answered; firmware stays silent")
	}
	// UPLOAD,1 makes the watch report every second.
	waitFor(t, "a position at the new interval", 3*time.Second, func() bool {
		return srv.count(func(r rec) bool { return r.device == id && isPosition(r) && r.at.After(uploadAck) }) > 0
	})
	r := stop()
	for _, kw := range []string{"CR", "rcapture", "TK", "VERNO", "TS", "FIND", "MESSAGE", "UPLOAD", "IP"} {
		if r.Commands[kw] == 0 {
			t.Errorf("report: command %s not counted (%v)", kw, r.Commands)
		}
	}
	if r.Acked["IP"] != 0 || r.Acked["CR"] != 1 || r.Photos != 1 {
		t.Errorf("report: acked %v, photos %d", r.Acked, r.Photos)
	}
}

func TestSimResetReconnectsAndPowerOffStops(t *testing.T) {
	srv := startServer(t, nil)
	cfg := fastConfig(srv.addr(), 2)
	f, stop := runFleet(t, cfg)
	a, b := f.Watches()[0].ID(), f.Watches()[1].ID()
	for _, id := range []string{a, b} {
		waitFor(t, "a position from "+id, 3*time.Second, func() bool {
			return srv.count(func(r rec) bool { return r.device == id && isPosition(r) }) > 0
		})
	}
	connOf := func(id string) int {
		frames := srv.got(ofDevice(id, ""))
		return frames[len(frames)-1].conn
	}
	first := connOf(a)
	srv.send(a, []byte("RESET"))
	srv.send(b, []byte("POWEROFF"))
	waitFor(t, "the reconnect after RESET", 3*time.Second, func() bool { return connOf(a) != first })
	waitFor(t, "the POWEROFF ack", 3*time.Second, func() bool { return srv.count(ofDevice(b, "POWEROFF")) > 0 })
	off := srv.count(ofDevice(b, ""))
	time.Sleep(200 * time.Millisecond)
	if n := srv.count(ofDevice(b, "")); n != off {
		t.Errorf("the powered-off watch sent %d more frames", n-off)
	}
	second := connOf(a)
	if frames := srv.got(func(r rec) bool { return r.device == a && r.conn == second }); frames[0].typ != "LK" {
		t.Errorf("after RESET the watch began with %s, want LK", frames[0].typ)
	}
	r := stop()
	if r.PoweredOff != 1 || srv.count(ofDevice(a, "RESET")) != 1 {
		t.Errorf("report: powered off %d; RESET acks %d", r.PoweredOff, srv.count(ofDevice(a, "RESET")))
	}
}

func TestSimReconnectsAfterServerDrop(t *testing.T) {
	srv := startServer(t, nil)
	cfg := fastConfig(srv.addr(), 1)
	f, stop := runFleet(t, cfg)
	id := f.Watches()[0].ID()
	waitFor(t, "the handshake", 3*time.Second, func() bool { return srv.count(ofDevice(id, "ICCID")) > 0 })
	srv.mu.Lock()
	srv.conns[id].Close()
	srv.mu.Unlock()
	waitFor(t, "a second handshake", 3*time.Second, func() bool { return srv.count(ofDevice(id, "ICCID")) > 1 })
	r := stop()
	if r.Connects < 2 || r.Disconnects != r.Connects || r.Connected != 0 {
		t.Errorf("report: %d connects, %d disconnects, %d connected", r.Connects, r.Disconnects, r.Connected)
	}
}

func TestSimVoiceAndHealth(t *testing.T) {
	srv := startServer(t, nil)
	cfg := fastConfig(srv.addr(), 2)
	cfg.VoiceEvery = 40 * time.Millisecond
	cfg.HealthEvery = 10 * time.Millisecond
	_, stop := runFleet(t, cfg)
	// The reading types are drawn at random: wait until each has come, not for a count that a
	// slow machine may fill with three types only.
	waitFor(t, "voice and every kind of health reading", 10*time.Second, func() bool {
		types := map[string]bool{}
		for _, h := range srv.got(func(r rec) bool { return r.kind == watchproto.KindHealth }) {
			types[h.msg(t).Type] = true
		}
		return srv.count(ofType("TK")) >= 2 && len(types) == 4
	})
	r := stop()
	for _, v := range srv.got(ofType("TK")) {
		m := v.msg(t)
		if m.Kind != watchproto.KindAudio || m.BadEscape {
			t.Fatalf("TK decoded as %v (bad escape %v)", m.Kind, m.BadEscape)
		}
		frames, err := walkAMR(m.Payload)
		if err != nil {
			t.Fatalf("voice message is not AMR-NB: %v", err)
		}
		if frames < 2*50 || frames > 8*50 {
			t.Errorf("voice message has %d frames (%v), want 2..8 s", frames, time.Duration(frames)*20*time.Millisecond)
		}
		if _, err := watchproto.AMRDuration(m.Payload); err != nil {
			t.Errorf("watchproto rejects the voice message: %v", err)
		}
	}
	kinds := map[string]bool{}
	for _, h := range srv.got(func(r rec) bool { return r.kind == watchproto.KindHealth }) {
		m := h.msg(t)
		kinds[m.Type] = true
		ok := false
		switch m.Type {
		case "heart":
			ok = m.Health.HeartRate >= 60
		case "bphrt":
			ok = m.Present.Has(watchproto.FieldBloodPressure) && m.Health.Systolic > m.Health.Diastolic
		case "oxygen":
			ok = m.Health.SpO2 >= 90 && m.Health.SpO2 <= 100
		case "btemp2":
			ok = m.Health.Temperature > 35 && m.Health.Temperature < 38
		}
		if !ok {
			t.Errorf("implausible health reading %q", h.raw)
		}
	}
	if len(kinds) != 4 {
		t.Errorf("health readings of types %v, want heart, bphrt, oxygen and btemp2", kinds)
	}
	if r.Voices < 2 || r.LatencyByType["TK"].Count < 1 || r.Replies["TK"] < 1 {
		t.Errorf("report: %d voices, TK latency %+v, replies %v", r.Voices, r.LatencyByType["TK"], r.Replies)
	}
}

// walkAMR checks the AMR-NB storage format independently of the code under test: the magic,
// then frames whose sizes follow from their headers and exactly fill the file.
func walkAMR(b []byte) (int, error) {
	sizes := map[byte]int{0: 13, 1: 14, 2: 16, 3: 18, 4: 20, 5: 21, 6: 27, 7: 32, 8: 6, 15: 1}
	if !bytes.HasPrefix(b, []byte("#!AMR\n")) {
		return 0, fmt.Errorf("no #!AMR header")
	}
	n := 0
	for i := 6; i < len(b); n++ {
		size, ok := sizes[b[i]>>3&0x0F]
		if !ok || b[i]&0x83 != 0 {
			return n, fmt.Errorf("bad frame header %#x at %d", b[i], i)
		}
		if i += size; i > len(b) {
			return n, fmt.Errorf("last frame truncated")
		}
	}
	return n, nil
}

func TestSimReportMatchesWhatTheServerGot(t *testing.T) {
	srv := startServer(t, nil)
	cfg := fastConfig(srv.addr(), 4)
	cfg.AlarmEvery = 100 * time.Millisecond
	cfg.HealthEvery = 50 * time.Millisecond
	cfg.VoiceEvery = 200 * time.Millisecond
	_, stop := runFleet(t, cfg)
	waitFor(t, "traffic", 3*time.Second, func() bool { return srv.count(isPosition) >= 100 })
	r := stop()
	waitFor(t, "the server to read everything", 2*time.Second, func() bool { return uint64(srv.count(nil)) == r.FramesSent })

	byType := map[string]uint64{}
	var positions uint64
	for _, f := range srv.got(nil) {
		byType[f.typ]++
		if f.kind == watchproto.KindLocation {
			positions++
		}
	}
	for typ, n := range byType {
		if r.SentByType[typ] != n {
			t.Errorf("%s: report says %d sent, server got %d", typ, r.SentByType[typ], n)
		}
	}
	if r.Positions != positions {
		t.Errorf("report says %d positions, server got %d", r.Positions, positions)
	}
	if r.Connects != 4 || r.MaxConnected != 4 || r.Handshakes != 4 || r.Connected != 0 || r.ConnectFailures != 0 {
		t.Errorf("report: connects %d, max %d, handshakes %d, connected %d, failures %d",
			r.Connects, r.MaxConnected, r.Handshakes, r.Connected, r.ConnectFailures)
	}
	if l := r.LatencyByType["LK"]; l.Count == 0 || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max {
		t.Errorf("LK latency %+v", l)
	}
	if r.Replies["LK"] != r.LatencyByType["LK"].Count || r.MessagesPerSecond <= 0 || !r.Complete {
		t.Errorf("report: %d LK replies, %d LK latencies, %.1f msg/s", r.Replies["LK"], r.LatencyByType["LK"].Count, r.MessagesPerSecond)
	}
}

// track is what a watch's positions say about where it went, without the times.
func track(t *testing.T, srv *fakeServer, id string, n int) []string {
	var out []string
	for _, r := range srv.got(func(r rec) bool { return r.device == id && isPosition(r) })[:n] {
		loc := r.msg(t).Location
		s := fmt.Sprintf("%v %.6f %.6f", loc.Valid, loc.Lat, loc.Lon)
		for _, c := range loc.Cells {
			s += fmt.Sprintf(" %d/%d", c.LAC, c.CID)
		}
		for _, ap := range loc.WiFi {
			s += " " + ap.MAC
		}
		out = append(out, s)
	}
	return out
}

func TestSimSameSeedSameWalk(t *testing.T) {
	noon := time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC)
	walk := func(seed uint64) map[string][]string {
		srv := startServer(t, nil)
		cfg := fastConfig(srv.addr(), 3)
		cfg.Seed = seed
		cfg.TimeScale = 3000
		cfg.Dwell = 20 * time.Minute
		cfg.Clock = func() time.Time { return noon }
		f, stop := runFleet(t, cfg)
		for _, w := range f.Watches() {
			waitFor(t, "positions", 3*time.Second, func() bool {
				return srv.count(func(r rec) bool { return r.device == w.ID() && isPosition(r) }) >= 30
			})
		}
		stop()
		out := map[string][]string{}
		for _, w := range f.Watches() {
			out[w.ID()] = track(t, srv, w.ID(), 30)
		}
		return out
	}
	a, b, c := walk(42), walk(42), walk(43)
	for id, ta := range a {
		if !slices.Equal(ta, b[id]) {
			t.Errorf("%s walked differently with the same seed:\n%v\n%v", id, ta, b[id])
		}
		if slices.Equal(ta, c[id]) {
			t.Errorf("%s walked the same with another seed", id)
		}
	}
}

func TestSimIDs(t *testing.T) {
	ids := func(prefix string, n int) []string {
		f, err := sim.NewFleet(sim.Config{Server: "127.0.0.1:1", Watches: n, IDPrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, w := range f.Watches() {
			out = append(out, w.ID())
		}
		return out
	}
	a, b := ids("1234", 1000), ids("1235", 1000)
	seen := map[string]bool{}
	for _, id := range append(a, b...) {
		if len(id) != 10 || strings.Trim(id, "0123456789") != "" || seen[id] {
			t.Fatalf("id %q is not a fresh 10-digit id", id)
		}
		seen[id] = true
	}
	if a[0] != "1234000000" || a[999] != "1234000999" {
		t.Errorf("ids run %s … %s, want prefix + index", a[0], a[999])
	}
	for _, bad := range []sim.Config{
		{Server: "127.0.0.1:1", Watches: 1, IDPrefix: "123"},
		{Server: "127.0.0.1:1", Watches: 0},
		{Server: "nowhere", Watches: 1},
		{Server: "127.0.0.1:1", Watches: 1, Interval: -time.Second},
		{Server: "127.0.0.1:1", Watches: 30000}, // more than one source address has ports for
	} {
		if _, err := sim.NewFleet(bad); err == nil {
			t.Errorf("NewFleet(%+v) accepted a bad config", bad)
		}
	}
}

func TestSimSourceIPsAndMix(t *testing.T) {
	ips, err := sim.ParseSourceIPs("127.0.0.1-127.0.0.3")
	if err != nil || len(ips) != 3 {
		t.Fatalf("ParseSourceIPs: %v %v", ips, err)
	}
	srv := startServer(t, nil)
	sources := map[string]bool{}
	cfg := fastConfig(srv.addr(), 40)
	cfg.SourceIPs = ips
	cfg.Mix = true
	f, stop := runFleet(t, cfg)
	waitFor(t, "every watch's first position", 5*time.Second, func() bool {
		seen := map[string]bool{}
		for _, r := range srv.got(isPosition) {
			seen[r.device] = true
		}
		return len(seen) == 40
	})
	srv.mu.Lock()
	for _, c := range srv.conns {
		sources[c.RemoteAddr().(*net.TCPAddr).IP.String()] = true
	}
	srv.mu.Unlock()
	stop()
	if len(sources) != 3 {
		t.Errorf("connections came from %v, want the three source addresses", sources)
	}
	mfrs := map[string]int{}
	for _, w := range f.Watches() {
		frames := srv.got(ofDevice(w.ID(), ""))
		m := frames[len(frames)-1].msg(t)
		mfrs[m.Manufacturer]++
		if (m.Manufacturer == "ZJ") != (m.Index != "") {
			t.Errorf("%s: manufacturer %s with index %q", w.ID(), m.Manufacturer, m.Index)
		}
	}
	if mfrs["3G"] == 0 || mfrs["SG"] == 0 || mfrs["ZJ"] == 0 {
		t.Errorf("manufacturers %v, want 3G, SG and ZJ with --mix", mfrs)
	}
}

// distance in metres between p and (lat, lon), flat-earth: plenty for a few kilometres.
func distance(p sim.Point, lat, lon float64) float64 {
	dy := (lat - p.Lat) * 111195
	dx := (lon - p.Lon) * 111195 * math.Cos(p.Lat*math.Pi/180)
	return math.Hypot(dx, dy)
}

func types(rs []rec) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.typ)
	}
	return out
}
