package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"kinwatch"
	"kinwatch/geo"
	"kinwatch/watchproto"
)

// Reasons to wake a connection goroutine out of its blocking read.
const (
	wakeCommands uint32 = 1 << iota // commands were queued for the device
	wakeShutdown                    // the server is stopping
	wakeReplaced                    // the device opened a newer connection
	wakeDevice                      // the device's registry entry changed (bound, unbound, blocked)
)

// readBufSize is the per-connection read buffer. Most frames are well under it (an LK is ~30
// bytes, a UD with Wi-Fi ~300); a media frame simply takes several reads, assembled by the framer.
// Keeping it small is what lets one process hold tens of thousands of idle watches.
const readBufSize = 512

// firstFrameTimeout is how long a new connection may take to send its first valid frame.
const firstFrameTimeout = time.Minute

// maxAudio bounds a multi-part (JXTK) voice message being assembled: 15 s of the richest AMR-NB
// mode is about 23 KB, so this leaves ten times that.
const maxAudio = 256 << 10

// messages pools decoded-message scratch space: a connection needs one only while it has frames to
// decode, not while it sits idle.
var messages = sync.Pool{New: func() any { return new(watchproto.Message) }}

// outBufs pools write buffers for replies and commands.
var outBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

type conn struct {
	s         *Server
	nc        net.Conn
	ip        string
	wakeFlags atomic.Uint32

	framer *watchproto.Framer
	buf    []byte

	device      string // empty until the first frame names it
	mfr         string
	hasIndex    bool
	state       kinwatch.DeviceState
	consent     kinwatch.Purposes // what the child's guardians consented to (state, consent and family are re-read together)
	family      string            // the family the watch is bound into: its key seals the child's media
	stateAt     time.Time
	battery     int  // the last battery level known (stored or reported), -1 if none
	handshaken  bool // the first LK was answered: the watch now accepts other traffic
	writeFailed bool // the watch can no longer be written to; what it sent is still read and stored
	// Draining: the connection only reads and stores what the watch already sent, then closes. A
	// connection drains when a newer one of the same watch replaced it, or when the server stops.
	draining    bool
	drainUntil  time.Time     // the drain ends at the latest then
	drainQuiet  time.Duration // if set, the drain also ends at the first read that waits this long
	lastRead    time.Time
	opened      time.Time
	inflight    *kinwatch.Command
	unrecorded  *answer // the watch answered inflight, but recording that failed
	inflightDue time.Time

	// Rate limiting: a token bucket refilled at MaxFramesPerSec up to twice that.
	tokens    float64
	refilled  time.Time
	overLimit int

	// JXTK assembly.
	jxName  string
	jxNext  int
	jxAudio []byte

	recs []kinwatch.Record // records gathered from one read, published together
	err  error             // why the connection is being closed (for the log)
}

func newConn(s *Server, nc net.Conn, ip string) *conn {
	return &conn{s: s, nc: nc, ip: ip, framer: watchproto.NewFramer(s.Opts.MaxFrame)}
}

// wake interrupts the connection's blocking read: the goroutine sees the flag and acts on it. Setting
// the flag before moving the deadline makes the wake impossible to miss (see serve).
func (c *conn) wake(reason uint32) {
	c.wakeFlags.Or(reason)
	c.nc.SetReadDeadline(time.Unix(1, 0))
}

