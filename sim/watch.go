package sim

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"kinwatch/watchproto"
)

// Watch is one simulated watch. Its goroutine owns all of its state; the exported methods return
// only what never changes after NewFleet.
type Watch struct {
	f      *Fleet
	unsent unsentCounts
	n      int
	id     string
	mfr    string // "3G", or SG/ZJ with Config.Mix
	index  bool   // ZJ firmware: every frame carries a 4-hex sequence index
	lte    bool   // UD_LTE/AL_LTE rather than UD/AL
	iccid  string
	op     operator
	alt    float64 // ground altitude of the area, metres

	// move drives the route and the fixes, ev everything else (alarms, health, voice, command
	// replies): so the sequence of positions depends only on the seed and the number of reports.
	move, ev *rand.Rand
	rt       *route // nil for idle watches

	battery    float64 // percent
	drain      float64 // percent per hour when not charging
	steps      int64   // today's pedometer count
	rolls      int64   // tonight's sleep tumbling count
	day        int64   // local day number the counters belong to
	lowAlarmed bool    // a low-battery alarm was raised since the last charge

	// Session state, reset on every connection.
	conn       net.Conn
	framer     *watchproto.Framer
	onFrame    func([]byte) error // w.frame, bound once rather than per Feed
	out        []byte
	seq        uint16
	interval   time.Duration // position interval (UPLOAD changes it)
	handshaken bool
	end        sessionEnd

	lkAt    time.Time // the outstanding LK was sent then (zero: none outstanding)
	lkTries int
	nextLK  time.Time

	nextPos, nextAlarm, nextHealth, nextVoice time.Time

	burstLeft int
	nextBurst time.Time

	al struct {
		active bool
		status uint32
		at     time.Time
		tries  int
	}

	pending [4]pendingReply // other awaited replies (TK, TKQ, health), for latency

	rbuf [256]byte
}

type pendingReply struct {
	key string
	at  time.Time
}

// sessionEnd says why a connection ended from the watch's side.
type sessionEnd uint8

const (
	endNone     sessionEnd = iota
	endReboot              // five LKs unanswered: firmware reboots and reconnects
	endReset               // RESET from the server
	endPowerOff            // POWEROFF from the server
)

// ID returns the device id the watch sends in every frame header.
func (w *Watch) ID() string { return w.id }

// Manufacturer returns the two-character header prefix the watch uses.
func (w *Watch) Manufacturer() string { return w.mfr }

// Places returns the watch's home, school and park (nothing for idle watches).
func (w *Watch) Places() (home, school, park Point) {
	if w.rt == nil {
		return
	}
	return w.rt.places[0].at, w.rt.places[1].at, w.rt.places[2].at
}

// maxFrame bounds downlink frames: the longest content LEN can announce plus a header.
const maxFrame = 0xFFFF + 64

// Firmware version and LK retry limit, as the vendor documents them.
const (
	firmware  = "G36_KWSIM_V1.00_2025.05.20_10.12.30"
	lkRetries = 5
)

var msgPool = sync.Pool{New: func() any { return new(watchproto.Message) }}

// run is the watch's life: connect, talk, reconnect with back-off, until ctx ends or POWEROFF.
func (w *Watch) run(ctx context.Context, startDelay time.Duration) {
	if !sleep(ctx, startDelay) {
		return
	}
	cfg, st := &w.f.cfg, w.f.stats
	backoff := cfg.ReconnectMin
	for ctx.Err() == nil {
		conn, err := w.f.dial(ctx, w.n)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			st.connectFails.Add(1)
			cfg.Logger.Debug("sim: connect failed", "device", w.id, "err", err)
			if !sleep(ctx, jitter(w.ev, backoff)) {
				return
			}
			backoff = min(2*backoff, cfg.ReconnectMax)
			continue
		}
		st.connUp()
		err = w.session(ctx, conn)
		closeGracefully(conn, cfg.DrainWait)
		st.connDown()
		if w.handshaken {
			backoff = cfg.ReconnectMin
		}
		switch w.end {
		case endPowerOff:
			st.poweredOff.Add(1)
			return
		case endReboot:
			st.reboots.Add(1)
		case endNone:
			if ctx.Err() == nil {
				cfg.Logger.Debug("sim: connection lost", "device", w.id, "err", err)
			}
		}
		if !sleep(ctx, jitter(w.ev, backoff)) {
			return
		}
		if !w.handshaken {
			backoff = min(2*backoff, cfg.ReconnectMax)
		}
	}
}

