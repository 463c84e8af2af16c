package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"kinwatch"
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

// TestMasterKeyRotation: rotating puts a new master key in front and re-wraps every data key with
// it; retiring drops the old key. Sealed data stays readable throughout, and the old key alone no
// longer opens anything afterwards.
func TestMasterKeyRotation(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = dir
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.BindDevices(ctx, st, []string{"5500000001"}); err != nil {
		t.Fatal(err)
	}
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
	if code != 0 || !strings.Contains(out, "1 data keys re-wrapped") {
		t.Fatalf("rotate: %d %s %s", code, out, errOut)
	}
	rotated, err := envelope.LoadMasterFile(keyFile)
	if err != nil || rotated.CurrentID() == old.CurrentID() || strings.Count(rotated.KeyFileText(), "\n") != 2 {
		t.Fatalf("after rotate the file holds %v (%v); want a new current key and the old one", rotated, err)
	}
	if err := readable(rotated); err != nil {
		t.Fatalf("after rotate: %v", err)
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
