package storetest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kinwatch"
)

// accountTests cover kinwatch.AccountStore: accounts, sessions, mailed tokens, identities.
var accountTests = []storeTest{
	{"AccountRoundTrip", testAccountRoundTrip},
	{"AccountDefaults", testAccountDefaults},
	{"AccountConflicts", testAccountConflicts},
	{"AccountByLogin", testAccountByLogin},
	{"UpdateAccount", testUpdateAccount},
	{"UpdateAccountConflicts", testUpdateAccountConflicts},
	{"AccountAvatar", testAccountAvatar},
	{"AccountAvatarConcurrently", testAccountAvatarConcurrently},
	{"AccountsFilter", testAccountsFilter},
	{"LoginFailures", testLoginFailures},
	{"LoginFailuresConcurrently", testLoginFailuresConcurrently},
	{"SessionLifecycle", testSessionLifecycle},
	{"SessionValidation", testSessionValidation},
	{"DeleteSessions", testDeleteSessions},
	{"DeleteExpired", testDeleteExpired},
	{"Tokens", testTokens},
	{"ConsumeTokenConcurrently", testConsumeTokenConcurrently},
	{"Identities", testIdentities},
	{"DeleteAccountCascades", testDeleteAccountCascades},
}

// hash stands in for the SHA-256 of a secret the caller would have generated.
func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// fullAccount has every field set to something distinct, so a column that is not written or
// read back shows.
func fullAccount(id, email, phone string) *kinwatch.Account {
	return &kinwatch.Account{
		ID:              id,
		Email:           email,
		Phone:           phone,
		EmailVerifiedAt: t0.Add(time.Minute),
		PasswordHash:    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		Profile: kinwatch.Profile{
			Nickname: "Mama Bär", Avatar: "avatars/" + id, Gender: "female",
			Birthday: "1988-02-29", Region: "AT", Bio: "two kids,\none watch each",
		},
		Preferences: kinwatch.Preferences{
			Language: "de-AT", Units: "imperial", TimeZone: "Europe/Vienna", MapStyle: "satellite",
		},
		Operator:        true,
		Disabled:        true,
		PolicyVersion:   "2026-01",
		PolicyAccepted:  t0.Add(2 * time.Minute),
		FailedLogins:    3,
		LastFailedLogin: t0.Add(3 * time.Minute),
		CreatedAt:       t0,
		UpdatedAt:       t0.Add(4 * time.Minute),
	}
}

func createAccount(t *testing.T, s kinwatch.Store, a *kinwatch.Account) *kinwatch.Account {
	t.Helper()
	if err := s.CreateAccount(t.Context(), a); err != nil {
		t.Fatalf("CreateAccount(%s): %v", a.ID, err)
	}
	return a
}

func mustAccount(t *testing.T, s kinwatch.Store, id string) *kinwatch.Account {
	t.Helper()
	a, err := s.Account(t.Context(), id)
	if err != nil {
		t.Fatalf("Account(%q): %v", id, err)
	}
	return a
}

// session is a valid session of account created at t0 that expires a day later.
func session(id, account, secret string) *kinwatch.Session {
	return &kinwatch.Session{
		ID: id, AccountID: account, TokenHash: hash(secret), Kind: kinwatch.SessionCookie,
		UserAgent: "Mozilla/5.0", IP: "192.0.2.1", CreatedAt: t0, LastUsedAt: t0, ExpiresAt: t0.Add(24 * time.Hour),
	}
}

func createSession(t *testing.T, s kinwatch.Store, ss *kinwatch.Session) *kinwatch.Session {
	t.Helper()
	if err := s.CreateSession(t.Context(), ss); err != nil {
		t.Fatalf("CreateSession(%s): %v", ss.ID, err)
	}
	return ss
}

func sessionIDs(t *testing.T, s kinwatch.Store, account string) []string {
	t.Helper()
	list, err := s.Sessions(t.Context(), account)
	if err != nil {
		t.Fatalf("Sessions(%s): %v", account, err)
	}
	var ids []string
	for _, ss := range list {
		ids = append(ids, ss.ID)
	}
	return ids
}

func createToken(t *testing.T, s kinwatch.Store, tok *kinwatch.Token) *kinwatch.Token {
	t.Helper()
	if err := s.CreateToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateToken(%s): %v", tok.Purpose, err)
	}
	return tok
}

func testAccountRoundTrip(t *testing.T, s kinwatch.Store) {
	want := createAccount(t, s, fullAccount("acc1", "anna@example.com", "+4915112345678"))
	got := mustAccount(t, s, "acc1")
	same(t, "Account", got, want)

	// Nothing set but the id: the zero times ("never") and empty identifiers survive as such.
	bare := createAccount(t, s, &kinwatch.Account{ID: "acc2", CreatedAt: t0, UpdatedAt: t0})
	same(t, "bare Account", mustAccount(t, s, "acc2"), bare)

	_, err := s.Account(t.Context(), "acc3")
	wantCode(t, "Account(unknown)", err, kinwatch.ENOTFOUND)
}

func testAccountDefaults(t *testing.T, s kinwatch.Store) {
	before := time.Now().Add(-time.Second)
	a := createAccount(t, s, &kinwatch.Account{Email: "Mixed.Case@Example.COM", Profile: kinwatch.Profile{Nickname: "x"}})
	if a.ID == "" {
		t.Fatal("CreateAccount left the id empty")
	}
	if a.CreatedAt.Before(before) || a.CreatedAt.After(time.Now()) || !a.UpdatedAt.Equal(a.CreatedAt) {
		t.Errorf("CreateAccount set created %v, updated %v; want now, twice", a.CreatedAt, a.UpdatedAt)
	}
	if a.Email != "mixed.case@example.com" {
		t.Errorf("CreateAccount kept email %q; want it lower-cased", a.Email)
	}
	// What CreateAccount filled in is what a read returns, to the microsecond.
	same(t, "Account with defaults", mustAccount(t, s, a.ID), a)
}