// closeGracefully half-closes and lets the server read to the end before the socket goes: a
// plain close with unread replies in the receive buffer resets the connection, and the server
// loses what it had not read yet. A loaded server can take a while to get there (a clean-clone
// CI run under -race lost positions with two seconds), so the watch waits up to wait.
func closeGracefully(conn net.Conn, wait time.Duration) {
	if tc, ok := conn.(*net.TCPConn); ok && tc.CloseWrite() == nil {
		tc.SetReadDeadline(time.Now().Add(wait))
		io.Copy(io.Discard, tc)
	}
	conn.Close()
}

// session talks on one connection. One goroutine does everything: it blocks in Read with the
// deadline set to the next thing the watch must do, so an idle watch costs a goroutine, a socket
// and a few hundred bytes, and no timer of its own.
func (w *Watch) session(ctx context.Context, conn net.Conn) error {
	// Stopping interrupts the blocking read, not a write: the watch ends at a frame boundary and
	// everything it wrote reaches the server.
	// Once the session returns, the interrupt must be over: run late, it would cut short the
	// graceful close's wait for the server (whose unread frames a reset would lose).
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(interrupted)
		conn.SetReadDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !stop() {
			<-interrupted
		}
	}()
	w.conn = conn
	if w.framer == nil {
		w.framer = watchproto.NewFramer(maxFrame)
		w.onFrame = w.frame
	}
	w.framer.Reset()
	w.handshaken, w.end, w.burstLeft = false, endNone, 0
	w.lkAt, w.lkTries = time.Time{}, 0
	w.pending = [4]pendingReply{}
	w.interval = w.f.cfg.Interval

	now := time.Now()
	w.sendLK(now)
	if err := w.flush(); err != nil {
		return err
	}
	for {
		conn.SetReadDeadline(w.due())
		// Checked after the deadline is set, so a stop that moved it an instant earlier is seen.
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n, err := conn.Read(w.rbuf[:])
		if n > 0 {
			w.f.stats.bytesReceived.Add(uint64(n))
			if ferr := w.framer.Feed(w.rbuf[:n], w.onFrame); ferr != nil {
				return ferr
			}
			if w.framer.Buffered() == 0 {
				// Lets go of a buffer grown for a pushed voice message.
				w.framer.Reset()
			}
		}
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return err
			}
		}
		// Also after data: a server that talks without pause must not starve the watch's reports.
		w.tick(time.Now())
		if ferr := w.flush(); ferr != nil {
			return ferr
		}
		if w.end != endNone {
			return nil
		}
	}
}

// writeTimeout bounds a write to a server that stopped reading.
const writeTimeout = 30 * time.Second

func (w *Watch) flush() error {
	if len(w.out) == 0 {
		return nil
	}
	w.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := w.conn.Write(w.out)
	// A photo or voice message grew the buffer: do not keep tens of KB per watch for LKs.
	if cap(w.out) > 4<<10 {
		w.out = nil
	} else {
		w.out = w.out[:0]
	}
	// Only what reached the socket counts as sent: the report is what the server must have stored.
	if err == nil {
		st := w.f.stats
		st.positions.Add(w.unsent.positions)
		st.alarms.Add(w.unsent.alarms)
		st.voices.Add(w.unsent.voices)
		st.photos.Add(w.unsent.photos)
	}
	w.unsent = unsentCounts{}
	return err
}

// unsentCounts are reports built into the output buffer but not yet written.
type unsentCounts struct{ positions, alarms, voices, photos uint64 }