// serve is the connection goroutine: it reads, decodes and answers until the watch goes away, stays
// silent too long, misbehaves, or the server stops.
func (c *conn) serve() {
	defer c.s.untrack(c)
	defer c.nc.Close()
	if tc, ok := c.nc.(*net.TCPConn); ok {
		// The vendor asks servers not to probe: keepalives wake the radio and drain the battery.
		// Half-open sockets are found by the read deadline instead.
		tc.SetKeepAlive(false)
	}
	c.buf = make([]byte, readBufSize)
	c.lastRead = c.s.now()
	c.opened, c.refilled = c.lastRead, c.lastRead
	c.tokens = float64(2 * c.s.Opts.MaxFramesPerSec)
	for {
		deadline := c.lastRead.Add(c.s.Opts.ReadTimeout)
		if c.device == "" {
			// Until a valid frame names the watch, the connection gets a short leash: a socket that
			// only sends noise must not hold resources for the whole idle timeout.
			deadline = c.opened.Add(min(firstFrameTimeout, c.s.Opts.ReadTimeout))
		}
		if c.inflight != nil && c.inflightDue.Before(deadline) {
			deadline = c.inflightDue
		}
		if c.draining {
			deadline = c.drainUntil
			if q := c.s.now().Add(c.drainQuiet); c.drainQuiet > 0 && q.Before(deadline) {
				deadline = q
			}
		}
		c.nc.SetReadDeadline(deadline)
		if f := c.wakeFlags.Swap(0); f != 0 {
			if !c.handleWake(f) {
				return
			}
			continue
		}
		n, err := c.nc.Read(c.buf)
		if n > 0 {
			c.lastRead = c.s.now()
			c.s.Metrics.BytesIn.Add(float64(n))
			if !c.feed(c.buf[:n]) {
				return
			}
			if c.framer.Buffered() == 0 {
				// Lets go of a buffer a voice message or photo grew, so an idle watch costs little.
				c.framer.Reset()
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if f := c.wakeFlags.Swap(0); f != 0 {
				if !c.handleWake(f) {
					return
				}
				continue
			}
			now := c.s.now()
			if c.draining && (c.drainQuiet > 0 || !now.Before(c.drainUntil)) {
				return
			}
			if c.inflight != nil && !now.Before(c.inflightDue) {
				c.commandTimedOut()
				continue
			}
			if c.device == "" && !now.Before(c.opened.Add(min(firstFrameTimeout, c.s.Opts.ReadTimeout))) {
				c.s.Metrics.ConnectionsRefused.WithLabelValues("no_valid_frame").Inc()
				c.err = errors.New("no valid frame")
				return
			}
			if !now.Before(c.lastRead.Add(c.s.Opts.ReadTimeout)) {
				c.s.Metrics.ConnectionsRefused.WithLabelValues("idle_timeout").Inc()
				c.err = errors.New("idle timeout")
				return
			}
			continue
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			c.err = err
		}
		return
	}
}

// handleWake acts on wake flags; false means the connection must end.
func (c *conn) handleWake(f uint32) bool {
	if f&wakeShutdown != 0 {
		// What the watch sent before the stop was acknowledged by TCP, and firmware does not send
		// a UD twice: read what is already here (until the socket stays quiet), then close.
		c.drain(shutdownDrain, shutdownQuiet, "server shutting down")
	}
	if f&wakeReplaced != 0 {
		// The watch gave up on this connection, but what it wrote before may still be in the
		// socket: read and store it for a little while, without commands, then close.
		c.drain(c.s.Opts.replacedDrain(), 0, "replaced by a newer connection of the same device")
	}
	if f&wakeDevice != 0 && c.device != "" {
		c.stateAt = time.Time{}
		if err := c.refreshState(c.s.now()); err != nil {
			c.s.Log.Info("closing watch connection", "device", c.device, "reason", err)
			return false
		}
	}
	if f&wakeCommands != 0 {
		c.deliverCommands()
	}
	return true
}

// Shutdown drains are bounded: the whole stop must fit the operator's shutdown timeout.
const (
	shutdownDrain = 2 * time.Second
	shutdownQuiet = 100 * time.Millisecond
)

// drain switches the connection to draining; a drain already under way is only ever shortened.
func (c *conn) drain(limit, quiet time.Duration, reason string) {
	until := c.s.now().Add(limit)
	if c.draining && c.drainUntil.Before(until) {
		until = c.drainUntil
	}
	if quiet > 0 && (c.drainQuiet == 0 || quiet < c.drainQuiet) {
		c.drainQuiet = quiet
	}
	c.draining, c.drainUntil, c.err = true, until, errors.New(reason)
}

// feed frames and handles one read's worth of bytes; false means the connection must end.
func (c *conn) feed(p []byte) bool {
	m := messages.Get().(*watchproto.Message)
	defer messages.Put(m)
	err := c.framer.Feed(p, func(frame []byte) error { return c.handleFrame(frame, m) })
	if ferr := c.flush(false); ferr != nil && err == nil {
		err = ferr
	}
	switch {
	case err == nil:
		return true
	case errors.Is(err, watchproto.ErrEncrypted):
		c.s.Metrics.DecodeErrors.WithLabelValues("encrypted").Inc()
		c.s.Log.Warn("watch speaks the vendor-encrypted AQSH framing; its firmware must be unlocked by the vendor (FOTA) before it can use a private server",
			"device", c.device)
		if c.device != "" {
			c.recs = append(c.recs, kinwatch.Record{Device: &kinwatch.DeviceUpdate{ID: c.device, Time: c.s.now(), Encrypted: ptr(true)}})
			c.flush(false)
		}
		c.err = err
	case errors.Is(err, watchproto.ErrFrameTooLarge):
		c.s.Metrics.DecodeErrors.WithLabelValues("too_large").Inc()
		c.err = err
	default:
		c.err = err
	}
	return false
}

// errClose ends the connection from inside the framer callback.
type errClose struct{ reason string }

func (e errClose) Error() string { return e.reason }

func (c *conn) handleFrame(frame []byte, m *watchproto.Message) error {
	if err := c.pace(); err != nil {
		return err
	}
	if err := watchproto.Decode(frame, m); err != nil {
		c.s.Metrics.DecodeErrors.WithLabelValues("malformed").Inc()
		return nil
	}
	if !m.LengthOK {
		c.s.Metrics.LengthMismatches.Inc()
	}
	c.s.Metrics.FramesIn.WithLabelValues(m.Kind.String()).Inc()
	if !validManufacturer(m.Manufacturer) {
		// Echoed in every reply and command: it must not carry framing characters.
		c.s.Metrics.DecodeErrors.WithLabelValues("malformed").Inc()
		return nil
	}
	now := c.s.now()
	if c.device == "" {
		if err := c.register(m, now); err != nil {
			return err
		}
	} else if m.Device != c.device {
		// One connection speaks for one watch. A frame naming another id is either a broken firmware
		// or an attempt to write into another watch's data; neither is served.
		c.s.Metrics.ConnectionsRefused.WithLabelValues("device_mismatch").Inc()
		return errClose{"frame for another device on this connection"}
	}
	if m.Manufacturer != c.mfr || (m.Index != "") != c.hasIndex {
		c.mfr, c.hasIndex = m.Manufacturer, m.Index != ""
		c.recs = append(c.recs, kinwatch.Record{Device: &kinwatch.DeviceUpdate{ID: c.device, Time: now, Manufacturer: c.mfr, HasIndex: ptr(c.hasIndex)}})
	}
	// A binding or consent that changed before this frame arrived applies to it, even when the
	// frame was read in one piece with earlier ones, before the loop looked at the wake flags.
	if c.wakeFlags.Load()&wakeDevice != 0 {
		c.wakeFlags.And(^uint32(wakeDevice))
		c.stateAt = time.Time{}
	}
	if err := c.refreshState(now); err != nil {
		return err
	}
	return c.dispatch(m, now)
}

// register handles the first frame of a connection: it looks the device up, refuses it if the
// operator said so, and makes this connection the device's current one.
func (c *conn) register(m *watchproto.Message, now time.Time) error {
	if !ValidDeviceID(m.Device) {
		// The id names rows, blob paths and log lines: only plain ids are served.
		c.s.Metrics.ConnectionsRefused.WithLabelValues("bad_device_id").Inc()
		return errClose{"device id is not 1-32 letters or digits"}
	}
	ctx, cancel := c.ctx()
	defer cancel()
	d, err := c.s.Store.Device(ctx, m.Device)
	c.battery = -1
	if err == nil {
		c.battery = d.Battery
	}
	switch {
	case kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND:
		if !c.s.Opts.AllowUnknown {
			c.s.Metrics.ConnectionsRefused.WithLabelValues("unknown_device").Inc()
			return errClose{"device not in the registry and unknown devices are refused"}
		}
		c.state = kinwatch.DevicePending
	case err != nil:
		return err
	case d.State == kinwatch.DeviceBlocked:
		c.s.Metrics.ConnectionsRefused.WithLabelValues("blocked_device").Inc()
		return errClose{"device is blocked"}
	default:
		c.state, c.consent, c.family = d.State, d.Consent, d.FamilyID
	}
	c.stateAt = now
	c.device = m.Device
	c.mfr, c.hasIndex = m.Manufacturer, m.Index != ""
	if old := c.s.claim(c, c.device); old != nil {
		old.wake(wakeReplaced)
	}
	online := true
	c.recs = append(c.recs, kinwatch.Record{Device: &kinwatch.DeviceUpdate{
		ID: c.device, Time: now, Manufacturer: c.mfr, HasIndex: ptr(c.hasIndex), Online: &online,
	}})
	if c.collecting(kinwatch.PurposeService) {
		c.recs = append(c.recs, kinwatch.Record{Event: &kinwatch.Event{ID: kinwatch.NewTimeID(now), DeviceID: c.device, Time: now, Type: kinwatch.EventConnected}})
	}
	c.s.Log.Debug("watch connected", "device", c.device)
	return nil
}

// ValidDeviceID accepts what watches send (10 or 15 digits, a few firmwares add letters) and
// nothing that could be a path, a separator or a very long string.
func ValidDeviceID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'z') {
			return false
		}
	}
	return true
}

