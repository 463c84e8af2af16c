package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Config describes a fleet. The zero value of every field except Server and Watches means its
// documented default.
type Config struct {
	Server  string // host:port of the kinwatch watch gateway
	Watches int    // how many watches to run

	Interval  time.Duration // position report interval while moving (default 10s; UPLOAD changes it per watch)
	Heartbeat time.Duration // LK interval once connected (default 60s, what firmware uses after power-on)
	Duration  time.Duration // stop after this long; 0 runs until ctx ends

	// Seed makes ids, routes and behaviour reproducible: the same seed gives the same positions.
	Seed uint64
	// IDPrefix is 4 digits that start every watch id; the other 6 digits are the watch's index,
	// so fleets with different prefixes never share an id (default "8600").
	IDPrefix string
	// SourceIPs spreads connections over these local addresses (round robin), since one source
	// address has only ~28 000 ephemeral ports towards one server port.
	SourceIPs []netip.Addr
	// Ramp spreads the first connects evenly over this period instead of opening all at once.
	Ramp time.Duration
	// Idle watches only connect and send LK: the idle-connection benchmark.
	Idle bool
	// Mix gives some watches the SG and ZJ-with-index header variants and some a home Wi-Fi
	// whose SSID has brackets, to exercise the server's other paths. (Half the watches have a 2G
	// radio and send UD/AL, the others UD_LTE/AL_LTE, with or without Mix.)
	Mix bool

	// TimeScale makes the children's day run faster than the clock: each report moves them on by
	// TimeScale times the report interval, and Dwell counts in that faster time (default 1).
	// Demos use it to show a school run in minutes, tests to walk a route in a second.
	TimeScale float64

	Center Point         // where the routes are (default Berlin, 52.5200,13.4050)
	Spread float64       // homes lie within this many metres of Center (default 3000)
	Dwell  time.Duration // mean stay at school, park or home during the day (default 5m)

	// ReplyTimeout is how long a watch waits for the answer to LK or AL before sending it again
	// (default 60s, as firmware does). After five unanswered LKs the watch reconnects.
	ReplyTimeout time.Duration
	// AlarmResends is how often an unanswered alarm is sent again before the watch gives up
	// (default 5).
	AlarmResends int
	// DrainWait is how long a hanging-up watch waits for the server to read what it sent and
	// close (default 1m): closing earlier, with replies unread, resets the connection, and the
	// server loses the frames it had not read yet.
	DrainWait time.Duration

	// Mean times between spontaneous events per watch: alarms (SOS, removed, fall), health
	// readings and voice messages. 0 means the default (30m, 10m, 30m); negative disables.
	AlarmEvery, HealthEvery, VoiceEvery time.Duration

	// LocateBurst positions follow a CR command, one every LocateInterval (default 9 every 20s:
	// the three minutes of GPS a real watch gives the "Locate" button).
	LocateBurst    int
	LocateInterval time.Duration

	// Back-off between reconnect attempts: doubles from ReconnectMin up to ReconnectMax
	// (default 1s and 60s), with jitter so a restarted server is not hit by every watch at once.
	ReconnectMin, ReconnectMax time.Duration

	// Clock is the watches' own clock, used for the times in their reports and for day and night
	// (default time.Now). Scheduling always runs on real time.
	Clock func() time.Time
	// Logger receives connection problems at debug level (default: discard).
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultServer    = "127.0.0.1:5093"
	DefaultIDPrefix  = "8600"
	DefaultInterval  = 10 * time.Second
	DefaultHeartbeat = 60 * time.Second
)

// DefaultCenter is where routes go when no Center is given.
var DefaultCenter = Point{52.5200, 13.4050}

