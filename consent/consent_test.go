package consent_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/account"
	"kinwatch/consent"
	"kinwatch/envelope"
	"kinwatch/family"
	"kinwatch/sqlite"
	"kinwatch/storetest"
)

var fast = account.Argon2Params{Memory: 64, Time: 1, Parallelism: 1}

type env struct {
	db       *sqlite.DB
	svc      *consent.Service
	now      time.Time
	notified []string
}

func (e *env) NotifyDevice(id string) { e.notified = append(e.notified, id) }

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"), envelope.NewMaster())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, now: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
	accounts := &account.Service{Store: db, Argon2: fast, Now: func() time.Time { return e.now }}
	if err := accounts.Init(); err != nil {
		t.Fatal(err)
	}
	e.svc = &consent.Service{Store: db, Accounts: accounts, Watches: &family.Service{Store: db}, Devices: e,
		PolicyVersion: "2026-11", Now: func() time.Time { return e.now }}
	return e
}

// family binds w1 into a new family of a guardian with the password "correct horse battery",
// without consent, and adds a guardian without a password (signs in through a provider).
func (e *env) family(t *testing.T) (admin, oidcOnly *kinwatch.Account) {
	t.Helper()
	ctx := context.Background()
	hash, err := account.HashPassword("correct horse battery", fast)
	if err != nil {
		t.Fatal(err)
	}
	admin = &kinwatch.Account{ID: kinwatch.NewID(), Email: "a@example.org", PasswordHash: hash, CreatedAt: e.now}
	oidcOnly = &kinwatch.Account{ID: kinwatch.NewID(), Email: "o@example.org", CreatedAt: e.now}
	for _, a := range []*kinwatch.Account{admin, oidcOnly} {
		if err := e.db.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.db.WriteBatch(ctx, []kinwatch.Record{{Device: &kinwatch.DeviceUpdate{ID: "w1", Time: e.now}}}); err != nil {
		t.Fatal(err)
	}
	fam := kinwatch.NewID()
	if err := e.db.Bind(ctx, &kinwatch.Binding{DeviceID: "w1", FamilyID: fam, At: e.now,
		NewFamily: &kinwatch.Family{ID: fam, Name: "F", CreatedAt: e.now},
		Admin:     &kinwatch.Member{FamilyID: fam, AccountID: admin.ID, Role: kinwatch.RoleAdmin, JoinedAt: e.now}}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.AddMember(ctx, &kinwatch.Member{FamilyID: fam, AccountID: oidcOnly.ID, Role: kinwatch.RoleGuardian, JoinedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	return admin, oidcOnly
}

func grant(ps ...kinwatch.Purpose) consent.Change {
	return consent.Change{Grant: ps, PolicyVersion: "2026-11", Password: "correct horse battery", Statement: true}
}

// TestWithdrawingTheServiceWithdrawsEverything: without the basic service nothing is collected,
// and giving it again does not bring back purposes nobody confirmed since.
func TestWithdrawingTheServiceWithdrawsEverything(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.family(t)
	ctx := context.Background()
	if _, err := e.svc.ChangeChild(ctx, admin.ID, nil, "w1", grant(kinwatch.PurposeService, kinwatch.PurposeLocation, kinwatch.PurposeHealth)); err != nil {
		t.Fatal(err)
	}
	st, err := e.svc.ChangeChild(ctx, admin.ID, nil, "w1", consent.Change{Withdraw: []kinwatch.Purpose{kinwatch.PurposeService}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Granted != 0 {
		t.Fatalf("after withdrawing the service: %v, want nothing", st.Granted.List())
	}
	st, err = e.svc.ChangeChild(ctx, admin.ID, nil, "w1", grant(kinwatch.PurposeService))
	if err != nil || !slices.Equal(st.Granted.List(), []kinwatch.Purpose{kinwatch.PurposeService}) {
		t.Fatalf("service given again: %v %v; want the service alone", st.Granted.List(), err)
	}
	history, _ := e.svc.ChildHistory(ctx, admin.ID, "w1", kinwatch.Page{})
	// 3 given, 3 withdrawn (each named in the ledger), 1 given again.
	if len(history) != 7 {
		t.Errorf("%d ledger entries, want 7", len(history))
	}
	if want := []string{"w1", "w1", "w1"}; !slices.Equal(e.notified, want) {
		t.Errorf("the gateway was told %v, want %v", e.notified, want)
	}
}

// TestReauthentication: a guardian without a password gives consent only right after signing in.
func TestReauthentication(t *testing.T) {
	e := newEnv(t)
	_, oidcOnly := e.family(t)
	ctx := context.Background()
	session := &kinwatch.Session{ID: kinwatch.NewID(), AccountID: oidcOnly.ID, CreatedAt: e.now}
	e.now = e.now.Add(account.FreshSignIn + time.Minute)
	if _, err := e.svc.ChangeChild(ctx, oidcOnly.ID, session, "w1", grant(kinwatch.PurposeService)); kinwatch.ErrorCode(err) != kinwatch.EFORBIDDEN {
		t.Fatalf("an old sign-in gave consent: %v", err)
	}
	session.CreatedAt = e.now.Add(-time.Minute)
	if _, err := e.svc.ChangeChild(ctx, oidcOnly.ID, session, "w1", grant(kinwatch.PurposeService)); err != nil {
		t.Fatalf("a fresh sign-in: %v", err)
	}
	// Withdrawing needs no re-authentication.
	if _, err := e.svc.ChangeChild(ctx, oidcOnly.ID, nil, "w1", consent.Change{Withdraw: []kinwatch.Purpose{kinwatch.PurposeService}}); err != nil {
		t.Fatalf("withdraw: %v", err)
	}
}

// TestAccountConsent: an account's own purposes, under the policy in force.
func TestAccountConsent(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.family(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		ch   consent.Change
		code string
	}{
		{"nothing", consent.Change{}, kinwatch.EINVALID},
		{"a child's purpose", consent.Change{Grant: []kinwatch.Purpose{kinwatch.PurposeService}, PolicyVersion: "2026-11"}, kinwatch.EINVALID},
		{"twice", consent.Change{Grant: []kinwatch.Purpose{kinwatch.PurposeMarketing, kinwatch.PurposeMarketing}, PolicyVersion: "2026-11"}, kinwatch.EINVALID},
		{"given and withdrawn", consent.Change{Grant: []kinwatch.Purpose{kinwatch.PurposeMarketing}, Withdraw: []kinwatch.Purpose{kinwatch.PurposeMarketing}, PolicyVersion: "2026-11"}, kinwatch.EINVALID},
		{"an old policy", consent.Change{Grant: []kinwatch.Purpose{kinwatch.PurposeMarketing}, PolicyVersion: "2025-01"}, kinwatch.ECONFLICT},
	} {
		if _, err := e.svc.ChangeAccount(ctx, admin.ID, tc.ch); kinwatch.ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	st, err := e.svc.ChangeAccount(ctx, admin.ID, consent.Change{Grant: []kinwatch.Purpose{kinwatch.PurposeRecommendation}, PolicyVersion: "2026-11"})
	if err != nil || !st.Granted.Has(kinwatch.PurposeRecommendation.Bit()) {
		t.Fatalf("give: %v %v", st, err)
	}
	// Withdrawing works whatever policy version the client last saw.
	st, err = e.svc.ChangeAccount(ctx, admin.ID, consent.Change{Withdraw: []kinwatch.Purpose{kinwatch.PurposeRecommendation}})
	if err != nil || st.Granted != 0 {
		t.Fatalf("withdraw: %v %v", st, err)
	}
}

// TestConsentOnlyForOwnWatches: another family's guardian can neither read nor change it.
func TestConsentOnlyForOwnWatches(t *testing.T) {
	e := newEnv(t)
	e.family(t)
	ctx := context.Background()
	storetest.BoundWatches(t, e.db, "w2")
	stranger := &kinwatch.Account{ID: kinwatch.NewID(), CreatedAt: e.now}
	if err := e.db.CreateAccount(ctx, stranger); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Child(ctx, stranger.ID, "w1"); kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		t.Errorf("a stranger read the consent: %v", err)
	}
	if _, err := e.svc.ChangeChild(ctx, stranger.ID, nil, "w1", consent.Change{Withdraw: []kinwatch.Purpose{kinwatch.PurposeLocation}}); kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		t.Errorf("a stranger withdrew consent: %v", err)
	}
	if _, err := e.svc.ChildHistory(ctx, stranger.ID, "w1", kinwatch.Page{}); kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		t.Errorf("a stranger read the ledger: %v", err)
	}
}