// clean makes a string from a watch safe to store: valid UTF-8 (PostgreSQL refuses anything else,
// and with it the whole batch of every watch), no NUL bytes (jsonb refuses \u0000), and bounded.
func clean(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c >= utf8.RuneSelf {
			return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
		}
	}
	return s
}

// validManufacturer accepts the two letters or digits of a header (3G, SG, CS, ZJ, …).
func validManufacturer(m string) bool {
	return len(m) == 2 && ValidDeviceID(m)
}

// online is what the device updates of this connection say about being online: the current
// connection keeps saying "online" with every update, so an "offline" from a replaced connection,
// committed a moment after the new connection's first update, is overwritten at once.
func (c *conn) online() *bool {
	if c.draining {
		return nil
	}
	return ptr(true)
}

// collecting reports whether the watch's data for purpose p may be collected: only once a guardian
// bound it and consented to p for the child (and to the basic service). A pending watch keeps its
// registry entry and nothing else. What is not collected is counted by purpose. The store checks
// again when it writes, against the consent of that moment: this check only spares the work.
func (c *conn) collecting(p kinwatch.Purpose) bool {
	if c.state != kinwatch.DeviceBound {
		c.s.Metrics.NotCollected.WithLabelValues("unbound").Inc()
		return false
	}
	if p == kinwatch.PurposeService && c.consent.Has(kinwatch.PurposeService.Bit()) || c.consent.Child(p) {
		return true
	}
	c.s.Metrics.NotCollected.WithLabelValues(string(p)).Inc()
	return false
}

