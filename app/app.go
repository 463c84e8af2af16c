// Package app wires kinwatch together: it opens the store, starts the storage writer, the watch
// gateway and the HTTP server, and stops them in the order that loses nothing. Tests start a whole
// server with it on :0 ports, exactly as `kinwatch serve` does.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kinwatch"
	"kinwatch/account"
	"kinwatch/audit"
	"kinwatch/commands"
	"kinwatch/config"
	"kinwatch/consent"
	"kinwatch/envelope"
	"kinwatch/family"
	"kinwatch/fence"
	"kinwatch/fileblob"
	"kinwatch/gateway"
	"kinwatch/geo"
	"kinwatch/httpapi"
	"kinwatch/ingest"
	"kinwatch/inproc"
	"kinwatch/mail"
	"kinwatch/metrics"
	"kinwatch/nominatim"
	"kinwatch/notice"
	"kinwatch/notify"
	"kinwatch/oidc"
	"kinwatch/postgres"
	"kinwatch/retention"
	"kinwatch/rights"
	"kinwatch/safezone"
	"kinwatch/sqlite"
	"kinwatch/stream"
	"kinwatch/watchdog"
)

// App is one kinwatch process.
type App struct {
	Config  config.Config
	Log     *slog.Logger
	Store   kinwatch.Store
	Bus     *inproc.Bus
	Blobs   kinwatch.BlobStore
	Metrics *metrics.Metrics
	Gateway *gateway.Server
	Writer  *ingest.Writer

	Accounts *account.Service
	Families *family.Service
	Commands *commands.Service
	Consent  *consent.Service
	Rights   *rights.Service
	Notices  *notice.Service
	// Notify delivers alarms by Web Push, email and webhooks.
	Notify *notify.Service
	// Zones raises the safe zones' enter and exit alarms from stored positions.
	Zones *safezone.Evaluator
	// VAPID is the Web Push key pair browsers subscribe with.
	VAPID notify.VAPID
	// Learner learns where cells and access points are from reports with a GPS fix.
	Learner *geo.Learner
	// Retention deletes what outlived its retention (started with the server).
	Retention *retention.Job
	Hub       *stream.Hub
	// Mailer sends the accounts' mail; nil picks SMTP or the outbox directory from the config.
	Mailer account.Mailer
	// NotifyClient posts Web Push messages and webhooks; nil is one that refuses private
	// addresses unless --notify-allow-private.
	NotifyClient *http.Client
	// HTTPClient is used for OpenID Connect providers and the breached-password API.
	HTTPClient *http.Client
	// Argon2 overrides the password hashing cost (tests); zero is the default.
	Argon2 account.Argon2Params

	httpServer *http.Server
	watchLn    net.Listener
	httpLn     net.Listener
	ready      atomic.Bool

	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Command expiry publishes events, so it stops before the bus closes.
	stopMaintenance context.CancelFunc
	maintenanceDone chan struct{}
	writerErr       chan error
}

// New returns an App for cfg; nothing is opened until Start.
func New(cfg config.Config, log *slog.Logger) *App {
	return &App{Config: cfg, Log: log}
}

// MasterKeyPath is where the master key file is: the configured one, or DATA_DIR/master.key.
func MasterKeyPath(cfg config.Config) string {
	if cfg.MasterKeyFile != "" {
		return cfg.MasterKeyFile
	}
	return filepath.Join(cfg.DataDir, "master.key")
}

// LoadMaster reads the master key file. The default file is created on first start; a configured
// one must exist (a missing one means a wrong path, and new keys would orphan every sealed value).
func LoadMaster(cfg config.Config) (*envelope.Master, error) {
	path := MasterKeyPath(cfg)
	m, err := envelope.LoadMasterFile(path)
	if errors.Is(err, fs.ErrNotExist) && cfg.MasterKeyFile == "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		return envelope.GenerateMasterFile(path)
	}
	return m, err
}

