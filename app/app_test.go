package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/account"
	"kinwatch/app"
	"kinwatch/commands"
	"kinwatch/config"
	"kinwatch/envelope"
	"kinwatch/postgres/pgtest"
	"kinwatch/sim"
	"kinwatch/sqlite"
	"kinwatch/watchproto"
)

func testConfig(t testing.TB) config.Config {
	c := config.Default()
	c.DataDir = t.TempDir()
	c.WatchAddr, c.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.LogLevel = "warn"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestEndToEnd runs the whole server on :0, drives 100 simulated watches over real TCP for a few
// seconds while guardians' commands go out, shuts down, and checks the store holds everything the
// watches sent and every command's acknowledgement.
func TestEndToEnd(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { endToEnd(t, testConfig(t)) })
	t.Run("postgres", func(t *testing.T) {
		c := testConfig(t)
		c.DatabaseURL = pgtest.URL(t)
		endToEnd(t, c)
	})
}

func endToEnd(t *testing.T, cfg config.Config) {
	ctx := context.Background()
	a := app.New(cfg, logger())
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			a.Shutdown(context.Background())
		}
	}()
	fleet, err := sim.NewFleet(sim.Config{
		Server:         a.WatchAddr().String(),
		Watches:        100,
		Seed:           7,
		Interval:       250 * time.Millisecond,
		Heartbeat:      time.Second,
		TimeScale:      60,
		AlarmEvery:     2 * time.Second,
		HealthEvery:    2 * time.Second,
		VoiceEvery:     3 * time.Second,
		LocateBurst:    3,
		LocateInterval: 100 * time.Millisecond,
		ReplyTimeout:   3 * time.Second,
		Ramp:           500 * time.Millisecond,
		// On a machine loaded with other tests under -race the server may take long to read
		// what the watches sent last: they wait for it.
		DrainWait: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, w := range fleet.Watches() {
		ids = append(ids, w.ID())
	}
	if _, err := app.BindDevices(ctx, a.Store, ids); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	reportc := make(chan *sim.Report, 1)
	go func() {
		r, err := fleet.Run(runCtx)
		if err != nil {
			t.Error(err)
		}
		reportc <- r
	}()

	// Guardians queue commands while the watches run: "locate now" and a firmware query.
	svc := &commands.Service{Store: a.Store, Bus: a.Bus, Notifier: a.Gateway, TTL: time.Hour}
	time.Sleep(1500 * time.Millisecond)
	var sent []*kinwatch.Command
	for _, id := range ids[:10] {
		for _, cmd := range []watchproto.Command{watchproto.LocateNow{}, watchproto.Version{}} {
			c, err := svc.Send(ctx, id, cmd)
			if err != nil {
				t.Fatal(err)
			}
			sent = append(sent, c)
		}
	}
	// Let the fleet run until every command is answered (a loaded machine is slower), then a
	// little longer, and stop it.
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range sent {
		for {
			got, err := a.Store.Command(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State.Final() || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(time.Second)
	cancel()
	report := <-reportc
	if report == nil {
		t.Fatal("no report")
	}

	// The API is alive while the server runs (on a machine loaded with other tests under -race,
	// its readiness check may time out once while the backlog is worked off).
	for try := 0; ; try++ {
		resp, err := http.Get("http://" + a.HTTPAddr().String() + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		if err == nil && resp.StatusCode == http.StatusOK {
			break
		}
		if try == 10 {
			t.Fatalf("readyz: %v %v", resp, err)
		}
		time.Sleep(time.Second)
	}

	// The watches have hung up; the server reads each connection to its end before it lets go.
	// On a loaded machine that backlog takes a while: wait as long as connections keep closing.
	for last, wait := a.Gateway.ConnCount(), time.Now().Add(30*time.Second); last > 0 && time.Now().Before(wait); {
		time.Sleep(20 * time.Millisecond)
		if n := a.Gateway.ConnCount(); n < last {
			last, wait = n, time.Now().Add(30*time.Second)
		}
	}
	if n := a.Gateway.ConnCount(); n > 0 {
		t.Logf("%d connections still open at shutdown", n)
	}
	sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
	defer scancel()
	if err := a.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	stopped = true

	// Reopen the database as a fresh process would.
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var positions, alarms, voices int
	for _, id := range ids {
		ps, err := st.Positions(ctx, kinwatch.PositionFilter{DeviceID: id, Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		positions += len(ps)
		es, err := st.Events(ctx, kinwatch.EventFilter{DeviceID: id, Type: kinwatch.EventAlarm, Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		alarms += len(es)
		// Each alarm once: a resend (within AlarmRepeatWindow of the same alarm) is not stored.
		last := map[string]time.Time{}
		for i := len(es) - 1; i >= 0; i-- { // oldest first
			e := es[i]
			if prev, ok := last[e.Alarm]; ok && e.Time.Sub(prev) < kinwatch.AlarmRepeatWindow {
				t.Errorf("%s: %s stored again %v after the last one", id, e.Alarm, e.Time.Sub(prev))
			}
			last[e.Alarm] = e.Time
		}
		ms, err := st.MediaList(ctx, id, kinwatch.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		voices += len(ms)
		d, err := st.Device(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Online {
			t.Errorf("%s still online after shutdown", id)
		}
	}
	t.Logf("sim: %d connects, %d frames, %d positions, %d alarms, %d voice; LK p50 %v p99 %v",
		report.Connects, report.FramesSent, report.Positions, report.Alarms, report.Voices, report.Latency.P50, report.Latency.P99)
	if report.Handshakes < 100 {
		t.Errorf("only %d watches completed the LK handshake", report.Handshakes)
	}
	if uint64(positions) != report.Positions {
		t.Errorf("stored %d positions, the watches sent %d", positions, report.Positions)
	}
	// Alarms are stored (once each, checked above).
	if report.Alarms == 0 || alarms == 0 {
		t.Errorf("stored %d alarm events for %d alarms raised", alarms, report.Alarms)
	}
	if uint64(voices) != report.Voices {
		t.Errorf("stored %d voice messages, the watches sent %d", voices, report.Voices)
	}
	for _, c := range sent {
		got, err := st.Command(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != kinwatch.CommandAcknowledged {
			t.Errorf("command %s to %s: %s (%s)", c.Keyword, c.DeviceID, got.State, got.Error)
		}
		if got.Keyword == "VERNO" && !strings.Contains(got.Reply, "_") {
			t.Errorf("VERNO reply %q", got.Reply)
		}
	}
}

// TestDemoFamily: the demo guardian can sign in with the printed password and sees the demo
// watches, named; running the seeding again (every `make run`) changes nothing.
func TestDemoFamily(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "demo.db"), envelope.NewMaster())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ids := []string{"9000000000", "9000000001", "9000000002"}
	for range 2 {
		if err := app.DemoFamily(ctx, db, ids); err != nil {
			t.Fatal(err)
		}
	}
	a, err := db.AccountByLogin(ctx, app.DemoEmail)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := account.VerifyPassword(a.PasswordHash, app.DemoPassword, account.DefaultArgon2); !ok {
		t.Fatal("the demo password does not match")
	}
	fams, err := db.Families(ctx, a.ID)
	if err != nil || len(fams) != 1 || fams[0].Role != kinwatch.RoleAdmin {
		t.Fatalf("families: %+v %v", fams, err)
	}
	watches, err := db.Watches(ctx, a.ID)
	if err != nil || len(watches) != len(ids) {
		t.Fatalf("watches: %+v %v", watches, err)
	}
	if p, err := db.ChildProfile(ctx, ids[1]); err != nil || p.Name != "Leo" {
		t.Fatalf("child profile: %+v %v", p, err)
	}
}