// due returns when the watch next has something to do.
func (w *Watch) due() time.Time {
	cfg := &w.f.cfg
	t := w.nextLK
	if !w.lkAt.IsZero() {
		t = w.lkAt.Add(cfg.ReplyTimeout)
	}
	if !w.handshaken {
		return t
	}
	earliest := func(u time.Time) {
		if !u.IsZero() && u.Before(t) {
			t = u
		}
	}
	if w.al.active {
		earliest(w.al.at.Add(cfg.ReplyTimeout))
	}
	if w.burstLeft > 0 {
		earliest(w.nextBurst)
	}
	if w.rt != nil {
		earliest(w.nextPos)
		earliest(w.nextAlarm)
		earliest(w.nextHealth)
		earliest(w.nextVoice)
	}
	return t
}

// tick does whatever is due at now.
func (w *Watch) tick(now time.Time) {
	cfg := &w.f.cfg
	if !w.lkAt.IsZero() && !now.Before(w.lkAt.Add(cfg.ReplyTimeout)) {
		if w.lkTries >= lkRetries {
			w.end = endReboot
			return
		}
		w.f.stats.lkRetries.Add(1)
		w.sendLK(now)
	}
	if !w.handshaken {
		return
	}
	if w.lkAt.IsZero() && !now.Before(w.nextLK) {
		w.lkTries = 0
		w.sendLK(now)
		w.nextLK = now.Add(cfg.Heartbeat)
	}
	if w.al.active && !now.Before(w.al.at.Add(cfg.ReplyTimeout)) {
		if w.al.tries > cfg.AlarmResends {
			w.al.active = false
			w.f.stats.alarmsUnacked.Add(1)
		} else {
			w.f.stats.alarmResends.Add(1)
			w.sendAlarm(now)
		}
	}
	if w.burstLeft > 0 && !now.Before(w.nextBurst) {
		w.burstLeft--
		w.nextBurst = now.Add(cfg.LocateInterval)
		w.report(now, cfg.LocateInterval)
	}
	if w.rt == nil {
		return
	}
	if !now.Before(w.nextPos) {
		w.report(now, w.interval)
		w.nextPos = w.nextPos.Add(w.interval)
		if w.nextPos.Before(now) {
			w.nextPos = now.Add(w.interval)
		}
	}
	if !w.nextAlarm.IsZero() && !now.Before(w.nextAlarm) {
		w.nextAlarm = w.schedule(now, cfg.AlarmEvery)
		if !w.al.active {
			alarms := [...]uint32{watchproto.StatusSOS, watchproto.StatusSOS, watchproto.StatusRemovedAlarm, watchproto.StatusFallAlarm}
			w.raiseAlarm(now, alarms[w.ev.IntN(len(alarms))])
		}
	}
	if !w.nextHealth.IsZero() && !now.Before(w.nextHealth) {
		w.nextHealth = w.schedule(now, cfg.HealthEvery)
		w.sendHealth(now)
	}
	if !w.nextVoice.IsZero() && !now.Before(w.nextVoice) {
		w.nextVoice = w.schedule(now, cfg.VoiceEvery)
		w.sendVoice(now)
	}
}

// schedule returns when an event with the given mean interval happens next (zero: never). The
// gaps are exponential, as for events nobody plans: a demo sees some soon after the start.
func (w *Watch) schedule(now time.Time, mean time.Duration) time.Time {
	if mean < 0 {
		return time.Time{}
	}
	return now.Add(time.Duration(w.ev.ExpFloat64() * float64(mean)))
}

// handshake runs when the first LK of a connection is answered: the firmware only now starts
// sending anything else.
func (w *Watch) handshake(now time.Time) {
	cfg := &w.f.cfg
	w.handshaken = true
	w.f.stats.handshakes.Add(1)
	w.nextLK = now.Add(cfg.Heartbeat)

	m := w.message("ICCID", watchproto.KindICCID)
	m.ICCID = w.iccid
	w.send(m)
	if w.rt == nil {
		return
	}
	m = w.message("TKQ", watchproto.KindVoiceQuery)
	w.send(m)
	w.await("TKQ", now)
	w.nextPos = now
	w.nextAlarm = w.schedule(now, cfg.AlarmEvery)
	w.nextHealth = w.schedule(now, cfg.HealthEvery)
	w.nextVoice = w.schedule(now, cfg.VoiceEvery)
}