// OpenStore opens (and migrates) the store the configuration names.
func OpenStore(ctx context.Context, cfg config.Config) (kinwatch.Store, error) {
	type migrator interface{ Migrate(context.Context) error }
	var (
		st  kinwatch.Store
		err error
	)
	master, err := LoadMaster(cfg)
	if err != nil {
		return nil, err
	}
	if path := cfg.SQLitePath(); path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		var db *sqlite.DB
		db, err = sqlite.Open(ctx, path, master)
		st = db
	} else {
		var db *postgres.DB
		db, err = postgres.Open(ctx, cfg.DatabaseURL, master)
		st = db
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := st.(migrator).Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	return st, nil
}

// Start opens everything and starts serving. It returns once the listeners are up; WatchAddr and
// HTTPAddr then give the bound addresses (useful with :0).
func (a *App) Start(ctx context.Context) (err error) {
	cfg := a.Config
	defer func() {
		if err != nil {
			a.closeAll()
		}
	}()
	if a.Store == nil {
		if a.Store, err = OpenStore(ctx, cfg); err != nil {
			return err
		}
	}
	if a.Blobs == nil {
		if a.Blobs, err = OpenBlobs(cfg); err != nil {
			return err
		}
	}
	if err := a.Store.MarkAllOffline(ctx, time.Now()); err != nil {
		return fmt.Errorf("reset online state: %w", err)
	}
	// The queue holds a few batches: enough to ride out a slow commit, small enough that a stuck
	// database pushes back on the watches quickly.
	a.Bus = inproc.New(max(4*cfg.BatchSize, 4096))
	a.Metrics = metrics.New(func() float64 { return float64(a.Bus.Depth()) })
	a.Writer = &ingest.Writer{
		Store: a.Store, Bus: a.Bus, Metrics: a.Metrics, Log: a.Log,
		MaxBatch: cfg.BatchSize, MaxWait: cfg.BatchInterval, Retries: -1, Blobs: a.Blobs,
	}
	a.Gateway = &gateway.Server{
		Opts: gateway.Options{
			MaxFrame:          cfg.MaxFrame,
			ReadTimeout:       cfg.ReadTimeout,
			WriteTimeout:      cfg.WriteTimeout,
			MaxFramesPerSec:   cfg.MaxFramesPerSec,
			MaxConnsPerIP:     cfg.MaxConnsPerIP,
			AllowUnknown:      cfg.AllowUnknown,
			DownlinkPrefix:    cfg.DownlinkPrefix,
			CommandAckTimeout: cfg.CommandAckTimeout,
			BatteryCritical:   cfg.BatteryCritical,
		},
		Store: a.Store, Bus: a.Bus, Blobs: a.Blobs, Metrics: a.Metrics, Log: a.Log,
	}
	a.Learner = geo.NewLearner(a.Store, 10000, a.Log)
	a.Gateway.Geo, a.Gateway.Learn = a.geolocation(cfg), a.Learner
	if cfg.NominatimURL != "" {
		a.Gateway.Addresses = addresses{&nominatim.Client{BaseURL: cfg.NominatimURL, UserAgent: "kinwatch (+" + cfg.PublicURL + ")", HTTP: a.HTTPClient}}
	}
	if a.watchLn, err = net.Listen("tcp", cfg.WatchAddr); err != nil {
		return fmt.Errorf("watch gateway: %w", err)
	}
	if a.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return fmt.Errorf("http: %w", err)
	}
	api, err := a.api(cfg)
	if err != nil {
		return err
	}
	a.httpServer = &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	a.writerErr = make(chan error, 1)
	go func() { a.writerErr <- a.Writer.Run(runCtx) }()
	a.goFunc(func() {
		if err := a.Gateway.Serve(a.watchLn); err != nil && !errors.Is(err, gateway.ErrServerClosed) {
			// Without its gateway the process must not look healthy to a load balancer.
			a.ready.Store(false)
			a.Log.Error("watch gateway stopped", "err", err)
		}
	})
	a.goFunc(func() {
		if err := a.httpServer.Serve(a.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Log.Error("http server stopped", "err", err)
		}
	})
	mctx, stopMaintenance := context.WithCancel(runCtx)
	a.maintenanceDone = make(chan struct{})
	a.stopMaintenance = stopMaintenance
	policy, err := kinwatch.ParseRetention(cfg.Retention)
	if err != nil {
		return err
	}
	a.Retention = &retention.Job{Store: a.Store, Blobs: a.Blobs, Policy: policy, Log: a.Log,
		Deleted: func(c kinwatch.RetentionClass, n int) {
			a.Metrics.RetentionDeleted.WithLabelValues(string(c)).Add(float64(n))
		}}
	go func() {
		defer close(a.maintenanceDone)
		var wg sync.WaitGroup
		wg.Go(func() { a.Retention.Run(mctx) })
		wg.Go(func() { a.Rights.RunExports(mctx, time.Minute) })
		wg.Go(func() { a.Notices.Run(mctx, time.Minute) })
		wg.Go(func() { a.Learner.Run(mctx) })
		wg.Go(func() { a.Notify.Run(mctx) })
		wg.Go(func() { a.Zones.Run(mctx) })
		wg.Go(func() { a.warmTracks(mctx) })
		wg.Go(func() {
			(&watchdog.Watchdog{Store: a.Store, Bus: a.Bus, After: cfg.OfflineAlarm, Log: a.Log, Started: time.Now()}).Run(mctx, time.Minute)
		})
		a.Gateway.RunMaintenance(mctx, 30*time.Second)
		wg.Wait()
	}()
	a.ready.Store(true)
	a.Log.Info("kinwatch started", "watch_addr", a.WatchAddr().String(), "http_addr", a.HTTPAddr().String(),
		"region", cfg.Region, "database", databaseKind(cfg))
	return nil
}