// refreshState re-reads the device's state (binding and blocking happen elsewhere) at most once a
// minute; a watch blocked while connected is disconnected.
func (c *conn) refreshState(now time.Time) error {
	if now.Sub(c.stateAt) < time.Minute {
		return nil
	}
	ctx, cancel := c.ctx()
	defer cancel()
	if d, err := c.s.Store.Device(ctx, c.device); err == nil {
		c.state, c.consent, c.family = d.State, d.Consent, d.FamilyID
		c.stateAt = now
	}
	if c.state == kinwatch.DeviceBlocked {
		c.s.Metrics.ConnectionsRefused.WithLabelValues("blocked_device").Inc()
		return errClose{"device is blocked"}
	}
	return nil
}

func (c *conn) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// pace takes a token from the frame-rate bucket, waiting for one if the watch sends too fast. A
// frame TCP has acknowledged is never dropped: waiting stops reading, and TCP flow control slows the
// watch down. A connection that stays over the limit for long is closed.
func (c *conn) pace() error {
	now := c.s.now()
	rate := float64(c.s.Opts.MaxFramesPerSec)
	c.tokens = min(c.tokens+now.Sub(c.refilled).Seconds()*rate, 2*rate)
	c.refilled = now
	if c.tokens >= 1 {
		c.tokens--
		c.overLimit = 0
		return nil
	}
	c.s.Metrics.RateLimited.Inc()
	if c.overLimit++; c.overLimit > 10*c.s.Opts.MaxFramesPerSec {
		c.s.Metrics.ConnectionsRefused.WithLabelValues("rate_limit").Inc()
		return errClose{"frame rate limit exceeded persistently"}
	}
	time.Sleep(time.Duration((1 - c.tokens) / rate * float64(time.Second)))
	c.tokens = 0
	c.refilled = c.s.now()
	return nil
}

