// Package config is kinwatch's one typed configuration: defaults, loading from a file, the
// environment (KINWATCH_*) and flags, in that order of precedence (flags win), and validation at
// start-up. It owns no behaviour: the loaded Config is passed down explicitly.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"kinwatch"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Config is everything an operator can set.
type Config struct {
	DataDir     string // where SQLite, media blobs and other local state live
	HTTPAddr    string // API, health and metrics
	WatchAddr   string // the watches' TCP gateway
	DatabaseURL string // "" = SQLite in DataDir; postgres://… selects PostgreSQL; sqlite:PATH an explicit file
	// MasterKeyFile holds the master keys that wrap every family's data keys; "" is
	// DataDir/master.key, created on first start.
	MasterKeyFile string
	Region        string // the region this deployment serves (data never leaves it)
	LogLevel      string // debug, info, warn, error
	LogFormat     string // text or json

	// Gateway limits.
	MaxFrame          int           // largest frame accepted, bytes
	ReadTimeout       time.Duration // a silent watch is dropped after this (about 3× its heartbeat)
	WriteTimeout      time.Duration
	MaxFramesPerSec   int  // per connection, sustained; bursts of twice that are allowed
	MaxConnsPerIP     int  // 0 = unlimited
	AllowUnknown      bool // accept watches not yet in the registry (recorded as pending)
	DownlinkPrefix    string
	CommandTTL        time.Duration // queued commands expire after this
	CommandAckTimeout time.Duration // a sent command without acknowledgement is resent/failed after this

	// Storage writer.
	BatchSize     int
	BatchInterval time.Duration

	// Demo: simulated watches started with the server (make run).
	DemoWatches int

	// ShutdownTimeout bounds how long a graceful stop may take.
	ShutdownTimeout time.Duration

	// Accounts and the API.
	PublicURL      string // where guardians reach kinwatch; mailed links point here
	PolicyVersion  string // the privacy policy version sign-up must accept
	PolicyURL      string // where the policy's text is published
	PolicyFile     string // the policy's text (Markdown or plain text); "" serves the built-in one
	BreachedURL    string // k-anonymity range API for breached passwords ("" = embedded list only)
	SMTPAddr       string // host:port; "" writes mail into DATA_DIR/outbox instead
	SMTPFrom       string
	SMTPUser       string
	SMTPPassword   string
	SMTPTLS        string        // starttls, tls or none
	OIDCProviders  string        // name=…,issuer=…,client_id=…,client_secret=…[,display_name=…]; more separated by ;
	StreamWindow   int           // live-stream messages kept for resuming clients
	StreamRecheck  time.Duration // how often an open stream re-checks its session
	BindingCodeTTL time.Duration
	TrustedProxies string // comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For is believed
	Retention      string // class=period,… over kinwatch.DefaultRetention
	// Geolocation: a remote service in the "geolocate" format and a Nominatim server for addresses.
	GeolocateURL string
	GeolocateKey string
	NominatimURL string
	// MinAge is the youngest age at which one may create an account; 0 takes the region's.
	MinAge int
	// TransparencyNotice shows the child a notice on the watch when a guardian locates it now or
	// calls it back to listen.
	TransparencyNotice bool
	// Notifications.
	VAPIDKeyFile       string        // the Web Push signing key; "" is DATA_DIR/vapid.key, created on first start
	VAPIDSubject       string        // contact given to push services; "" derives it from smtp-from or public-url
	NotifyAllowPrivate bool          // webhooks and push endpoints may be on private or loopback addresses
	OfflineAlarm       time.Duration // raise "offline" for a watch silent this long; 0 never
	BatteryCritical    int           // raise "battery_critical" at or below this percent; 0 never
}

// VAPIDContact is the contact push services see: the configured one, else the sender address of
// kinwatch's mail, else the public URL when it is https, else a placeholder that says none was set.
func (c Config) VAPIDContact() string {
	switch {
	case c.VAPIDSubject != "":
		return c.VAPIDSubject
	case c.SMTPFrom != "" && !strings.ContainsAny(c.SMTPFrom, "<> "):
		return "mailto:" + c.SMTPFrom
	case strings.HasPrefix(c.PublicURL, "https://"):
		return c.PublicURL
	}
	return "mailto:operator@kinwatch.invalid"
}