// streamAccess is what the live stream may show an account: its families' watches, each since it
// was bound into the family (what came before was another family's).
func (a *App) streamAccess(ctx context.Context, accountID string) ([]stream.Grant, error) {
	accs, err := a.Store.Watches(ctx, accountID)
	grants := make([]stream.Grant, len(accs))
	for i, w := range accs {
		grants[i] = stream.Grant{Device: w.DeviceID, Since: w.BoundAt}
	}
	return grants, err
}

// NewMailer is the mail the configuration names: through the SMTP relay when --smtp-addr is set,
// else into DATA_DIR/outbox. The server and the admin commands that mail share it.
func NewMailer(cfg config.Config) account.Mailer {
	if cfg.SMTPAddr != "" {
		return &mail.SMTP{Addr: cfg.SMTPAddr, From: cfg.SMTPFrom, Username: cfg.SMTPUser, Password: cfg.SMTPPassword, TLS: cfg.SMTPTLS}
	}
	return &mail.Dir{Path: filepath.Join(cfg.DataDir, "outbox"), From: cfg.SMTPFrom}
}

// OpenBlobs opens the blob store the configuration names (DATA_DIR/media).
func OpenBlobs(cfg config.Config) (kinwatch.BlobStore, error) {
	return fileblob.New(filepath.Join(cfg.DataDir, "media"))
}