func testAccountConflicts(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	createAccount(t, s, fullAccount("acc1", "anna@example.com", "+4915112345678"))

	// The message names what is taken: the sign-up form points at the field.
	for _, tc := range []struct {
		name    string
		a       *kinwatch.Account
		mention string
	}{
		{"same email", fullAccount("acc2", "anna@example.com", "+4915100000002"), "email"},
		{"same email in another case", fullAccount("acc3", "Anna@Example.com", "+4915100000003"), "email"},
		{"same email, no phone", fullAccount("acc4", "anna@example.com", ""), "email"},
		{"same phone", fullAccount("acc5", "other@example.com", "+4915112345678"), "phone"},
		{"same phone, no email", fullAccount("acc6", "", "+4915112345678"), "phone"},
		{"same id", fullAccount("acc1", "third@example.com", "+4915100000007"), "id"},
	} {
		err := s.CreateAccount(ctx, tc.a)
		wantCode(t, "CreateAccount("+tc.name+")", err, kinwatch.ECONFLICT)
		if msg := kinwatch.ErrorMessage(err); !strings.Contains(msg, tc.mention) {
			t.Errorf("CreateAccount(%s): message %q does not mention the %s", tc.name, msg, tc.mention)
		}
		if tc.a.ID != "acc1" {
			_, err := s.Account(ctx, tc.a.ID)
			wantCode(t, "Account after a refused CreateAccount ("+tc.name+")", err, kinwatch.ENOTFOUND)
		}
	}
	same(t, "the first account after the conflicts", mustAccount(t, s, "acc1"), fullAccount("acc1", "anna@example.com", "+4915112345678"))

	// Any number of accounts may lack an email, a phone or both.
	for _, a := range []*kinwatch.Account{
		fullAccount("p1", "", "+4915100000011"),
		fullAccount("p2", "", "+4915100000012"),
		fullAccount("e1", "e1@example.com", ""),
		fullAccount("e2", "e2@example.com", ""),
		fullAccount("n1", "", ""),
		fullAccount("n2", "", ""),
	} {
		createAccount(t, s, a)
		same(t, "Account("+a.ID+")", mustAccount(t, s, a.ID), a)
	}
}

func testAccountByLogin(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	anna := createAccount(t, s, fullAccount("acc1", "anna@example.com", "+4915112345678"))
	createAccount(t, s, fullAccount("acc2", "bert@example.com", "+4915187654321"))
	createAccount(t, s, fullAccount("acc3", "", "")) // must never match an empty login

	for _, login := range []string{"anna@example.com", "ANNA@Example.Com", "+4915112345678"} {
		got, err := s.AccountByLogin(ctx, login)
		if err != nil {
			t.Errorf("AccountByLogin(%q): %v", login, err)
			continue
		}
		same(t, "AccountByLogin("+login+")", got, anna)
	}
	// Text no account can hold (a NUL, bytes that are not UTF-8) finds nothing; it is no error.
	for _, login := range []string{"", "anna", "anna@example", "%@example.com", "+49151%", "4915112345678", "acc1",
		"anna@example.com\x00", "anna@example.com\xff"} {
		_, err := s.AccountByLogin(ctx, login)
		wantCode(t, "AccountByLogin("+login+")", err, kinwatch.ENOTFOUND)
	}

	// The store does not check what a phone number looks like. Should one account's phone be
	// another's email, the email wins, whichever account came first.
	createAccount(t, s, fullAccount("acc4", "", "dora@example.com"))
	dora := createAccount(t, s, fullAccount("acc5", "dora@example.com", ""))
	if got, err := s.AccountByLogin(ctx, "dora@example.com"); err != nil || got.ID != dora.ID {
		t.Errorf("AccountByLogin(email that is also a phone) = %v, %v; want the account with that email", got, err)
	}
}

func testUpdateAccount(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	orig := createAccount(t, s, fullAccount("acc1", "anna@example.com", "+4915112345678"))

	// Every writable field changes; the four that UpdateAccount must not write are changed in
	// the argument too, and must keep their stored values.
	upd := &kinwatch.Account{
		ID:              "acc1",
		Email:           "Anna.New@Example.com",
		Phone:           "+4915199999999",
		EmailVerifiedAt: time.Time{},
		PasswordHash:    "$argon2id$v=19$m=65536,t=3,p=4$bmV1$bmV1",
		Profile: kinwatch.Profile{
			Nickname: "Anna", Avatar: "", Gender: "other", Birthday: "", Region: "DE", Bio: "",
		},
		Preferences:     kinwatch.Preferences{Language: "en", Units: "metric", TimeZone: "Europe/Berlin", MapStyle: "dark"},
		Operator:        false,
		Disabled:        false,
		PolicyVersion:   "2026-03",
		PolicyAccepted:  t0.Add(time.Hour),
		FailedLogins:    99,
		LastFailedLogin: t0.Add(99 * time.Hour),
		CreatedAt:       t0.Add(-99 * time.Hour),
		UpdatedAt:       t0.Add(2 * time.Hour),
	}
	if err := s.UpdateAccount(ctx, upd); err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}
	want := *upd
	want.Email = "anna.new@example.com"
	want.FailedLogins, want.LastFailedLogin, want.CreatedAt = orig.FailedLogins, orig.LastFailedLogin, orig.CreatedAt
	want.Profile.Avatar = orig.Profile.Avatar // SetAccountAvatar's, not UpdateAccount's
	same(t, "updated account", mustAccount(t, s, "acc1"), &want)

	// The old identifiers are free and no longer find the account; the new ones do.
	for _, login := range []string{"anna@example.com", "+4915112345678"} {
		_, err := s.AccountByLogin(ctx, login)
		wantCode(t, "AccountByLogin(old "+login+")", err, kinwatch.ENOTFOUND)
	}
	if got, err := s.AccountByLogin(ctx, "anna.new@example.com"); err != nil || got.ID != "acc1" {
		t.Errorf("AccountByLogin(new email) = %v, %v", got, err)
	}
	createAccount(t, s, fullAccount("acc2", "anna@example.com", "+4915112345678"))

	// Clearing both identifiers stores "no email" and "no phone", which other accounts share.
	want.Email, want.Phone = "", ""
	cleared := want
	if err := s.UpdateAccount(ctx, &cleared); err != nil {
		t.Fatalf("UpdateAccount(clear email and phone): %v", err)
	}
	createAccount(t, s, fullAccount("acc3", "", ""))
	same(t, "account without email and phone", mustAccount(t, s, "acc1"), &want)
	if _, err := s.AccountByLogin(ctx, "anna.new@example.com"); kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		t.Errorf("AccountByLogin(cleared email) = %v; want not found", err)
	}

	missing := fullAccount("acc9", "nine@example.com", "")
	wantCode(t, "UpdateAccount(unknown)", s.UpdateAccount(ctx, missing), kinwatch.ENOTFOUND)
	_, err := s.Account(ctx, "acc9")
	wantCode(t, "Account after UpdateAccount(unknown)", err, kinwatch.ENOTFOUND)
}