// dispatch turns one decoded message into records, a reply and command bookkeeping.
func (c *conn) dispatch(m *watchproto.Message, now time.Time) error {
	switch m.Kind {
	case watchproto.KindHeartbeat:
		u := &kinwatch.DeviceUpdate{ID: c.device, Time: now, Online: c.online()}
		if m.Present.Has(watchproto.FieldBattery) {
			u.Battery = ptr(m.Heartbeat.Battery)
		}
		if m.Present.Has(watchproto.FieldSteps) {
			u.Steps = ptr(m.Heartbeat.Steps)
		}
		c.update(u)
		if err := c.reply(m); err != nil {
			return err
		}
		// Every heartbeat also looks for queued commands: one queued by a process that could not wake
		// this connection (the CLI, another API node) goes out within a heartbeat interval.
		c.handshaken = true
		c.deliverCommands()
		return nil
	case watchproto.KindLocation:
		c.location(m, now)
		if m.GeoRequest() {
			out := watchproto.AppendLocationReply(c.outBuf(), m, c.geoAnswer(m))
			if err := c.flush(true); err != nil {
				return err
			}
			c.write(out, m.Kind.String())
			return nil
		}
		return c.reply(m)
	case watchproto.KindHealth:
		if c.collecting(kinwatch.PurposeHealth) {
			c.recs = append(c.recs, kinwatch.Record{Health: healthReading(c.device, m, now)})
		}
		return c.reply(m)
	case watchproto.KindAudio:
		return c.audio(m, now)
	case watchproto.KindImage:
		if len(m.Payload) > 0 && !m.BadEscape && c.collecting(kinwatch.PurposeCamera) {
			ts := m.ImageTime
			if ts.IsZero() {
				ts = now
			}
			if err := c.saveMedia(kinwatch.MediaImage, "image/jpeg", ".jpg", m.Payload, ts); err != nil {
				c.s.Log.Error("storing a photo failed", "device", c.device, "err", err)
			}
		}
		if m.ImageSource == 5 && c.inflight != nil && strings.EqualFold(c.inflight.Keyword, "rcapture") {
			// The watch answers a remote snapshot with the photo itself.
			c.commandReply(c.inflight.Keyword, "", now)
		}
		return c.reply(m)
	case watchproto.KindICCID:
		c.update(&kinwatch.DeviceUpdate{ID: c.device, Time: now, ICCID: clean(m.ICCID, 32)})
		return c.reply(m)
	case watchproto.KindVoiceQuery:
		// "Any voice messages for me?": answer, then push what is queued (voice messages are
		// commands in the queue).
		if err := c.reply(m); err != nil {
			return err
		}
		c.deliverCommands()
		return nil
	case watchproto.KindCommandReply:
		c.commandReply(m.Keyword, m.Data, now)
		return c.reply(m)
	case watchproto.KindUnknown:
		if c.inflight != nil {
			// A custom command's keyword is unknown to the decoder; its answer is a frame of that type.
			c.commandReply(m.Type, strings.Join(m.Fields, ","), now)
		}
		return c.reply(m)
	default:
		return c.reply(m)
	}
}

func ptr[T any](v T) *T { return &v }

// update records a change of the watch's registry entry. What describes the child rather than
// the watch (battery, signal, steps, the SIM) is kept only while the watch is bound with the
// service consent: a pending watch's entry is its id, when it was seen, and its make and firmware.
func (c *conn) update(u *kinwatch.DeviceUpdate) {
	if (u.Battery != nil || u.Signal != nil || u.Steps != nil || u.ICCID != "") && !c.collecting(kinwatch.PurposeService) {
		u.Battery, u.Signal, u.Steps, u.ICCID = nil, nil, nil, ""
	}
	c.recs = append(c.recs, kinwatch.Record{Device: u})
	if u.Battery != nil {
		// Raised once per discharge: when the level falls to the critical one from above it (or
		// from not known), not again while it stays there, also across reconnections since the
		// stored level is where a connection starts.
		crit, b := c.s.Opts.BatteryCritical, *u.Battery
		if crit > 0 && b > 0 && b <= crit && (c.battery > crit || c.battery < 0) {
			c.recs = append(c.recs, kinwatch.Record{Event: &kinwatch.Event{ID: kinwatch.NewTimeID(u.Time), DeviceID: c.device, Time: u.Time,
				Type: kinwatch.EventAlarm, Alarm: kinwatch.AlarmBatteryCritical, Data: fmt.Appendf(nil, `{"battery":%d}`, b)}})
		}
		if b > 0 {
			c.battery = b
		}
	}
}