// message returns a pooled Message with the watch's header filled in; send returns it to the pool.
func (w *Watch) message(typ string, kind watchproto.Kind) *watchproto.Message {
	m := msgPool.Get().(*watchproto.Message)
	cells, wifi := m.Location.Cells[:0], m.Location.WiFi[:0]
	*m = watchproto.Message{Manufacturer: w.mfr, Device: w.id, Type: typ, Kind: kind}
	m.Location.Cells, m.Location.WiFi = cells, wifi
	if w.index {
		m.Index = w.nextIndex()
	}
	return m
}

// nextIndex numbers the frames of a ZJ watch.
func (w *Watch) nextIndex() string {
	w.seq++
	const hexdigits = "0123456789ABCDEF"
	b := [4]byte{hexdigits[w.seq>>12], hexdigits[w.seq>>8&0xF], hexdigits[w.seq>>4&0xF], hexdigits[w.seq&0xF]}
	return string(b[:])
}

func (w *Watch) send(m *watchproto.Message) {
	before := len(w.out)
	w.out = watchproto.AppendMessage(w.out, m)
	w.f.stats.frameSent(m.Type, len(w.out)-before)
	// A payload belongs to mediaPool: a pooled Message must not keep it, or the next Decode into
	// that Message would write into a buffer another watch is filling.
	m.Payload = nil
	msgPool.Put(m)
}

// ack answers a server command with its keyword and optional data, echoing the command's index.
func (w *Watch) ack(keyword, index string, data []byte) {
	var content []byte
	content = append(content, keyword...)
	if data != nil {
		content = append(content, ',')
		content = append(content, data...)
	}
	before := len(w.out)
	w.out = watchproto.AppendFrame(w.out, w.mfr, w.id, index, content)
	w.f.stats.frameSent(keyword, len(w.out)-before)
	w.f.stats.acked.add(keyword, 1)
}

func (w *Watch) sendLK(now time.Time) {
	m := w.message("LK", watchproto.KindHeartbeat)
	m.Present = watchproto.FieldSteps | watchproto.FieldRolls | watchproto.FieldBattery
	m.Heartbeat = watchproto.Heartbeat{Steps: w.steps, Rolls: int(w.rolls), Battery: int(w.battery)}
	w.send(m)
	w.lkAt = now
	w.lkTries++
}

func (w *Watch) await(key string, now time.Time) {
	oldest := 0
	for i, p := range w.pending {
		if p.key == "" {
			w.pending[i] = pendingReply{key, now}
			return
		}
		if p.at.Before(w.pending[oldest].at) {
			oldest = i
		}
	}
	w.pending[oldest] = pendingReply{key, now}
}

// answered records the latency of a reply the watch was waiting for.
func (w *Watch) answered(key string, now time.Time) {
	for i, p := range w.pending {
		if p.key == key {
			w.f.stats.latency.record(key, now.Sub(p.at))
			w.pending[i] = pendingReply{}
			return
		}
	}
}

// localTime returns whether it is night where the routes are and the local day number. The time
// zone is taken from the longitude: good enough for when children sleep, and needs no tz database.
func (w *Watch) localTime() (night bool, day int64) {
	tz := time.Duration(math.Round(w.f.cfg.Center.Lon/15)) * time.Hour
	local := w.f.cfg.Clock().UTC().Add(tz)
	h := local.Hour()
	return h >= 20 || h < 7, local.Unix() / 86400
}

