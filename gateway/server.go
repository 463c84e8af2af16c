// Package gateway holds the watches' long-lived TCP connections: it accepts them, frames and
// decodes what they send (watchproto), answers them, hands records to the bus for storage, keeps the
// device registry current, and delivers queued server→watch commands.
//
// One goroutine owns each connection, reading and writing it; nothing else touches the socket. Other
// goroutines (the API queueing a command, Shutdown) wake it by moving its read deadline into the
// past. It must not block on anything but its own socket and the bus, and it never trusts a watch:
// every buffer is bounded and a connection can only ever speak for the one device id it opened with.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"kinwatch"
	"kinwatch/geo"
	"kinwatch/metrics"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("gateway: server closed")

// Options are the gateway's limits and policies.
type Options struct {
	MaxFrame          int
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	MaxFramesPerSec   int
	MaxConnsPerIP     int
	AllowUnknown      bool
	DownlinkPrefix    string
	CommandAckTimeout time.Duration
	// BatteryCritical raises a battery_critical alarm when the battery falls to this percent or
	// below; 0 never.
	BatteryCritical int
	// ReplacedDrain is how long a connection replaced by a newer one of the same watch keeps
	// reading what the watch wrote before it reconnected (default 5s).
	ReplacedDrain time.Duration
}

func (o Options) replacedDrain() time.Duration {
	if o.ReplacedDrain > 0 {
		return o.ReplacedDrain
	}
	return 5 * time.Second
}

// Locator places what a watch heard (geo.Chain).
type Locator interface {
	Locate(ctx context.Context, q geo.Query) (geo.Fix, error)
}

// Learner learns from what a watch heard at a GPS fix (geo.Learner).
type Learner interface {
	Offer(q geo.Query, lat, lon float64)
}

// AddressFinder turns a position into a readable address (nominatim.Client, adapted).
type AddressFinder interface {
	Address(ctx context.Context, lat, lon float64) (string, error)
}

// Server is the watch gateway.
type Server struct {
	Opts    Options
	Store   kinwatch.Store
	Bus     kinwatch.Bus
	Blobs   kinwatch.BlobStore
	Metrics *metrics.Metrics
	Log     *slog.Logger
	// Now is the clock; tests may replace it.
	Now func() time.Time
	// Geo places reports that carry only cells and Wi-Fi, and answers the watch's WG; nil leaves
	// them without coordinates (stored as unknown, never 0,0).
	Geo Locator
	// Learn learns where transmitters are from reports with a GPS fix; nil learns nothing.
	Learn Learner
	// Addresses answers the watch's WAD with a readable address; nil answers "not found".
	Addresses AddressFinder

	inShutdown atomic.Bool
	wg         sync.WaitGroup // connection goroutines

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	devices   map[string]*conn // the current connection of each device
	perIP     map[string]int
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) init() {
	if s.conns == nil {
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[*conn]struct{}{}
		s.devices = map[string]*conn{}
		s.perIP = map[string]int{}
	}
}

// Serve accepts connections on l until Shutdown. Like net/http, it backs off on temporary accept
// errors (e.g. too many open files) instead of spinning or dying.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	s.init()
	if s.inShutdown.Load() {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()

	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.inShutdown.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				if delay == 0 {
					delay = 5 * time.Millisecond
				} else {
					delay = min(2*delay, time.Second)
				}
				s.Log.Warn("gateway accept error; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c, ok := s.track(nc)
		if !ok {
			continue
		}
		go c.serve()
	}
}

// isTemporary reports accept errors worth retrying: running out of descriptors or buffers is a
// moment's overload, not a reason to stop serving every other watch.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// track registers a new connection, enforcing the per-IP limit.
func (s *Server) track(nc net.Conn) (*conn, bool) {
	ip := remoteIP(nc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inShutdown.Load() {
		nc.Close()
		return nil, false
	}
	if s.Opts.MaxConnsPerIP > 0 && s.perIP[ip] >= s.Opts.MaxConnsPerIP {
		s.Metrics.ConnectionsRefused.WithLabelValues("per_ip_limit").Inc()
		nc.Close()
		return nil, false
	}
	s.perIP[ip]++
	c := newConn(s, nc, ip)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.Metrics.Connections.Inc()
	s.Metrics.ConnectionsTotal.Inc()
	return c, true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
		delete(s.perIP, c.ip)
	}
	current := c.device != "" && s.devices[c.device] == c
	if current {
		delete(s.devices, c.device)
	}
	s.mu.Unlock()
	s.Metrics.Connections.Dec()
	c.closed(current)
	s.wg.Done()
}

// claim makes c the current connection of device id and returns the connection it replaces.
func (s *Server) claim(c *conn, id string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.devices[id]
	s.devices[id] = c
	if old == c {
		return nil
	}
	return old
}

func remoteIP(nc net.Conn) string {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, _ := net.SplitHostPort(nc.RemoteAddr().String())
	return host
}

// NotifyCommands implements kinwatch.CommandNotifier: if the device is connected here, its
// connection goroutine delivers the newly queued commands right away.
func (s *Server) NotifyCommands(deviceID string) {
	s.mu.Lock()
	c := s.devices[deviceID]
	s.mu.Unlock()
	if c != nil {
		c.wake(wakeCommands)
	}
}

// NotifyDevice tells the device's connection, if it is here, to re-read its registry entry now: a
// watch just bound starts being recorded with its next frame, and a blocked one is disconnected.
func (s *Server) NotifyDevice(deviceID string) {
	s.mu.Lock()
	c := s.devices[deviceID]
	s.mu.Unlock()
	if c != nil {
		c.wake(wakeDevice)
	}
}

// Online reports whether the device has a connection to this gateway now.
func (s *Server) Online(deviceID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.devices[deviceID] != nil
}

// ConnCount is the number of open watch connections.
func (s *Server) ConnCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown stops accepting, asks every connection to finish the frames it has read (their records
// reach the bus, their replies are written), records the devices as offline, and waits for all of
// it until ctx ends. It then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	s.init()
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.wake(wakeShutdown)
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		// A connection blocked on a hung database does not notice its closed socket; like
		// net/http, the stop does not wait for it beyond a moment.
		select {
		case <-done:
		case <-time.After(time.Second):
		}
		return ctx.Err()
	}
}