// api builds the account, family and command services, the live stream, and the HTTP API over them.
func (a *App) api(cfg config.Config) (*httpapi.Server, error) {
	client := a.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	if a.Mailer == nil {
		a.Mailer = NewMailer(cfg)
	}
	a.Hub = stream.New(stream.Options{
		Window: cfg.StreamWindow, Recheck: cfg.StreamRecheck,
		Log:    a.Log,
		Access: a.streamAccess,
	})
	if err := a.notifications(cfg); err != nil {
		return nil, err
	}
	a.Writer.OnCommit = func(recs []kinwatch.Record) {
		alarm := false
		for _, r := range recs {
			if id, typ, at, data, ok := httpapi.LiveMessage(r); ok {
				a.Hub.Publish(id, typ, at, data)
			}
			alarm = alarm || r.Event != nil && r.Event.Type == kinwatch.EventAlarm
		}
		if alarm {
			a.Notify.Wake()
		}
		a.Zones.Stored(recs)
	}
	a.Commands = &commands.Service{Store: a.Store, Bus: a.Bus, Notifier: a.Gateway, TTL: cfg.CommandTTL, Log: a.Log,
		Transparency: cfg.TransparencyNotice}
	policy, err := cfg.Policy()
	if err != nil {
		return nil, err
	}
	if policy == "" {
		policy = account.DefaultPolicyText
	}
	a.Accounts = &account.Service{
		Store: a.Store, Blobs: a.Blobs, Mailer: a.Mailer, Argon2: a.Argon2, Log: a.Log,
		Passwords: &account.PasswordChecker{RangeURL: cfg.BreachedURL, Client: client},
		Policy:    account.Policy{Version: cfg.PolicyVersion, URL: cfg.PolicyURL, Text: policy, MinAge: cmp.Or(cfg.MinAge, account.MinAgeFor(cfg.Region))},
		BaseURL:   cfg.PublicURL, Live: a.Hub,
	}
	if err := a.Accounts.Init(); err != nil {
		return nil, err
	}
	retentionPolicy, err := kinwatch.ParseRetention(cfg.Retention)
	if err != nil {
		return nil, err
	}
	a.Families = &family.Service{
		Store: a.Store, Commands: a.Commands, Blobs: a.Blobs, Devices: a.Gateway, Access: a.Hub,
		BaseURL: cfg.PublicURL, Log: a.Log, CodeTTL: cfg.BindingCodeTTL, Retention: retentionPolicy,
	}
	a.Rights = &rights.Service{Store: a.Store, Blobs: a.Blobs, Accounts: a.Accounts, Watches: a.Families, Live: a.Hub, Access: a.Hub, Devices: a.Gateway,
		Mailer: a.Mailer, BaseURL: cfg.PublicURL, Log: a.Log}
	a.Notices = &notice.Service{Store: a.Store, Blobs: a.Blobs, Mailer: a.Mailer, BaseURL: cfg.PublicURL, Log: a.Log}
	a.Consent = &consent.Service{Store: a.Store, Accounts: a.Accounts, Watches: a.Families, Devices: a.Gateway, PolicyVersion: cfg.PolicyVersion}
	providers, err := cfg.Providers()
	if err != nil {
		return nil, err
	}
	api := &httpapi.Server{
		Store: a.Store, Metrics: a.Metrics, Log: a.Log, Ready: a.ready.Load,
		Accounts: a.Accounts, Families: a.Families, Commands: a.Commands, Consent: a.Consent, Rights: a.Rights, Notices: a.Notices, Audit: &audit.Service{Store: a.Store, Members: a.Families}, Blobs: a.Blobs, Stream: a.Hub,
		InsecureCookies: strings.HasPrefix(cfg.PublicURL, "http://"),
		Notifications: &httpapi.Notifications{PushKey: a.VAPID.PublicKey, AllowPrivate: cfg.NotifyAllowPrivate,
			Senders: a.Notify.Senders},
	}
	if api.TrustedProxies, err = cfg.Proxies(); err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.PublicURL, "/")
	for _, p := range providers {
		api.Providers = append(api.Providers, httpapi.Provider{Name: p.Name, DisplayName: p.DisplayName,
			Client: oidc.New(oidc.Provider{Name: p.Name, DisplayName: p.DisplayName, Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret},
				base+"/api/v1/auth/oidc/"+p.Name+"/callback", client)})
	}
	return api, nil
}

func databaseKind(cfg config.Config) string {
	if cfg.SQLitePath() != "" {
		return "sqlite"
	}
	return "postgres"
}

func (a *App) goFunc(f func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}

// WatchAddr is the gateway's bound address.
func (a *App) WatchAddr() net.Addr { return a.watchLn.Addr() }