func testUpdateAccountConflicts(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	createAccount(t, s, fullAccount("acc1", "anna@example.com", "+4915112345678"))
	bert := createAccount(t, s, fullAccount("acc2", "bert@example.com", "+4915187654321"))

	for _, tc := range []struct {
		name, email, phone string
	}{
		{"taken email", "anna@example.com", bert.Phone},
		{"taken email in another case", "ANNA@example.com", bert.Phone},
		{"taken phone", bert.Email, "+4915112345678"},
	} {
		a := *bert
		a.Email, a.Phone, a.Profile.Nickname = tc.email, tc.phone, "changed"
		wantCode(t, "UpdateAccount("+tc.name+")", s.UpdateAccount(ctx, &a), kinwatch.ECONFLICT)
	}
	same(t, "account after refused updates", mustAccount(t, s, "acc2"), bert)

	// Keeping one's own identifiers is not a conflict.
	a := *bert
	a.Profile.Nickname = "Bert"
	if err := s.UpdateAccount(ctx, &a); err != nil {
		t.Errorf("UpdateAccount(own email and phone): %v", err)
	}
}

func testAccountsFilter(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	// Created in scrambled order: listing is by id.
	for _, a := range []struct{ id, email, phone, nickname string }{
		{"a3", "carla@example.org", "", "Carla 100%"},
		{"a1", "anna@example.com", "+4915112345678", "Mama"},
		{"a5", "", "+4367612345678", "Opa_Erich"},
		{"a2", "bert@example.com", "", "Papa"},
		{"a4", "dora@sample.net", "+4915100000004", `Back\slash`},
		{"a6", "", "", "OpaXErich"},
	} {
		acc := fullAccount(a.id, a.email, a.phone)
		acc.Profile.Nickname = a.nickname
		createAccount(t, s, acc)
	}
	for _, tc := range []struct {
		name string
		f    kinwatch.AccountFilter
		want []string
	}{
		{"all", kinwatch.AccountFilter{}, []string{"a1", "a2", "a3", "a4", "a5", "a6"}},
		{"page 1", kinwatch.AccountFilter{Limit: 2}, []string{"a1", "a2"}},
		{"page 2", kinwatch.AccountFilter{After: "a2", Limit: 2}, []string{"a3", "a4"}},
		{"last page", kinwatch.AccountFilter{After: "a4", Limit: 2}, []string{"a5", "a6"}},
		{"past the end", kinwatch.AccountFilter{After: "a6"}, nil},
		{"email domain", kinwatch.AccountFilter{Query: "example.com"}, []string{"a1", "a2"}},
		{"email, other case", kinwatch.AccountFilter{Query: "EXAMPLE.ORG"}, []string{"a3"}},
		{"phone prefix", kinwatch.AccountFilter{Query: "+49151"}, []string{"a1", "a4"}},
		{"phone middle", kinwatch.AccountFilter{Query: "12345678"}, []string{"a1", "a5"}},
		{"nickname, other case", kinwatch.AccountFilter{Query: "papa"}, []string{"a2"}},
		{"nickname in several", kinwatch.AccountFilter{Query: "erich"}, []string{"a5", "a6"}},
		{"literal percent", kinwatch.AccountFilter{Query: "0%"}, []string{"a3"}},
		{"percent alone", kinwatch.AccountFilter{Query: "%"}, []string{"a3"}},
		{"literal underscore", kinwatch.AccountFilter{Query: "Opa_"}, []string{"a5"}},
		{"literal backslash", kinwatch.AccountFilter{Query: `k\s`}, []string{"a4"}},
		{"no match", kinwatch.AccountFilter{Query: "zebra"}, nil},
		{"NUL", kinwatch.AccountFilter{Query: "\x00"}, nil},
		{"not UTF-8", kinwatch.AccountFilter{Query: "\xff"}, nil},
		{"query with paging", kinwatch.AccountFilter{Query: "example", After: "a1", Limit: 1}, []string{"a2"}},
		{"query, next page", kinwatch.AccountFilter{Query: "example", After: "a2", Limit: 1}, []string{"a3"}},
	} {
		list, err := s.Accounts(ctx, tc.f)
		if err != nil {
			t.Fatalf("Accounts(%s): %v", tc.name, err)
		}
		var got []string
		for _, a := range list {
			got = append(got, a.ID)
		}
		same(t, "Accounts("+tc.name+")", got, tc.want)
	}
	// Listed accounts are complete.
	list, err := s.Accounts(ctx, kinwatch.AccountFilter{Query: "papa"})
	if err != nil || len(list) != 1 {
		t.Fatalf("Accounts(papa) = %v, %v", list, err)
	}
	same(t, "listed account", list[0], mustAccount(t, s, "a2"))
}