// live advances the child's day by dt of real time: walking, pedometer, battery, sleep.
func (w *Watch) live(dt time.Duration) {
	dt = time.Duration(float64(dt) * w.f.cfg.TimeScale)
	night, day := w.localTime()
	if day != w.day {
		w.day, w.steps, w.rolls = day, 0, 0
	}
	r := w.move
	walked := w.rt.advance(r, dt, night, w.f.cfg.Dwell)
	pl := w.rt.at()
	atHome := pl != nil && pl.kind == home
	hours := dt.Hours()
	if atHome && (night || w.battery < 10) {
		w.battery = min(100, w.battery+35*hours)
		if w.battery > 30 {
			w.lowAlarmed = false
		}
	} else {
		rate := w.drain
		if pl == nil || !pl.indoor {
			rate *= 1.5 // GPS on
		}
		w.battery = max(1, w.battery-rate*hours)
	}
	w.steps += int64(walked / 0.55) // a child's stride
	switch {
	case night && atHome:
		w.rolls += int64(r.IntN(2))
	case pl != nil && pl.kind == park:
		w.steps += int64(dt.Minutes() * float64(20+r.IntN(60)))
	case pl != nil:
		w.steps += int64(dt.Minutes() * float64(r.IntN(12)))
	}
}

// report sends a position after advancing the child by dt.
func (w *Watch) report(now time.Time, dt time.Duration) {
	if w.rt == nil {
		return
	}
	w.live(dt)
	typ := "UD"
	if w.lte {
		typ = "UD_LTE"
	}
	m := w.message(typ, watchproto.KindLocation)
	w.fill(m, now, w.move, 0)
	w.send(m)
	w.unsent.positions++
	if w.battery < 15 && !w.lowAlarmed && !w.al.active {
		w.lowAlarmed = true
		w.raiseAlarm(now, watchproto.StatusLowBatteryAlarm)
	}
}

func (w *Watch) raiseAlarm(now time.Time, status uint32) {
	w.al.active, w.al.status, w.al.tries = true, status, 0
	w.unsent.alarms++
	w.sendAlarm(now)
}

// sendAlarm sends (or resends) the active alarm with a fresh fix, as firmware does until the
// server answers AL.
func (w *Watch) sendAlarm(now time.Time) {
	typ := "AL"
	if w.lte {
		typ = "AL_LTE"
	}
	m := w.message(typ, watchproto.KindLocation)
	m.Location.AlarmReport = true
	w.fill(m, now, w.ev, w.al.status)
	w.send(m)
	w.unsent.positions++
	w.al.at = now
	w.al.tries++
}

// fill writes the watch's current fix into m. Outdoors (travelling, at the park) it is usually a
// GPS fix; indoors, on a bus without sky view, or when GPS fails it is a V fix with zero
// coordinates, the cells the watch hears and, indoors, the Wi-Fi access points of the place.
func (w *Watch) fill(m *watchproto.Message, now time.Time, r *rand.Rand, status uint32) {
	rt := w.rt
	pl := rt.at()
	var gps bool
	switch {
	case pl == nil && rt.bus:
		gps = r.Float64() < 0.65
	case pl == nil:
		gps = r.Float64() < 0.92
	case !pl.indoor:
		gps = r.Float64() < 0.9
	}
	if w.battery < 20 {
		status |= watchproto.StatusLowBattery
	}
	if pl != nil {
		status |= watchproto.StatusStatic
	}
	loc := &m.Location
	loc.Time = w.f.cfg.Clock().UTC().Truncate(time.Second) // the watch's own clock
	loc.Signal = 55 + r.IntN(46)
	loc.Battery = int(w.battery)
	loc.Steps = w.steps
	loc.Rolls = int(w.rolls)
	loc.StatusBits = status
	m.Present |= watchproto.FieldSpeed | watchproto.FieldCourse | watchproto.FieldAltitude |
		watchproto.FieldSatellites | watchproto.FieldSignal | watchproto.FieldBattery |
		watchproto.FieldSteps | watchproto.FieldRolls | watchproto.FieldStatus
	ncells := 1 + r.IntN(4)
	if gps {
		p := rt.pos.offset(r.NormFloat64()*5, r.NormFloat64()*5)
		loc.Valid, loc.HasCoords = true, true
		loc.Lat, loc.Lon = round(p.Lat, 6), round(p.Lon, 6)
		if pl == nil {
			loc.Speed = round(rt.speed*3.6*(0.85+0.3*r.Float64()), 2)
			loc.Course = round(rt.course+r.NormFloat64()*4, 1)
			if loc.Course < 0 {
				loc.Course += 360
			}
		}
		loc.Altitude = round(w.alt+r.NormFloat64()*3, 1)
		loc.Satellites = 5 + r.IntN(8)
		loc.Accuracy = round(4+16*r.Float64(), 1)
		m.Present |= watchproto.FieldAccuracy
		ncells = 1 + r.IntN(2)
	}
	loc.Cells = cellsNear(loc.Cells[:0], w.op, rt.pos, ncells, w.lte, r.IntN)
	loc.WiFi = loc.WiFi[:0]
	if !gps && pl != nil && pl.indoor {
		n := min(2+r.IntN(4), len(pl.aps))
		for _, ap := range pl.aps[:n] {
			loc.WiFi = append(loc.WiFi, watchproto.WiFi{SSID: ap.ssid, MAC: ap.mac, RSSI: ap.rssi - r.IntN(8)})
		}
	}
}