// HTTPAddr is the HTTP server's bound address.
func (a *App) HTTPAddr() net.Addr { return a.httpLn.Addr() }

// Shutdown stops in the order that loses nothing acknowledged: first the HTTP API (no new commands),
// then the gateway (connections finish the frames they read and are recorded offline), then the bus
// is closed and the writer drains every queued record into the store, and finally the store closes.
func (a *App) Shutdown(ctx context.Context) error {
	a.ready.Store(false)
	var errs []error
	if a.Hub != nil {
		// WebSockets are hijacked connections that http.Server.Shutdown does not close.
		a.Hub.Close()
	}
	if a.httpServer != nil {
		if err := a.httpServer.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http: %w", err))
		}
	}
	if a.stopMaintenance != nil {
		a.stopMaintenance()
		<-a.maintenanceDone
	}
	if a.Gateway != nil {
		if err := a.Gateway.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("gateway: %w", err))
		}
	}
	if a.Bus != nil {
		a.Bus.Close()
		select {
		case err := <-a.writerErr:
			if err != nil && !errors.Is(err, context.Canceled) {
				errs = append(errs, fmt.Errorf("storage writer: %w", err))
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("storage writer did not drain: %w", ctx.Err()))
		}
	}
	if a.cancel != nil {
		a.cancel()
	}
	if a.Accounts != nil {
		a.Accounts.Close()
	}
	a.wg.Wait()
	a.closeAll()
	a.Log.Info("kinwatch stopped")
	return errors.Join(errs...)
}

func (a *App) closeAll() {
	if a.watchLn != nil {
		a.watchLn.Close()
	}
	if a.httpLn != nil {
		a.httpLn.Close()
	}
	if a.Store != nil {
		a.Store.Close()
	}
}

// BindDevices registers ids and binds them into a new family of a new account, with consent to
// every purpose for the children recorded as seeded by the operator's tooling, so the gateway
// stores their data. Binding proper (a guardian proving possession and giving consent) is the
// accounts layer's; this is for benchmarks and tests. It returns the family's id.
func BindDevices(ctx context.Context, st kinwatch.Store, ids []string) (string, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	recs := make([]kinwatch.Record, len(ids))
	for i, id := range ids {
		recs[i] = kinwatch.Record{Device: &kinwatch.DeviceUpdate{ID: id, Time: now}}
	}
	if err := st.WriteBatch(ctx, recs); err != nil {
		return "", err
	}
	a := &kinwatch.Account{ID: kinwatch.NewID(), Profile: kinwatch.Profile{Nickname: "Seeded guardian"}, CreatedAt: now}
	if err := st.CreateAccount(ctx, a); err != nil {
		return "", err
	}
	familyID := kinwatch.NewID()
	for i, id := range ids {
		b := &kinwatch.Binding{DeviceID: id, FamilyID: familyID, At: now}
		if i == 0 {
			b.NewFamily = &kinwatch.Family{ID: familyID, Name: "Seeded family", CreatedAt: now}
			b.Admin = &kinwatch.Member{FamilyID: familyID, AccountID: a.ID, Role: kinwatch.RoleAdmin, JoinedAt: now}
		}
		if err := st.Bind(ctx, b); err != nil {
			return "", err
		}
		if err := SeedConsent(ctx, st, familyID, a.ID, id, "seeded"); err != nil {
			return "", err
		}
	}
	return familyID, nil
}

// SeedConsent records consent to every purpose for the child wearing deviceID, as given by the
// guardian by through the operator's tooling (the demo, benchmarks): the ledger says so, with
// method kinwatch.ConsentSeeded, rather than pretending a guardian confirmed a statement.
func SeedConsent(ctx context.Context, st kinwatch.Store, familyID, by, deviceID, policyVersion string) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	var entries []*kinwatch.Consent
	for _, p := range kinwatch.ChildPurposes {
		entries = append(entries, &kinwatch.Consent{ID: kinwatch.NewID(), AccountID: by, FamilyID: familyID, DeviceID: deviceID,
			Purpose: p, Granted: true, PolicyVersion: policyVersion, Method: kinwatch.ConsentSeeded, Time: now})
	}
	_, err := st.RecordConsents(ctx, entries)
	return err
}