const (
	maxWatches     = 1_000_000 // the six id digits after the prefix
	portsPerSource = 28_000    // Linux's default ephemeral port range, 32768–60999
	fileReserve    = 64        // files the process needs besides its connections
)

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Server == "" {
		c.Server = DefaultServer
	}
	if c.IDPrefix == "" {
		c.IDPrefix = DefaultIDPrefix
	}
	def(&c.Interval, DefaultInterval)
	def(&c.Heartbeat, DefaultHeartbeat)
	def(&c.Dwell, 5*time.Minute)
	def(&c.ReplyTimeout, 60*time.Second)
	def(&c.DrainWait, time.Minute)
	def(&c.AlarmEvery, 30*time.Minute)
	def(&c.HealthEvery, 10*time.Minute)
	def(&c.VoiceEvery, 30*time.Minute)
	def(&c.LocateInterval, 20*time.Second)
	def(&c.ReconnectMin, time.Second)
	def(&c.ReconnectMax, 60*time.Second)
	if c.Center == (Point{}) {
		c.Center = DefaultCenter
	}
	if c.TimeScale == 0 {
		c.TimeScale = 1
	}
	if c.Spread == 0 {
		c.Spread = 3000
	}
	if c.AlarmResends == 0 {
		c.AlarmResends = 5
	}
	if c.LocateBurst == 0 {
		c.LocateBurst = 9
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, _, err := net.SplitHostPort(c.Server); err != nil {
		bad("server %q: want host:port", c.Server)
	}
	if c.Watches < 1 || c.Watches > maxWatches {
		bad("watches must be 1..%d, got %d", maxWatches, c.Watches)
	}
	if len(c.IDPrefix) != 4 || strings.Trim(c.IDPrefix, "0123456789") != "" {
		bad("id prefix must be 4 digits, got %q", c.IDPrefix)
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"interval", c.Interval}, {"heartbeat", c.Heartbeat}, {"dwell", c.Dwell}, {"reply timeout", c.ReplyTimeout},
		{"locate interval", c.LocateInterval}, {"reconnect min", c.ReconnectMin}, {"reconnect max", c.ReconnectMax},
	} {
		if d.d < 0 {
			bad("%s must not be negative, got %v", d.name, d.d)
		}
	}
	// Fail now rather than with thousands of connect errors later.
	if per := c.Watches / max(1, len(c.SourceIPs)); per > portsPerSource {
		bad("%d connections per source address exceed its ~%d ephemeral ports: give more source addresses", per, portsPerSource)
	}
	if lim := openFileLimit(); lim > 0 && c.Watches+fileReserve > lim {
		bad("%d watches need more than the %d files this process may open: run several sim processes, each with its own id prefix", c.Watches, lim)
	}
	if c.Duration < 0 || c.Ramp < 0 {
		bad("duration and ramp must not be negative")
	}
	if c.ReconnectMax < c.ReconnectMin {
		bad("reconnect max %v is below reconnect min %v", c.ReconnectMax, c.ReconnectMin)
	}
	if !c.Center.valid() {
		bad("center %v is not a coordinate", c.Center)
	}
	if c.Spread < 0 || c.LocateBurst < 0 || c.AlarmResends < 0 || c.TimeScale < 0 {
		bad("spread, time scale, locate burst and alarm resends must not be negative")
	}
	return errors.Join(errs...)
}

// ParseSourceIPs reads a list of local addresses: comma-separated addresses or ranges
// "first-last", e.g. "127.0.0.1-127.0.0.20,10.0.0.5".
func ParseSourceIPs(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		first, last, isRange := strings.Cut(part, "-")
		a, err := netip.ParseAddr(strings.TrimSpace(first))
		if err != nil {
			return nil, fmt.Errorf("source address %q: %v", first, err)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, err := netip.ParseAddr(strings.TrimSpace(last))
		if err != nil {
			return nil, fmt.Errorf("source address %q: %v", last, err)
		}
		if b.Less(a) || a.Is4() != b.Is4() {
			return nil, fmt.Errorf("source range %q: last address before first", part)
		}
		for ip := a; ; ip = ip.Next() {
			out = append(out, ip)
			if ip == b {
				break
			}
			if len(out) > 65536 {
				return nil, fmt.Errorf("source range %q: more than 65536 addresses", part)
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no source addresses")
	}
	return out, nil
}
