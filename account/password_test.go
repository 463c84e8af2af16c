package account_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/account"
)

var fast = account.Argon2Params{Memory: 64, Time: 1, Parallelism: 1}

func TestHashAndVerify(t *testing.T) {
	h, err := account.HashPassword("correct horse battery", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("PHC string %q", h)
	}
	if h2, _ := account.HashPassword("correct horse battery", fast); h2 == h {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	if ok, rehash := account.VerifyPassword(h, "correct horse battery", fast); !ok || rehash {
		t.Fatalf("right password: ok %v rehash %v", ok, rehash)
	}
	if ok, _ := account.VerifyPassword(h, "correct horse batterY", fast); ok {
		t.Fatal("wrong password accepted")
	}
	// Stronger parameters later: the old hash still verifies and asks to be replaced.
	if ok, rehash := account.VerifyPassword(h, "correct horse battery", account.DefaultArgon2); !ok || !rehash {
		t.Fatalf("after raising the cost: ok %v rehash %v", ok, rehash)
	}
	for _, bad := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5", // 4 GiB: refused, not computed
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5",
		strings.Replace(h, "$v=19$", "$v=16$", 1),
	} {
		if ok, _ := account.VerifyPassword(bad, "x", fast); ok {
			t.Errorf("hash %q verified", bad)
		}
	}
}

func TestPasswordCheck(t *testing.T) {
	ctx := context.Background()
	var c *account.PasswordChecker
	for _, tc := range []struct {
		password string
		personal []string
		want     string // substring of the reason, "" for accepted
	}{
		{"short", nil, "too short"},
		{"1234567", nil, "too short"},
		{strings.Repeat("x", 257), nil, "too long"},
		{"password123", nil, "most common"},
		{"PassWord123", nil, "most common"},
		{"qwertyuiop", nil, "most common"},
		{"annasmith-2026", []string{"annasmith@example.org", "Anna"}, "email"},
		{"Gandalf the Grey", []string{"x@example.org", "gandalf the grey"}, "name"},
		{"correct horse battery", []string{"anna@example.org", "Anna"}, ""},
		{"Zürich im Frühling", nil, ""},
		{"\xff\xfe invalid utf8", nil, "UTF-8"},
	} {
		err := c.Check(ctx, tc.password, tc.personal...)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q refused: %v", tc.password, err)
		case tc.want != "" && (err == nil || !strings.Contains(kinwatch.ErrorMessage(err), tc.want)):
			t.Errorf("%q: got %v, want a reason containing %q", tc.password, err, tc.want)
		case err != nil && kinwatch.ErrorCode(err) != kinwatch.EINVALID:
			t.Errorf("%q: code %s", tc.password, kinwatch.ErrorCode(err))
		}
	}
}

// TestPasswordCheckRangeAPI runs the breached-password check against a fake range API on loopback
// speaking the Have I Been Pwned format.
func TestPasswordCheckRangeAPI(t *testing.T) {
	breached := "Tr0ub4dor&3 horse"
	sum := sha1.Sum([]byte(breached))
	full := strings.ToUpper(hex.EncodeToString(sum[:]))
	var prefixes []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prefix := strings.TrimPrefix(r.URL.Path, "/range/")
		prefixes = append(prefixes, prefix)
		if r.Header.Get("Add-Padding") != "true" {
			t.Error("no Add-Padding header")
		}
		fmt.Fprintf(w, "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n")
		if prefix == full[:5] {
			fmt.Fprintf(w, "%s:42\r\n", full[5:])
		}
		fmt.Fprintf(w, "00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0\r\n")
	}))
	defer srv.Close()
	c := &account.PasswordChecker{RangeURL: srv.URL + "/range/", Client: srv.Client()}
	ctx := context.Background()
	if err := c.Check(ctx, breached); err == nil || !strings.Contains(err.Error(), "breaches") {
		t.Fatalf("breached password: %v", err)
	}
	if err := c.Check(ctx, "a fresh and unknown passphrase"); err != nil {
		t.Fatalf("unknown password refused: %v", err)
	}
	for _, p := range prefixes {
		if len(p) != 5 {
			t.Fatalf("sent %q: only 5 hex digits may leave the server", p)
		}
	}
	// The service down: sign-up goes on with the embedded list only.
	srv.Close()
	if err := c.Check(ctx, breached); err != nil {
		t.Fatalf("range API down: %v", err)
	}
}

func TestLockedUntil(t *testing.T) {
	last := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{{0, -1}, {4, -1}, {5, 30 * time.Second}, {6, time.Minute}, {7, 2 * time.Minute}, {12, time.Hour}, {1000, time.Hour}} {
		got := account.LockedUntil(tc.failures, last)
		if tc.want < 0 {
			if !got.IsZero() {
				t.Errorf("%d failures: locked until %v", tc.failures, got)
			}
			continue
		}
		if d := got.Sub(last); d != tc.want {
			t.Errorf("%d failures: locked for %v, want %v", tc.failures, d, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{"Anna@Example.ORG": "anna@example.org", " a.b@c.de ": "a.b@c.de", "": ""} {
		if got, err := account.NormalizeEmail(in); err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"anna", "anna@localhost", "Anna <anna@example.org>", "a@b@c.de", "@example.org"} {
		if _, err := account.NormalizeEmail(bad); kinwatch.ErrorCode(err) != kinwatch.EINVALID {
			t.Errorf("NormalizeEmail(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{"+49 151 1234-5678": "+4915112345678", "0049 (151) 12345678": "+4915112345678"} {
		if got, err := account.NormalizePhone(in); err != nil || got != want {
			t.Errorf("NormalizePhone(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"0151 12345678", "+0123456789", "+49", "+49abc12345678"} {
		if _, err := account.NormalizePhone(bad); kinwatch.ErrorCode(err) != kinwatch.EINVALID {
			t.Errorf("NormalizePhone(%q) accepted", bad)
		}
	}
}

func TestRedactAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"550 5.1.1 <anna.b+kids@example.org>: Recipient address rejected": "550 5.1.1 <<address>>: Recipient address rejected",
		"smtp: RCPT TO:anna@example.org refused; try later":               "smtp: RCPT TO:<address> refused; try later",
		"dial tcp 127.0.0.1:25: connection refused":                       "dial tcp 127.0.0.1:25: connection refused",
	} {
		if got := account.RedactAddresses(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