// Demo family sign-in, printed by `kinwatch serve` when it runs the demo.
const (
	DemoEmail    = "demo@kinwatch.invalid"
	DemoPassword = "demo family password"
)

// DemoFamily makes sure the demo guardian (DemoEmail, DemoPassword, verified) exists and is the
// admin of a family that holds the watches ids, registering and binding them as needed. Running it
// again changes nothing.
func DemoFamily(ctx context.Context, st kinwatch.Store, ids []string) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	a, err := st.AccountByLogin(ctx, DemoEmail)
	if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
		hash, herr := account.HashPassword(DemoPassword, account.DefaultArgon2)
		if herr != nil {
			return herr
		}
		a = &kinwatch.Account{ID: kinwatch.NewID(), Email: DemoEmail, EmailVerifiedAt: now, PasswordHash: hash,
			Profile: kinwatch.Profile{Nickname: "Demo parent"}, Preferences: account.DefaultPreferences,
			PolicyVersion: "demo", PolicyAccepted: now, CreatedAt: now, UpdatedAt: now}
		err = st.CreateAccount(ctx, a)
	}
	if err != nil {
		return err
	}
	var familyID string
	fams, err := st.Families(ctx, a.ID)
	if err != nil {
		return err
	}
	var newFamily *kinwatch.Family
	if len(fams) > 0 {
		familyID = fams[0].Family.ID
	} else {
		familyID = kinwatch.NewID()
		newFamily = &kinwatch.Family{ID: familyID, Name: "Demo family", CreatedAt: now}
	}
	recs := make([]kinwatch.Record, len(ids))
	for i, id := range ids {
		recs[i] = kinwatch.Record{Device: &kinwatch.DeviceUpdate{ID: id, Time: now}}
	}
	if err := st.WriteBatch(ctx, recs); err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := st.WatchAccess(ctx, a.ID, id); err == nil {
			continue
		}
		b := &kinwatch.Binding{DeviceID: id, FamilyID: familyID, NewFamily: newFamily, At: now}
		if newFamily != nil {
			b.Admin = &kinwatch.Member{FamilyID: familyID, AccountID: a.ID, Role: kinwatch.RoleAdmin, Relation: "parent", JoinedAt: now}
		}
		if err := st.Bind(ctx, b); err != nil {
			return fmt.Errorf("binding demo watch %s: %w", id, err)
		}
		newFamily = nil
		if err := SeedConsent(ctx, st, familyID, a.ID, id, "demo"); err != nil {
			return fmt.Errorf("consent for demo watch %s: %w", id, err)
		}
		name := fmt.Sprintf("Child %d", slices.Index(ids, id)+1)
		if i := slices.Index(ids, id); i < len(demoChildren) {
			name = demoChildren[i]
		}
		if err := st.PutChildProfile(ctx, familyID, &kinwatch.ChildProfile{DeviceID: id, Name: name, School: "Demo primary school", UpdatedAt: now}); err != nil {
			return err
		}
	}
	return nil
}

// demoChildren name the demo watches' wearers, so the demo looks like a family.
var demoChildren = []string{"Mia", "Leo", "Emma", "Noah", "Lina", "Paul", "Ida", "Ben"}

// VAPIDKeyPath is where the Web Push key file is: the configured one, or DATA_DIR/vapid.key.
func VAPIDKeyPath(cfg config.Config) string {
	if cfg.VAPIDKeyFile != "" {
		return cfg.VAPIDKeyFile
	}
	return filepath.Join(cfg.DataDir, "vapid.key")
}