func testLoginFailures(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	a := fullAccount("acc1", "anna@example.com", "")
	a.FailedLogins, a.LastFailedLogin = 0, time.Time{}
	createAccount(t, s, a)

	for i := 1; i <= 3; i++ {
		n, err := s.LoginFailed(ctx, "acc1", t0.Add(time.Duration(i)*time.Second))
		if err != nil || n != i {
			t.Fatalf("LoginFailed #%d = %d, %v", i, n, err)
		}
	}
	got := mustAccount(t, s, "acc1")
	if got.FailedLogins != 3 || !got.LastFailedLogin.Equal(t0.Add(3*time.Second)) {
		t.Errorf("after 3 failures: count %d, last %v; want 3, %v", got.FailedLogins, got.LastFailedLogin, t0.Add(3*time.Second))
	}
	// UpdateAccount leaves the count alone even when its argument is stale.
	if err := s.UpdateAccount(ctx, a); err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}
	if got := mustAccount(t, s, "acc1"); got.FailedLogins != 3 {
		t.Errorf("UpdateAccount reset the failure count to %d", got.FailedLogins)
	}

	if err := s.LoginSucceeded(ctx, "acc1"); err != nil {
		t.Fatalf("LoginSucceeded: %v", err)
	}
	if got := mustAccount(t, s, "acc1"); got.FailedLogins != 0 {
		t.Errorf("after LoginSucceeded: count %d, want 0", got.FailedLogins)
	}
	if n, err := s.LoginFailed(ctx, "acc1", t0.Add(time.Minute)); err != nil || n != 1 {
		t.Errorf("LoginFailed after a success = %d, %v; want 1", n, err)
	}

	_, err := s.LoginFailed(ctx, "acc9", t0)
	wantCode(t, "LoginFailed(unknown)", err, kinwatch.ENOTFOUND)
	wantCode(t, "LoginSucceeded(unknown)", s.LoginSucceeded(ctx, "acc9"), kinwatch.ENOTFOUND)
}

// Failed sign-ins from many clients at once each count, and each caller sees a distinct count:
// a read-modify-write would lose some.
func testLoginFailuresConcurrently(t *testing.T, s kinwatch.Store) {
	const n = 20
	a := fullAccount("acc1", "anna@example.com", "")
	a.FailedLogins = 0
	createAccount(t, s, a)

	counts := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			counts[i], errs[i] = s.LoginFailed(t.Context(), "acc1", t0.Add(time.Duration(i)*time.Millisecond))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("LoginFailed #%d: %v", i, err)
		}
	}
	slices.Sort(counts)
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("counts returned by concurrent LoginFailed = %v; want 1…%d once each", counts, n)
		}
	}
	if got := mustAccount(t, s, "acc1").FailedLogins; got != n {
		t.Errorf("stored count after %d concurrent failures = %d", n, got)
	}
}

func testSessionLifecycle(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	createAccount(t, s, fullAccount("acc1", "anna@example.com", ""))
	createAccount(t, s, fullAccount("acc2", "bert@example.com", ""))

	browser := createSession(t, s, session("s1", "acc1", "secret1"))
	app := session("s2", "acc1", "secret2")
	app.Kind, app.UserAgent, app.IP = kinwatch.SessionBearer, "Kinwatch/1.0 (Android)", "2001:db8::1"
	app.CreatedAt, app.LastUsedAt, app.ExpiresAt = t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(30*24*time.Hour)
	createSession(t, s, app)
	// Expired a while ago: still found, the caller decides.
	old := session("s3", "acc1", "secret3")
	old.CreatedAt, old.LastUsedAt, old.ExpiresAt = t0.Add(-48*time.Hour), t0.Add(-47*time.Hour), t0.Add(-24*time.Hour)
	createSession(t, s, old)
	createSession(t, s, session("s4", "acc2", "secret4"))

	for _, want := range []*kinwatch.Session{browser, app, old} {
		got, err := s.SessionByToken(ctx, want.TokenHash)
		if err != nil {
			t.Fatalf("SessionByToken(%s): %v", want.ID, err)
		}
		same(t, "SessionByToken("+want.ID+")", got, want)
	}
	for name, h := range map[string][]byte{"unknown": hash("nope"), "empty": nil, "prefix": hash("secret1")[:16]} {
		_, err := s.SessionByToken(ctx, h)
		wantCode(t, "SessionByToken("+name+")", err, kinwatch.ENOTFOUND)
		_, _, err = s.SessionAccount(ctx, h)
		wantCode(t, "SessionAccount("+name+")", err, kinwatch.ENOTFOUND)
	}
	// With its account, in one read: the same as reading both.
	for _, want := range []*kinwatch.Session{browser, old, session("s4", "acc2", "secret4")} {
		gs, ga, err := s.SessionAccount(ctx, want.TokenHash)
		if err != nil {
			t.Fatalf("SessionAccount(%s): %v", want.ID, err)
		}
		bs, _ := s.SessionByToken(ctx, want.TokenHash)
		same(t, "SessionAccount("+want.ID+") session", gs, bs)
		same(t, "SessionAccount("+want.ID+") account", ga, mustAccount(t, s, want.AccountID))
	}

	same(t, "Sessions(acc1), most recently used first", sessionIDs(t, s, "acc1"), []string{"s2", "s1", "s3"})
	list, _ := s.Sessions(ctx, "acc1")
	if len(list) == 3 {
		same(t, "listed session", list[0], app)
	}
	same(t, "Sessions(no sessions)", sessionIDs(t, s, "acc9"), []string(nil))

	// A use moves the session to the front and records the address.
	if err := s.TouchSession(ctx, "s1", t0.Add(3*time.Hour), "198.51.100.7"); err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	same(t, "Sessions after a touch", sessionIDs(t, s, "acc1"), []string{"s1", "s2", "s3"})
	got, err := s.SessionByToken(ctx, browser.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	want := *browser
	want.LastUsedAt, want.IP = t0.Add(3*time.Hour), "198.51.100.7"
	same(t, "touched session", got, &want)
	// A use recorded late does not make the session look idle.
	if err := s.TouchSession(ctx, "s1", t0.Add(time.Hour), "198.51.100.8"); err != nil {
		t.Fatalf("TouchSession(earlier): %v", err)
	}
	if got, _ := s.SessionByToken(ctx, browser.TokenHash); got == nil || !got.LastUsedAt.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("a late TouchSession moved LastUsedAt back: %+v", got)
	}
	wantCode(t, "TouchSession(unknown)", s.TouchSession(ctx, "s9", t0, ""), kinwatch.ENOTFOUND)

	// Another account's session cannot be revoked, and is not told apart from a missing one.
	wantCode(t, "DeleteSession(other account's)", s.DeleteSession(ctx, "acc2", "s1"), kinwatch.ENOTFOUND)
	if _, err := s.SessionByToken(ctx, browser.TokenHash); err != nil {
		t.Errorf("session revoked by another account: %v", err)
	}
	if err := s.DeleteSession(ctx, "acc1", "s1"); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	_, err = s.SessionByToken(ctx, browser.TokenHash)
	wantCode(t, "SessionByToken(revoked)", err, kinwatch.ENOTFOUND)
	wantCode(t, "DeleteSession(again)", s.DeleteSession(ctx, "acc1", "s1"), kinwatch.ENOTFOUND)
	same(t, "Sessions after a revocation", sessionIDs(t, s, "acc1"), []string{"s2", "s3"})
	same(t, "the other account's sessions", sessionIDs(t, s, "acc2"), []string{"s4"})
}