// maxPolicy bounds the policy file: a document people read, not a data dump.
const maxPolicy = 1 << 20

// Policy reads PolicyFile: the policy's text, or "" when none is configured.
func (c Config) Policy() (string, error) {
	if c.PolicyFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(c.PolicyFile)
	switch {
	case err != nil:
		return "", fmt.Errorf("policy-file: %v", err)
	case len(bytes.TrimSpace(b)) == 0:
		return "", fmt.Errorf("policy-file %s: empty", c.PolicyFile)
	case len(b) > maxPolicy:
		return "", fmt.Errorf("policy-file %s: larger than %d bytes", c.PolicyFile, maxPolicy)
	case !utf8.Valid(b):
		return "", fmt.Errorf("policy-file %s: not UTF-8 text", c.PolicyFile)
	}
	return string(b), nil
}

// Proxies parses TrustedProxies: each entry an address (a single host) or a CIDR prefix.
func (c Config) Proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(c.TrustedProxies, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted-proxies %q: want addresses or CIDR prefixes such as 10.0.0.0/8, separated by commas", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// OIDCProvider is one configured external sign-in provider.
type OIDCProvider struct {
	Name, DisplayName, Issuer, ClientID, ClientSecret string
}

// Providers parses OIDCProviders.
func (c *Config) Providers() ([]OIDCProvider, error) {
	var out []OIDCProvider
	seen := map[string]bool{}
	for i, spec := range strings.Split(c.OIDCProviders, ";") {
		if strings.TrimSpace(spec) == "" {
			continue
		}
		var p OIDCProvider
		for _, kv := range strings.Split(spec, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok {
				return nil, fmt.Errorf("oidc-providers entry %d: %q is not key=value", i+1, kv)
			}
			switch k {
			case "name":
				p.Name = v
			case "display_name":
				p.DisplayName = v
			case "issuer":
				p.Issuer = v
			case "client_id":
				p.ClientID = v
			case "client_secret":
				p.ClientSecret = v
			default:
				return nil, fmt.Errorf("oidc-providers entry %d: unknown key %q (want name, display_name, issuer, client_id, client_secret)", i+1, k)
			}
		}
		if p.Name == "" || strings.Trim(p.Name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" || len(p.Name) > 32 {
			return nil, fmt.Errorf("oidc-providers entry %d: name %q: want lower-case letters, digits and dashes", i+1, p.Name)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("oidc-providers: %q appears twice", p.Name)
		}
		seen[p.Name] = true
		if !strings.HasPrefix(p.Issuer, "https://") && !strings.HasPrefix(p.Issuer, "http://127.0.0.1") && !strings.HasPrefix(p.Issuer, "http://localhost") {
			return nil, fmt.Errorf("oidc-providers %s: issuer %q: want an https:// URL", p.Name, p.Issuer)
		}
		if p.ClientID == "" {
			return nil, fmt.Errorf("oidc-providers %s: client_id is required", p.Name)
		}
		if p.DisplayName == "" {
			p.DisplayName = p.Name
		}
		out = append(out, p)
	}
	return out, nil
}

// Default returns the documented defaults.
func Default() Config {
	return Config{
		DataDir:            "./data",
		TransparencyNotice: true,
		OfflineAlarm:       2 * time.Hour,
		BatteryCritical:    5,
		HTTPAddr:           ":8080",
		WatchAddr:          ":5093",
		Region:             "local",
		LogLevel:           "info",
		LogFormat:          "text",
		MaxFrame:           256 << 10,
		ReadTimeout:        20 * time.Minute,
		WriteTimeout:       10 * time.Second,
		MaxFramesPerSec:    50,
		MaxConnsPerIP:      0,
		AllowUnknown:       true,
		CommandTTL:         7 * 24 * time.Hour,
		CommandAckTimeout:  2 * time.Minute,
		BatchSize:          1000,
		BatchInterval:      5 * time.Millisecond,
		ShutdownTimeout:    20 * time.Second,
		PublicURL:          "http://localhost:8080",
		PolicyVersion:      "2026-11-01",
		PolicyURL:          "/privacy-policy",
		SMTPTLS:            "starttls",
		StreamWindow:       10000,
		StreamRecheck:      time.Minute,
		BindingCodeTTL:     10 * time.Minute,
	}
}

// field binds one setting to its flag name, environment variable and help text.
type field struct {
	name, help string
	value      flag.Value
}

func (c *Config) fields() []field {
	return []field{
		{"data-dir", "directory for the SQLite database, media and local state", (*stringValue)(&c.DataDir)},
		{"http-addr", "listen address of the HTTP API, health checks and /metrics", (*stringValue)(&c.HTTPAddr)},
		{"watch-addr", "listen address of the watches' TCP gateway", (*stringValue)(&c.WatchAddr)},
		{"database-url", "database: empty for SQLite in the data directory, sqlite:PATH, or postgres://…", (*stringValue)(&c.DatabaseURL)},
		{"master-key-file", "file with the master key(s) that wrap every family's encryption keys (kinwatch admin master-key); empty: DATA_DIR/master.key, created on first start. Keep it out of database backups, and give every process of one deployment the same file", (*stringValue)(&c.MasterKeyFile)},
		{"region", "region this deployment serves", (*stringValue)(&c.Region)},
		{"log-level", "debug, info, warn or error", (*stringValue)(&c.LogLevel)},
		{"log-format", "text or json", (*stringValue)(&c.LogFormat)},
		{"max-frame", "largest watch frame accepted, in bytes", (*intValue)(&c.MaxFrame)},
		{"read-timeout", "drop a watch silent for this long (about 3x its heartbeat)", (*durationValue)(&c.ReadTimeout)},
		{"write-timeout", "give up writing to a watch after this long", (*durationValue)(&c.WriteTimeout)},
		{"max-frames-per-sec", "frames per second a watch may send (bursts of twice that allowed)", (*intValue)(&c.MaxFramesPerSec)},
		{"max-conns-per-ip", "concurrent watch connections per source IP; 0 is unlimited", (*intValue)(&c.MaxConnsPerIP)},
		{"allow-unknown", "accept watches not in the registry (recorded as pending); false refuses them", (*boolValue)(&c.AllowUnknown)},
		{"downlink-prefix", "manufacturer prefix for server-initiated commands; empty echoes the watch's own", (*stringValue)(&c.DownlinkPrefix)},
		{"command-ttl", "queued commands expire after this long", (*durationValue)(&c.CommandTTL)},
		{"command-ack-timeout", "a sent command unacknowledged for this long is resent once, then failed", (*durationValue)(&c.CommandAckTimeout)},
		{"batch-size", "storage writer: most records per transaction", (*intValue)(&c.BatchSize)},
		{"batch-interval", "storage writer: longest wait for a batch to fill", (*durationValue)(&c.BatchInterval)},
		{"demo-watches", "start this many simulated watches with a demo family (make run)", (*intValue)(&c.DemoWatches)},
		{"shutdown-timeout", "longest graceful stop", (*durationValue)(&c.ShutdownTimeout)},
		{"public-url", "where guardians reach kinwatch (mailed links point here)", (*stringValue)(&c.PublicURL)},
		{"policy-version", "privacy policy version that sign-up must accept", (*stringValue)(&c.PolicyVersion)},
		{"policy-url", "where the privacy policy's text is published (the default is served by kinwatch)", (*stringValue)(&c.PolicyURL)},
		{"policy-file", "file with the privacy policy's text (Markdown); empty: the built-in template, to be replaced with the operator's own", (*stringValue)(&c.PolicyFile)},
		{"breached-passwords-url", "k-anonymity range API for breached passwords, e.g. https://api.pwnedpasswords.com/range/ (empty: embedded list only)", (*stringValue)(&c.BreachedURL)},
		{"smtp-addr", "SMTP relay host:port for mail; empty writes mail into DATA_DIR/outbox", (*stringValue)(&c.SMTPAddr)},
		{"smtp-from", "sender address of kinwatch's mail", (*stringValue)(&c.SMTPFrom)},
		{"smtp-user", "SMTP user name (empty: no authentication)", (*stringValue)(&c.SMTPUser)},
		{"smtp-password", "SMTP password", (*stringValue)(&c.SMTPPassword)},
		{"smtp-tls", "starttls, tls (implicit, port 465) or none (loopback relays only)", (*stringValue)(&c.SMTPTLS)},
		{"oidc-providers", "external sign-in: name=…,issuer=…,client_id=…,client_secret=…[,display_name=…]; several separated by ;", (*stringValue)(&c.OIDCProviders)},
		{"stream-window", "live-stream messages kept so reconnecting clients miss nothing", (*intValue)(&c.StreamWindow)},
		{"stream-recheck", "how often an open live stream re-checks that its session is still valid (a session ended in this process ends its streams at once)", (*durationValue)(&c.StreamRecheck)},
		{"binding-code-ttl", "how long the code shown on a watch for binding stays valid", (*durationValue)(&c.BindingCodeTTL)},
		{"min-age", "youngest age at which one may create an account; 0 takes the region's age of digital consent (--region as an ISO country code or eu: e.g. de 16, fr 15, us 13, cn 14; 16 for a region not known)", (*intValue)(&c.MinAge)},
		{"transparency-notice", "show the child a notice on the watch when a guardian asks where it is (locate now) or calls it back to listen; switch it off only where the law of the region served does not expect it", (*boolValue)(&c.TransparencyNotice)},
		{"geolocate-url", "remote geolocation service in the \"geolocate\" request/response format, asked when the local towers and learned access points cannot place a report; empty: none (nothing leaves the server)", (*stringValue)(&c.GeolocateURL)},
		{"geolocate-key", "API key for --geolocate-url, sent as ?key=", (*stringValue)(&c.GeolocateKey)},
		{"nominatim-url", "Nominatim server for addresses (the watch's WAD), e.g. https://nominatim.openstreetmap.org; empty: none", (*stringValue)(&c.NominatimURL)},
		{"retention", "how long each kind of data is kept, over the defaults location_history=90d,health=90d,voice=30d,photos=90d,events=180d,commands=90d,login_records=180d,access_log=365d (e.g. location_history=30d,voice=7d); families may choose shorter", (*stringValue)(&c.Retention)},
		{"vapid-key-file", "file with the server's VAPID key that signs Web Push messages; empty: DATA_DIR/vapid.key, created on first start; every process of one deployment needs the same file (browsers subscribe to its public key)", (*stringValue)(&c.VAPIDKeyFile)},
		{"vapid-subject", "contact (mailto: or https:) that push services see with each message; empty: mailto:<smtp-from>, or the public URL if it is https", (*stringValue)(&c.VAPIDSubject)},
		{"notify-allow-private", "let webhooks and push endpoints be on private, link-local or loopback addresses and plain http (a box on a home network posting to Home Assistant); off, they must be public https", (*boolValue)(&c.NotifyAllowPrivate)},
		{"offline-alarm", "raise an \"offline\" alarm when nothing is heard from a watch for this long; 0 never", (*durationValue)(&c.OfflineAlarm)},
		{"battery-critical", "raise a \"battery_critical\" alarm when a watch reports this battery percentage or less; 0 never", (*intValue)(&c.BatteryCritical)},
		{"trusted-proxies", "reverse proxies (addresses or CIDR prefixes, comma-separated) whose X-Forwarded-For names the client, for rate limits and session lists; empty: none", (*stringValue)(&c.TrustedProxies)},
	}
}

// EnvName returns the environment variable for a flag name: data-dir → KINWATCH_DATA_DIR.
func EnvName(flagName string) string {
	return "KINWATCH_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// RegisterFlags adds every setting to fs, plus -config for a file. Values already in c are the
// defaults shown in help.
func (c *Config) RegisterFlags(fs *flag.FlagSet, configFile *string) {
	fs.StringVar(configFile, "config", "", "optional configuration file of KEY=VALUE lines (flag names or KINWATCH_ variables); env: KINWATCH_CONFIG")
	for _, f := range c.fields() {
		fs.Var(f.value, f.name, f.help+" (env "+EnvName(f.name)+")")
	}
}

// Load builds the configuration: defaults, then the file (if any), then the environment, then the
// flags in args. It validates the result.
func Load(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	c := Default()
	var file string
	c.RegisterFlags(fs, &file)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if file == "" {
		file = getenv("KINWATCH_CONFIG")
	}
	// Rebuild from defaults so the precedence is exact regardless of parse order.
	flagValues := map[string]string{}
	fs.Visit(func(f *flag.Flag) { flagValues[f.Name] = f.Value.String() })
	c = Default()
	byName := map[string]field{}
	for _, f := range c.fields() {
		byName[f.name] = f
	}
	if file != "" {
		kv, err := readFile(file)
		if err != nil {
			return c, err
		}
		for k, v := range kv {
			f, ok := byName[k]
			if !ok {
				return c, fmt.Errorf("config file %s: unknown setting %q", file, k)
			}
			if err := f.value.Set(v); err != nil {
				return c, fmt.Errorf("config file %s: %s: %v", file, k, err)
			}
		}
	}
	for _, f := range c.fields() {
		if v, ok := lookup(getenv, EnvName(f.name)); ok {
			if err := f.value.Set(v); err != nil {
				return c, fmt.Errorf("%s: %v", EnvName(f.name), err)
			}
		}
	}
	for name, v := range flagValues {
		if f, ok := byName[name]; ok {
			if err := f.value.Set(v); err != nil {
				return c, fmt.Errorf("-%s: %v", name, err)
			}
		}
	}
	return c, c.Validate()
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// readFile reads KEY=VALUE lines; keys are flag names or KINWATCH_ variable names. Blank lines and
// lines starting with # are ignored.
func readFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("config file %s:%d: expected KEY=VALUE", path, n)
		}
		k = strings.TrimSpace(k)
		if strings.HasPrefix(k, "KINWATCH_") {
			k = strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(k, "KINWATCH_")), "_", "-")
		}
		out[k] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	return out, sc.Err()
}