// notifications sets up the delivery of alarms: Web Push with the deployment's VAPID key (the
// default file is created on first start; a configured one must exist), email through the
// accounts' mailer, and webhooks.
func (a *App) notifications(cfg config.Config) error {
	vapid, err := notify.LoadVAPIDFile(VAPIDKeyPath(cfg), cfg.VAPIDKeyFile == "")
	if err != nil {
		return err
	}
	if cfg.VAPIDKeyFile == "" && cfg.SQLitePath() == "" {
		// Processes sharing a PostgreSQL database each made their own key: a browser subscribed
		// through one is refused pushes signed by another.
		a.Log.Warn("Web Push: each process uses its own key in its data directory; give every process of this deployment the same --vapid-key-file")
	}
	a.VAPID = vapid
	client := a.NotifyClient
	if client == nil {
		client = notify.NewHTTPClient(cfg.NotifyAllowPrivate, 20*time.Second)
	}
	a.Notify = &notify.Service{
		Store: a.Store, Log: a.Log,
		Senders: map[kinwatch.Channel]notify.Sender{
			kinwatch.ChannelPush:    &notify.Push{PublicKey: vapid.PublicKey, PrivateKey: vapid.PrivateKey, Subject: cfg.VAPIDContact(), Client: client},
			kinwatch.ChannelEmail:   &notify.Email{Mailer: a.Mailer},
			kinwatch.ChannelWebhook: &notify.Webhook{Client: client},
		},
		Texts: notify.Texts{BaseURL: cfg.PublicURL, FenceName: a.fenceName},
	}
	a.Zones = &safezone.Evaluator{Store: a.Store, Bus: a.Bus, Log: a.Log}
	return nil
}

// warmTracks fills the history's day cache once a day, soon after midnight UTC (and once, ten
// minutes after a start), with the days just completed of every bound watch
// (kinwatch.WarmTrackDays). Every process runs it; the second finds the days cached.
func (a *App) warmTracks(ctx context.Context) {
	var warmed int64 = -1
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if kinwatch.TrackDay(now) == warmed {
			continue
		}
		_, err := kinwatch.WarmTrackDays(ctx, a.Store, now, kinwatch.MinCachedSpan, 5*time.Millisecond, func(deviceID string, err error) {
			a.Log.Warn("warming the history cache", "device", deviceID, "err", err)
		})
		if err != nil {
			if ctx.Err() == nil {
				a.Log.Warn("warming the history cache", "err", err)
			}
			continue
		}
		warmed = kinwatch.TrackDay(now)
	}
}

// fenceName names a watch's safe zone for a notification, "" when it is gone.
func (a *App) fenceName(ctx context.Context, deviceID, fenceID string) string {
	fences, err := a.Store.Fences(ctx, deviceID)
	if err != nil {
		return ""
	}
	for _, g := range fences {
		if g.ID == fenceID {
			if f, err := fence.Decode(g.Definition); err == nil {
				return f.Name
			}
		}
	}
	return ""
}

// geolocation is the chain that places reports without a GPS fix: the deployment's own towers and
// learned access points first, then the remote geolocate service if one is configured.
func (a *App) geolocation(cfg config.Config) *geo.Chain {
	providers := []geo.Provider{geo.NewLocal(geo.StoreData{Store: a.Store}, geo.StoreData{Store: a.Store})}
	if cfg.GeolocateURL != "" {
		providers = append(providers, &geo.Remote{URL: cfg.GeolocateURL, Key: cfg.GeolocateKey, Client: a.HTTPClient})
	}
	return &geo.Chain{Providers: providers}
}

// addresses answers a watch's WAD through Nominatim. Watches show the address in a legacy 8-bit
// encoding at best, so only printable ASCII is sent: other characters are left out.
type addresses struct{ c *nominatim.Client }

func (a addresses) Address(ctx context.Context, lat, lon float64) (string, error) {
	addr, err := a.c.Reverse(ctx, lat, lon)
	if err != nil {
		return "", err
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, addr.Display), nil
}