// location records a location report and the alarms it raises.
func (c *conn) location(m *watchproto.Message, now time.Time) {
	l := &m.Location
	u := &kinwatch.DeviceUpdate{ID: c.device, Time: now, Online: c.online()}
	if m.Present.Has(watchproto.FieldBattery) {
		u.Battery = ptr(l.Battery)
	}
	if m.Present.Has(watchproto.FieldSignal) {
		u.Signal = ptr(l.Signal)
	}
	if m.Present.Has(watchproto.FieldSteps) {
		u.Steps = ptr(l.Steps)
	}
	c.update(u)
	// The alarms a report raises are the basic service; the position itself needs the location
	// consent.
	if c.collecting(kinwatch.PurposeService) {
		for _, name := range kinwatch.Alarms(l.Alarms).Names() {
			c.recs = append(c.recs, kinwatch.Record{Event: &kinwatch.Event{ID: kinwatch.NewTimeID(now), DeviceID: c.device, Time: reportTime(l, now), Type: kinwatch.EventAlarm, Alarm: name}})
		}
		if l.AlarmReport && l.Alarms == 0 {
			// An AL frame without an alarm bit (e.g. the TK-905 shock alarm) is still an alarm.
			c.recs = append(c.recs, kinwatch.Record{Event: &kinwatch.Event{ID: kinwatch.NewTimeID(now), DeviceID: c.device, Time: reportTime(l, now), Type: kinwatch.EventAlarm, Alarm: "general"}})
		}
	}
	if !c.collecting(kinwatch.PurposeLocation) {
		return
	}
	p := &kinwatch.Position{
		ID: kinwatch.NewTimeID(now), DeviceID: c.device, Type: clean(m.Type, 32), Time: l.Time, Received: now,
		Valid: l.Valid, Lat: l.Lat, Lon: l.Lon, HasCoords: l.HasCoords,
		Speed: l.Speed, Course: l.Course, Altitude: l.Altitude, Accuracy: l.Accuracy,
		Satellites: l.Satellites, Signal: l.Signal, Battery: l.Battery, Steps: l.Steps, Rolls: l.Rolls,
		Status: clean(l.Status, 16), Alarms: kinwatch.Alarms(l.Alarms), Static: l.Static,
	}
	p.Time = reportTime(l, now)
	switch {
	case l.HasCoords && l.Valid:
		p.Source = kinwatch.SourceGPS
	case l.HasCoords:
		// A V fix with coordinates: the watch repeats its last GPS position.
		p.Source = kinwatch.SourceLastKnown
	}
	switch l.Wear {
	case watchproto.WearOn:
		p.Worn = ptr(true)
	case watchproto.WearOff:
		p.Worn = ptr(false)
	}
	if len(l.Cells) > 0 {
		p.Cells = make([]kinwatch.Cell, len(l.Cells))
		for i, cl := range l.Cells {
			p.Cells[i] = kinwatch.Cell{MCC: cl.MCC, MNC: cl.MNC, LAC: cl.LAC, CID: cl.CID, RSSI: cl.RSSI}
		}
	}
	if len(l.WiFi) > 0 {
		p.WiFi = make([]kinwatch.WiFi, len(l.WiFi))
		for i, w := range l.WiFi {
			p.WiFi[i] = kinwatch.WiFi{SSID: clean(w.SSID, 64), MAC: clean(w.MAC, 32), RSSI: w.RSSI}
		}
	}
	c.place(p)
	c.recs = append(c.recs, kinwatch.Record{Position: p})
}

// place gives a report without a GPS fix the position its cells and Wi-Fi resolve to, and learns
// from one with a fix where the transmitters it heard are. Only positions the location consent
// lets kinwatch collect get here, so nothing is sent to a provider without it.
func (c *conn) place(p *kinwatch.Position) {
	if len(p.Cells) == 0 && len(p.WiFi) == 0 {
		return
	}
	q := geo.Query{Cells: p.Cells, WiFi: p.WiFi}
	if p.Valid && p.HasCoords {
		if c.s.Learn != nil {
			c.s.Learn.Offer(q, p.Lat, p.Lon)
		}
		return
	}
	if c.s.Geo == nil {
		return
	}
	fix, ok := c.locate(q)
	if !ok {
		return
	}
	// A V fix repeating an old GPS position is less current than what the watch hears now.
	p.Lat, p.Lon, p.Accuracy, p.HasCoords, p.Source = fix.Lat, fix.Lon, fix.Accuracy, true, fix.Source
}

// locate asks the geolocation chain, within a few seconds: a watch waits for nothing here.
func (c *conn) locate(q geo.Query) (geo.Fix, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fix, err := c.s.Geo.Locate(ctx, q)
	if err != nil {
		if !errors.Is(err, geo.ErrNotFound) {
			c.s.Log.Warn("geolocation failed", "device", c.device, "err", err)
		}
		return geo.Fix{}, false
	}
	return fix, true
}

// reportTime is when a location report was taken: the watch's fix time, or now without one.
func reportTime(l *watchproto.Location, now time.Time) time.Time {
	if l.Time.IsZero() {
		return now
	}
	return l.Time
}

func healthReading(device string, m *watchproto.Message, now time.Time) *kinwatch.HealthReading {
	h := &kinwatch.HealthReading{ID: kinwatch.NewTimeID(now), DeviceID: device, Time: now}
	if m.Present.Has(watchproto.FieldHeartRate) {
		h.HeartRate = m.Health.HeartRate
	}
	if m.Present.Has(watchproto.FieldBloodPressure) {
		h.Systolic, h.Diastolic = m.Health.Systolic, m.Health.Diastolic
	}
	if m.Present.Has(watchproto.FieldSpO2) {
		h.SpO2 = m.Health.SpO2
	}
	if m.Present.Has(watchproto.FieldTemperature) {
		h.Temperature = m.Health.Temperature
	}
	return h
}