// Validate checks every setting and reports all problems at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.DataDir == "" {
		bad("data-dir must not be empty")
	}
	for _, a := range []struct{ name, addr string }{{"http-addr", c.HTTPAddr}, {"watch-addr", c.WatchAddr}} {
		if _, port, err := net.SplitHostPort(a.addr); err != nil {
			bad("%s %q: want host:port or :port", a.name, a.addr)
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			bad("%s %q: bad port", a.name, a.addr)
		}
	}
	if u := c.DatabaseURL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") && !strings.HasPrefix(u, "sqlite:") {
		bad("database-url %q: want postgres://…, postgresql://… or sqlite:PATH", u)
	}
	if c.Region == "" || strings.ContainsAny(c.Region, " /\\") {
		bad("region %q: want a short name without spaces or slashes", c.Region)
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		bad("log-level: %v", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log-format %q: want text or json", c.LogFormat)
	}
	if c.MaxFrame < 1024 || c.MaxFrame > 16<<20 {
		bad("max-frame %d: want 1024..16777216 bytes", c.MaxFrame)
	}
	if c.ReadTimeout < time.Second {
		bad("read-timeout %v: want at least 1s", c.ReadTimeout)
	}
	if c.WriteTimeout < 100*time.Millisecond {
		bad("write-timeout %v: want at least 100ms", c.WriteTimeout)
	}
	if c.MaxFramesPerSec < 1 {
		bad("max-frames-per-sec %d: want at least 1", c.MaxFramesPerSec)
	}
	if c.MaxConnsPerIP < 0 {
		bad("max-conns-per-ip %d: want 0 (unlimited) or more", c.MaxConnsPerIP)
	}
	if p := c.DownlinkPrefix; p != "" && len(p) != 2 {
		bad("downlink-prefix %q: want two characters (e.g. SG) or empty", p)
	}
	if c.CommandTTL < time.Minute {
		bad("command-ttl %v: want at least 1m", c.CommandTTL)
	}
	if c.CommandAckTimeout < time.Second {
		bad("command-ack-timeout %v: want at least 1s", c.CommandAckTimeout)
	}
	if c.BatchSize < 1 || c.BatchSize > 100000 {
		bad("batch-size %d: want 1..100000", c.BatchSize)
	}
	if c.BatchInterval <= 0 || c.BatchInterval > 10*time.Second {
		bad("batch-interval %v: want more than 0 and at most 10s", c.BatchInterval)
	}
	if c.DemoWatches < 0 || c.DemoWatches > 10000 {
		bad("demo-watches %d: want 0..10000", c.DemoWatches)
	}
	if c.ShutdownTimeout < time.Second {
		bad("shutdown-timeout %v: want at least 1s", c.ShutdownTimeout)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("public-url %q: want http(s)://host[:port]", c.PublicURL)
	}
	if c.PolicyVersion == "" || len(c.PolicyVersion) > 40 || strings.ContainsAny(c.PolicyVersion, "|;, ") {
		bad("policy-version %q: want a short version such as 2026-11-01", c.PolicyVersion)
	}
	if c.PolicyFile != "" {
		if _, err := c.Policy(); err != nil {
			bad("%v", err)
		}
	}
	if c.OfflineAlarm != 0 && c.OfflineAlarm < 5*time.Minute {
		bad("offline-alarm %v: want 0 (never) or at least 5m (watches report every few minutes)", c.OfflineAlarm)
	}
	if c.BatteryCritical < 0 || c.BatteryCritical > 50 {
		bad("battery-critical %d: want 0 (never) to 50", c.BatteryCritical)
	}
	if s := c.VAPIDSubject; s != "" && !strings.HasPrefix(s, "mailto:") && !strings.HasPrefix(s, "https://") {
		bad("vapid-subject %q: want mailto:address or an https:// URL", s)
	}
	if c.MinAge < 0 || c.MinAge > 120 {
		bad("min-age %d: want 0 (the region's) to 120", c.MinAge)
	}
	if _, err := kinwatch.ParseRetention(c.Retention); err != nil {
		bad("%v", err)
	}
	if c.SMTPTLS != "starttls" && c.SMTPTLS != "tls" && c.SMTPTLS != "none" {
		bad("smtp-tls %q: want starttls, tls or none", c.SMTPTLS)
	}
	if c.SMTPAddr != "" && c.SMTPFrom == "" {
		bad("smtp-from: required with smtp-addr")
	}
	if _, err := c.Providers(); err != nil {
		bad("%v", err)
	}
	if c.StreamWindow < 100 || c.StreamWindow > 10_000_000 {
		bad("stream-window %d: want 100..10000000", c.StreamWindow)
	}
	if c.StreamRecheck < time.Second || c.StreamRecheck > time.Hour {
		bad("stream-recheck %v: want 1s..1h", c.StreamRecheck)
	}
	if _, err := c.Proxies(); err != nil {
		bad("%v", err)
	}
	if c.BindingCodeTTL < time.Minute || c.BindingCodeTTL > time.Hour {
		bad("binding-code-ttl %v: want 1m..1h", c.BindingCodeTTL)
	}
	return errors.Join(errs...)
}

// SQLitePath returns the SQLite file to use, or "" when DatabaseURL selects PostgreSQL.
func (c *Config) SQLitePath() string {
	switch {
	case c.DatabaseURL == "":
		return filepath.Join(c.DataDir, "kinwatch.db")
	case strings.HasPrefix(c.DatabaseURL, "sqlite:"):
		return strings.TrimPrefix(c.DatabaseURL, "sqlite:")
	}
	return ""
}

// ParseLevel turns a log level name into a slog.Level.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	if err != nil {
		return l, fmt.Errorf("%q: want debug, info, warn or error", s)
	}
	return l, nil
}

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

type intValue int

func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	*v = intValue(n)
	return nil
}

type boolValue bool

func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v = boolValue(b)
	return nil
}

type durationValue time.Duration

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (e.g. 90s, 5m, 1h)", s)
	}
	*v = durationValue(d)
	return nil
}