func testSessionValidation(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	createAccount(t, s, fullAccount("acc1", "anna@example.com", ""))
	createSession(t, s, session("s1", "acc1", "secret1"))

	for _, tc := range []struct {
		name   string
		change func(*kinwatch.Session)
		code   string
	}{
		{"same id", func(ss *kinwatch.Session) { ss.ID = "s1" }, kinwatch.ECONFLICT},
		{"same token", func(ss *kinwatch.Session) { ss.TokenHash = hash("secret1") }, kinwatch.ECONFLICT},
		{"unknown account", func(ss *kinwatch.Session) { ss.AccountID = "acc9" }, kinwatch.ENOTFOUND},
		{"no account", func(ss *kinwatch.Session) { ss.AccountID = "" }, kinwatch.EINVALID},
		{"no token", func(ss *kinwatch.Session) { ss.TokenHash = nil }, kinwatch.EINVALID},
		{"unknown kind", func(ss *kinwatch.Session) { ss.Kind = "magic" }, kinwatch.EINVALID},
		{"no expiry", func(ss *kinwatch.Session) { ss.ExpiresAt = time.Time{} }, kinwatch.EINVALID},
	} {
		ss := session("s2", "acc1", "secret2")
		tc.change(ss)
		wantCode(t, "CreateSession("+tc.name+")", s.CreateSession(ctx, ss), tc.code)
	}
	same(t, "sessions after refused creates", sessionIDs(t, s, "acc1"), []string{"s1"})

	// Defaults: an id, and a creation and last use of now.
	ss := &kinwatch.Session{AccountID: "acc1", TokenHash: hash("secret3"), Kind: kinwatch.SessionBearer, ExpiresAt: t0.Add(time.Hour)}
	createSession(t, s, ss)
	if ss.ID == "" || ss.CreatedAt.IsZero() || !ss.LastUsedAt.Equal(ss.CreatedAt) {
		t.Errorf("CreateSession defaults: %+v", ss)
	}
	got, err := s.SessionByToken(ctx, hash("secret3"))
	if err != nil {
		t.Fatal(err)
	}
	same(t, "session with defaults", got, ss)
}

func testDeleteSessions(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	createAccount(t, s, fullAccount("acc1", "anna@example.com", ""))
	createAccount(t, s, fullAccount("acc2", "bert@example.com", ""))
	for i, id := range []string{"s1", "s2", "s3", "s4"} {
		ss := session(id, "acc1", id)
		ss.LastUsedAt = t0.Add(time.Duration(i) * time.Minute)
		createSession(t, s, ss)
	}
	createSession(t, s, session("b1", "acc2", "b1"))

	n, err := s.DeleteSessions(ctx, "acc1", "s2")
	if err != nil || n != 3 {
		t.Errorf("DeleteSessions(keep s2) = %d, %v; want 3", n, err)
	}
	same(t, "sessions after DeleteSessions(keep s2)", sessionIDs(t, s, "acc1"), []string{"s2"})
	same(t, "the other account's sessions", sessionIDs(t, s, "acc2"), []string{"b1"})

	// Keeping another account's session keeps nothing of it and deletes nothing of it.
	n, err = s.DeleteSessions(ctx, "acc1", "b1")
	if err != nil || n != 1 {
		t.Errorf("DeleteSessions(keep another account's) = %d, %v; want 1", n, err)
	}
	same(t, "the other account's sessions", sessionIDs(t, s, "acc2"), []string{"b1"})

	if n, err := s.DeleteSessions(ctx, "acc1", ""); err != nil || n != 0 {
		t.Errorf("DeleteSessions(none left) = %d, %v; want 0", n, err)
	}
	if n, err := s.DeleteSessions(ctx, "acc2", ""); err != nil || n != 1 {
		t.Errorf("DeleteSessions(keep none) = %d, %v; want 1", n, err)
	}
	same(t, "sessions after DeleteSessions(keep none)", sessionIDs(t, s, "acc2"), []string(nil))
}

