package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"kinwatch"
	"kinwatch/envelope"
	"kinwatch/fileblob"
	"kinwatch/gateway"
	"kinwatch/geo"
	"kinwatch/ingest"
	"kinwatch/inproc"
	"kinwatch/metrics"
	"kinwatch/sqlite"
	"kinwatch/storetest"
	"kinwatch/watchproto"
)

// stack is a gateway with a real SQLite store, bus and writer, listening on loopback.
type stack struct {
	t       *testing.T
	store   *sqlite.DB
	bus     *inproc.Bus
	gw      *gateway.Server
	addr    string
	blobs   *fileblob.Store
	metrics *metrics.Metrics
	done    chan error
}

func newStack(t *testing.T, tweak func(*gateway.Options)) *stack {
	t.Helper()
	return newStackWithClock(t, tweak, nil)
}

// newStackWithClock starts a stack whose gateway reads the time from now (nil: the real clock).
func newStackWithClock(t *testing.T, tweak func(*gateway.Options), now func() time.Time) *stack {
	t.Helper()
	return newStackWith(t, tweak, now, nil)
}

// newStackWith starts a stack; server, if set, completes the gateway before it serves.
func newStackWith(t *testing.T, tweak func(*gateway.Options), now func() time.Time, server func(*gateway.Server, *sqlite.DB)) *stack {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "k.db"), envelope.NewMaster())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	blobs, _ := fileblob.New(filepath.Join(dir, "media"))
	bus := inproc.New(4096)
	m := metrics.New(func() float64 { return float64(bus.Depth()) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := gateway.Options{
		MaxFrame: 64 << 10, ReadTimeout: 30 * time.Second, WriteTimeout: time.Second,
		MaxFramesPerSec: 1000, AllowUnknown: true, CommandAckTimeout: 2 * time.Second,
	}
	if tweak != nil {
		tweak(&opts)
	}
	gw := &gateway.Server{Opts: opts, Store: db, Bus: bus, Blobs: blobs, Metrics: m, Log: log, Now: now}
	if server != nil {
		server(gw, db)
	}
	w := &ingest.Writer{Store: db, Bus: bus, Metrics: m, Log: log, MaxBatch: 500, MaxWait: 2 * time.Millisecond, Retries: 2}
	s := &stack{t: t, store: db, bus: bus, gw: gw, blobs: blobs, metrics: m, done: make(chan error, 1)}
	go func() { s.done <- w.Run(context.Background()) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go gw.Serve(ln)
	t.Cleanup(func() { s.stop() })
	return s
}

// stop shuts the stack down in the App's order and waits for the writer to drain.
func (s *stack) stop() {
	if s.gw == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.gw.Shutdown(ctx)
	s.bus.Close()
	<-s.done
	s.gw = nil
}

// bind binds a watch into a family whose guardian consents to every purpose for the child, so
// its data is collected.
func (s *stack) bind(id string) {
	s.t.Helper()
	storetest.BoundWatches(s.t, s.store, id)
}

type watch struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func (s *stack) dial() *watch {
	s.t.Helper()
	nc, err := net.Dial("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { nc.Close() })
	return &watch{t: s.t, nc: nc, r: bufio.NewReader(nc)}
}

// connect dials as watch id and completes the LK handshake.
func (s *stack) connect(id string) *watch {
	s.t.Helper()
	w := s.dial()
	w.send(frame(id, "LK"))
	if got, want := w.recv(), "[3G*"+id+"*0002*LK]"; got != want {
		s.t.Fatalf("handshake reply %q, want %q", got, want)
	}
	return w
}

// positions reads a device's stored positions, newest first.
func (s *stack) positions(id string) ([]*kinwatch.Position, error) {
	return s.store.Positions(context.Background(), kinwatch.PositionFilter{DeviceID: id, Limit: 10000})
}

func (w *watch) send(frames ...string) {
	w.t.Helper()
	for _, f := range frames {
		if _, err := w.nc.Write([]byte(f)); err != nil {
			w.t.Fatal(err)
		}
	}
}

// recv reads one frame (up to the closing bracket; downlink frames in these tests carry no binary).
func (w *watch) recv() string {
	w.t.Helper()
	w.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	s, err := w.r.ReadString(']')
	if err != nil {
		w.t.Fatalf("waiting for a frame: %v (got %q)", err, s)
	}
	return s
}

// closedByServer waits until the server closes the connection.
func (w *watch) closedByServer() bool {
	w.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.ReadAll(w.r)
	// A server closing with unread input makes the kernel reset the connection: also a close.
	return err == nil || errors.Is(err, syscall.ECONNRESET)
}

func frame(id, content string) string {
	return string(watchproto.AppendFrame(nil, "3G", id, "", []byte(content)))
}

const ud = "UD_LTE,260723,185105,A,52.520000,N,13.405000,E,4.0,90.0,30.0,7,80,67,1200,0,00000000,2,0,262,1,10006,65799,14,10020,4104,4,2,home,34:60:f9:ec:19:f8,-60,,98:48:27:55:18:20,-70,12.5"

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHandshakeRegistersPendingDevice(t *testing.T) {
	s := newStack(t, nil)
	w := s.dial()
	w.send(frame("1000000001", "LK,50,100,77"))
	if got, want := w.recv(), "[3G*1000000001*0002*LK]"; got != want {
		t.Fatalf("reply %q, want %q", got, want)
	}
	// The reply follows the commit: the registry already has the watch.
	d, err := s.store.Device(context.Background(), "1000000001")
	if err != nil {
		t.Fatal(err)
	}
	// Pending: the registry entry, without what describes the child (battery, steps).
	if d.State != kinwatch.DevicePending || !d.Online || d.Battery != -1 || d.Steps != 0 {
		t.Fatalf("device %+v", d)
	}
}

func TestPendingWatchKeepsOnlyItsRegistryEntry(t *testing.T) {
	s := newStack(t, nil)
	w := s.dial()
	w.send(frame("1000000002", "LK,50,100,77"), frame("1000000002", "ICCID,89860012345678901234"), frame("1000000002", ud),
		frame("1000000002", "heart,71"), frame("1000000002", "AL,260723,185105,A,52.52,N,13.40,E,0,0,0,7,80,67,0,0,00010000,0,0"))
	w.recv() // LK
	w.recv() // AL: everything before it is stored
	ctx := context.Background()
	ps, _ := s.store.Positions(ctx, kinwatch.PositionFilter{DeviceID: "1000000002", Limit: 10})
	es, _ := s.store.Events(ctx, kinwatch.EventFilter{DeviceID: "1000000002", Limit: 10})
	hs, _ := s.store.HealthReadings(ctx, "1000000002", kinwatch.Page{Limit: 10})
	if len(ps)+len(es)+len(hs) != 0 {
		t.Fatalf("stored personal data of a pending watch: %d positions, %d events, %d health", len(ps), len(es), len(hs))
	}
	d, _ := s.store.Device(ctx, "1000000002")
	if d == nil || !d.Online || d.LastSeen.IsZero() || d.Battery != -1 || d.Signal != -1 || d.Steps != 0 || d.ICCID != "" {
		t.Fatalf("a pending watch's registry entry: %+v", d)
	}
}

func TestBoundWatchPositionsAndAlarms(t *testing.T) {
	s := newStack(t, nil)
	s.bind("1000000003")
	w := s.connect("1000000003")
	w.send(frame("1000000003", ud), frame("1000000003", "AL_LTE,170525,214118,V,0,N,0,E,0,0,0,0,0,22,0,0,00210000,0,0,0"))
	if got := w.recv(); got != "[3G*1000000003*0002*AL]" {
		t.Fatalf("AL reply %q", got)
	}
	ctx := context.Background()
	// The AL reply came after the commit, and the earlier UD was queued before the AL.
	ps, err := s.store.Positions(ctx, kinwatch.PositionFilter{DeviceID: "1000000003", Limit: 10})
	if err != nil || len(ps) != 2 {
		t.Fatalf("positions %d, %v", len(ps), err)
	}
	var gps *kinwatch.Position
	for _, p := range ps {
		if p.Type == "UD_LTE" {
			gps = p
		}
	}
	if gps == nil || !gps.HasCoords || gps.Source != kinwatch.SourceGPS || len(gps.Cells) != 2 || len(gps.WiFi) != 2 || gps.Accuracy != 12.5 {
		t.Fatalf("UD_LTE position %+v", gps)
	}
	es, _ := s.store.Events(ctx, kinwatch.EventFilter{DeviceID: "1000000003", Type: kinwatch.EventAlarm, Limit: 10})
	var alarms []string
	for _, e := range es {
		alarms = append(alarms, e.Alarm)
	}
	if strings.Join(sorted(alarms), ",") != "fall,sos" {
		t.Fatalf("alarm events %v, want sos and fall", alarms)
	}
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestCommandsDeliveredInOrderOnConnectAndAcknowledged(t *testing.T) {
	s := newStack(t, nil)
	s.bind("1000000004")
	ctx := context.Background()
	enqueue := func(content, keyword string) *kinwatch.Command {
		c := &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: "1000000004", Keyword: keyword, Content: []byte(content), ExpiresAt: time.Now().Add(time.Hour)}
		if err := s.store.EnqueueCommand(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := enqueue("UPLOAD,600", "UPLOAD")
	second := enqueue("VERNO", "VERNO")
	w := s.dial()
	w.send(frame("1000000004", "LK"))
	if got := w.recv(); got != "[3G*1000000004*0002*LK]" {
		t.Fatalf("%q", got)
	}
	if got := w.recv(); got != "[3G*1000000004*000a*UPLOAD,600]" {
		t.Fatalf("first command %q", got)
	}
	// The second waits for the first one's acknowledgement.
	w.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if b, err := w.r.Peek(1); err == nil {
		t.Fatalf("second command sent before the first was acknowledged: %q", b)
	}
	w.send(frame("1000000004", "UPLOAD"))
	if got := w.recv(); got != "[3G*1000000004*0005*VERNO]" {
		t.Fatalf("second command %q", got)
	}
	w.send(frame("1000000004", "VERNO,G29_BASE_V1.00_2014.04.23_17.46.49"))
	eventually(t, "both commands acknowledged", func() bool {
		a, _ := s.store.Command(ctx, first.ID)
		b, _ := s.store.Command(ctx, second.ID)
		return a != nil && b != nil && a.State == kinwatch.CommandAcknowledged && b.State == kinwatch.CommandAcknowledged
	})
	b, _ := s.store.Command(ctx, second.ID)
	if b.Reply != "G29_BASE_V1.00_2014.04.23_17.46.49" {
		t.Fatalf("VERNO reply %q", b.Reply)
	}
	eventually(t, "firmware recorded", func() bool {
		d, _ := s.store.Device(ctx, "1000000004")
		return d.Firmware == "G29_BASE_V1.00_2014.04.23_17.46.49"
	})
	eventually(t, "command events", func() bool {
		es, _ := s.store.Events(ctx, kinwatch.EventFilter{DeviceID: "1000000004", Type: kinwatch.EventCommand, Limit: 20})
		return len(es) >= 4 // sent+acknowledged for each
	})
}

func TestNotifiedCommandReachesConnectedWatch(t *testing.T) {
	s := newStack(t, nil)
	s.bind("1000000005")
	w := s.connect("1000000005")
	c := &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: "1000000005", Keyword: "CR", Content: []byte("CR"), ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.store.EnqueueCommand(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	s.gw.NotifyCommands("1000000005")
	if got := w.recv(); got != "[3G*1000000005*0002*CR]" {
		t.Fatalf("%q", got)
	}
}

func TestUnacknowledgedCommandIsResentThenFailed(t *testing.T) {
	s := newStack(t, func(o *gateway.Options) { o.CommandAckTimeout = 150 * time.Millisecond })
	s.bind("1000000006")
	ctx := context.Background()
	c := &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: "1000000006", Keyword: "FIND", Content: []byte("FIND"), ExpiresAt: time.Now().Add(time.Hour)}
	s.store.EnqueueCommand(ctx, c)
	w := s.connect("1000000006")
	if got := w.recv(); !strings.HasSuffix(got, "*FIND]") {
		t.Fatalf("%q", got)
	}
	if got := w.recv(); !strings.HasSuffix(got, "*FIND]") {
		t.Fatalf("resend: %q", got)
	}
	eventually(t, "command failed", func() bool {
		got, _ := s.store.Command(ctx, c.ID)
		return got.State == kinwatch.CommandFailed && got.Attempts == 2
	})
}

func TestReconnectReplacesOldConnection(t *testing.T) {
	s := newStack(t, func(o *gateway.Options) { o.ReplacedDrain = 200 * time.Millisecond })
	old := s.connect("1000000007")
	s.connect("1000000007") // the watch reconnects
	if !old.closedByServer() {
		t.Fatal("old connection not closed")
	}
	// Closing the replaced connection must not mark the device offline.
	time.Sleep(50 * time.Millisecond)
	d, _ := s.store.Device(context.Background(), "1000000007")
	if !d.Online || !s.gw.Online("1000000007") {
		t.Fatal("device marked offline by its replaced connection")
	}
}

func TestConnectionCannotSpeakForAnotherWatch(t *testing.T) {
	s := newStack(t, nil)
	s.bind("1000000008")
	s.bind("1000000009")
	w := s.connect("1000000008")
	w.send(frame("1000000009", ud))
	if !w.closedByServer() {
		t.Fatal("connection not closed")
	}
	if got := counter(s.metrics, "kinwatch_gateway_connections_refused_total", "device_mismatch"); got != 1 {
		t.Fatalf("device_mismatch refusals = %v", got)
	}
	for _, id := range []string{"1000000008", "1000000009"} {
		ps, err := s.store.Positions(context.Background(), kinwatch.PositionFilter{DeviceID: id, Limit: 1})
		if err != nil || len(ps) != 0 {
			t.Fatalf("the foreign frame was stored for %s (%v)", id, err)
		}
	}
}

func TestEncryptedFirmwareIsRecognised(t *testing.T) {
	s := newStack(t, nil)
	w := s.dial()
	w.send("\xffAQSH\x01\x02\x03\x04garbage")
	if !w.closedByServer() {
		t.Fatal("not closed")
	}
	if got := counter(s.metrics, "kinwatch_gateway_decode_errors_total", "encrypted"); got != 1 {
		t.Fatalf("encrypted counter %v", got)
	}
}

func TestOversizedFrameClosesConnection(t *testing.T) {
	s := newStack(t, func(o *gateway.Options) { o.MaxFrame = 2048 })
	w := s.dial()
	w.send("[3G*1000000010*0000*TK," + strings.Repeat("x", 4096))
	if !w.closedByServer() {
		t.Fatal("not closed")
	}
}

func TestSilentWatchIsDropped(t *testing.T) {
	s := newStack(t, func(o *gateway.Options) { o.ReadTimeout = 200 * time.Millisecond })
	w := s.connect("1000000011")
	start := time.Now()
	if !w.closedByServer() {
		t.Fatal("not closed")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("dropped after %v", d)
	}
	eventually(t, "offline", func() bool {
		d, _ := s.store.Device(context.Background(), "1000000011")
		return !d.Online
	})
}

func TestConnectionsPerIPLimit(t *testing.T) {
	s := newStack(t, func(o *gateway.Options) { o.MaxConnsPerIP = 2 })
	a, b := s.dial(), s.dial()
	a.send(frame("1000000012", "LK"))
	a.recv()
	b.send(frame("1000000013", "LK"))
	b.recv()
	c := s.dial()
	if !c.closedByServer() {
		t.Fatal("third connection from one IP not refused")
	}
}

func TestUnknownWatchRefusedWhenConfigured(t *testing.T) {
	s := newStack(t, func(o *gateway.Options) { o.AllowUnknown = false })
	s.bind("1000000014")
	s.connect("1000000014") // a known watch is served
	stranger := s.dial()
	stranger.send(frame("1000000015", "LK"))
	if !stranger.closedByServer() {
		t.Fatal("unknown watch served")
	}
	if _, err := s.store.Device(context.Background(), "1000000015"); kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		t.Fatalf("refused watch registered: %v", err)
	}
}

func TestVoiceMessageStoredBeforeAcknowledged(t *testing.T) {
	s := newStack(t, nil)
	s.bind("1000000016")
	w := s.connect("1000000016")
	amr := []byte("#!AMR\n\x3c\x7d\x5b\x5d\x2c\x2a\xff")
	w.send(string(watchproto.AppendFrame(nil, "3G", "1000000016", "", watchproto.AppendEscaped([]byte("TK,"), amr))))
	if got := w.recv(); got != "[3G*1000000016*0004*TK,1]" {
		t.Fatalf("%q", got)
	}
	ms, err := s.store.MediaList(context.Background(), "1000000016", kinwatch.Page{Limit: 10})
	if err != nil || len(ms) != 1 {
		t.Fatalf("media %v %v", ms, err)
	}
	// The content is sealed with the family's key at rest.
	if raw, err := s.blobs.Get(context.Background(), ms[0].Key); err != nil || bytes.Contains(raw, []byte("#!AMR")) {
		t.Fatalf("stored content %q %v: want it sealed", raw, err)
	}
	d, _ := s.store.Device(context.Background(), "1000000016")
	data, err := kinwatch.GetSealed(context.Background(), s.blobs, s.store.Keys(), kinwatch.FamilyOwner(d.FamilyID), ms[0].Key)
	if err != nil || string(data) != string(amr) {
		t.Fatalf("blob %q %v", data, err)
	}
	// A pending watch's voice message is not kept, and the watch is told so.
	p := s.connect("1000000017")
	p.send(string(watchproto.AppendFrame(nil, "3G", "1000000017", "", watchproto.AppendEscaped([]byte("TK,"), amr))))
	if got := p.recv(); got != "[3G*1000000017*0004*TK,0]" {
		t.Fatalf("pending watch TK reply %q", got)
	}
}

func TestShutdownLosesNothingRead(t *testing.T) {
	s := newStack(t, nil)
	s.bind("1000000018")
	w := s.connect("1000000018")
	var b strings.Builder
	for i := 0; i < 200; i++ {
		b.WriteString(frame("1000000018", ud))
	}
	b.WriteString(frame("1000000018", "LK"))
	w.send(b.String())
	w.recv() // the LK reply: all 200 positions were read and committed before it
	s.stop()
	ps, err := s.positions("1000000018")
	if err != nil || len(ps) != 200 {
		t.Fatalf("%d positions after shutdown, want 200 (%v)", len(ps), err)
	}
	d, _ := s.store.Device(context.Background(), "1000000018")
	if d.Online {
		t.Fatal("device still online after shutdown")
	}
}

func TestIndexedFramesEchoIndex(t *testing.T) {
	s := newStack(t, nil)
	w := s.dial()
	w.send("[ZJ*014111001350304*0034*0009*LK,0,0,19]")
	if got := w.recv(); got != "[ZJ*014111001350304*0034*0002*LK]" {
		t.Fatalf("%q", got)
	}
}

func counter(m *metrics.Metrics, name, label string) float64 {
	mfs, _ := m.Registry.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mm := range mf.GetMetric() {
			if label == "" && len(mm.GetLabel()) == 0 {
				return mm.GetCounter().GetValue()
			}
			for _, l := range mm.GetLabel() {
				if l.GetValue() == label {
					return mm.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestExpiredCommandsAreExpiredAndAnnounced(t *testing.T) {
	s := newStack(t, nil)
	s.bind("1000000019")
	ctx := context.Background()
	c := &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: "1000000019", Keyword: "FIND", Content: []byte("FIND"), ExpiresAt: time.Now().Add(-time.Second)}
	if err := s.store.EnqueueCommand(ctx, c); err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.gw.RunMaintenance(mctx, time.Hour) // runs once at start
	eventually(t, "command expired", func() bool {
		got, _ := s.store.Command(ctx, c.ID)
		return got.State == kinwatch.CommandExpired
	})
	eventually(t, "expiry event", func() bool {
		es, _ := s.store.Events(ctx, kinwatch.EventFilter{DeviceID: "1000000019", Type: kinwatch.EventCommand, Limit: 10})
		return len(es) == 1 && strings.Contains(string(es[0].Data), `"expired"`)
	})
	// An expired command is never delivered.
	w := s.connect("1000000019")
	w.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if b, err := w.r.Peek(1); err == nil {
		t.Fatalf("expired command delivered: %q", b)
	}
}

func TestImplausibleDeviceIDsAreRefused(t *testing.T) {
	s := newStack(t, nil)
	for _, id := range []string{"123/audio", "..", strings.Repeat("9", 40), "12 34"} {
		w := s.dial()
		w.send("[3G*" + id + "*0002*LK]")
		if !w.closedByServer() {
			t.Fatalf("id %q served", id)
		}
	}
	ds, _ := s.store.Devices(context.Background(), kinwatch.DeviceFilter{})
	if len(ds) != 0 {
		t.Fatalf("registered %d devices with bad ids", len(ds))
	}
}

func TestFramesOutAreCountedByKind(t *testing.T) {
	s := newStack(t, nil)
	s.connect("1000000020")
	// The counter moves right after the write the watch has just read.
	eventually(t, "frames-out counter", func() bool {
		return counter(s.metrics, "kinwatch_gateway_frames_out_total", "heartbeat") == 1
	})
	if got := counter(s.metrics, "kinwatch_gateway_frames_in_total", "heartbeat"); got != 1 {
		t.Fatalf("frames in heartbeat = %v", got)
	}
}

func TestCommandQueuedWithoutWakeGoesOutOnNextHeartbeat(t *testing.T) {
	s := newStack(t, nil)
	s.bind("1000000021")
	w := s.dial()
	w.send(frame("1000000021", "LK"), frame("1000000021", "CONFIG,TY:G75"))
	w.recv()
	w.recv() // the CONFIG reply: the connection has finished with the LK, queue check included
	// Queued by another process: no NotifyCommands reaches this gateway.
	c := &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: "1000000021", Keyword: "FIND", Content: []byte("FIND"), ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.store.EnqueueCommand(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	w.send(frame("1000000021", "LK"))
	if got := w.recv(); got != "[3G*1000000021*0002*LK]" {
		t.Fatalf("%q", got)
	}
	if got := w.recv(); got != "[3G*1000000021*0004*FIND]" {
		t.Fatalf("%q", got)
	}
}

// TestReplacedConnectionStillStoresWhatItRead: a watch that reconnects abandons its old connection,
// but frames it wrote there before are still stored.
func TestReplacedConnectionStillStoresWhatItRead(t *testing.T) {
	s := newStack(t, func(o *gateway.Options) { o.ReplacedDrain = time.Second })
	s.bind("1000000022")
	old := s.connect("1000000022")
	s.connect("1000000022") // the watch reconnects
	// Late frames on the replaced connection are still read and stored.
	old.send(frame("1000000022", ud), frame("1000000022", ud))
	eventually(t, "both positions", func() bool {
		ps, _ := s.positions("1000000022")
		return len(ps) == 2
	})
	if !old.closedByServer() {
		t.Fatal("replaced connection not closed after draining")
	}
}

// TestFramesAfterAFailedWriteAreStored: when the watch stops reading (or resets the connection),
// what it sent before is still stored.
func TestFramesAfterAFailedWriteAreStored(t *testing.T) {
	s := newStack(t, nil)
	s.bind("1000000023")
	w := s.connect("1000000023")
	var b strings.Builder
	for i := 0; i < 20; i++ {
		b.WriteString(frame("1000000023", "LK"))
		b.WriteString(frame("1000000023", ud))
	}
	w.send(b.String())
	// Close at once, with the replies unread: the kernel resets the connection.
	w.nc.(*net.TCPConn).SetLinger(0)
	w.nc.Close()
	eventually(t, "20 positions", func() bool {
		ps, _ := s.positions("1000000023")
		return len(ps) == 20
	})
}

// TestShutdownStoresWhatTheSocketHolds: frames the watch's TCP stack already delivered (firmware
// never resends a UD) are read and stored during a graceful stop.
func TestShutdownStoresWhatTheSocketHolds(t *testing.T) {
	s := newStack(t, nil)
	s.bind("1000000024")
	w := s.connect("1000000024")
	var b strings.Builder
	for i := 0; i < 300; i++ {
		b.WriteString(frame("1000000024", ud))
	}
	w.send(b.String())
	s.stop() // no reply awaited: the frames may still be in the server's socket
	ps, err := s.positions("1000000024")
	if err != nil || len(ps) != 300 {
		t.Fatalf("%d of 300 positions stored (%v)", len(ps), err)
	}
}

func TestWatchBlockedWhileConnectedIsDisconnected(t *testing.T) {
	clock := time.Now()
	var mu sync.Mutex
	s := newStackWithClock(t, nil, func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
	s.bind("1000000025")
	w := s.connect("1000000025")
	if err := s.store.SetDeviceState(context.Background(), "1000000025", kinwatch.DeviceBlocked); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	clock = clock.Add(2 * time.Minute) // the state is re-read at most once a minute
	mu.Unlock()
	w.send(frame("1000000025", "LK"))
	if !w.closedByServer() {
		t.Fatal("blocked watch still served")
	}
}

func TestFramesWithOddManufacturerAreIgnored(t *testing.T) {
	s := newStack(t, nil)
	w := s.dial()
	w.send("[*]*1000000026*0002*LK]", frame("1000000026", "LK"))
	if got := w.recv(); got != "[3G*1000000026*0002*LK]" {
		t.Fatalf("%q", got)
	}
}

func TestFastWatchIsSlowedDownNotDropped(t *testing.T) {
	s := newStack(t, func(o *gateway.Options) { o.MaxFramesPerSec = 4 })
	s.bind("1000000027")
	w := s.dial()
	var b strings.Builder
	b.WriteString(frame("1000000027", "LK"))
	for i := 0; i < 12; i++ {
		b.WriteString(frame("1000000027", ud))
	}
	b.WriteString(frame("1000000027", "LK"))
	w.send(b.String())
	w.recv()
	w.recv() // the second LK is answered after every UD before it was stored
	ps, _ := s.positions("1000000027")
	if len(ps) != 12 {
		t.Fatalf("%d of 12 positions stored", len(ps))
	}
	if counter(s.metrics, "kinwatch_gateway_rate_limited_total", "") == 0 {
		t.Fatal("the rate limit never applied")
	}
}

func TestVoicePartsOnlyFromPartOne(t *testing.T) {
	s := newStack(t, nil)
	s.bind("1000000028")
	w := s.connect("1000000028")
	part := func(n int, payload string) string {
		return string(watchproto.AppendFrame(nil, "3G", "1000000028", "",
			watchproto.AppendEscaped([]byte("JXTK,0,v1.amr,"+strconv.Itoa(n)+",3,"), []byte(payload))))
	}
	// Parts 2 and 3 without part 1: refused, nothing stored.
	w.send(part(2, "BBBB"), part(3, "CCCC"))
	for i := 0; i < 2; i++ {
		if got := w.recv(); got != "[3G*1000000028*0007*JXTKR,0]" {
			t.Fatalf("orphan part answered %q", got)
		}
	}
	// A whole message is assembled and stored.
	w.send(part(1, "#!AMR\n"), part(2, "BBBB"), part(3, "CCCC"))
	for i := 0; i < 3; i++ {
		if got := w.recv(); got != "[3G*1000000028*0007*JXTKR,1]" {
			t.Fatalf("part answered %q", got)
		}
	}
	ms, _ := s.store.MediaList(context.Background(), "1000000028", kinwatch.Page{Limit: 10})
	if len(ms) != 1 || ms[0].Size != int64(len("#!AMR\nBBBBCCCC")) {
		t.Fatalf("media %+v", ms)
	}
}

func TestRemoteCaptureIsAnsweredByThePhoto(t *testing.T) {
	s := newStack(t, nil)
	s.bind("1000000029")
	ctx := context.Background()
	c := &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: "1000000029", Keyword: "rcapture", Content: []byte("rcapture"), ExpiresAt: time.Now().Add(time.Hour)}
	s.store.EnqueueCommand(ctx, c)
	w := s.connect("1000000029")
	if got := w.recv(); !strings.HasSuffix(got, "*rcapture]") {
		t.Fatalf("%q", got)
	}
	w.send(string(watchproto.AppendFrame(nil, "3G", "1000000029", "", watchproto.AppendEscaped([]byte("img,5,261128101500,"), []byte{0xFF, 0xD8, 0xFF, 0xD9}))))
	eventually(t, "rcapture acknowledged by the photo", func() bool {
		got, _ := s.store.Command(ctx, c.ID)
		return got.State == kinwatch.CommandAcknowledged
	})
}

func TestUnansweredCommandIsNotResentOnEveryReconnect(t *testing.T) {
	s := newStack(t, nil)
	s.bind("1000000030")
	ctx := context.Background()
	c := &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: "1000000030", Keyword: "RESET", Content: []byte("RESET"), ExpiresAt: time.Now().Add(time.Hour)}
	s.store.EnqueueCommand(ctx, c)
	for i := 0; i < 2; i++ { // the watch reboots before it answers, twice
		w := s.dial()
		w.send(frame("1000000030", "LK"))
		w.recv()
		if got := w.recv(); !strings.HasSuffix(got, "*RESET]") {
			t.Fatalf("attempt %d: %q", i+1, got)
		}
		w.nc.Close()
		eventually(t, "disconnect", func() bool { return !s.gw.Online("1000000030") })
	}
	w := s.connect("1000000030")
	w.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if b, err := w.r.Peek(1); err == nil {
		t.Fatalf("RESET written a third time: %q", b)
	}
	got, _ := s.store.Command(ctx, c.ID)
	if got.State != kinwatch.CommandFailed {
		t.Fatalf("state %s", got.State)
	}
}

func TestWatchStringsAreStoredAsValidText(t *testing.T) {
	s := newStack(t, nil)
	s.bind("1000000031")
	w := s.connect("1000000031")
	w.send(frame("1000000031", "UD,281126,101500,V,0,N,0,E,0,0,0,0,80,67,0,0,00000000,0,1,caf\xe9\x00x,00:11:22:33:44:55,-60"), frame("1000000031", "LK"))
	w.recv()
	ps, err := s.positions("1000000031")
	if err != nil || len(ps) != 1 || len(ps[0].WiFi) != 1 {
		t.Fatalf("%v %v", ps, err)
	}
	if ssid := ps[0].WiFi[0].SSID; !utf8.ValidString(ssid) || strings.ContainsRune(ssid, 0) || !strings.HasPrefix(ssid, "caf") {
		t.Fatalf("SSID stored as %q", ssid)
	}
}

// TestIndoorPositionsAreLocated: a report with only cells and Wi-Fi gets the position the local
// data gives it (imported towers, then access points learned from reports with a GPS fix), with
// its source and accuracy; the watch's own WG is answered from it; and nothing resolves to 0,0.
func TestIndoorPositionsAreLocated(t *testing.T) {
	ctx := context.Background()
	var learner *geo.Learner
	s := newStackWith(t, nil, nil, func(gw *gateway.Server, db *sqlite.DB) {
		gw.Geo = &geo.Chain{Providers: []geo.Provider{geo.NewLocal(geo.StoreData{Store: db}, geo.StoreData{Store: db})}, NotFoundTTL: -1}
		learner = geo.NewLearner(db, 100, nil)
		learner.Interval = 10 * time.Millisecond
		gw.Learn = learner
	})
	lctx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	go learner.Run(lctx)
	if err := s.store.PutCellTowers(ctx, []kinwatch.CellTower{{CellKey: kinwatch.CellKey{MCC: 262, MNC: 1, LAC: 9529, CID: 21809},
		Lat: 52.52, Lon: 13.405, Range: 800, Samples: 20, Source: kinwatch.TowerImported, UpdatedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	s.bind("1000000041")
	w := s.connect("1000000041")
	const (
		cellOnly  = "UD,291126,101500,V,0,N,0,E,0,0,0,0,80,67,0,0,00000000,1,255,262,1,9529,21809,158,0"
		unknown   = "UD,291126,101600,V,0,N,0,E,0,0,0,0,80,67,0,0,00000000,1,255,262,1,1,2,158,0"
		wifiAtFix = "UD,291126,%s,A,52.530000,N,13.410000,E,0,0,0,9,80,67,0,0,00000000,0,2,home,a4:56:02:61:7f:1a,-44,neighbour,a4:56:02:61:7f:1b,-70"
		wifiOnly  = "UD,291126,103000,V,0,N,0,E,0,0,0,0,80,67,0,0,00000000,0,2,home,a4:56:02:61:7f:1a,-45,neighbour,a4:56:02:61:7f:1b,-72"
	)
	w.send(frame("1000000041", cellOnly), frame("1000000041", unknown))
	// Two GPS fixes teach where both access points are.
	w.send(frame("1000000041", fmt.Sprintf(wifiAtFix, "102000")), frame("1000000041", fmt.Sprintf(wifiAtFix, "102100")))
	waitUntil(t, "access points learned", func() bool {
		aps, _ := s.store.AccessPoints(ctx, []string{"a4:56:02:61:7f:1a", "a4:56:02:61:7f:1b"})
		return len(aps) == 2 && aps["a4:56:02:61:7f:1a"].Samples == 2
	})
	w.send(frame("1000000041", wifiOnly), frame("1000000041", "LK"))
	w.recv()
	waitUntil(t, "positions stored", func() bool { ps, _ := s.positions("1000000041"); return len(ps) == 5 })
	ps, _ := s.positions("1000000041")
	byTime := map[string]*kinwatch.Position{}
	for _, p := range ps {
		byTime[p.Time.Format("150405")] = p
	}
	if p := byTime["101500"]; !p.HasCoords || p.Source != kinwatch.SourceCell || geo.Distance(p.Lat, p.Lon, 52.52, 13.405) > 1 || p.Accuracy < 800 {
		t.Errorf("cell-only report: %+v; want the tower's position, source cell, accuracy >= its range", p)
	}
	if p := byTime["101600"]; p.HasCoords || p.Source != "" || p.Lat != 0 || p.Lon != 0 {
		t.Errorf("a report nothing knows: %+v; want no coordinates (not 0,0)", p)
	}
	if p := byTime["103000"]; !p.HasCoords || p.Source != kinwatch.SourceWiFi || geo.Distance(p.Lat, p.Lon, 52.53, 13.41) > p.Accuracy || p.Accuracy > 100 {
		t.Errorf("Wi-Fi-only report: %+v; want about 52.53,13.41 within its accuracy, source wifi", p)
	}
	// The watch asks where it is.
	w.send(frame("1000000041", strings.Replace(cellOnly, "UD,", "WG,", 1)))
	if got := w.recv(); !strings.Contains(got, "RG,BASE,52.520000,N,13.405000,E") {
		t.Errorf("WG answer %q", got)
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// battery_critical is raised when the level falls to the critical one, once per discharge: not
// again while it stays low, nor when the watch reconnects still low; again after a recharge.
func TestBatteryCriticalOncePerDischarge(t *testing.T) {
	var mu sync.Mutex
	now := time.Now().UTC()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	later := func(d time.Duration) {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
	}
	s := newStackWithClock(t, func(o *gateway.Options) { o.BatteryCritical = 5 }, clock)
	s.bind("1000000021")
	alarms := func() int {
		es, _ := s.store.Events(context.Background(), kinwatch.EventFilter{DeviceID: "1000000021", Type: kinwatch.EventAlarm, Limit: 10})
		for _, e := range es {
			if e.Alarm != kinwatch.AlarmBatteryCritical || !strings.Contains(string(e.Data), `"battery"`) {
				t.Errorf("alarm %+v", e)
			}
		}
		return len(es)
	}
	level := func(w *watch, battery int) {
		t.Helper()
		later(10 * time.Minute)
		w.send(frame("1000000021", fmt.Sprintf("LK,0,0,%d", battery)))
		w.recv()
	}
	w := s.connect("1000000021")
	level(w, 30)
	level(w, 4)
	eventually(t, "battery_critical", func() bool { return alarms() == 1 })
	level(w, 3)
	w.nc.Close()
	eventually(t, "the battery stored", func() bool {
		d, _ := s.store.Device(context.Background(), "1000000021")
		return d.Battery == 3
	})
	w = s.connect("1000000021")
	level(w, 3)
	level(w, 0) // switched off mid-report: no level, not an alarm
	if n := alarms(); n != 1 {
		t.Fatalf("alarms while staying low = %d, want 1", n)
	}
	level(w, 80)
	level(w, 5)
	eventually(t, "battery_critical after a recharge", func() bool { return alarms() == 2 })
}