// audio handles voice uploads: single-frame TK/TK2 and multi-part JXTK.
func (c *conn) audio(m *watchproto.Message, now time.Time) error {
	if m.Type == "JXTK" {
		return c.audioPart(m, now)
	}
	ok := len(m.Payload) > 0 && !m.BadEscape && c.collecting(kinwatch.PurposeMicrophone)
	if ok {
		if err := c.saveMedia(kinwatch.MediaAudio, "audio/amr", ".amr", m.Payload, now); err != nil {
			c.s.Log.Error("storing a voice message failed", "device", c.device, "err", err)
			ok = false
		}
	}
	// The watch is told the truth: TK,0 when the message was not kept (so it may retry or tell
	// the child), TK,1 only once the bytes and their record are stored.
	return c.replyStatus(m, m.Type, ok)
}

// audioPart assembles a multi-part (JXTK) voice message. A message starts only at part 1 and its
// parts must follow in order; anything else is answered JXTKR,0 and dropped, never stored as a
// fragment. Nothing is assembled for a watch whose data is not collected.
func (c *conn) audioPart(m *watchproto.Message, now time.Time) error {
	ok := !m.BadEscape && len(m.Payload) > 0 && c.collecting(kinwatch.PurposeMicrophone)
	if m.Part == 1 {
		c.jxName, c.jxAudio, c.jxNext = m.FileName, c.jxAudio[:0], 1
	}
	if ok && (m.Part != c.jxNext || m.FileName != c.jxName || len(c.jxAudio)+len(m.Payload) > maxAudio) {
		ok = false
	}
	if ok {
		c.jxAudio = append(c.jxAudio, m.Payload...)
		c.jxNext = m.Part + 1
		if m.Part >= m.Total {
			if err := c.saveMedia(kinwatch.MediaAudio, "audio/amr", ".amr", c.jxAudio, now); err != nil {
				c.s.Log.Error("storing a voice message failed", "device", c.device, "err", err)
				ok = false
			}
			c.jxName, c.jxAudio, c.jxNext = "", nil, 0
		}
	}
	if !ok {
		c.jxName, c.jxAudio, c.jxNext = "", nil, 0
	}
	return c.replyStatus(m, "JXTKR", ok)
}

// replyStatus answers KEYWORD,1 (stored) or KEYWORD,0 (not kept), after a commit of what came before.
func (c *conn) replyStatus(m *watchproto.Message, keyword string, ok bool) error {
	status := byte('1')
	if !ok {
		status = '0'
	}
	content := append(append(c.outBuf(), keyword...), ',', status)
	out := watchproto.AppendFrame(c.outBuf(), m.Manufacturer, m.Device, m.Index, content)
	if err := c.flush(true); err != nil {
		return err
	}
	c.write(out, m.Kind.String()) // a failed write leaves the connection reading (see write)
	return nil
}

// saveMedia stores the bytes in the blob store and the record durably: the watch is told "received"
// only after both.
func (c *conn) saveMedia(kind, contentType, ext string, data []byte, at time.Time) error {
	id := kinwatch.NewID()
	key := c.device + "/" + kind + "/" + id + ext
	ctx, cancel := c.ctx()
	defer cancel()
	if c.family == "" {
		return errors.New("the watch's family is not known")
	}
	// Sealed with the family's key; the record names that family, so if the watch changed family
	// meanwhile the store drops it and the writer deletes this content.
	if err := kinwatch.PutSealed(ctx, c.s.Blobs, c.s.Store.Keys(), kinwatch.FamilyOwner(c.family), key, data); err != nil {
		return err
	}
	c.recs = append(c.recs, kinwatch.Record{Media: &kinwatch.Media{
		ID: id, DeviceID: c.device, Kind: kind, ContentType: contentType, Key: key, Size: int64(len(data)), Time: at, Family: c.family,
	}})
	return c.flush(true)
}

// reply answers m if the protocol wants an answer. Everything read so far is committed first: the
// watch takes a reply as "stored", so a reply must never run ahead of the data.
func (c *conn) reply(m *watchproto.Message) error {
	out := watchproto.AppendReply(c.outBuf(), m)
	if len(out) == 0 {
		return nil
	}
	if err := c.flush(true); err != nil {
		return err
	}
	c.write(out, m.Kind.String()) // a failed write leaves the connection reading (see write)
	return nil
}

func (c *conn) outBuf() []byte {
	b := outBufs.Get().(*[]byte)
	out := (*b)[:0]
	*b = nil
	outBufs.Put(b)
	return out
}

