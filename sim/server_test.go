package sim_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"kinwatch/sim"
	"kinwatch/watchproto"
)

// fakeServer is a minimal watch gateway written with watchproto: it answers what watchproto says a
// server owes (AppendReply), records every frame, and lets a test push commands.
type fakeServer struct {
	t  testing.TB
	ln net.Listener

	// ignoreLK and ignoreAL leave that many LK / AL frames of each connection unanswered.
	ignoreLK, ignoreAL int

	mu     sync.Mutex
	frames []rec
	conns  map[string]net.Conn // the latest connection of each device
	nconns int
	wg     sync.WaitGroup
}

// rec is one frame a watch sent.
type rec struct {
	at     time.Time
	conn   int // connection number, from 1
	device string
	typ    string
	kind   watchproto.Kind
	raw    []byte
}

// msg decodes the recorded frame again, into a Message of its own.
func (r rec) msg(t testing.TB) *watchproto.Message {
	t.Helper()
	m := new(watchproto.Message)
	if err := watchproto.Decode(r.raw, m); err != nil {
		t.Fatalf("frame %q does not decode: %v", r.raw, err)
	}
	return m
}

func startServer(t testing.TB, configure func(*fakeServer)) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, ln: ln, conns: map[string]net.Conn{}}
	if configure != nil {
		configure(s)
	}
	s.wg.Go(s.accept)
	t.Cleanup(s.close)
	return s
}

func (s *fakeServer) addr() string { return s.ln.Addr().String() }

func (s *fakeServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *fakeServer) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.nconns++
		n := s.nconns
		s.mu.Unlock()
		s.wg.Go(func() { s.serve(c, n) })
	}
}

func (s *fakeServer) serve(c net.Conn, n int) {
	defer c.Close()
	fr := watchproto.NewFramer(0)
	var m watchproto.Message
	var lks, als int
	buf := make([]byte, 4096)
	var out []byte
	for {
		k, err := c.Read(buf)
		ferr := fr.Feed(buf[:k], func(frame []byte) error {
			if err := watchproto.Decode(frame, &m); err != nil {
				return err
			}
			s.mu.Lock()
			s.frames = append(s.frames, rec{time.Now(), n, m.Device, m.Type, m.Kind, bytes.Clone(frame)})
			s.conns[m.Device] = c
			s.mu.Unlock()
			switch {
			case m.Type == "LK":
				if lks++; lks <= s.ignoreLK {
					return nil
				}
			case strings.HasPrefix(m.Type, "AL"):
				if als++; als <= s.ignoreAL {
					return nil
				}
			}
			out = watchproto.AppendReply(out, &m)
			return nil
		})
		if len(out) > 0 {
			c.Write(out)
			out = out[:0]
		}
		if err != nil || ferr != nil {
			return
		}
	}
}

// send pushes a command (content in wire form) to a device's latest connection.
func (s *fakeServer) send(device string, content []byte) {
	s.t.Helper()
	s.mu.Lock()
	c := s.conns[device]
	s.mu.Unlock()
	if c == nil {
		s.t.Fatalf("device %s is not connected", device)
	}
	if _, err := c.Write(watchproto.AppendFrame(nil, "3G", device, "", content)); err != nil {
		s.t.Fatalf("send to %s: %v", device, err)
	}
}

// got returns the recorded frames that match keep (all if nil).
func (s *fakeServer) got(keep func(rec) bool) []rec {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []rec
	for _, r := range s.frames {
		if keep == nil || keep(r) {
			out = append(out, r)
		}
	}
	return out
}

func (s *fakeServer) count(keep func(rec) bool) int { return len(s.got(keep)) }

func ofType(typ string) func(rec) bool { return func(r rec) bool { return r.typ == typ } }

func ofDevice(device string, typ string) func(rec) bool {
	return func(r rec) bool { return r.device == device && (typ == "" || r.typ == typ) }
}

func isPosition(r rec) bool {
	return r.typ == "UD" || r.typ == "UD_LTE"
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fastConfig is a fleet that does in a second what real watches do in hours.
func fastConfig(addr string, watches int) sim.Config {
	return sim.Config{
		Server:         addr,
		Watches:        watches,
		Seed:           7,
		Interval:       20 * time.Millisecond,
		Heartbeat:      200 * time.Millisecond,
		Dwell:          150 * time.Millisecond,
		ReplyTimeout:   100 * time.Millisecond,
		AlarmEvery:     -1,
		HealthEvery:    -1,
		VoiceEvery:     -1,
		LocateBurst:    3,
		LocateInterval: 20 * time.Millisecond,
		ReconnectMin:   20 * time.Millisecond,
		ReconnectMax:   100 * time.Millisecond,
	}
}

// runFleet starts a fleet in the background; stop ends it and returns its report.
func runFleet(t testing.TB, cfg sim.Config) (f *sim.Fleet, stop func() *sim.Report) {
	t.Helper()
	f, err := sim.NewFleet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		r   *sim.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := f.Run(ctx)
		done <- result{r, err}
	}()
	var once sync.Once
	var res result
	stop = func() *sim.Report {
		once.Do(func() {
			cancel()
			select {
			case res = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("fleet did not stop within 5s of cancel")
			}
		})
		if res.err != nil && !errors.Is(res.err, context.Canceled) {
			t.Fatalf("Run: %v", res.err)
		}
		return res.r
	}
	t.Cleanup(func() { stop() })
	return f, stop
}