func round(x float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(x*p) / p
}

// sendHealth sends one of the readings a watch measures on its own now and then.
func (w *Watch) sendHealth(now time.Time) {
	r := w.ev
	var m *watchproto.Message
	switch r.IntN(4) {
	case 0:
		m = w.message("heart", watchproto.KindHealth)
		m.Present = watchproto.FieldHeartRate
		m.Health.HeartRate = 70 + r.IntN(40)
	case 1:
		m = w.message("bphrt", watchproto.KindHealth)
		m.Present = watchproto.FieldBloodPressure | watchproto.FieldHeartRate
		m.Health = watchproto.Health{Systolic: 95 + r.IntN(25), Diastolic: 55 + r.IntN(20), HeartRate: 70 + r.IntN(40)}
	case 2:
		m = w.message("oxygen", watchproto.KindHealth)
		m.Present = watchproto.FieldSpO2 | watchproto.FieldMode
		m.Health = watchproto.Health{SpO2: 95 + r.IntN(5)}
	default:
		m = w.message("btemp2", watchproto.KindHealth)
		m.Present = watchproto.FieldTemperature | watchproto.FieldMode
		m.Health = watchproto.Health{Mode: 1, Temperature: round(36.1+r.Float64()*1.1, 1)}
	}
	typ := m.Type
	w.send(m)
	if typ != "heart" {
		w.await(typ, now)
	}
}

// mediaPool holds the buffers voice messages and photos are built in; they are big and rare.
var mediaPool = sync.Pool{New: func() any { return new([]byte) }}

// sendVoice records a voice message of 2–8 s and uploads it as TK.
func (w *Watch) sendVoice(now time.Time) {
	buf := mediaPool.Get().(*[]byte)
	amr := appendVoice((*buf)[:0], w.ev, 2+w.ev.IntN(7))
	m := w.message("TK", watchproto.KindAudio)
	m.Payload = amr
	w.send(m)
	*buf = amr
	mediaPool.Put(buf)
	w.unsent.voices++
	w.await("TK", now)
}

// sendPhoto takes a snapshot for rcapture and uploads it as img,5,<time>,<jpeg>.
func (w *Watch) sendPhoto(now time.Time) {
	buf := mediaPool.Get().(*[]byte)
	jpg := appendPhoto((*buf)[:0], w.ev)
	m := w.message("img", watchproto.KindImage)
	m.ImageSource = 5
	m.ImageTime = w.f.cfg.Clock().UTC().Truncate(time.Second)
	m.Payload = jpg
	w.send(m)
	*buf = jpg
	mediaPool.Put(buf)
	w.unsent.photos++
}