// flush publishes the gathered records; durable waits until they are committed.
func (c *conn) flush(durable bool) error {
	if len(c.recs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.s.Bus.Publish(ctx, c.recs, durable)
	clear(c.recs)
	c.recs = c.recs[:0]
	if err != nil {
		// Without storage the watch must not be acknowledged; closing makes it resend later.
		return errClose{"storage unavailable: " + err.Error()}
	}
	return nil
}

// write sends one frame to the watch; label names it in the frames-out metric (the kind of message
// answered, or "command"). Once a write has failed the connection only reads: frames the watch sent
// before it went away may still be waiting in the socket, and they are stored even though nobody
// can be answered any more. The read loop ends the connection when the socket reports the end.
func (c *conn) write(frame []byte, label string) error {
	if c.writeFailed {
		return errWriteFailed
	}
	c.nc.SetWriteDeadline(c.s.now().Add(c.s.Opts.WriteTimeout))
	_, err := c.nc.Write(frame)
	if cap(frame) <= 4096 {
		b := frame[:0]
		outBufs.Put(&b)
	}
	if err != nil {
		c.writeFailed = true
		// Read what the watch already sent for a little while, then close: the watch will
		// reconnect, and it cannot be answered on this connection any more.
		c.drain(c.s.Opts.replacedDrain(), 0, "writing to the watch failed: "+err.Error())
		return errWriteFailed
	}
	c.s.Metrics.BytesOut.Add(float64(len(frame)))
	c.s.Metrics.FramesOut.WithLabelValues(label).Inc()
	return nil
}

// errWriteFailed tells the caller the frame did not go out; it does not end the connection.
var errWriteFailed = errors.New("gateway: writing to the watch failed")

// closed runs when the connection goroutine ends. Only the device's current connection marks it
// offline: a replaced connection closing must not hide the new one.
func (c *conn) closed(current bool) {
	if c.device != "" && current {
		now := c.s.now()
		online := false
		c.recs = append(c.recs, kinwatch.Record{Device: &kinwatch.DeviceUpdate{ID: c.device, Time: now, Online: &online}})
		if c.collecting(kinwatch.PurposeService) {
			c.recs = append(c.recs, kinwatch.Record{Event: &kinwatch.Event{ID: kinwatch.NewTimeID(now), DeviceID: c.device, Time: now, Type: kinwatch.EventDisconnected}})
		}
		if err := c.flush(false); err != nil {
			c.s.Log.Warn("recording a disconnect failed", "device", c.device, "err", err)
		}
	}
	if c.err != nil && c.device != "" {
		c.s.Log.Debug("watch disconnected", "device", c.device, "reason", c.err.Error())
	}
}

// commandEvent records a command's state change as an event others can subscribe to.
func (c *conn) commandEvent(cmd *kinwatch.Command, state kinwatch.CommandState, at time.Time) {
	c.recs = append(c.recs, kinwatch.Record{Event: kinwatch.CommandEvent(cmd, state, at)})
}

// geoAnswer answers a watch's WG (where am I) or WAD (what is the address here) from what it
// heard: only with the location consent, as the answer is the child's position. Without a fix
// the watch gets the well-formed "not found".
func (c *conn) geoAnswer(m *watchproto.Message) watchproto.GeoAnswer {
	l := &m.Location
	var a watchproto.GeoAnswer
	if !c.collecting(kinwatch.PurposeLocation) {
		return a
	}
	switch {
	case l.HasCoords && l.Valid:
		a = watchproto.GeoAnswer{Found: true, FromGPS: true, Lat: l.Lat, Lon: l.Lon}
	case c.s.Geo != nil:
		q := geo.Query{}
		for _, cl := range l.Cells {
			q.Cells = append(q.Cells, kinwatch.Cell{MCC: cl.MCC, MNC: cl.MNC, LAC: cl.LAC, CID: cl.CID, RSSI: cl.RSSI})
		}
		for _, w := range l.WiFi {
			q.WiFi = append(q.WiFi, kinwatch.WiFi{SSID: w.SSID, MAC: w.MAC, RSSI: w.RSSI})
		}
		if fix, ok := c.locate(q); ok {
			a = watchproto.GeoAnswer{Found: true, Lat: fix.Lat, Lon: fix.Lon}
		}
	}
	if a.Found && m.Type == "WAD" {
		a.Found = false
		if c.s.Addresses != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if addr, err := c.s.Addresses.Address(ctx, a.Lat, a.Lon); err == nil && addr != "" {
				a.Found, a.Address = true, addr
			}
		}
	}
	return a
}