func testDeleteExpired(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	createAccount(t, s, fullAccount("acc1", "anna@example.com", ""))
	createAccount(t, s, fullAccount("acc2", "bert@example.com", ""))
	now := t0.Add(time.Hour)
	expiries := map[string]time.Time{
		"past":   now.Add(-time.Microsecond),
		"now":    now, // no longer valid at now: ConsumeToken and the session check refuse it
		"future": now.Add(time.Microsecond),
	}
	for name, exp := range expiries {
		for _, acc := range []string{"acc1", "acc2"} {
			ss := session(acc+"-"+name, acc, acc+"-session-"+name)
			ss.ExpiresAt = exp
			createSession(t, s, ss)
			createToken(t, s, &kinwatch.Token{Hash: hash(acc + "-token-" + name), AccountID: acc,
				Purpose: kinwatch.TokenResetPassword, CreatedAt: t0, ExpiresAt: exp})
		}
	}
	if err := s.DeleteExpired(ctx, now); err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	for _, acc := range []string{"acc1", "acc2"} {
		same(t, "Sessions("+acc+") after DeleteExpired", sessionIDs(t, s, acc), []string{acc + "-future"})
		for name := range expiries {
			// Consume as of long ago, when every token was valid: only deleted ones are missing.
			_, err := s.ConsumeToken(ctx, hash(acc+"-token-"+name), kinwatch.TokenResetPassword, t0)
			code := ""
			if name != "future" {
				code = kinwatch.ENOTFOUND
			}
			wantCode(t, "ConsumeToken("+acc+" "+name+") after DeleteExpired", err, code)
		}
	}
	if err := s.DeleteExpired(ctx, now); err != nil {
		t.Fatalf("DeleteExpired with nothing to do: %v", err)
	}
}

