package cli_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"kinwatch"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"kinwatch/account"
	"kinwatch/app"
	"kinwatch/cli"
	"kinwatch/config"
	"kinwatch/envelope"
	"kinwatch/mail/smtptest"
	"kinwatch/sqlite"
)

func runIn(ctx context.Context, stdin string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := cli.Main(ctx, args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestAdmin drives `kinwatch admin` against a data directory: operators are created with a given or
// a generated password that then signs in, accounts are listed and filtered, disabling ends the
// account's sessions, and unbound watches are listed as pending.
func TestAdmin(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	code, out, errOut := runIn(ctx, "a long operator passphrase\n", "admin", "create-operator", "--data-dir", dir, "--email", "Ops@Example.org", "--nickname", "Olga")
	if code != 0 || !strings.Contains(out, "ops@example.org") || strings.Contains(out, "password:") {
		t.Fatalf("create-operator: %d %s %s", code, out, errOut)
	}
	code, out, errOut = runIn(ctx, "", "admin", "create-operator", "--data-dir", dir, "--email", "night@example.org")
	generated := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)
	if code != 0 || generated == nil {
		t.Fatalf("create-operator with a generated password: %d %s %s", code, out, errOut)
	}
	if code, _, errOut = runIn(ctx, "a long operator passphrase\n", "admin", "create-operator", "--data-dir", dir, "--email", "ops@example.org"); code != 1 || !strings.Contains(errOut, "exists") {
		t.Fatalf("second operator with the same address: %d %s", code, errOut)
	}
	if code, _, errOut = runIn(ctx, "password\n", "admin", "create-operator", "--data-dir", dir, "--email", "weak@example.org"); code == 0 {
		t.Fatalf("a common password was accepted: %s", errOut)
	}

	// Both passwords are stored as argon2id hashes that verify.
	db, err := sqlite.Open(ctx, filepath.Join(dir, "kinwatch.db"), envelope.NewMaster())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for login, pw := range map[string]string{"ops@example.org": "a long operator passphrase", "night@example.org": generated[1]} {
		a, err := db.AccountByLogin(ctx, login)
		if err != nil || !a.Operator || a.EmailVerifiedAt.IsZero() {
			t.Fatalf("%s: %+v %v", login, a, err)
		}
		if ok, _ := account.VerifyPassword(a.PasswordHash, pw, account.DefaultArgon2); !ok {
			t.Fatalf("%s: the password does not verify", login)
		}
	}

	code, out, _ = runIn(ctx, "", "admin", "accounts", "--data-dir", dir, "--query", "olga")
	if code != 0 || !strings.Contains(out, "ops@example.org") || strings.Contains(out, "night@example.org") {
		t.Fatalf("accounts --query: %d %s", code, out)
	}

	ops, _ := db.AccountByLogin(ctx, "ops@example.org")
	svc := &account.Service{Store: db, Argon2: account.DefaultArgon2}
	if err := svc.Init(); err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if _, _, err := svc.Login(ctx, "ops@example.org", "a long operator passphrase", "bearer", account.Client{IP: "127.0.0.1"}); err != nil {
		t.Fatalf("operator sign-in: %v", err)
	}
	code, out, errOut = runIn(ctx, "", "admin", "disable", "--data-dir", dir, "--account", ops.ID)
	if code != 0 || !strings.Contains(out, "1 sessions ended") {
		t.Fatalf("disable: %d %s %s", code, out, errOut)
	}
	if a, _ := db.Account(ctx, ops.ID); !a.Disabled {
		t.Fatal("not disabled")
	}
	if code, _, _ = runIn(ctx, "", "admin", "enable", "--data-dir", dir, "--account", ops.ID); code != 0 {
		t.Fatal("enable failed")
	}
	if a, _ := db.Account(ctx, ops.ID); a.Disabled {
		t.Fatal("still disabled")
	}
	if code, _, errOut = runIn(ctx, "", "admin", "disable", "--data-dir", dir); code != 2 || !strings.Contains(errOut, "--account") {
		t.Fatalf("disable without an account: %d %s", code, errOut)
	}

	if code, _, errOut = runIn(ctx, "", "watches", "--data-dir", dir, "--add", "8800000077"); code != 0 {
		t.Fatal(errOut)
	}
	if code, out, _ = runIn(ctx, "", "admin", "pending", "--data-dir", dir); code != 0 || !strings.Contains(out, "8800000077") {
		t.Fatalf("pending: %d %s", code, out)
	}
	if code, _, _ = runIn(ctx, "", "admin", "frobnicate", "--data-dir", dir); code != 2 {
		t.Fatalf("unknown task: exit %d", code)
	}
}

// TestMasterKeyRotation: rotating stages a new master key, activating makes it current and
// re-wraps every data key with it, retiring drops the old key. Sealed data stays readable
// throughout, also for servers still running with the file of the step before, and the old key
// alone no longer opens anything afterwards.
func TestMasterKeyRotation(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	_, st, _ := boundDataDir(t, dir, "5500000001")
	now := time.Now().UTC()
	if err := st.WriteBatch(ctx, []kinwatch.Record{{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: "5500000001", Time: now, Lat: 52.52, Lon: 13.4, HasCoords: true}}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	keyFile := filepath.Join(dir, "master.key")
	old, err := envelope.LoadMasterFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	readable := func(m *envelope.Master) error {
		db, err := sqlite.Open(ctx, filepath.Join(dir, "kinwatch.db"), m)
		if err != nil {
			return err
		}
		defer db.Close()
		p, err := db.LatestPosition(ctx, "5500000001")
		if err == nil && p.Lat != 52.52 {
			err = fmt.Errorf("latitude %v", p.Lat)
		}
		return err
	}

	code, out, errOut := runIn(ctx, "", "admin", "master-key-rotate", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "staged") {
		t.Fatalf("rotate: %d %s %s", code, out, errOut)
	}
	staged, err := envelope.LoadMasterFile(keyFile)
	if err != nil || staged.CurrentID() != old.CurrentID() || staged.LastID() == old.CurrentID() {
		t.Fatalf("after rotate the file holds %v (%v); want the old key current and a new one staged", staged, err)
	}
	// A server still running with the old file reads on; so does one restarted with the new file.
	for name, m := range map[string]*envelope.Master{"old file": old, "staged file": staged} {
		if err := readable(m); err != nil {
			t.Fatalf("after rotate, with the %s: %v", name, err)
		}
	}

	code, out, errOut = runIn(ctx, "", "admin", "master-key-activate", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "1 data keys re-wrapped") {
		t.Fatalf("activate: %d %s %s", code, out, errOut)
	}
	rotated, err := envelope.LoadMasterFile(keyFile)
	if err != nil || rotated.CurrentID() != staged.LastID() {
		t.Fatalf("after activate the file holds %v (%v); want %s current", rotated, err, staged.LastID())
	}
	// A server running with the staged file (restarted after rotate) still reads everything.
	for name, m := range map[string]*envelope.Master{"staged file": staged, "activated file": rotated} {
		if err := readable(m); err != nil {
			t.Fatalf("after activate, with the %s: %v", name, err)
		}
	}

	code, out, errOut = runIn(ctx, "", "admin", "master-key-retire", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "0 data keys re-wrapped") || !strings.Contains(out, "now holds only "+rotated.CurrentID()) {
		t.Fatalf("retire: %d %s %s", code, out, errOut)
	}
	retired, err := envelope.LoadMasterFile(keyFile)
	if err != nil || retired.KeyFileText() != rotated.CurrentOnly().KeyFileText() {
		t.Fatalf("after retire the file holds %v (%v); want only %s", retired, err, rotated.CurrentID())
	}
	if err := readable(retired); err != nil {
		t.Fatalf("after retire: %v", err)
	}
	if err := readable(old); err == nil {
		t.Fatal("the retired master key still opens the data")
	}
}

// noticeAccounts creates accounts in the data directory's database, as sign-up would have.
func noticeAccounts(t *testing.T, dir string, emails ...string) []string {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = dir
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ids []string
	for _, e := range emails {
		a := &kinwatch.Account{ID: kinwatch.NewID(), Email: e, Profile: kinwatch.Profile{Nickname: "N"}, CreatedAt: time.Now().UTC()}
		if err := st.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	return ids
}

// TestAdminNotices drives the notice tasks: an incident reaches the accounts named, in the app and
// by mail through the configured relay, and nobody else; a policy version is announced to everyone
// once; ceasing operations is announced with a date and refuses to delete anything before it.
func TestAdminNotices(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	smtp := smtptest.Start(t)
	ids := noticeAccounts(t, dir, "anna@example.org", "bert@example.org")
	admin := func(args ...string) (int, string, string) {
		return runIn(ctx, "", append([]string{"admin", args[0], "--data-dir", dir, "--smtp-addr", smtp.Addr(), "--smtp-tls", "none",
			"--smtp-from", "kinwatch@example.org", "--log-level", "warn"}, args[1:]...)...)
	}

	code, out, errOut := admin("notify-incident", "--title", "Backup exposed", "--happened", "A backup was readable for two hours.",
		"--done", "We removed it.", "--you-can", "Change your password.", "--accounts", ids[0]+", ")
	id := regexp.MustCompile(`incident notice (\S+) recorded for 1 accounts`).FindStringSubmatch(out)
	if code != 0 || id == nil || !strings.Contains(out, "mail: 1 sent, 0 failed") || !strings.Contains(out, "not pushed") {
		t.Fatalf("notify-incident: %d %s %s", code, out, errOut)
	}
	m := smtp.Wait(t, "anna@example.org", 5*time.Second)
	if !strings.Contains(m.Text, "What we have done\nWe removed it.") || !strings.Contains(m.Subject, "Backup exposed") {
		t.Errorf("the incident mail: %s\n%s", m.Subject, m.Text)
	}
	for _, tc := range []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"notify-incident", "--title", "T", "--happened", "h", "--you-can", "y"}, 1, "what was done"},
		{[]string{"notify-incident", "--title", "T", "--happened", "h", "--done", "d", "--you-can", "y", "--accounts", ids[0] + ",nobody"}, 1, "account nobody not found"},
		{[]string{"notify-incident", "--title", "T", "--happened", "h", "--done", "d", "--you-can", "y", "--accounts", " , "}, 2, "--accounts"},
		{[]string{"cease-operations"}, 2, "--at"},
		{[]string{"cease-operations", "--at", "2020-01-01"}, 1, "has passed"},
		{[]string{"cease-operations", "--at", "soon"}, 2, "2027-01-31"},
		{[]string{"cease-operations", "--at", "2099-01-01", "--execute"}, 2, "give one"},
		{[]string{"cease-operations", "--execute"}, 1, "no cease-operations notice"},
	} {
		if code, _, errOut := admin(tc.args...); code != tc.code || !strings.Contains(errOut, tc.contains) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, errOut, tc.code, tc.contains)
		}
	}

	code, out, errOut = admin("publish-policy", "--policy-version", "2027-02", "--public-url", "https://kinwatch.example/")
	if code != 0 || !strings.Contains(out, "(version 2027-02, https://kinwatch.example/privacy-policy) recorded for 2 accounts") ||
		!strings.Contains(out, "mail: 2 sent") {
		t.Fatalf("publish-policy: %d %s %s", code, out, errOut)
	}
	for _, to := range []string{"anna@example.org", "bert@example.org"} {
		if m := smtp.Wait(t, to, 5*time.Second); !strings.Contains(m.Text, "https://kinwatch.example/privacy-policy") {
			t.Errorf("the policy mail to %s: %s", to, m.Text)
		}
	}
	if code, _, errOut := admin("publish-policy", "--policy-version", "2027-02"); code != 1 || !strings.Contains(errOut, "announced already") {
		t.Errorf("the same version again: %d %s", code, errOut)
	}

	code, out, errOut = admin("cease-operations", "--at", "2099-01-31", "--text", "We could not find a successor.")
	if code != 0 || !strings.Contains(out, "recorded for 2 accounts: every account is deleted from 2099-01-31T00:00:00Z") {
		t.Fatalf("cease-operations --at: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := admin("cease-operations", "--execute"); code != 1 || !strings.Contains(errOut, "runs until 31 January 2099") {
		t.Errorf("--execute during the notice period: %d %s", code, errOut)
	}
	if got := len(smtp.Messages()); got != 5 {
		t.Errorf("%d mails in all, want 5 (an incident, two policy notices, two closing notices)", got)
	}

	// What each account was told, as the API shows it.
	db, err := sqlite.Open(ctx, filepath.Join(dir, "kinwatch.db"), mustMaster(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, want := range []int{3, 2} {
		ns, err := db.AccountNotices(ctx, ids[i], 0)
		if err != nil || len(ns) != want {
			t.Errorf("account %d has %d notices (%v), want %d", i, len(ns), err, want)
		}
	}
	if as, _ := db.Accounts(ctx, kinwatch.AccountFilter{}); len(as) != 2 {
		t.Errorf("%d accounts left during the notice period, want 2", len(as))
	}
}

func mustMaster(t *testing.T, dir string) *envelope.Master {
	t.Helper()
	m, err := envelope.LoadMasterFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAdminCeaseOperationsExecute: once the notice period is over, --execute cancels every
// account; without a relay, the notices were mailed into DATA_DIR/outbox.
func TestAdminCeaseOperationsExecute(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	noticeAccounts(t, dir, "anna@example.org", "bert@example.org")
	_, st, family := boundDataDir(t, dir, "5500000009")
	// A notice whose period ended yesterday, as if published a month ago.
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := st.CreateNotice(ctx, &kinwatch.Notice{ID: kinwatch.NewID(), Kind: kinwatch.NoticeCeaseOperations, Title: "Closing",
		Body: "Everything is deleted.", CreatedAt: now.Add(-31 * 24 * time.Hour), EffectiveAt: now.Add(-24 * time.Hour)}, nil); err != nil {
		t.Fatal(err)
	}
	st.Close()

	code, out, errOut := runIn(ctx, "", "admin", "cease-operations", "--execute", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "3 accounts cancelled, 1 families deleted, 1 watches unbound") {
		t.Fatalf("--execute: %d %s %s", code, out, errOut)
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "kinwatch.db"), mustMaster(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if as, err := db.Accounts(ctx, kinwatch.AccountFilter{}); err != nil || len(as) != 0 {
		t.Errorf("accounts left: %d %v", len(as), err)
	}
	if _, err := db.Family(ctx, family); kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		t.Errorf("the family: %v", err)
	}
	if code, out, _ := runIn(ctx, "", "admin", "cease-operations", "--execute", "--data-dir", dir); code != 0 || !strings.Contains(out, "0 accounts cancelled") {
		t.Errorf("again: %d %s", code, out)
	}

	// Mail without a relay lands in the outbox, as the server's does.
	noticeAccounts(t, dir, "carla@example.org")
	if code, out, errOut := runIn(ctx, "", "admin", "publish-policy", "--data-dir", dir, "--policy-version", "2028-01"); code != 0 || !strings.Contains(out, "mail: 1 sent") {
		t.Fatalf("publish-policy: %d %s %s", code, out, errOut)
	}
	emls, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
	if len(emls) != 1 {
		t.Fatalf("outbox: %v", emls)
	}
	if b, _ := os.ReadFile(emls[0]); !strings.Contains(string(b), "carla@example.org") || !strings.Contains(string(b), "2028-01") {
		t.Errorf("the mail in the outbox: %s", b)
	}
}

// TestWarmHistory: `kinwatch admin warm-history --days N` caches the last N complete days of every
// bound watch, and a bad --days is a usage error.
func TestWarmHistory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, st, _ := boundDataDir(t, dir, "8800000031")
	today := time.Now().UTC().Truncate(24 * time.Hour)
	var recs []kinwatch.Record
	for h := range 10 * 24 {
		at := today.Add(time.Duration(h-10*24) * time.Hour)
		recs = append(recs, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewTimeID(at), DeviceID: "8800000031", Time: at,
			HasCoords: true, Lat: 52.52, Lon: 13.40, Source: kinwatch.SourceGPS}})
	}
	if err := st.WriteBatch(ctx, recs); err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, out, errOut := runIn(ctx, "", "admin", "warm-history", "--data-dir", dir, "--days", "5")
	if code != 0 || !strings.Contains(out, "history of 1 watches cached (5 complete days back), 0 failed") {
		t.Fatalf("warm-history: %d %s %s", code, out, errOut)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "kinwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, first int64
	if err := db.QueryRow(`SELECT count(*), min(day) FROM track_days WHERE device_id = '8800000031'`).Scan(&n, &first); err != nil {
		t.Fatal(err)
	}
	if n != 5 || first != kinwatch.TrackDay(today)-5 {
		t.Errorf("%d days cached from day %d, want 5 from %d", n, first, kinwatch.TrackDay(today)-5)
	}
	if code, _, errOut = runIn(ctx, "", "admin", "warm-history", "--data-dir", dir, "--days", "0"); code != 2 || !strings.Contains(errOut, "--days") {
		t.Fatalf("--days 0: %d %s", code, errOut)
	}
}