// frame handles one downlink frame: a reply to something the watch sent, or a command.
func (w *Watch) frame(frame []byte) error {
	st := w.f.stats
	m := msgPool.Get().(*watchproto.Message)
	defer msgPool.Put(m)
	if err := watchproto.Decode(frame, m); err != nil || m.Device != w.id {
		st.badFrames.Add(1)
		return nil
	}
	st.framesReceived.Add(1)
	now := time.Now()
	switch {
	case m.Type == "LK":
		st.replies.add("LK", 1)
		if !w.lkAt.IsZero() {
			st.latency.record("LK", now.Sub(w.lkAt))
		}
		w.lkAt, w.lkTries = time.Time{}, 0
		if !w.handshaken {
			w.handshake(now)
		}
	case strings.HasPrefix(m.Type, "AL"):
		st.replies.add("AL", 1)
		if w.al.active {
			st.latency.record("AL", now.Sub(w.al.at))
			w.al.active = false
		}
	case m.Kind == watchproto.KindCommandReply && m.Keyword == "TK":
		// TK,1 or TK,0: the answer to a voice message (a pushed one decodes as KindAudio).
		st.replies.add("TK", 1)
		w.answered("TK", now)
	case m.Kind == watchproto.KindVoiceQuery, m.Kind == watchproto.KindHealth, m.Kind == watchproto.KindICCID,
		m.Kind == watchproto.KindImage:
		st.replies.add(m.Type, 1)
		w.answered(m.Type, now)
	default:
		w.command(m, now)
	}
	return nil
}

// command answers a server→watch command the way firmware does: most get their bare keyword back.
func (w *Watch) command(m *watchproto.Message, now time.Time) {
	st := w.f.stats
	cfg := &w.f.cfg
	kw, arg := m.Type, commandArg(m)
	if m.Kind == watchproto.KindCommandReply {
		kw = m.Keyword
	}
	st.commands.add(kw, 1)
	switch kw {
	case "IP":
		// Firmware goes quiet and moves to the new server minutes later; the simulator stays.
		return
	case "TK":
		if _, err := watchproto.AMRDuration(m.Payload); err != nil {
			w.ack("TK", m.Index, []byte("0"))
		} else {
			w.ack("TK", m.Index, []byte("1"))
		}
	case "CR":
		w.ack(kw, m.Index, nil)
		w.burstLeft = cfg.LocateBurst
		w.nextBurst = now.Add(cfg.LocateInterval)
	case "rcapture":
		w.ack(kw, m.Index, nil)
		w.sendPhoto(now)
	case "VERNO":
		w.ack(kw, m.Index, []byte(firmware))
	case "TS":
		w.ack(kw, m.Index, w.settings())
	case "UPLOAD":
		w.ack(kw, m.Index, nil)
		if s, err := strconv.Atoi(arg); err == nil && s > 0 {
			w.interval = time.Duration(s) * time.Second
			w.nextPos = now.Add(w.interval)
		}
	case "RESET":
		w.ack(kw, m.Index, nil)
		w.end = endReset
	case "POWEROFF":
		w.ack(kw, m.Index, nil)
		w.end = endPowerOff
	default:
		w.ack(kw, m.Index, nil)
	}
}

// commandArg returns the text after a command's keyword.
func commandArg(m *watchproto.Message) string {
	if m.Kind == watchproto.KindCommandReply {
		return m.Data
	}
	if len(m.Fields) > 0 {
		return m.Fields[0]
	}
	return ""
}

// settings is the TS answer: key:value; pairs as firmware lists them.
func (w *Watch) settings() []byte {
	cfg := &w.f.cfg
	host, port, _ := net.SplitHostPort(cfg.Server)
	b := make([]byte, 0, 256)
	b = append(b, "ver:"+firmware+";ID:"+w.id+";imei:35888"+w.id+";ip_url:"+host+";port:"+port+";"...)
	b = append(b, "upload:"...)
	b = strconv.AppendInt(b, int64(w.interval/time.Second), 10)
	b = append(b, "S;lk:"...)
	b = strconv.AppendInt(b, int64(cfg.Heartbeat/time.Second), 10)
	b = append(b, "S;batlevel:"...)
	b = strconv.AppendInt(b, int64(w.battery), 10)
	b = append(b, ";language:0;zone:"...)
	b = strconv.AppendFloat(b, math.Round(cfg.Center.Lon/15), 'f', 2, 64)
	b = append(b, ";profile:1;GPS:OK;wifiOpen:true;gprsOpen:true;NET:OK(80)"...)
	return b
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// jitter spreads d over [d/2, 3d/2) so reconnecting watches do not arrive in lockstep.
func jitter(r *rand.Rand, d time.Duration) time.Duration {
	return time.Duration((0.5 + r.Float64()) * float64(d))
}