func testTokens(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	createAccount(t, s, fullAccount("acc1", "anna@example.com", ""))
	createAccount(t, s, fullAccount("acc2", "bert@example.com", ""))
	change := createToken(t, s, &kinwatch.Token{Hash: hash("change"), AccountID: "acc1", Purpose: kinwatch.TokenChangeEmail,
		Data: "anna.neu@example.com", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	createToken(t, s, &kinwatch.Token{Hash: hash("verify"), AccountID: "acc1", Purpose: kinwatch.TokenVerifyEmail,
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})

	// The wrong purpose, an expired token and an unknown hash are all "not found", and the first
	// two leave the token usable.
	for _, tc := range []struct {
		name    string
		hash    []byte
		purpose string
		now     time.Time
	}{
		{"wrong purpose", hash("change"), kinwatch.TokenVerifyEmail, t0},
		{"expired", hash("change"), kinwatch.TokenChangeEmail, t0.Add(2 * time.Hour)},
		{"at its expiry", hash("change"), kinwatch.TokenChangeEmail, t0.Add(time.Hour)},
		{"unknown hash", hash("nope"), kinwatch.TokenChangeEmail, t0},
		{"empty hash", nil, kinwatch.TokenChangeEmail, t0},
	} {
		_, err := s.ConsumeToken(ctx, tc.hash, tc.purpose, tc.now)
		wantCode(t, "ConsumeToken("+tc.name+")", err, kinwatch.ENOTFOUND)
	}
	got, err := s.ConsumeToken(ctx, hash("change"), kinwatch.TokenChangeEmail, t0.Add(time.Hour-time.Microsecond))
	if err != nil {
		t.Fatalf("ConsumeToken: %v", err)
	}
	same(t, "consumed token", got, change)
	_, err = s.ConsumeToken(ctx, hash("change"), kinwatch.TokenChangeEmail, t0)
	wantCode(t, "ConsumeToken(second time)", err, kinwatch.ENOTFOUND)

	for _, tc := range []struct {
		name string
		tok  kinwatch.Token
		code string
	}{
		{"same hash", kinwatch.Token{Hash: hash("verify"), AccountID: "acc2", Purpose: kinwatch.TokenResetPassword, ExpiresAt: t0.Add(time.Hour)}, kinwatch.ECONFLICT},
		{"unknown account", kinwatch.Token{Hash: hash("x1"), AccountID: "acc9", Purpose: kinwatch.TokenResetPassword, ExpiresAt: t0.Add(time.Hour)}, kinwatch.ENOTFOUND},
		{"no account", kinwatch.Token{Hash: hash("x2"), Purpose: kinwatch.TokenResetPassword, ExpiresAt: t0.Add(time.Hour)}, kinwatch.EINVALID},
		{"no hash", kinwatch.Token{AccountID: "acc1", Purpose: kinwatch.TokenResetPassword, ExpiresAt: t0.Add(time.Hour)}, kinwatch.EINVALID},
		{"no purpose", kinwatch.Token{Hash: hash("x3"), AccountID: "acc1", ExpiresAt: t0.Add(time.Hour)}, kinwatch.EINVALID},
		{"no expiry", kinwatch.Token{Hash: hash("x4"), AccountID: "acc1", Purpose: kinwatch.TokenResetPassword}, kinwatch.EINVALID},
	} {
		wantCode(t, "CreateToken("+tc.name+")", s.CreateToken(ctx, &tc.tok), tc.code)
	}

	// A zero CreatedAt is filled in, and the token reads back as created.
	fresh := createToken(t, s, &kinwatch.Token{Hash: hash("fresh"), AccountID: "acc2", Purpose: kinwatch.TokenVerifyEmail,
		ExpiresAt: t0.Add(100 * 365 * 24 * time.Hour)})
	if fresh.CreatedAt.IsZero() {
		t.Error("CreateToken left CreatedAt zero")
	}

	// DeleteTokens removes one purpose of one account.
	createToken(t, s, &kinwatch.Token{Hash: hash("reset1"), AccountID: "acc1", Purpose: kinwatch.TokenResetPassword, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	createToken(t, s, &kinwatch.Token{Hash: hash("reset2"), AccountID: "acc1", Purpose: kinwatch.TokenResetPassword, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	createToken(t, s, &kinwatch.Token{Hash: hash("reset3"), AccountID: "acc2", Purpose: kinwatch.TokenResetPassword, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	if err := s.DeleteTokens(ctx, "acc1", kinwatch.TokenResetPassword); err != nil {
		t.Fatalf("DeleteTokens: %v", err)
	}
	if err := s.DeleteTokens(ctx, "acc1", kinwatch.TokenResetPassword); err != nil {
		t.Errorf("DeleteTokens with none left: %v", err)
	}
	for _, tc := range []struct {
		secret, purpose, code string
	}{
		{"reset1", kinwatch.TokenResetPassword, kinwatch.ENOTFOUND},
		{"reset2", kinwatch.TokenResetPassword, kinwatch.ENOTFOUND},
		{"reset3", kinwatch.TokenResetPassword, ""},
		{"verify", kinwatch.TokenVerifyEmail, ""},
	} {
		_, err := s.ConsumeToken(ctx, hash(tc.secret), tc.purpose, t0)
		wantCode(t, "ConsumeToken("+tc.secret+") after DeleteTokens", err, tc.code)
	}
	got, err = s.ConsumeToken(ctx, hash("fresh"), kinwatch.TokenVerifyEmail, t0)
	if err != nil {
		t.Fatalf("ConsumeToken(fresh): %v", err)
	}
	same(t, "token with defaults", got, fresh)
}

// Two clicks on one mailed link at once: exactly one wins.
func testConsumeTokenConcurrently(t *testing.T, s kinwatch.Store) {
	const n = 10
	createAccount(t, s, fullAccount("acc1", "anna@example.com", ""))
	createToken(t, s, &kinwatch.Token{Hash: hash("once"), AccountID: "acc1", Purpose: kinwatch.TokenResetPassword,
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			tok, err := s.ConsumeToken(t.Context(), hash("once"), kinwatch.TokenResetPassword, t0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && tok != nil && bytes.Equal(tok.Hash, hash("once")):
				wins++
			case kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND:
				t.Errorf("concurrent ConsumeToken: %v, %v", tok, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d of %d concurrent ConsumeToken calls got the token; want exactly 1", wins, n)
	}
}

func testIdentities(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	createAccount(t, s, fullAccount("acc1", "anna@example.com", ""))
	createAccount(t, s, fullAccount("acc2", "bert@example.com", ""))

	google := &kinwatch.Identity{Provider: "google", Subject: "1077", AccountID: "acc1", Email: "Anna@gmail.com", CreatedAt: t0}
	apple := &kinwatch.Identity{Provider: "apple", Subject: "001234.abc", AccountID: "acc1", CreatedAt: t0.Add(time.Hour)}
	// The same subject string at another provider is another identity.
	bertGoogle := &kinwatch.Identity{Provider: "google", Subject: "2088", AccountID: "acc2", CreatedAt: t0}
	bertApple := &kinwatch.Identity{Provider: "apple", Subject: "1077", AccountID: "acc2", CreatedAt: t0}
	for _, id := range []*kinwatch.Identity{google, apple, bertGoogle, bertApple} {
		if err := s.CreateIdentity(ctx, id); err != nil {
			t.Fatalf("CreateIdentity(%s/%s): %v", id.Provider, id.Subject, err)
		}
	}

	got, err := s.Identity(ctx, "google", "1077")
	if err != nil {
		t.Fatalf("Identity: %v", err)
	}
	same(t, "Identity(google, 1077)", got, google)
	for _, ps := range [][2]string{{"google", "9999"}, {"github", "1077"}, {"google", ""}, {"", "1077"}} {
		_, err := s.Identity(ctx, ps[0], ps[1])
		wantCode(t, "Identity("+ps[0]+", "+ps[1]+")", err, kinwatch.ENOTFOUND)
	}
	list, err := s.Identities(ctx, "acc1")
	if err != nil {
		t.Fatalf("Identities: %v", err)
	}
	same(t, "Identities(acc1), by provider", list, []*kinwatch.Identity{apple, google})
	if list, err := s.Identities(ctx, "acc9"); err != nil || len(list) != 0 {
		t.Errorf("Identities(unknown) = %v, %v; want none", list, err)
	}

	for _, tc := range []struct {
		name string
		id   kinwatch.Identity
		code string
	}{
		{"subject linked to another account", kinwatch.Identity{Provider: "google", Subject: "1077", AccountID: "acc2", CreatedAt: t0}, kinwatch.ECONFLICT},
		{"subject linked again", kinwatch.Identity{Provider: "google", Subject: "1077", AccountID: "acc1", CreatedAt: t0}, kinwatch.ECONFLICT},
		{"second link to a provider", kinwatch.Identity{Provider: "google", Subject: "3099", AccountID: "acc1", CreatedAt: t0}, kinwatch.ECONFLICT},
		{"unknown account", kinwatch.Identity{Provider: "github", Subject: "1", AccountID: "acc9", CreatedAt: t0}, kinwatch.ENOTFOUND},
		{"no provider", kinwatch.Identity{Subject: "1", AccountID: "acc1", CreatedAt: t0}, kinwatch.EINVALID},
		{"no subject", kinwatch.Identity{Provider: "github", AccountID: "acc1", CreatedAt: t0}, kinwatch.EINVALID},
	} {
		wantCode(t, "CreateIdentity("+tc.name+")", s.CreateIdentity(ctx, &tc.id), tc.code)
	}
	if list, _ := s.Identities(ctx, "acc1"); len(list) != 2 {
		t.Errorf("Identities(acc1) after refused links: %d, want 2", len(list))
	}

	// Unlinking is by account and provider.
	wantCode(t, "DeleteIdentity(no link to the provider)", s.DeleteIdentity(ctx, "acc1", "github"), kinwatch.ENOTFOUND)
	wantCode(t, "DeleteIdentity(unknown account)", s.DeleteIdentity(ctx, "acc9", "google"), kinwatch.ENOTFOUND)
	if err := s.DeleteIdentity(ctx, "acc1", "google"); err != nil {
		t.Fatalf("DeleteIdentity: %v", err)
	}
	wantCode(t, "DeleteIdentity(again)", s.DeleteIdentity(ctx, "acc1", "google"), kinwatch.ENOTFOUND)
	_, err = s.Identity(ctx, "google", "1077")
	wantCode(t, "Identity after DeleteIdentity", err, kinwatch.ENOTFOUND)
	if _, err := s.Identity(ctx, "google", "2088"); err != nil {
		t.Errorf("another account's link went with DeleteIdentity: %v", err)
	}
	// The subject and the provider slot are free again.
	relink := &kinwatch.Identity{Provider: "google", Subject: "1077", AccountID: "acc1"}
	if err := s.CreateIdentity(ctx, relink); err != nil {
		t.Fatalf("CreateIdentity after unlinking: %v", err)
	}
	if relink.CreatedAt.IsZero() {
		t.Error("CreateIdentity left CreatedAt zero")
	}
	got, err = s.Identity(ctx, "google", "1077")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "relinked identity", got, relink)
}

func testDeleteAccountCascades(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	createAccount(t, s, fullAccount("acc1", "anna@example.com", "+4915112345678"))
	createAccount(t, s, fullAccount("acc2", "bert@example.com", "+4915187654321"))
	for _, acc := range []string{"acc1", "acc2"} {
		createSession(t, s, session(acc+"-s", acc, acc+"-session"))
		createToken(t, s, &kinwatch.Token{Hash: hash(acc + "-token"), AccountID: acc, Purpose: kinwatch.TokenVerifyEmail,
			CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
		if err := s.CreateIdentity(ctx, &kinwatch.Identity{Provider: "google", Subject: acc, AccountID: acc, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}

	if err := s.DeleteAccount(ctx, "acc1"); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	_, err := s.Account(ctx, "acc1")
	wantCode(t, "Account(deleted)", err, kinwatch.ENOTFOUND)
	_, err = s.AccountByLogin(ctx, "anna@example.com")
	wantCode(t, "AccountByLogin(deleted)", err, kinwatch.ENOTFOUND)
	_, err = s.SessionByToken(ctx, hash("acc1-session"))
	wantCode(t, "SessionByToken(deleted account's)", err, kinwatch.ENOTFOUND)
	same(t, "Sessions(deleted account)", sessionIDs(t, s, "acc1"), []string(nil))
	_, err = s.ConsumeToken(ctx, hash("acc1-token"), kinwatch.TokenVerifyEmail, t0)
	wantCode(t, "ConsumeToken(deleted account's)", err, kinwatch.ENOTFOUND)
	_, err = s.Identity(ctx, "google", "acc1")
	wantCode(t, "Identity(deleted account's)", err, kinwatch.ENOTFOUND)
	if list, err := s.Identities(ctx, "acc1"); err != nil || len(list) != 0 {
		t.Errorf("Identities(deleted account) = %v, %v", list, err)
	}
	wantCode(t, "DeleteAccount(again)", s.DeleteAccount(ctx, "acc1"), kinwatch.ENOTFOUND)

	// The other account keeps everything.
	mustAccount(t, s, "acc2")
	if _, err := s.SessionByToken(ctx, hash("acc2-session")); err != nil {
		t.Errorf("the other account's session: %v", err)
	}
	if _, err := s.ConsumeToken(ctx, hash("acc2-token"), kinwatch.TokenVerifyEmail, t0); err != nil {
		t.Errorf("the other account's token: %v", err)
	}
	if _, err := s.Identity(ctx, "google", "acc2"); err != nil {
		t.Errorf("the other account's identity: %v", err)
	}

	// The deleted account's email, phone and identity are free for a new account.
	createAccount(t, s, fullAccount("acc3", "anna@example.com", "+4915112345678"))
	if err := s.CreateIdentity(ctx, &kinwatch.Identity{Provider: "google", Subject: "acc1", AccountID: "acc3", CreatedAt: t0}); err != nil {
		t.Errorf("CreateIdentity with the deleted account's subject: %v", err)
	}
}

// testAccountAvatar: the picture key changes only through SetAccountAvatar, which hands back the
// key it replaced; UpdateAccount with a stale copy of the account does not bring an old key back.
func testAccountAvatar(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	a := fullAccount("acc1", "anna@example.com", "")
	createAccount(t, s, a)
	stale := mustAccount(t, s, "acc1")
	old, err := s.SetAccountAvatar(ctx, "acc1", "avatars/acc1/2")
	if err != nil || old != a.Profile.Avatar {
		t.Fatalf("SetAccountAvatar = %q, %v; want the key it replaced, %q", old, err, a.Profile.Avatar)
	}
	stale.Profile.Nickname = "Anna B."
	if err := s.UpdateAccount(ctx, stale); err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}
	got := mustAccount(t, s, "acc1")
	if got.Profile.Avatar != "avatars/acc1/2" || got.Profile.Nickname != "Anna B." {
		t.Errorf("after UpdateAccount with a copy read before the picture changed: avatar %q, nickname %q", got.Profile.Avatar, got.Profile.Nickname)
	}
	if old, err := s.SetAccountAvatar(ctx, "acc1", ""); err != nil || old != "avatars/acc1/2" {
		t.Errorf("SetAccountAvatar(remove) = %q, %v", old, err)
	}
	if got := mustAccount(t, s, "acc1"); got.Profile.Avatar != "" {
		t.Errorf("after removing: %q", got.Profile.Avatar)
	}
	_, err = s.SetAccountAvatar(ctx, "nobody", "avatars/nobody/1")
	wantCode(t, "SetAccountAvatar(unknown account)", err, kinwatch.ENOTFOUND)
}

// testAccountAvatarConcurrently: of swaps racing each other, each learns a different predecessor,
// so every replaced key is handed to exactly one caller (who deletes its blob).
func testAccountAvatarConcurrently(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	a := fullAccount("acc1", "anna@example.com", "")
	a.Profile.Avatar = "avatars/acc1/0"
	createAccount(t, s, a)
	const n = 12
	olds := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			old, err := s.SetAccountAvatar(ctx, "acc1", fmt.Sprintf("avatars/acc1/%d", i+1))
			if err != nil {
				t.Errorf("SetAccountAvatar: %v", err)
			}
			olds[i] = old
		})
	}
	wg.Wait()
	final := mustAccount(t, s, "acc1").Profile.Avatar
	seen := map[string]bool{final: true}
	for _, old := range olds {
		if seen[old] {
			t.Fatalf("key %q handed back twice or still in use: %v, final %q", old, olds, final)
		}
		seen[old] = true
	}
	if len(seen) != n+1 {
		t.Errorf("%d distinct keys among the replaced and the final one, want %d", len(seen), n+1)
	}
}
