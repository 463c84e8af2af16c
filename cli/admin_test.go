package cli_test

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"kinwatch/account"
	"kinwatch/cli"
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
