package account_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"image"
	"image/png"
	"kinwatch/envelope"
	"kinwatch/fileblob"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/account"
	"kinwatch/mail"
	"kinwatch/mail/smtptest"
	"kinwatch/sqlite"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newService(t *testing.T) (*account.Service, *smtptest.Server, *clock, *sqlite.DB) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"), envelope.NewMaster())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	smtp := smtptest.Start(t)
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	s := &account.Service{
		Store: db, Mailer: &mail.SMTP{Addr: smtp.Addr(), From: "kinwatch@example.org", TLS: "none"},
		Argon2: fast, Policy: account.Policy{Version: "v7"}, BaseURL: "https://kinwatch.example", Now: clk.Now,
	}
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, smtp, clk, db
}

var linkToken = regexp.MustCompile(`token=([A-Za-z0-9_-]+)`)

func mailedToken(t *testing.T, smtp *smtptest.Server, to, subject string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range smtp.Messages() {
			if len(m.To) == 1 && m.To[0] == to && strings.Contains(m.Subject, subject) {
				if tok := linkToken.FindStringSubmatch(m.Text); tok != nil {
					return tok[1]
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %q mail to %s", subject, to)
	return ""
}

var anna = account.Client{IP: "192.0.2.1", UserAgent: "test"}

func signUp(t *testing.T, s *account.Service, email string) {
	t.Helper()
	nick := "Anna"
	if err := s.SignUp(context.Background(), account.SignUp{Email: email, Password: "correct horse battery", AcceptPolicy: "v7", AgeConfirmed: true,
		Profile: account.ProfilePatch{Nickname: &nick}}, anna); err != nil {
		t.Fatal(err)
	}
}

func code(err error) string { return kinwatch.ErrorCode(err) }

func TestSignUpVerifyLogin(t *testing.T) {
	s, smtp, _, db := newService(t)
	ctx := context.Background()
	signUp(t, s, "Anna@Example.org")
	tok := mailedToken(t, smtp, "anna@example.org", "Confirm your email")
	a, err := db.AccountByLogin(ctx, "anna@example.org")
	if err != nil || !a.EmailVerifiedAt.IsZero() || a.PolicyVersion != "v7" || a.PolicyAccepted.IsZero() || a.Preferences.Units != "metric" {
		t.Fatalf("account after sign-up: %+v, %v", a, err)
	}
	if _, err := s.VerifyEmail(ctx, tok, anna); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyEmail(ctx, tok, anna); code(err) != kinwatch.EINVALID {
		t.Fatalf("second use of the link: %v", err)
	}
	ss, token, err := s.Login(ctx, "ANNA@example.org", "correct horse battery", kinwatch.SessionBearer, anna)
	if err != nil {
		t.Fatal(err)
	}
	got, gs, err := s.Authenticate(ctx, token, anna)
	if err != nil || got.ID != a.ID || gs.ID != ss.ID || got.EmailVerifiedAt.IsZero() {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	if _, _, err := s.Authenticate(ctx, token+"x", anna); code(err) != kinwatch.EUNAUTHORIZED {
		t.Fatalf("wrong token: %v", err)
	}
}

func TestSignUpRefusals(t *testing.T) {
	s, smtp, _, _ := newService(t)
	ctx := context.Background()
	nick := "Anna"
	for name, in := range map[string]account.SignUp{
		"old policy":  {Email: "a@example.org", Password: "correct horse battery", AcceptPolicy: "v6", Profile: account.ProfilePatch{Nickname: &nick}},
		"no login":    {Password: "correct horse battery", AcceptPolicy: "v7", AgeConfirmed: true, Profile: account.ProfilePatch{Nickname: &nick}},
		"no nickname": {Email: "a@example.org", Password: "correct horse battery", AcceptPolicy: "v7", AgeConfirmed: true},
		"weak":        {Email: "a@example.org", Password: "password1", AcceptPolicy: "v7", AgeConfirmed: true, Profile: account.ProfilePatch{Nickname: &nick}},
		"bad phone":   {Phone: "12345", Password: "correct horse battery", AcceptPolicy: "v7", AgeConfirmed: true, Profile: account.ProfilePatch{Nickname: &nick}},
	} {
		if err := s.SignUp(ctx, in, anna); code(err) != kinwatch.EINVALID {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	// An address with an account already: the same answer, and its owner is told by mail.
	signUp(t, s, "anna@example.org")
	mailedToken(t, smtp, "anna@example.org", "Confirm")
	signUp(t, s, "anna@example.org")
	deadline := time.Now().Add(5 * time.Second)
	for !hasSubject(smtp, "Someone tried") {
		if time.Now().After(deadline) {
			t.Fatal("the owner was not told of the second sign-up")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasSubject(smtp *smtptest.Server, s string) bool {
	for _, m := range smtp.Messages() {
		if strings.Contains(m.Subject, s) {
			return true
		}
	}
	return false
}

// TestLoginAnswersAlike: an unknown login, a wrong password and a disabled account get one answer.
func TestLoginAnswersAlike(t *testing.T) {
	s, _, _, db := newService(t)
	ctx := context.Background()
	signUp(t, s, "anna@example.org")
	_, _, unknown := s.Login(ctx, "nobody@example.org", "correct horse battery", kinwatch.SessionBearer, anna)
	_, _, wrong := s.Login(ctx, "anna@example.org", "wrong horse battery", kinwatch.SessionBearer, anna)
	a, _ := db.AccountByLogin(ctx, "anna@example.org")
	a.Disabled = true
	if err := db.UpdateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	_, _, disabled := s.Login(ctx, "anna@example.org", "correct horse battery", kinwatch.SessionBearer, anna)
	for _, err := range []error{wrong, disabled} {
		if err == nil || err.Error() != unknown.Error() {
			t.Fatalf("answers differ: %v / %v", unknown, err)
		}
	}
}

func TestLockout(t *testing.T) {
	s, _, clk, _ := newService(t)
	ctx := context.Background()
	signUp(t, s, "anna@example.org")
	for i := 0; i < 5; i++ {
		// Different IPs: the per-account lockout, not the per-IP limit, is under test.
		c := account.Client{IP: "192.0.2." + string(rune('a'+i))}
		if _, _, err := s.Login(ctx, "anna@example.org", "wrong", kinwatch.SessionBearer, c); code(err) != kinwatch.EUNAUTHORIZED {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	// Locked: even the right password is refused, with the answer an unknown login gets.
	_, _, unknown := s.Login(ctx, "nobody@example.org", "correct horse battery", kinwatch.SessionBearer, anna)
	_, _, locked := s.Login(ctx, "anna@example.org", "correct horse battery", kinwatch.SessionBearer, anna)
	if locked == nil || code(locked) != kinwatch.EUNAUTHORIZED || locked.Error() != unknown.Error() {
		t.Fatalf("locked account: %v, unknown login: %v", locked, unknown)
	}
	clk.Add(31 * time.Second)
	if _, _, err := s.Login(ctx, "anna@example.org", "correct horse battery", kinwatch.SessionBearer, anna); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
}

func TestLoginRateLimitPerAddress(t *testing.T) {
	s, _, _, _ := newService(t)
	ctx := context.Background()
	var last error
	for i := 0; i < 11; i++ {
		_, _, last = s.Login(ctx, "nobody@example.org", "wrong", kinwatch.SessionBearer, account.Client{IP: "198.51.100.1"})
	}
	if code(last) != kinwatch.ETOOMANY {
		t.Fatalf("11th attempt for an unknown address: %v", last)
	}
}

func TestPasswordResetEndsSessions(t *testing.T) {
	s, smtp, _, _ := newService(t)
	ctx := context.Background()
	signUp(t, s, "anna@example.org")
	_, token, err := s.Login(ctx, "anna@example.org", "correct horse battery", kinwatch.SessionBearer, anna)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPasswordReset(ctx, "nobody@example.org", anna); err != nil {
		t.Fatalf("unknown address: %v", err)
	}
	if err := s.RequestPasswordReset(ctx, "anna@example.org", anna); err != nil {
		t.Fatal(err)
	}
	tok := mailedToken(t, smtp, "anna@example.org", "Reset")
	if err := s.ResetPassword(ctx, tok, "short", anna); code(err) != kinwatch.EINVALID {
		t.Fatalf("weak new password: %v", err)
	}
	// A typo in the new password does not spend the link.
	if err := s.ResetPassword(ctx, tok, "a new long passphrase", anna); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Authenticate(ctx, token, anna); code(err) != kinwatch.EUNAUTHORIZED {
		t.Fatalf("old session survived the reset: %v", err)
	}
	if _, _, err := s.Login(ctx, "anna@example.org", "a new long passphrase", kinwatch.SessionBearer, anna); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetPassword(ctx, tok, "another long passphrase", anna); code(err) != kinwatch.EINVALID {
		t.Fatalf("reset link used twice: %v", err)
	}
	for _, m := range smtp.Messages() {
		if len(m.To) > 0 && m.To[0] == "nobody@example.org" {
			t.Fatal("a reset mail went to an address without an account")
		}
	}
}

func TestSessionExpiryAndRevocation(t *testing.T) {
	s, _, clk, _ := newService(t)
	ctx := context.Background()
	signUp(t, s, "anna@example.org")
	s1, t1, _ := s.Login(ctx, "anna@example.org", "correct horse battery", kinwatch.SessionCookie, anna)
	_, t2, _ := s.Login(ctx, "anna@example.org", "correct horse battery", kinwatch.SessionBearer, anna)
	if account.CSRFToken(t1) == account.CSRFToken(t2) || account.CSRFToken(t1) == "" {
		t.Fatal("CSRF tokens must differ per session")
	}
	ss, err := s.Sessions(ctx, s1.AccountID)
	if err != nil || len(ss) != 2 {
		t.Fatalf("sessions: %d %v", len(ss), err)
	}
	if err := s.Revoke(ctx, s1.AccountID, s1.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Authenticate(ctx, t1, anna); code(err) != kinwatch.EUNAUTHORIZED {
		t.Fatalf("revoked session: %v", err)
	}
	clk.Add(31 * 24 * time.Hour)
	if _, _, err := s.Authenticate(ctx, t2, anna); code(err) != kinwatch.EUNAUTHORIZED {
		t.Fatalf("expired session: %v", err)
	}
}

func TestProfileValidation(t *testing.T) {
	s, _, _, db := newService(t)
	ctx := context.Background()
	signUp(t, s, "anna@example.org")
	a, _ := db.AccountByLogin(ctx, "anna@example.org")
	str := func(v string) *string { return &v }
	for name, p := range map[string]account.ProfilePatch{
		"nickname empty":   {Nickname: str(" ")},
		"nickname long":    {Nickname: str(strings.Repeat("a", 41))},
		"gender":           {Gender: str("robot")},
		"birthday format":  {Birthday: str("30.04.2015")},
		"birthday future":  {Birthday: str("2999-01-01")},
		"region":           {Region: str("Germany")},
		"language":         {Language: str("english!")},
		"time zone":        {TimeZone: str("Mars/Olympus")},
		"units":            {Units: str("furlongs")},
		"map style":        {MapStyle: str("neon")},
		"bio control char": {Bio: str("hi\x07")},
	} {
		if _, err := s.UpdateProfile(ctx, a.ID, p); code(err) != kinwatch.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	got, err := s.UpdateProfile(ctx, a.ID, account.ProfilePatch{Region: str("de"), TimeZone: str("Europe/Berlin"), Birthday: str("1988-02-29")})
	if err != nil || got.Profile.Region != "DE" || got.Preferences.TimeZone != "Europe/Berlin" {
		t.Fatalf("valid update: %+v %v", got, err)
	}
}

// fakeLive records the sessions the service reports as ended.
type fakeLive struct {
	mu    sync.Mutex
	ended []string
}

func (f *fakeLive) EndSession(accountID, sessionID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = append(f.ended, "one:"+sessionID)
}

func (f *fakeLive) EndSessions(accountID, keep string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = append(f.ended, "all-but:"+keep)
}

// TestSessionsEndingReachTheStream: every way a session ends is told to what holds it open.
func TestSessionsEndingReachTheStream(t *testing.T) {
	s, smtp, _, _ := newService(t)
	live := &fakeLive{}
	s.Live = live
	ctx := context.Background()
	signUp(t, s, "anna@example.org")
	s1, _, _ := s.Login(ctx, "anna@example.org", "correct horse battery", kinwatch.SessionBearer, anna)
	s2, _, _ := s.Login(ctx, "anna@example.org", "correct horse battery", kinwatch.SessionBearer, anna)
	if err := s.Revoke(ctx, s1.AccountID, s1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeOthers(ctx, s1.AccountID, s2.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.ChangePassword(ctx, s1.AccountID, s2.ID, "correct horse battery", "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPasswordReset(ctx, "anna@example.org", anna); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetPassword(ctx, mailedToken(t, smtp, "anna@example.org", "Reset"), "yet another passphrase", anna); err != nil {
		t.Fatal(err)
	}
	want := []string{"one:" + s1.ID, "all-but:" + s2.ID, "all-but:" + s2.ID, "all-but:"}
	if strings.Join(live.ended, " ") != strings.Join(want, " ") {
		t.Fatalf("ended %v, want %v", live.ended, want)
	}
}

// TestPreHijack: someone who signs up with another person's address cannot keep a way in once
// that person takes the account over: linking a provider needs a verified address, a provider's
// unverified address is not claimed, and a reset of an unverified account drops provider links.
func TestPreHijack(t *testing.T) {
	s, smtp, _, db := newService(t)
	ctx := context.Background()
	signUp(t, s, "victim@example.org") // by the attacker, who cannot read the victim's mail
	a, err := db.AccountByLogin(ctx, "victim@example.org")
	if err != nil {
		t.Fatal(err)
	}
	attacker := account.External{Provider: "idp", Subject: "attacker", Email: "attacker@example.net", EmailVerified: true}
	if err := s.Link(ctx, a.ID, attacker); code(err) != kinwatch.EFORBIDDEN {
		t.Fatalf("linking to an unverified account: %v", err)
	}
	// A link made anyway (by an older version, say) does not survive the owner's reset.
	if err := db.CreateIdentity(ctx, &kinwatch.Identity{Provider: "idp", Subject: "attacker", AccountID: a.ID, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPasswordReset(ctx, "victim@example.org", anna); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetPassword(ctx, mailedToken(t, smtp, "victim@example.org", "Reset"), "a passphrase of her own", anna); err != nil {
		t.Fatal(err)
	}
	if ids, err := db.Identities(ctx, a.ID); err != nil || len(ids) != 0 {
		t.Fatalf("provider links after the owner's reset: %d %v", len(ids), err)
	}
	if _, _, err := s.SignInExternal(ctx, attacker, account.Acceptance{Policy: "v7", AgeConfirmed: true}, kinwatch.SessionBearer, anna); err != nil {
		t.Fatal(err) // a new, separate account
	}
	if ss, _ := s.Sessions(ctx, a.ID); len(ss) != 0 {
		t.Fatalf("the attacker signed in to the victim's account: %d sessions", len(ss))
	}
	// Verified now: linking works, and the owner is told.
	if err := s.Link(ctx, a.ID, account.External{Provider: "idp2", Subject: "victim", Email: "victim@example.org", EmailVerified: true}); err != nil {
		t.Fatalf("linking to a verified account: %v", err)
	}
	waitMail(t, smtp, "victim@example.org", "sign-in provider was linked")

	// A provider account with an unverified address gets an account without that address, and
	// the address stays free for its owner.
	_, _, err = s.SignInExternal(ctx, account.External{Provider: "idp", Subject: "squatter", Email: "someone@example.org"}, account.Acceptance{Policy: "v7", AgeConfirmed: true}, kinwatch.SessionBearer, anna)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.AccountByLogin(ctx, "someone@example.org"); code(err) != kinwatch.ENOTFOUND {
		t.Fatalf("an unverified provider address was claimed: %v", err)
	}
	signUp(t, s, "someone@example.org")
	if _, err := db.AccountByLogin(ctx, "someone@example.org"); err != nil {
		t.Fatalf("the owner could not sign up: %v", err)
	}
}

// TestRateLimitPerIPv6Network: addresses of one IPv6 /64 (one subscriber) share a limit.
func TestRateLimitPerIPv6Network(t *testing.T) {
	s, _, _, _ := newService(t)
	ctx := context.Background()
	var last error
	for i := 0; i < 61; i++ {
		c := account.Client{IP: fmt.Sprintf("2001:db8:1:2::%x", i+1)}
		_, _, last = s.Login(ctx, fmt.Sprintf("nobody%d@example.org", i), "wrong", kinwatch.SessionBearer, c)
	}
	if code(last) != kinwatch.ETOOMANY {
		t.Fatalf("61st attempt from one /64: %v", last)
	}
	if _, _, err := s.Login(ctx, "someone@example.org", "wrong", kinwatch.SessionBearer, account.Client{IP: "2001:db8:1:3::1"}); code(err) != kinwatch.EUNAUTHORIZED {
		t.Fatalf("another /64: %v", err)
	}
}

// TestEmailChange: the address changes only when the new one's link is opened; the old address
// is told (with the new one masked), and sign-in follows the change.
func TestEmailChange(t *testing.T) {
	s, smtp, _, db := newService(t)
	ctx := context.Background()
	signUp(t, s, "anna@example.org")
	if _, err := s.VerifyEmail(ctx, mailedToken(t, smtp, "anna@example.org", "Confirm your email"), anna); err != nil {
		t.Fatal(err)
	}
	a, _ := db.AccountByLogin(ctx, "anna@example.org")
	if err := s.RequestEmailChange(ctx, a.ID, "wrong password", "anna.new@example.net"); code(err) != kinwatch.EFORBIDDEN {
		t.Fatalf("wrong password: %v", err)
	}
	if err := s.RequestEmailChange(ctx, a.ID, "correct horse battery", "anna.new@example.net"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Account(ctx, a.ID); got.Email != "anna@example.org" {
		t.Fatalf("address changed before the link was opened: %s", got.Email)
	}
	if _, err := s.VerifyEmail(ctx, mailedToken(t, smtp, "anna.new@example.net", "new email"), anna); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Login(ctx, "anna.new@example.net", "correct horse battery", kinwatch.SessionBearer, anna); err != nil {
		t.Fatalf("sign-in with the new address: %v", err)
	}
	if _, _, err := s.Login(ctx, "anna@example.org", "correct horse battery", kinwatch.SessionBearer, anna); code(err) != kinwatch.EUNAUTHORIZED {
		t.Fatalf("sign-in with the old address: %v", err)
	}
	var notice string
	for deadline := time.Now().Add(10 * time.Second); notice == ""; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the old address was not told of the change")
		}
		for _, m := range smtp.Messages() {
			if len(m.To) == 1 && m.To[0] == "anna@example.org" && strings.Contains(m.Subject, "changed") {
				notice = m.Text
			}
		}
	}
	if !strings.Contains(notice, "a***@example.net") || strings.Contains(notice, "anna.new") {
		t.Fatalf("notice to the old address: %q", notice)
	}
}

// waitMail waits for a mail to to whose subject contains subject and returns its text.
func waitMail(t *testing.T, smtp *smtptest.Server, to, subject string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, m := range smtp.Messages() {
			if len(m.To) == 1 && m.To[0] == to && strings.Contains(m.Subject, subject) {
				return m.Text
			}
		}
	}
	t.Fatalf("no %q mail to %s", subject, to)
	return ""
}

// TestPreHijackAfterVictimVerified: the attacker signs up with the victim's address; the victim
// opens the verification mail the sign-up sent her; the attacker, who knows the password, signs
// in and links a provider. The victim's password reset leaves the attacker no way in.
func TestPreHijackAfterVictimVerified(t *testing.T) {
	s, smtp, _, _ := newService(t)
	ctx := context.Background()
	signUp(t, s, "victim@example.org")                                                                                    // by the attacker
	if _, err := s.VerifyEmail(ctx, mailedToken(t, smtp, "victim@example.org", "Confirm your email"), anna); err != nil { // by the victim
		t.Fatal(err)
	}
	ss, _, err := s.Login(ctx, "victim@example.org", "correct horse battery", kinwatch.SessionBearer, anna) // the attacker
	if err != nil {
		t.Fatal(err)
	}
	attacker := account.External{Provider: "idp", Subject: "attacker", Email: "attacker@example.net", EmailVerified: true}
	if err := s.Link(ctx, ss.AccountID, attacker); err != nil {
		t.Fatal(err)
	}
	// The victim hears of the link, and takes the account over.
	waitMail(t, smtp, "victim@example.org", "sign-in provider was linked")
	if err := s.RequestPasswordReset(ctx, "victim@example.org", anna); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetPassword(ctx, mailedToken(t, smtp, "victim@example.org", "Reset"), "a passphrase of her own", anna); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.SignInExternal(ctx, attacker, account.Acceptance{Policy: "v7", AgeConfirmed: true}, kinwatch.SessionBearer, anna)
	if err == nil && got.AccountID == ss.AccountID {
		t.Fatal("after the victim's reset the attacker still signs in to her account through the provider link")
	}
}

// TestLinkWithoutEmail: an account without an email address (signed up with a phone number, or
// through a provider that gave none) can link providers: there is no address to pre-hijack.
func TestLinkWithoutEmail(t *testing.T) {
	s, _, _, db := newService(t)
	ctx := context.Background()
	nick := "Pat"
	if err := s.SignUp(ctx, account.SignUp{Phone: "+4915112345678", Password: "correct horse battery", AcceptPolicy: "v7", AgeConfirmed: true,
		Profile: account.ProfilePatch{Nickname: &nick}}, anna); err != nil {
		t.Fatal(err)
	}
	a, err := db.AccountByLogin(ctx, "+4915112345678")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Link(ctx, a.ID, account.External{Provider: "idp", Subject: "pat", EmailVerified: true}); err != nil {
		t.Fatalf("linking to a phone account: %v", err)
	}
}

// TestStillValid: the stream's periodic check answers like Authenticate and records no use.
func TestStillValid(t *testing.T) {
	s, _, clk, db := newService(t)
	ctx := context.Background()
	signUp(t, s, "anna@example.org")
	s1, t1, _ := s.Login(ctx, "anna@example.org", "correct horse battery", kinwatch.SessionBearer, anna)
	_, t2, _ := s.Login(ctx, "anna@example.org", "correct horse battery", kinwatch.SessionBearer, anna)
	clk.Add(2 * time.Minute)
	if err := s.StillValid(ctx, t1); err != nil {
		t.Fatal(err)
	}
	if ss, _ := db.SessionByToken(ctx, hashOf(t1)); ss == nil || !ss.LastUsedAt.Equal(s1.LastUsedAt) {
		t.Fatalf("the check recorded a use: %+v", ss)
	}
	if err := s.Revoke(ctx, s1.AccountID, s1.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.StillValid(ctx, t1); code(err) != kinwatch.EUNAUTHORIZED {
		t.Fatalf("revoked: %v", err)
	}
	a, _ := db.Account(ctx, s1.AccountID)
	a.Disabled = true
	db.UpdateAccount(ctx, a)
	if err := s.StillValid(ctx, t2); code(err) != kinwatch.EUNAUTHORIZED {
		t.Fatalf("disabled: %v", err)
	}
	a.Disabled = false
	db.UpdateAccount(ctx, a)
	clk.Add(31 * 24 * time.Hour)
	if err := s.StillValid(ctx, t2); code(err) != kinwatch.EUNAUTHORIZED {
		t.Fatalf("expired: %v", err)
	}
}

func hashOf(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// TestPasswordChangeKeepsANewPicture: a slow write of the whole account (a password change
// waiting on the breach check) does not put back the picture key it read, which a new picture
// replaced (and deleted) meanwhile.
func TestPasswordChangeKeepsANewPicture(t *testing.T) {
	s, _, _, db := newService(t)
	ctx := context.Background()
	blobs, err := fileblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.Blobs = blobs
	entered, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	}))
	defer srv.Close()
	s.Passwords = &account.PasswordChecker{RangeURL: srv.URL + "/range/", Client: srv.Client()}
	hash, err := account.HashPassword("correct horse battery", fast)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	a := &kinwatch.Account{ID: kinwatch.NewID(), Email: "mum@example.org", PasswordHash: hash,
		Profile: kinwatch.Profile{Nickname: "Mum"}, CreatedAt: now, UpdatedAt: now, EmailVerifiedAt: now}
	if err := db.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	pic := func(n int) []byte {
		var b bytes.Buffer
		png.Encode(&b, image.NewGray(image.Rect(0, 0, n, n)))
		return b.Bytes()
	}
	if _, err := s.SetAvatar(ctx, a.ID, pic(32), "image/png"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- s.ChangePassword(ctx, a.ID, "", "correct horse battery", "another long passphrase") }()
	<-entered
	if _, err := s.SetAvatar(ctx, a.ID, pic(48), "image/png"); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	data, _, err := s.Avatar(ctx, a.ID)
	if err != nil || !bytes.Equal(data, pic(48)) {
		t.Fatalf("after a password change raced a new picture: %d bytes, %v; want the new picture", len(data), err)
	}
}

// TestMinimumAge: where the region sets an age of digital consent, signing up (with a password or
// through a provider) needs the confirmation of being that old.
func TestMinimumAge(t *testing.T) {
	if account.MinAgeFor("DE") != 16 || account.MinAgeFor("us") != 13 || account.MinAgeFor("fr") != 15 || account.MinAgeFor("atlantis") != account.DefaultMinAge {
		t.Fatalf("ages: de %d us %d fr %d unknown %d", account.MinAgeFor("DE"), account.MinAgeFor("us"), account.MinAgeFor("fr"), account.MinAgeFor("atlantis"))
	}
	s, _, _, _ := newService(t)
	s.Policy.MinAge = 16
	ctx := context.Background()
	nick := "Nina"
	err := s.SignUp(ctx, account.SignUp{Email: "young@example.org", Password: "correct horse battery", AcceptPolicy: "v7", Profile: account.ProfilePatch{Nickname: &nick}}, anna)
	if kinwatch.ErrorCode(err) != kinwatch.EINVALID || !strings.Contains(kinwatch.ErrorMessage(err), "16") {
		t.Fatalf("sign-up without the age confirmation: %v", err)
	}
	if err := s.SignUp(ctx, account.SignUp{Email: "adult@example.org", Password: "correct horse battery", AcceptPolicy: "v7", AgeConfirmed: true,
		Profile: account.ProfilePatch{Nickname: &nick}}, anna); err != nil {
		t.Fatalf("sign-up with it: %v", err)
	}
	if _, _, err := s.SignInExternal(ctx, account.External{Provider: "idp", Subject: "new-person", Email: "n@example.org", EmailVerified: true},
		account.Acceptance{Policy: "v7"}, kinwatch.SessionBearer, anna); kinwatch.ErrorCode(err) != kinwatch.EINVALID {
		t.Fatalf("a provider sign-up without the age confirmation: %v", err)
	}
}
