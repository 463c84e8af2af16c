package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"kinwatch"
)

// familyTests cover kinwatch.FamilyStore, LatestPositions and command idempotency keys.
var familyTests = []storeTest{
	{"Bind", testBind},
	{"WatchAccess", testWatchAccess},
	{"Watches", testWatches},
	{"FamilyIsolation", testFamilyIsolation},
	{"Unbind", testUnbind},
	{"UnbindResetsWatch", testUnbindResetsWatch},
	{"FamilyRoundTrip", testFamilyRoundTrip},
	{"Families", testFamilies},
	{"Members", testMembers},
	{"TransferAdmin", testTransferAdmin},
	{"Invitations", testInvitations},
	{"AcceptInvitationConcurrently", testAcceptInvitationConcurrently},
	{"JoinRequests", testJoinRequests},
	{"BindChallenges", testBindChallenges},
	{"TakeBindAttempt", testTakeBindAttempt},
	{"TakeBindAttemptConcurrently", testTakeBindAttemptConcurrently},
	{"ChildProfile", testChildProfile},
	{"DeleteAccountLeavesFamilies", testDeleteAccountLeavesFamilies},
	{"LatestPositions", testLatestPositions},
	{"CommandIdempotency", testCommandIdempotency},
}

// guardian creates an account with its own nickname, which members and join requests read back.
func guardian(t *testing.T, s kinwatch.Store, id, nickname string) {
	t.Helper()
	a := fullAccount(id, id+"@example.com", "")
	a.Profile.Nickname, a.Profile.Avatar = nickname, "" // testMembers gives one a picture
	createAccount(t, s, a)
}

// pendingWatch registers watches the way the gateway does: a device update makes them pending.
func pendingWatch(t *testing.T, s kinwatch.Store, ids ...string) {
	t.Helper()
	var recs []kinwatch.Record
	for _, id := range ids {
		recs = append(recs, update(kinwatch.DeviceUpdate{ID: id, Time: t0}))
	}
	write(t, s, recs...)
}

// BoundWatches registers watches and binds them into a new family of a new account, whose
// guardian then consents to every purpose for the children, as a guardian would: only a bound
// watch's positions, events, health readings and media are stored, and only with consent.
// It works for benchmarks too and returns the family's id.
func BoundWatches(tb testing.TB, s kinwatch.Store, ids ...string) string {
	tb.Helper()
	ctx := tb.Context()
	recs := make([]kinwatch.Record, 0, len(ids))
	for _, id := range ids {
		recs = append(recs, update(kinwatch.DeviceUpdate{ID: id, Time: t0}))
	}
	if err := s.WriteBatch(ctx, recs); err != nil {
		tb.Fatalf("WriteBatch(registering %d watches): %v", len(ids), err)
	}
	admin := &kinwatch.Account{Profile: kinwatch.Profile{Nickname: "Guardian"}, CreatedAt: t0}
	if err := s.CreateAccount(ctx, admin); err != nil {
		tb.Fatalf("CreateAccount(guardian of the watches): %v", err)
	}
	famID := kinwatch.NewID()
	for i, id := range ids {
		b := &kinwatch.Binding{DeviceID: id, FamilyID: famID, At: t0}
		if i == 0 {
			b.NewFamily = &kinwatch.Family{ID: famID, Name: "Family", CreatedAt: t0}
			b.Admin = &kinwatch.Member{FamilyID: famID, AccountID: admin.ID, Role: kinwatch.RoleAdmin, JoinedAt: t0}
		}
		if err := s.Bind(ctx, b); err != nil {
			tb.Fatalf("Bind(%s): %v", id, err)
		}
		consentAll(tb, s, famID, id, admin.ID)
	}
	return famID
}

// newFamily binds the pending watch dev, without a challenge, into a new family with admin as
// its admin, who consents to every purpose for the child; family and membership date from t0.
func newFamily(t *testing.T, s kinwatch.Store, dev, admin, name string) *kinwatch.Family {
	t.Helper()
	id := kinwatch.NewID()
	err := s.Bind(t.Context(), &kinwatch.Binding{
		DeviceID: dev, FamilyID: id,
		NewFamily: &kinwatch.Family{ID: id, Name: name, CreatedAt: t0},
		Admin:     &kinwatch.Member{FamilyID: id, AccountID: admin, Role: kinwatch.RoleAdmin, JoinedAt: t0},
		At:        t0,
	})
	if err != nil {
		t.Fatalf("Bind(%s into a new family of %s): %v", dev, admin, err)
	}
	consentAll(t, s, id, dev, admin)
	return &kinwatch.Family{ID: id, Name: name, CreatedAt: t0}
}

// bindInto binds the pending watch dev, without a challenge, into an existing family, whose first
// member consents to every purpose for the child.
func bindInto(t *testing.T, s kinwatch.Store, dev, familyID string) {
	t.Helper()
	if err := s.Bind(t.Context(), &kinwatch.Binding{DeviceID: dev, FamilyID: familyID, At: t0}); err != nil {
		t.Fatalf("Bind(%s into family %s): %v", dev, familyID, err)
	}
	members, err := s.Members(t.Context(), familyID)
	if err != nil || len(members) == 0 {
		t.Fatalf("Members(%s): %d, %v", familyID, len(members), err)
	}
	consentAll(t, s, familyID, dev, members[0].AccountID)
}

func join(t *testing.T, s kinwatch.Store, familyID, account string, role kinwatch.Role, at time.Time) {
	t.Helper()
	m := &kinwatch.Member{FamilyID: familyID, AccountID: account, Role: role, JoinedAt: at}
	if err := s.AddMember(t.Context(), m); err != nil {
		t.Fatalf("AddMember(%s as %s): %v", account, role, err)
	}
}

func mustFamily(t *testing.T, s kinwatch.Store, id string) *kinwatch.Family {
	t.Helper()
	f, err := s.Family(t.Context(), id)
	if err != nil {
		t.Fatalf("Family(%s): %v", id, err)
	}
	return f
}

func mustMember(t *testing.T, s kinwatch.Store, familyID, account string) *kinwatch.Member {
	t.Helper()
	m, err := s.Member(t.Context(), familyID, account)
	if err != nil {
		t.Fatalf("Member(%s): %v", account, err)
	}
	return m
}

func mustAccess(t *testing.T, s kinwatch.Store, account, dev string) *kinwatch.WatchAccess {
	t.Helper()
	a, err := s.WatchAccess(t.Context(), account, dev)
	if err != nil {
		t.Fatalf("WatchAccess(%s, %s): %v", account, dev, err)
	}
	return a
}

// memberRoles returns the family's members as account → role, failing on a duplicate.
func memberRoles(t *testing.T, s kinwatch.Store, familyID string) map[string]kinwatch.Role {
	t.Helper()
	ms, err := s.Members(t.Context(), familyID)
	if err != nil {
		t.Fatalf("Members: %v", err)
	}
	roles := map[string]kinwatch.Role{}
	for _, m := range ms {
		if _, dup := roles[m.AccountID]; dup {
			t.Errorf("Members lists %s twice", m.AccountID)
		}
		roles[m.AccountID] = m.Role
	}
	return roles
}

func memberIDs(t *testing.T, s kinwatch.Store, familyID string) []string {
	t.Helper()
	ms, err := s.Members(t.Context(), familyID)
	if err != nil {
		t.Fatalf("Members: %v", err)
	}
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.AccountID)
	}
	return ids
}

func familyWatches(t *testing.T, s kinwatch.Store, familyID string) []string {
	t.Helper()
	ids, err := s.FamilyWatches(t.Context(), familyID)
	if err != nil {
		t.Fatalf("FamilyWatches: %v", err)
	}
	return ids
}

func watches(t *testing.T, s kinwatch.Store, account string) []kinwatch.WatchAccess {
	t.Helper()
	list, err := s.Watches(t.Context(), account)
	if err != nil {
		t.Fatalf("Watches(%s): %v", account, err)
	}
	var out []kinwatch.WatchAccess
	for _, a := range list {
		out = append(out, *a)
	}
	return out
}

// accountsWithAccess returns the accounts sorted: the order is not part of the contract.
func accountsWithAccess(t *testing.T, s kinwatch.Store, dev string) []string {
	t.Helper()
	ids, err := s.AccountsWithAccess(t.Context(), dev)
	if err != nil {
		t.Fatalf("AccountsWithAccess(%s): %v", dev, err)
	}
	slices.Sort(ids)
	return ids
}

func familyIDs(t *testing.T, s kinwatch.Store, account string) []string {
	t.Helper()
	list, err := s.Families(t.Context(), account)
	if err != nil {
		t.Fatalf("Families(%s): %v", account, err)
	}
	var ids []string
	for _, m := range list {
		ids = append(ids, m.Family.ID)
	}
	return ids
}

func challenge(dev, account, familyID string) *kinwatch.BindChallenge {
	return &kinwatch.BindChallenge{ID: kinwatch.NewID(), DeviceID: dev, AccountID: account, FamilyID: familyID,
		CodeHash: hash(dev + "/" + account), CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
}

func createChallenge(t *testing.T, s kinwatch.Store, c *kinwatch.BindChallenge) *kinwatch.BindChallenge {
	t.Helper()
	if err := s.CreateBindChallenge(t.Context(), c); err != nil {
		t.Fatalf("CreateBindChallenge(%s by %s): %v", c.DeviceID, c.AccountID, err)
	}
	return c
}

func testBind(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const w1, w2, w3, w4, missing = "8800000001", "8800000002", "8800000003", "8800000004", "8800000099"
	guardian(t, s, "acc1", "Anna")
	guardian(t, s, "acc2", "Bert")
	pendingWatch(t, s, w1, w2, w3, w4)
	if err := s.SetDeviceState(ctx, w3, kinwatch.DeviceBlocked); err != nil {
		t.Fatalf("SetDeviceState(blocked): %v", err)
	}
	first := createChallenge(t, s, challenge(w1, "acc1", ""))
	// Bert started binding the same watch at the same time; Anna confirms first.
	rival := createChallenge(t, s, challenge(w1, "acc2", ""))

	at := t0.Add(time.Minute)
	famID := kinwatch.NewID()
	err := s.Bind(ctx, &kinwatch.Binding{
		DeviceID: w1, FamilyID: famID,
		NewFamily:   &kinwatch.Family{ID: famID, Name: "Anna's family", CreatedAt: at},
		Admin:       &kinwatch.Member{FamilyID: famID, AccountID: "acc1", Role: kinwatch.RoleAdmin, Relation: "mother", JoinedAt: at},
		ChallengeID: first.ID,
		At:          at,
	})
	if err != nil {
		t.Fatalf("Bind(new family, with a challenge): %v", err)
	}
	same(t, "family created by Bind", mustFamily(t, s, famID), &kinwatch.Family{ID: famID, Name: "Anna's family", CreatedAt: at})
	same(t, "admin added by Bind", mustMember(t, s, famID, "acc1"), &kinwatch.Member{FamilyID: famID, AccountID: "acc1",
		Role: kinwatch.RoleAdmin, Relation: "mother", JoinedAt: at, Nickname: "Anna"})
	if st := mustDevice(t, s, w1).State; st != kinwatch.DeviceBound {
		t.Errorf("state after Bind = %s, want bound", st)
	}
	same(t, "FamilyWatches after Bind", familyWatches(t, s, famID), []string{w1})
	same(t, "WatchAccess of the new admin", mustAccess(t, s, "acc1", w1),
		&kinwatch.WatchAccess{DeviceID: w1, FamilyID: famID, Role: kinwatch.RoleAdmin, BoundAt: at})
	_, err = s.BindChallenge(ctx, "acc1", first.ID)
	wantCode(t, "BindChallenge consumed by Bind", err, kinwatch.ENOTFOUND)

	// A refused Bind changes nothing: no family or member is left behind, the watch keeps its
	// state, a challenge it named is still there.
	for _, tc := range []struct {
		name      string
		dev       string
		family    string // bind into this existing family; "" creates a new one
		admin     string // of the new family
		challenge string
		code      string // "" accepts any error
	}{
		{"bound watch, the rival's challenge", w1, "", "acc2", rival.ID, kinwatch.ECONFLICT},
		{"bound watch, no challenge", w1, "", "acc2", "", kinwatch.ECONFLICT},
		{"bound watch, into an existing family", w1, famID, "", "", kinwatch.ECONFLICT},
		{"challenge consumed already", w2, "", "acc2", first.ID, kinwatch.ECONFLICT},
		{"challenge that never existed", w2, "", "acc2", kinwatch.NewID(), kinwatch.ECONFLICT},
		{"unknown watch", missing, "", "acc2", "", kinwatch.ENOTFOUND},
		{"unknown watch, into an existing family", missing, famID, "", "", kinwatch.ENOTFOUND},
		{"unknown family", w2, kinwatch.NewID(), "", "", kinwatch.ENOTFOUND},
		{"blocked watch, into an existing family", w3, famID, "", "", kinwatch.ECONFLICT},
		{"blocked watch, new family", w3, "", "acc2", "", kinwatch.ECONFLICT},
		{"new family's admin has no account", w2, "", "nobody", "", ""},
		{"into an existing family by someone not its member", w2, famID, "acc2", "", kinwatch.EFORBIDDEN},
	} {
		var before kinwatch.DeviceState
		if tc.dev != missing {
			before = mustDevice(t, s, tc.dev).State
		}
		b := &kinwatch.Binding{DeviceID: tc.dev, FamilyID: tc.family, ChallengeID: tc.challenge, At: at}
		if tc.family != "" {
			b.By = tc.admin
		}
		if tc.family == "" {
			b.FamilyID = kinwatch.NewID()
			b.NewFamily = &kinwatch.Family{ID: b.FamilyID, Name: "refused", CreatedAt: at}
			b.Admin = &kinwatch.Member{FamilyID: b.FamilyID, AccountID: tc.admin, Role: kinwatch.RoleAdmin, JoinedAt: at}
		}
		err := s.Bind(ctx, b)
		what := "Bind(" + tc.name + ")"
		if tc.code == "" {
			if err == nil {
				t.Errorf("%s succeeded", what)
			}
		} else {
			wantCode(t, what, err, tc.code)
		}
		if b.NewFamily != nil {
			_, err := s.Family(ctx, b.FamilyID)
			wantCode(t, "Family created by the refused "+what, err, kinwatch.ENOTFOUND)
			_, err = s.Member(ctx, b.FamilyID, tc.admin)
			wantCode(t, "admin added by the refused "+what, err, kinwatch.ENOTFOUND)
		}
		if tc.dev == missing {
			_, err := s.Device(ctx, missing)
			wantCode(t, "Device after the refused "+what, err, kinwatch.ENOTFOUND)
		} else if st := mustDevice(t, s, tc.dev).State; st != before {
			t.Errorf("after the refused %s the watch is %s, want %s as before", what, st, before)
		}
		same(t, "FamilyWatches after the refused "+what, familyWatches(t, s, famID), []string{w1})
	}
	if ids := familyIDs(t, s, "acc2"); len(ids) != 0 {
		t.Errorf("Families(acc2) after refused bindings = %v; want none", ids)
	}
	if got, err := s.BindChallenge(ctx, "acc2", rival.ID); err != nil {
		t.Errorf("a Bind refused because the watch is bound consumed the challenge it named: %v", err)
	} else {
		same(t, "challenge of a refused Bind", got, rival)
	}
	same(t, "WatchAccess after refused bindings", mustAccess(t, s, "acc1", w1),
		&kinwatch.WatchAccess{DeviceID: w1, FamilyID: famID, Role: kinwatch.RoleAdmin, BoundAt: at})

	// Into the existing family: without a challenge (demo seeding), and with one that names it.
	if err := s.Bind(ctx, &kinwatch.Binding{DeviceID: w2, FamilyID: famID, At: at}); err != nil {
		t.Fatalf("Bind(into the family, no challenge): %v", err)
	}
	c := createChallenge(t, s, challenge(w4, "acc1", famID))
	if err := s.Bind(ctx, &kinwatch.Binding{DeviceID: w4, FamilyID: famID, ChallengeID: c.ID, By: "acc1", At: at}); err != nil {
		t.Fatalf("Bind(into the family, with a challenge): %v", err)
	}
	_, err = s.BindChallenge(ctx, "acc1", c.ID)
	wantCode(t, "BindChallenge consumed by Bind into a family", err, kinwatch.ENOTFOUND)
	for _, dev := range []string{w2, w4} {
		if st := mustDevice(t, s, dev).State; st != kinwatch.DeviceBound {
			t.Errorf("%s after Bind into the family is %s, want bound", dev, st)
		}
		same(t, "WatchAccess("+dev+")", mustAccess(t, s, "acc1", dev),
			&kinwatch.WatchAccess{DeviceID: dev, FamilyID: famID, Role: kinwatch.RoleAdmin, BoundAt: at})
	}
	same(t, "FamilyWatches", familyWatches(t, s, famID), []string{w1, w2, w4})
	same(t, "members after binding three watches", memberRoles(t, s, famID), map[string]kinwatch.Role{"acc1": kinwatch.RoleAdmin})
	if st := mustDevice(t, s, w3).State; st != kinwatch.DeviceBlocked {
		t.Errorf("blocked watch is %s after refused bindings", st)
	}
}

func testWatchAccess(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const w1, w2, pending, missing = "8800000001", "8800000002", "8800000003", "8800000099"
	for _, id := range []string{"acc1", "acc2", "acc3", "acc4"} {
		guardian(t, s, id, "nick "+id)
	}
	pendingWatch(t, s, w1, w2, pending)
	fam := newFamily(t, s, w1, "acc1", "Family")
	bindInto(t, s, w2, fam.ID)
	join(t, s, fam.ID, "acc2", kinwatch.RoleGuardian, t0.Add(time.Minute))
	join(t, s, fam.ID, "acc3", kinwatch.RoleViewer, t0.Add(2*time.Minute))

	for acc, role := range map[string]kinwatch.Role{"acc1": kinwatch.RoleAdmin, "acc2": kinwatch.RoleGuardian, "acc3": kinwatch.RoleViewer} {
		for _, dev := range []string{w1, w2} {
			same(t, "WatchAccess("+acc+", "+dev+")", mustAccess(t, s, acc, dev),
				&kinwatch.WatchAccess{DeviceID: dev, FamilyID: fam.ID, Role: role, BoundAt: t0})
		}
	}
	for _, tc := range []struct{ name, acc, dev string }{
		{"not a member", "acc4", w1},
		{"unknown account", "nobody", w1},
		{"empty account", "", w1},
		{"missing watch", "acc1", missing},
		{"pending watch", "acc1", pending},
		{"empty watch", "acc1", ""},
	} {
		_, err := s.WatchAccess(ctx, tc.acc, tc.dev)
		wantCode(t, "WatchAccess("+tc.name+")", err, kinwatch.ENOTFOUND)
	}

	// The operator blocks a bound watch: it stays in the family, and its guardians still see it
	// (and that it is blocked).
	if err := s.SetDeviceState(ctx, w2, kinwatch.DeviceBlocked); err != nil {
		t.Fatalf("SetDeviceState(blocked): %v", err)
	}
	same(t, "WatchAccess to a blocked watch", mustAccess(t, s, "acc2", w2),
		&kinwatch.WatchAccess{DeviceID: w2, FamilyID: fam.ID, Role: kinwatch.RoleGuardian, BoundAt: t0})
	same(t, "FamilyWatches with a blocked watch", familyWatches(t, s, fam.ID), []string{w1, w2})

	// Access follows the membership at once.
	m := mustMember(t, s, fam.ID, "acc2")
	m.Role = kinwatch.RoleViewer
	if err := s.UpdateMember(ctx, m); err != nil {
		t.Fatalf("UpdateMember: %v", err)
	}
	if a := mustAccess(t, s, "acc2", w1); a.Role != kinwatch.RoleViewer {
		t.Errorf("WatchAccess after UpdateMember to viewer has role %s", a.Role)
	}
	if err := s.RemoveMember(ctx, fam.ID, "acc3"); err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	_, err := s.WatchAccess(ctx, "acc3", w1)
	wantCode(t, "WatchAccess of a removed member", err, kinwatch.ENOTFOUND)
}

func testWatches(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const w1, w2, w3, pending = "8800000001", "8800000002", "8800000003", "8800000004"
	for _, id := range []string{"acc1", "acc2", "acc3"} {
		guardian(t, s, id, "nick "+id)
	}
	pendingWatch(t, s, w3, w2, w1, pending)
	// Bound in scrambled order, into two families: listings are by device id all the same.
	famA := newFamily(t, s, w3, "acc1", "A")
	famB := newFamily(t, s, w2, "acc2", "B")
	bindInto(t, s, w1, famA.ID)
	join(t, s, famB.ID, "acc1", kinwatch.RoleViewer, t0.Add(time.Minute))

	same(t, "Watches(acc1)", watches(t, s, "acc1"), []kinwatch.WatchAccess{
		{DeviceID: w1, FamilyID: famA.ID, Role: kinwatch.RoleAdmin, BoundAt: t0},
		{DeviceID: w2, FamilyID: famB.ID, Role: kinwatch.RoleViewer, BoundAt: t0},
		{DeviceID: w3, FamilyID: famA.ID, Role: kinwatch.RoleAdmin, BoundAt: t0},
	})
	same(t, "Watches(acc2)", watches(t, s, "acc2"), []kinwatch.WatchAccess{
		{DeviceID: w2, FamilyID: famB.ID, Role: kinwatch.RoleAdmin, BoundAt: t0},
	})
	if list := watches(t, s, "acc3"); len(list) != 0 {
		t.Errorf("Watches(account without families) = %v; want none", list)
	}

	same(t, "FamilyWatches(A)", familyWatches(t, s, famA.ID), []string{w1, w3})
	same(t, "FamilyWatches(B)", familyWatches(t, s, famB.ID), []string{w2})

	same(t, "AccountsWithAccess(w2)", accountsWithAccess(t, s, w2), []string{"acc1", "acc2"})
	same(t, "AccountsWithAccess(w3)", accountsWithAccess(t, s, w3), []string{"acc1"})
	ids, err := s.AccountsWithAccess(ctx, pending)
	if err != nil || len(ids) != 0 {
		t.Errorf("AccountsWithAccess(pending watch) = %v, %v; want none", ids, err)
	}

	// A family without watches lists none, and its members see no watch through it.
	pendingWatch(t, s, "8800000005")
	famC := newFamily(t, s, "8800000005", "acc3", "C")
	if _, err := s.Unbind(ctx, "8800000005"); err != nil {
		t.Fatalf("Unbind: %v", err)
	}
	if ids := familyWatches(t, s, famC.ID); len(ids) != 0 {
		t.Errorf("FamilyWatches(family without watches) = %v; want none", ids)
	}
	if list := watches(t, s, "acc3"); len(list) != 0 {
		t.Errorf("Watches(member of a family without watches) = %v; want none", list)
	}
}

// testFamilyIsolation: a member of one family reaches nothing of another, whatever method it
// tries.
func testFamilyIsolation(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const wa, wb = "8800000001", "8800000002"
	guardian(t, s, "a1", "A1")
	guardian(t, s, "a2", "A2")
	guardian(t, s, "b1", "B1")
	pendingWatch(t, s, wa, wb)
	famA := newFamily(t, s, wa, "a1", "A")
	famB := newFamily(t, s, wb, "b1", "B")
	join(t, s, famA.ID, "a2", kinwatch.RoleGuardian, t0.Add(time.Minute))

	for _, tc := range []struct{ acc, dev string }{{"a1", wb}, {"a2", wb}, {"b1", wa}} {
		_, err := s.WatchAccess(ctx, tc.acc, tc.dev)
		wantCode(t, "WatchAccess("+tc.acc+" to the other family's watch)", err, kinwatch.ENOTFOUND)
	}
	same(t, "Watches(a1)", watches(t, s, "a1"), []kinwatch.WatchAccess{{DeviceID: wa, FamilyID: famA.ID, Role: kinwatch.RoleAdmin, BoundAt: t0}})
	same(t, "Watches(b1)", watches(t, s, "b1"), []kinwatch.WatchAccess{{DeviceID: wb, FamilyID: famB.ID, Role: kinwatch.RoleAdmin, BoundAt: t0}})
	same(t, "AccountsWithAccess(wa)", accountsWithAccess(t, s, wa), []string{"a1", "a2"})
	same(t, "AccountsWithAccess(wb)", accountsWithAccess(t, s, wb), []string{"b1"})
	same(t, "Members(B)", memberIDs(t, s, famB.ID), []string{"b1"})
	same(t, "FamilyWatches(A)", familyWatches(t, s, famA.ID), []string{wa})

	// Naming the other family does not reach a membership of one's own.
	_, err := s.Member(ctx, famB.ID, "a1")
	wantCode(t, "Member(B, a1)", err, kinwatch.ENOTFOUND)
	err = s.UpdateMember(ctx, &kinwatch.Member{FamilyID: famB.ID, AccountID: "a2", Role: kinwatch.RoleViewer, JoinedAt: t0})
	wantCode(t, "UpdateMember(B, a2)", err, kinwatch.ENOTFOUND)
	wantCode(t, "RemoveMember(B, a2)", s.RemoveMember(ctx, famB.ID, "a2"), kinwatch.ENOTFOUND)
	wantCode(t, "TransferAdmin(B, b1 → a1)", s.TransferAdmin(ctx, famB.ID, "b1", "a1"), kinwatch.ENOTFOUND)
	same(t, "members of A after attempts through B", memberRoles(t, s, famA.ID),
		map[string]kinwatch.Role{"a1": kinwatch.RoleAdmin, "a2": kinwatch.RoleGuardian})
	same(t, "members of B after attempts through B", memberRoles(t, s, famB.ID),
		map[string]kinwatch.Role{"b1": kinwatch.RoleAdmin})
}

// seedWatch stores a bit of everything Unbind must delete and returns the media's blob keys and
// the commands' ids. account queued the commands, one with the idempotency key "k1".
func seedWatch(t *testing.T, s kinwatch.Store, dev, account string) (keys, commands []string) {
	t.Helper()
	keys = []string{"media/" + dev + "/voice.amr", "media/" + dev + "/photo.jpg"}
	write(t, s,
		kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: dev, Time: t0, Lat: 48.2, Lon: 16.37, HasCoords: true}},
		kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: dev, Time: t0.Add(time.Minute)}},
		kinwatch.Record{Event: &kinwatch.Event{ID: kinwatch.NewID(), DeviceID: dev, Time: t0, Type: kinwatch.EventAlarm, Alarm: "sos"}},
		kinwatch.Record{Health: &kinwatch.HealthReading{ID: kinwatch.NewID(), DeviceID: dev, Time: t0, HeartRate: 88}},
		kinwatch.Record{Media: &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: dev, Kind: kinwatch.MediaAudio,
			ContentType: "audio/amr", Key: keys[0], Size: 100, Time: t0}},
		kinwatch.Record{Media: &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: dev, Kind: kinwatch.MediaImage,
			ContentType: "image/jpeg", Key: keys[1], Size: 200, Time: t0.Add(time.Second)}},
	)
	for _, key := range []string{"k1", ""} {
		c := enqueue(t, s, &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: dev, Keyword: "CR", Content: []byte("CR"),
			ExpiresAt: t0.Add(time.Hour), RequestedBy: account, IdempotencyKey: key})
		commands = append(commands, c.ID)
	}
	fam := mustAccess(t, s, account, dev).FamilyID
	if err := s.PutChildProfile(t.Context(), fam, &kinwatch.ChildProfile{DeviceID: dev, Name: "Kid " + dev, UpdatedAt: t0}); err != nil {
		t.Fatalf("PutChildProfile(%s): %v", dev, err)
	}
	picture := "children/" + dev + "/1"
	if _, err := s.SetChildAvatar(t.Context(), fam, dev, picture); err != nil {
		t.Fatalf("SetChildAvatar(%s): %v", dev, err)
	}
	return append(keys, picture), commands
}

func testUnbind(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const w1, w2 = "8800000001", "8800000002"
	guardian(t, s, "acc1", "Anna")
	guardian(t, s, "acc2", "Bert")
	pendingWatch(t, s, w1, w2)
	// Bert started binding w1 too but never finished; Unbind removes his stale challenge.
	stale := createChallenge(t, s, challenge(w1, "acc2", ""))
	fam := newFamily(t, s, w1, "acc1", "Family")
	bindInto(t, s, w2, fam.ID)
	join(t, s, fam.ID, "acc2", kinwatch.RoleGuardian, t0.Add(time.Minute))
	keys1, cmds1 := seedWatch(t, s, w1, "acc1")
	keys2, cmds2 := seedWatch(t, s, w2, "acc1")
	profile2, err := s.ChildProfile(ctx, w2)
	if err != nil {
		t.Fatalf("ChildProfile: %v", err)
	}

	got, err := s.Unbind(ctx, w1)
	if err != nil {
		t.Fatalf("Unbind: %v", err)
	}
	slices.Sort(got)
	slices.Sort(keys1)
	same(t, "blob keys returned by Unbind", got, keys1)

	// Nothing about w1 is left ...
	assertNoData(t, s, w1)
	if cs, err := s.Commands(ctx, w1, 0, 0); err != nil || len(cs) != 0 {
		t.Errorf("Commands of the unbound watch = %v, %v; want none", commandIDs(cs), err)
	}
	for _, id := range cmds1 {
		_, err := s.Command(ctx, id)
		wantCode(t, "Command of the unbound watch", err, kinwatch.ENOTFOUND)
	}
	_, err = s.CommandByIdempotencyKey(ctx, w1, "acc1", "k1")
	wantCode(t, "CommandByIdempotencyKey of the unbound watch", err, kinwatch.ENOTFOUND)
	_, err = s.ChildProfile(ctx, w1)
	wantCode(t, "ChildProfile of the unbound watch", err, kinwatch.ENOTFOUND)
	_, err = s.BindChallenge(ctx, "acc2", stale.ID)
	wantCode(t, "bind challenge of the unbound watch", err, kinwatch.ENOTFOUND)
	_, err = s.LatestPosition(ctx, w1)
	wantCode(t, "LatestPosition of the unbound watch", err, kinwatch.ENOTFOUND)

	// ... it is pending and out of the family ...
	if st := mustDevice(t, s, w1).State; st != kinwatch.DevicePending {
		t.Errorf("unbound watch is %s, want pending", st)
	}
	for _, acc := range []string{"acc1", "acc2"} {
		_, err := s.WatchAccess(ctx, acc, w1)
		wantCode(t, "WatchAccess("+acc+") to the unbound watch", err, kinwatch.ENOTFOUND)
	}
	if ids, err := s.AccountsWithAccess(ctx, w1); err != nil || len(ids) != 0 {
		t.Errorf("AccountsWithAccess(unbound watch) = %v, %v; want none", ids, err)
	}
	same(t, "FamilyWatches after Unbind", familyWatches(t, s, fam.ID), []string{w2})
	same(t, "Watches(acc2) after Unbind", watches(t, s, "acc2"),
		[]kinwatch.WatchAccess{{DeviceID: w2, FamilyID: fam.ID, Role: kinwatch.RoleGuardian, BoundAt: t0}})

	// ... while the other watch of the family keeps everything, and the family its members.
	if ps, err := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: w2}); err != nil || len(ps) != 2 {
		t.Errorf("positions of the other watch = %d, %v; want 2", len(ps), err)
	}
	if es, err := s.Events(ctx, kinwatch.EventFilter{DeviceID: w2}); err != nil || len(es) != 1 {
		t.Errorf("events of the other watch = %d, %v; want 1", len(es), err)
	}
	if hs, err := s.HealthReadings(ctx, w2, kinwatch.Page{Limit: 0}); err != nil || len(hs) != 1 {
		t.Errorf("health readings of the other watch = %d, %v; want 1", len(hs), err)
	}
	if ms, err := s.MediaList(ctx, w2, kinwatch.Page{Limit: 0}); err != nil || len(ms) != 2 {
		t.Errorf("media of the other watch = %d, %v; want 2", len(ms), err)
	}
	if cs, err := s.Commands(ctx, w2, 0, 0); err != nil {
		t.Errorf("Commands of the other watch: %v", err)
	} else {
		ids := commandIDs(cs)
		slices.Sort(ids)
		slices.Sort(cmds2)
		same(t, "commands of the other watch", ids, cmds2)
	}
	if c, err := s.CommandByIdempotencyKey(ctx, w2, "acc1", "k1"); err != nil || c.DeviceID != w2 {
		t.Errorf("CommandByIdempotencyKey of the other watch = %v, %v", c, err)
	}
	if p, err := s.ChildProfile(ctx, w2); err != nil {
		t.Errorf("ChildProfile of the other watch: %v", err)
	} else {
		same(t, "child profile of the other watch", p, profile2)
	}
	same(t, "family after Unbind", mustFamily(t, s, fam.ID), fam)
	same(t, "members after Unbind", memberIDs(t, s, fam.ID), []string{"acc1", "acc2"})

	_, err = s.Unbind(ctx, "8800000099")
	wantCode(t, "Unbind(unknown watch)", err, kinwatch.ENOTFOUND)

	// The last watch goes: the family stays, with its members and without watches.
	got, err = s.Unbind(ctx, w2)
	if err != nil {
		t.Fatalf("Unbind(last watch): %v", err)
	}
	slices.Sort(got)
	slices.Sort(keys2)
	same(t, "blob keys returned by the second Unbind", got, keys2)
	same(t, "family after its last watch is unbound", mustFamily(t, s, fam.ID), fam)
	same(t, "members after the last watch is unbound", memberIDs(t, s, fam.ID), []string{"acc1", "acc2"})
	if ids := familyWatches(t, s, fam.ID); len(ids) != 0 {
		t.Errorf("FamilyWatches after the last watch is unbound = %v; want none", ids)
	}

	// An unbound watch can be bound again, here by another family with a fresh challenge.
	c := createChallenge(t, s, challenge(w1, "acc2", ""))
	famID := kinwatch.NewID()
	err = s.Bind(ctx, &kinwatch.Binding{DeviceID: w1, FamilyID: famID,
		NewFamily:   &kinwatch.Family{ID: famID, Name: "Bert's", CreatedAt: t0.Add(time.Hour)},
		Admin:       &kinwatch.Member{FamilyID: famID, AccountID: "acc2", Role: kinwatch.RoleAdmin, JoinedAt: t0.Add(time.Hour)},
		ChallengeID: c.ID, At: t0.Add(time.Hour)})
	if err != nil {
		t.Fatalf("Bind after Unbind: %v", err)
	}
	same(t, "WatchAccess after binding again", mustAccess(t, s, "acc2", w1),
		&kinwatch.WatchAccess{DeviceID: w1, FamilyID: famID, Role: kinwatch.RoleAdmin, BoundAt: t0.Add(time.Hour)})
	_, err = s.WatchAccess(ctx, "acc1", w1)
	wantCode(t, "WatchAccess of the old family after binding again", err, kinwatch.ENOTFOUND)
	assertNoData(t, s, w1)
}

func testFamilyRoundTrip(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	guardian(t, s, "acc1", "Anna")
	pendingWatch(t, s, "8800000001", "8800000002")
	fam := newFamily(t, s, "8800000001", "acc1", "Familie Müller")
	other := newFamily(t, s, "8800000002", "acc1", "Other")
	same(t, "Family", mustFamily(t, s, fam.ID), fam)

	f := mustFamily(t, s, fam.ID)
	f.Name = `Die "Müllers" 👪 & Co`
	if err := s.UpdateFamily(ctx, f); err != nil {
		t.Fatalf("UpdateFamily: %v", err)
	}
	want := *fam
	want.Name = f.Name
	same(t, "renamed family", mustFamily(t, s, fam.ID), &want)
	same(t, "the other family after a rename", mustFamily(t, s, other.ID), other)

	_, err := s.Family(ctx, kinwatch.NewID())
	wantCode(t, "Family(unknown)", err, kinwatch.ENOTFOUND)
	_, err = s.Family(ctx, "")
	wantCode(t, "Family(empty id)", err, kinwatch.ENOTFOUND)
	missing := &kinwatch.Family{ID: kinwatch.NewID(), Name: "ghost", CreatedAt: t0}
	wantCode(t, "UpdateFamily(unknown)", s.UpdateFamily(ctx, missing), kinwatch.ENOTFOUND)
	_, err = s.Family(ctx, missing.ID)
	wantCode(t, "Family after UpdateFamily(unknown)", err, kinwatch.ENOTFOUND)
}

func testFamilies(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	for _, id := range []string{"acc1", "acc2", "acc3", "acc4"} {
		guardian(t, s, id, "nick "+id)
	}
	pendingWatch(t, s, "8800000001", "8800000002", "8800000003")
	famA := newFamily(t, s, "8800000001", "acc1", "A")
	famB := newFamily(t, s, "8800000002", "acc2", "B")
	famC := newFamily(t, s, "8800000003", "acc3", "C")
	// acc1 joins B after C: the order is by membership, not by family.
	join(t, s, famB.ID, "acc1", kinwatch.RoleGuardian, t0.Add(2*time.Hour))
	join(t, s, famC.ID, "acc1", kinwatch.RoleViewer, t0.Add(time.Hour))

	list, err := s.Families(ctx, "acc1")
	if err != nil {
		t.Fatalf("Families: %v", err)
	}
	same(t, "Families(acc1)", list, []*kinwatch.Membership{
		{Family: famA, Role: kinwatch.RoleAdmin},
		{Family: famC, Role: kinwatch.RoleViewer},
		{Family: famB, Role: kinwatch.RoleGuardian},
	})
	list, err = s.Families(ctx, "acc2")
	if err != nil {
		t.Fatalf("Families: %v", err)
	}
	same(t, "Families(acc2)", list, []*kinwatch.Membership{{Family: famB, Role: kinwatch.RoleAdmin}})
	for _, acc := range []string{"acc4", "nobody"} {
		if list, err := s.Families(ctx, acc); err != nil || len(list) != 0 {
			t.Errorf("Families(%s) = %v, %v; want none", acc, list, err)
		}
	}

	if err := s.RemoveMember(ctx, famC.ID, "acc1"); err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	same(t, "Families(acc1) after leaving C", familyIDs(t, s, "acc1"), []string{famA.ID, famB.ID})
}

func testMembers(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	for id, nick := range map[string]string{"acc1": "Anna", "acc2": "Bert", "acc3": "Opa Karl", "acc4": "Dora", "acc5": "Emil"} {
		guardian(t, s, id, nick)
	}
	pendingWatch(t, s, "8800000001", "8800000002")
	fam := newFamily(t, s, "8800000001", "acc1", "Family")
	other := newFamily(t, s, "8800000002", "acc5", "Other")

	admin := mustMember(t, s, fam.ID, "acc1")
	admin.Relation = "mother"
	if err := s.UpdateMember(ctx, admin); err != nil {
		t.Fatalf("UpdateMember(relation): %v", err)
	}
	// acc2 and acc3 join at the same moment: the account id breaks the tie.
	grandpa := &kinwatch.Member{FamilyID: fam.ID, AccountID: "acc3", Role: kinwatch.RoleGuardian, Relation: "grandpa", JoinedAt: t0.Add(time.Hour)}
	father := &kinwatch.Member{FamilyID: fam.ID, AccountID: "acc2", Role: kinwatch.RoleViewer, Relation: "", JoinedAt: t0.Add(time.Hour)}
	aunt := &kinwatch.Member{FamilyID: fam.ID, AccountID: "acc4", Role: kinwatch.RoleGuardian, Relation: "Tante 👩 \"Dora\"", JoinedAt: t0.Add(30 * time.Minute)}
	for _, m := range []*kinwatch.Member{grandpa, father, aunt} {
		if err := s.AddMember(ctx, m); err != nil {
			t.Fatalf("AddMember(%s): %v", m.AccountID, err)
		}
	}
	join(t, s, other.ID, "acc2", kinwatch.RoleGuardian, t0)

	// Reads say who has a profile picture.
	if m := mustMember(t, s, fam.ID, "acc3"); m.HasAvatar {
		t.Errorf("Member(acc3) without a picture: HasAvatar")
	}
	opa, err := s.Account(ctx, "acc3")
	if err != nil {
		t.Fatalf("Account(acc3): %v", err)
	}
	if _, err := s.SetAccountAvatar(ctx, opa.ID, "avatars/acc3/1"); err != nil {
		t.Fatalf("SetAccountAvatar: %v", err)
	}
	if m := mustMember(t, s, fam.ID, "acc3"); !m.HasAvatar {
		t.Errorf("Member(acc3) with a picture: not HasAvatar")
	}
	grandpa.HasAvatar = true

	withNick := func(m *kinwatch.Member, nick string) *kinwatch.Member {
		c := *m
		c.Nickname = nick
		return &c
	}
	wantAdmin := &kinwatch.Member{FamilyID: fam.ID, AccountID: "acc1", Role: kinwatch.RoleAdmin, Relation: "mother", JoinedAt: t0, Nickname: "Anna"}
	want := []*kinwatch.Member{wantAdmin, withNick(aunt, "Dora"), withNick(father, "Bert"), withNick(grandpa, "Opa Karl")}
	ms, err := s.Members(ctx, fam.ID)
	if err != nil {
		t.Fatalf("Members: %v", err)
	}
	same(t, "Members", ms, want)
	same(t, "Member(acc3)", mustMember(t, s, fam.ID, "acc3"), withNick(grandpa, "Opa Karl"))
	for _, tc := range []struct{ name, family, acc string }{
		{"member of another family", fam.ID, "acc5"},
		{"unknown account", fam.ID, "nobody"},
		{"unknown family", kinwatch.NewID(), "acc1"},
	} {
		_, err := s.Member(ctx, tc.family, tc.acc)
		wantCode(t, "Member("+tc.name+")", err, kinwatch.ENOTFOUND)
	}

	// A second membership is refused and leaves the first as it was.
	dup := &kinwatch.Member{FamilyID: fam.ID, AccountID: "acc3", Role: kinwatch.RoleViewer, Relation: "x", JoinedAt: t0.Add(5 * time.Hour)}
	wantCode(t, "AddMember(already a member)", s.AddMember(ctx, dup), kinwatch.ECONFLICT)
	same(t, "member after a refused AddMember", mustMember(t, s, fam.ID, "acc3"), withNick(grandpa, "Opa Karl"))
	lost := &kinwatch.Member{FamilyID: kinwatch.NewID(), AccountID: "acc3", Role: kinwatch.RoleGuardian, JoinedAt: t0}
	wantCode(t, "AddMember(unknown family)", s.AddMember(ctx, lost), kinwatch.ENOTFOUND)

	// UpdateMember changes role and relation, and nothing else.
	upd := mustMember(t, s, fam.ID, "acc3")
	upd.Role, upd.Relation = kinwatch.RoleViewer, "Opa"
	if err := s.UpdateMember(ctx, upd); err != nil {
		t.Fatalf("UpdateMember: %v", err)
	}
	wantUpd := withNick(grandpa, "Opa Karl")
	wantUpd.Role, wantUpd.Relation = kinwatch.RoleViewer, "Opa"
	same(t, "updated member", mustMember(t, s, fam.ID, "acc3"), wantUpd)
	same(t, "the same account in another family", mustMember(t, s, other.ID, "acc2").Role, kinwatch.RoleGuardian)
	wantCode(t, "UpdateMember(not a member)", s.UpdateMember(ctx, &kinwatch.Member{FamilyID: fam.ID, AccountID: "acc5",
		Role: kinwatch.RoleViewer, JoinedAt: t0}), kinwatch.ENOTFOUND)
	_, err = s.Member(ctx, fam.ID, "acc5")
	wantCode(t, "Member after UpdateMember(not a member)", err, kinwatch.ENOTFOUND)

	// RemoveMember removes one membership, of one family.
	if err := s.RemoveMember(ctx, fam.ID, "acc2"); err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	same(t, "members after RemoveMember", memberIDs(t, s, fam.ID), []string{"acc1", "acc4", "acc3"})
	_, err = s.Member(ctx, fam.ID, "acc2")
	wantCode(t, "Member(removed)", err, kinwatch.ENOTFOUND)
	mustMember(t, s, other.ID, "acc2")
	wantCode(t, "RemoveMember(again)", s.RemoveMember(ctx, fam.ID, "acc2"), kinwatch.ENOTFOUND)
	wantCode(t, "RemoveMember(not a member)", s.RemoveMember(ctx, fam.ID, "acc5"), kinwatch.ENOTFOUND)
	wantCode(t, "RemoveMember(unknown family)", s.RemoveMember(ctx, kinwatch.NewID(), "acc1"), kinwatch.ENOTFOUND)
}

func testTransferAdmin(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	for _, id := range []string{"acc1", "acc2", "acc3", "acc4", "acc5"} {
		guardian(t, s, id, "nick "+id)
	}
	pendingWatch(t, s, "8800000001", "8800000002")
	fam := newFamily(t, s, "8800000001", "acc1", "Family")
	other := newFamily(t, s, "8800000002", "acc5", "Other")
	join(t, s, fam.ID, "acc2", kinwatch.RoleGuardian, t0.Add(time.Minute))
	join(t, s, fam.ID, "acc3", kinwatch.RoleViewer, t0.Add(2*time.Minute))
	join(t, s, other.ID, "acc4", kinwatch.RoleGuardian, t0)

	if err := s.TransferAdmin(ctx, fam.ID, "acc1", "acc2"); err != nil {
		t.Fatalf("TransferAdmin: %v", err)
	}
	roles := map[string]kinwatch.Role{"acc1": kinwatch.RoleGuardian, "acc2": kinwatch.RoleAdmin, "acc3": kinwatch.RoleViewer}
	same(t, "roles after TransferAdmin", memberRoles(t, s, fam.ID), roles)
	if a := mustAccess(t, s, "acc2", "8800000001"); a.Role != kinwatch.RoleAdmin {
		t.Errorf("WatchAccess of the new admin has role %s", a.Role)
	}

	// Refused transfers change no role.
	for _, tc := range []struct {
		name, from, to, code string
	}{
		{"from the old admin", "acc1", "acc3", kinwatch.ECONFLICT},
		{"from a viewer", "acc3", "acc1", kinwatch.ECONFLICT},
		{"to a member of another family", "acc2", "acc4", kinwatch.ENOTFOUND},
		{"to an unknown account", "acc2", "nobody", kinwatch.ENOTFOUND},
	} {
		wantCode(t, "TransferAdmin("+tc.name+")", s.TransferAdmin(ctx, fam.ID, tc.from, tc.to), tc.code)
		same(t, "roles after the refused TransferAdmin("+tc.name+")", memberRoles(t, s, fam.ID), roles)
	}
	wantCode(t, "TransferAdmin(unknown family)", s.TransferAdmin(ctx, kinwatch.NewID(), "acc2", "acc1"), kinwatch.ENOTFOUND)
	same(t, "roles of the other family", memberRoles(t, s, other.ID),
		map[string]kinwatch.Role{"acc5": kinwatch.RoleAdmin, "acc4": kinwatch.RoleGuardian})

	// A viewer can be made admin; the admin it replaces becomes a guardian, not a viewer.
	if err := s.TransferAdmin(ctx, fam.ID, "acc2", "acc3"); err != nil {
		t.Fatalf("TransferAdmin to a viewer: %v", err)
	}
	same(t, "roles after the second TransferAdmin", memberRoles(t, s, fam.ID),
		map[string]kinwatch.Role{"acc1": kinwatch.RoleGuardian, "acc2": kinwatch.RoleGuardian, "acc3": kinwatch.RoleAdmin})
}

// invitationView is what Invitations must return of an invitation; the code's hash need not be
// read back.
type invitationView struct {
	ID        string
	Role      kinwatch.Role
	CreatedBy string
	ExpiresAt time.Time
	UsesLeft  int
}

func viewInvitation(inv *kinwatch.Invitation) invitationView {
	return invitationView{inv.ID, inv.Role, inv.CreatedBy, inv.ExpiresAt, inv.UsesLeft}
}

// invitations lists the family's invitations by id (the order is not part of the contract).
func invitations(t *testing.T, s kinwatch.Store, familyID string) []invitationView {
	t.Helper()
	list, err := s.Invitations(t.Context(), familyID)
	if err != nil {
		t.Fatalf("Invitations: %v", err)
	}
	var out []invitationView
	for _, inv := range list {
		out = append(out, viewInvitation(inv))
	}
	slices.SortFunc(out, func(a, b invitationView) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// usesLeft returns the uses left of one of the family's invitations, 0 when it is not listed.
func usesLeft(t *testing.T, s kinwatch.Store, familyID, id string) int {
	t.Helper()
	for _, inv := range invitations(t, s, familyID) {
		if inv.ID == id {
			return inv.UsesLeft
		}
	}
	return 0
}

func createInvitation(t *testing.T, s kinwatch.Store, inv *kinwatch.Invitation) *kinwatch.Invitation {
	t.Helper()
	if err := s.CreateInvitation(t.Context(), inv); err != nil {
		t.Fatalf("CreateInvitation: %v", err)
	}
	return inv
}

func testInvitations(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	for id, nick := range map[string]string{"acc1": "Anna", "acc2": "Bert", "acc3": "Cleo", "acc4": "Dora", "acc9": "Ida"} {
		guardian(t, s, id, nick)
	}
	pendingWatch(t, s, "8800000001", "8800000002")
	fam := newFamily(t, s, "8800000001", "acc1", "Family")
	other := newFamily(t, s, "8800000002", "acc9", "Other")

	twice := createInvitation(t, s, &kinwatch.Invitation{ID: kinwatch.NewID(), FamilyID: fam.ID, CodeHash: hash("twice"),
		Role: kinwatch.RoleGuardian, CreatedBy: "acc1", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour), UsesLeft: 2})
	viewer := createInvitation(t, s, &kinwatch.Invitation{ID: kinwatch.NewID(), FamilyID: fam.ID, CodeHash: hash("viewer"),
		Role: kinwatch.RoleViewer, CreatedBy: "acc1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), UsesLeft: 1})
	theirs := createInvitation(t, s, &kinwatch.Invitation{ID: kinwatch.NewID(), FamilyID: other.ID, CodeHash: hash("theirs"),
		Role: kinwatch.RoleGuardian, CreatedBy: "acc9", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour), UsesLeft: 5})

	wantList := []invitationView{viewInvitation(twice), viewInvitation(viewer)}
	slices.SortFunc(wantList, func(a, b invitationView) int { return cmp.Compare(a.ID, b.ID) })
	same(t, "Invitations", invitations(t, s, fam.ID), wantList)
	same(t, "Invitations(other family)", invitations(t, s, other.ID), []invitationView{viewInvitation(theirs)})

	accept := func(secret, account, relation string, now time.Time) (*kinwatch.Invitation, error) {
		return s.AcceptInvitation(ctx, hash(secret), &kinwatch.Member{AccountID: account, Relation: relation, JoinedAt: now}, now)
	}

	// Refusals consume no use and add no member.
	for _, tc := range []struct {
		name, secret, account string
		now                   time.Time
		code                  string
	}{
		{"unknown code", "nope", "acc2", t0, kinwatch.ENOTFOUND},
		{"at its expiry", "viewer", "acc2", viewer.ExpiresAt, kinwatch.ENOTFOUND},
		{"after its expiry", "viewer", "acc2", viewer.ExpiresAt.Add(time.Hour), kinwatch.ENOTFOUND},
		{"already a member (the admin)", "twice", "acc1", t0, kinwatch.ECONFLICT},
		{"already a member (the other family's admin)", "theirs", "acc9", t0, kinwatch.ECONFLICT},
	} {
		_, err := accept(tc.secret, tc.account, "", tc.now)
		wantCode(t, "AcceptInvitation("+tc.name+")", err, tc.code)
	}
	same(t, "Invitations after refused accepts", invitations(t, s, fam.ID), wantList)
	same(t, "Invitations(other family) after refused accepts", invitations(t, s, other.ID), []invitationView{viewInvitation(theirs)})
	_, err := s.Member(ctx, fam.ID, "acc2")
	wantCode(t, "Member after refused accepts", err, kinwatch.ENOTFOUND)
	if r := mustMember(t, s, fam.ID, "acc1").Role; r != kinwatch.RoleAdmin {
		t.Errorf("the admin's role after accepting an invitation to its own family is %s", r)
	}

	// A use: the member joins with the invitation's family and role.
	at := t0.Add(time.Minute)
	inv, err := accept("twice", "acc2", "father", at)
	if err != nil {
		t.Fatalf("AcceptInvitation: %v", err)
	}
	if inv.FamilyID != fam.ID || inv.Role != kinwatch.RoleGuardian || inv.ID != twice.ID {
		t.Errorf("AcceptInvitation returned id %s, family %s, role %s; want %s, %s, guardian", inv.ID, inv.FamilyID, inv.Role, twice.ID, fam.ID)
	}
	same(t, "member who accepted", mustMember(t, s, fam.ID, "acc2"), &kinwatch.Member{FamilyID: fam.ID, AccountID: "acc2",
		Role: kinwatch.RoleGuardian, Relation: "father", JoinedAt: at, Nickname: "Bert"})
	if n := usesLeft(t, s, fam.ID, twice.ID); n != 1 {
		t.Errorf("uses left after one accept = %d, want 1", n)
	}
	_, err = accept("twice", "acc2", "", at)
	wantCode(t, "AcceptInvitation(again by the new member)", err, kinwatch.ECONFLICT)
	if n := usesLeft(t, s, fam.ID, twice.ID); n != 1 {
		t.Errorf("uses left after a refused second accept = %d, want 1 (the refusal consumed a use)", n)
	}

	// The last use: afterwards the invitation is gone or shown with no use left, and refuses.
	if _, err := accept("twice", "acc3", "", at); err != nil {
		t.Fatalf("AcceptInvitation(last use): %v", err)
	}
	if n := usesLeft(t, s, fam.ID, twice.ID); n != 0 {
		t.Errorf("uses left after the last use = %d, want 0 or the invitation gone", n)
	}
	_, err = accept("twice", "acc4", "", at)
	wantCode(t, "AcceptInvitation(used up)", err, kinwatch.ENOTFOUND)
	_, err = s.Member(ctx, fam.ID, "acc4")
	wantCode(t, "Member after accepting a used-up invitation", err, kinwatch.ENOTFOUND)

	// Just before its expiry the invitation is valid.
	inv, err = accept("viewer", "acc4", "aunt", viewer.ExpiresAt.Add(-time.Microsecond))
	if err != nil {
		t.Fatalf("AcceptInvitation(just before expiry): %v", err)
	}
	if inv.Role != kinwatch.RoleViewer || inv.FamilyID != fam.ID {
		t.Errorf("AcceptInvitation returned family %s, role %s; want %s, viewer", inv.FamilyID, inv.Role, fam.ID)
	}
	if r := mustMember(t, s, fam.ID, "acc4").Role; r != kinwatch.RoleViewer {
		t.Errorf("member who accepted a viewer invitation has role %s", r)
	}

	// Deleting goes by family and id: a family cannot delete another family's invitation.
	revoke := createInvitation(t, s, &kinwatch.Invitation{ID: kinwatch.NewID(), FamilyID: fam.ID, CodeHash: hash("revoke"),
		Role: kinwatch.RoleGuardian, CreatedBy: "acc1", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour), UsesLeft: 1})
	wantCode(t, "DeleteInvitation(another family's)", s.DeleteInvitation(ctx, other.ID, revoke.ID), kinwatch.ENOTFOUND)
	wantCode(t, "DeleteInvitation(another family's, as seen from it)", s.DeleteInvitation(ctx, fam.ID, theirs.ID), kinwatch.ENOTFOUND)
	if n := usesLeft(t, s, fam.ID, revoke.ID); n != 1 {
		t.Errorf("invitation after a refused DeleteInvitation has %d uses left, want 1", n)
	}
	same(t, "Invitations(other family) after refused deletes", invitations(t, s, other.ID), []invitationView{viewInvitation(theirs)})
	wantCode(t, "DeleteInvitation(unknown)", s.DeleteInvitation(ctx, fam.ID, kinwatch.NewID()), kinwatch.ENOTFOUND)
	if err := s.DeleteInvitation(ctx, fam.ID, revoke.ID); err != nil {
		t.Fatalf("DeleteInvitation: %v", err)
	}
	for _, v := range invitations(t, s, fam.ID) {
		if v.ID == revoke.ID {
			t.Error("Invitations lists a deleted invitation")
		}
	}
	_, err = accept("revoke", "acc9", "", t0)
	wantCode(t, "AcceptInvitation(deleted)", err, kinwatch.ENOTFOUND)
}

// Ten guardians use a one-time invitation at once: exactly one gets in.
func testAcceptInvitationConcurrently(t *testing.T, s kinwatch.Store) {
	const n = 10
	guardian(t, s, "admin", "Admin")
	pendingWatch(t, s, "8800000001")
	fam := newFamily(t, s, "8800000001", "admin", "Family")
	for i := range n {
		guardian(t, s, fmt.Sprintf("acc%d", i), fmt.Sprintf("G%d", i))
	}
	createInvitation(t, s, &kinwatch.Invitation{ID: kinwatch.NewID(), FamilyID: fam.ID, CodeHash: hash("once"),
		Role: kinwatch.RoleGuardian, CreatedBy: "admin", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), UsesLeft: 1})

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
	)
	start := make(chan struct{})
	for i := range n {
		acc := fmt.Sprintf("acc%d", i)
		wg.Go(func() {
			<-start
			inv, err := s.AcceptInvitation(t.Context(), hash("once"), &kinwatch.Member{AccountID: acc, JoinedAt: t0}, t0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && inv != nil && inv.FamilyID == fam.ID:
				winners = append(winners, acc)
			case kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND:
				t.Errorf("concurrent AcceptInvitation(%s) = %+v, %v; want success or not found", acc, inv, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d of %d concurrent AcceptInvitation calls got in (%v); want exactly 1", len(winners), n, winners)
	}
	want := map[string]kinwatch.Role{"admin": kinwatch.RoleAdmin, winners[0]: kinwatch.RoleGuardian}
	same(t, "members after concurrent accepts", memberRoles(t, s, fam.ID), want)
}

func testJoinRequests(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	for id, nick := range map[string]string{"acc1": "Anna", "acc2": "Bert", "acc3": "Cleo", "acc9": "Ida"} {
		guardian(t, s, id, nick)
	}
	const w1, w2 = "8800000001", "8800000002"
	pendingWatch(t, s, w1, w2)
	fam := newFamily(t, s, w1, "acc1", "Family")
	other := newFamily(t, s, w2, "acc9", "Other")

	create := func(r *kinwatch.JoinRequest) *kinwatch.JoinRequest {
		t.Helper()
		if err := s.CreateJoinRequest(ctx, r); err != nil {
			t.Fatalf("CreateJoinRequest(%s): %v", r.AccountID, err)
		}
		return r
	}
	withNick := func(r *kinwatch.JoinRequest, nick string) *kinwatch.JoinRequest {
		c := *r
		c.Nickname = nick
		return &c
	}
	r1 := create(&kinwatch.JoinRequest{ID: kinwatch.NewID(), FamilyID: fam.ID, AccountID: "acc2", DeviceID: w1,
		Note: "Ich bin der Papa 👨\nbitte reinlassen", CreatedAt: t0.Add(time.Minute)})
	r2 := create(&kinwatch.JoinRequest{ID: kinwatch.NewID(), FamilyID: fam.ID, AccountID: "acc3", CreatedAt: t0.Add(2 * time.Minute)})
	r3 := create(&kinwatch.JoinRequest{ID: kinwatch.NewID(), FamilyID: other.ID, AccountID: "acc2", DeviceID: w2, CreatedAt: t0.Add(3 * time.Minute)})

	list := func(familyID string) []*kinwatch.JoinRequest {
		t.Helper()
		rs, err := s.JoinRequests(ctx, familyID)
		if err != nil {
			t.Fatalf("JoinRequests: %v", err)
		}
		slices.SortFunc(rs, func(a, b *kinwatch.JoinRequest) int { return cmp.Compare(a.ID, b.ID) })
		return rs
	}
	byID := func(rs ...*kinwatch.JoinRequest) []*kinwatch.JoinRequest {
		slices.SortFunc(rs, func(a, b *kinwatch.JoinRequest) int { return cmp.Compare(a.ID, b.ID) })
		return rs
	}

	dup := &kinwatch.JoinRequest{ID: kinwatch.NewID(), FamilyID: fam.ID, AccountID: "acc2", Note: "again", CreatedAt: t0.Add(time.Hour)}
	wantCode(t, "CreateJoinRequest(asked this family already)", s.CreateJoinRequest(ctx, dup), kinwatch.ECONFLICT)
	same(t, "JoinRequests", list(fam.ID), byID(withNick(r1, "Bert"), withNick(r2, "Cleo")))
	same(t, "JoinRequests(other family)", list(other.ID), []*kinwatch.JoinRequest{withNick(r3, "Bert")})

	got, err := s.JoinRequest(ctx, fam.ID, r1.ID)
	if err != nil {
		t.Fatalf("JoinRequest: %v", err)
	}
	same(t, "JoinRequest", got, withNick(r1, "Bert"))
	for _, tc := range []struct{ name, family, id string }{
		{"of another family", other.ID, r1.ID},
		{"another family's, by its id", fam.ID, r3.ID},
		{"unknown", fam.ID, kinwatch.NewID()},
	} {
		_, err := s.JoinRequest(ctx, tc.family, tc.id)
		wantCode(t, "JoinRequest("+tc.name+")", err, kinwatch.ENOTFOUND)
	}

	// Approving through the wrong family does nothing.
	_, err = s.ApproveJoinRequest(ctx, other.ID, r1.ID, kinwatch.RoleGuardian, t0.Add(time.Hour))
	wantCode(t, "ApproveJoinRequest(wrong family)", err, kinwatch.ENOTFOUND)
	_, err = s.Member(ctx, other.ID, "acc2")
	wantCode(t, "Member after approving through the wrong family", err, kinwatch.ENOTFOUND)
	_, err = s.Member(ctx, fam.ID, "acc2")
	wantCode(t, "Member after approving through the wrong family", err, kinwatch.ENOTFOUND)

	at := t0.Add(time.Hour)
	m, err := s.ApproveJoinRequest(ctx, fam.ID, r1.ID, kinwatch.RoleViewer, at)
	if err != nil {
		t.Fatalf("ApproveJoinRequest: %v", err)
	}
	if m.FamilyID != fam.ID || m.AccountID != "acc2" || m.Role != kinwatch.RoleViewer || !m.JoinedAt.Equal(at) {
		t.Errorf("ApproveJoinRequest returned %+v; want acc2 in %s as viewer, joined %v", m, fam.ID, at)
	}
	same(t, "approved member", mustMember(t, s, fam.ID, "acc2"), &kinwatch.Member{FamilyID: fam.ID, AccountID: "acc2",
		Role: kinwatch.RoleViewer, JoinedAt: at, Nickname: "Bert"})
	_, err = s.JoinRequest(ctx, fam.ID, r1.ID)
	wantCode(t, "JoinRequest(approved)", err, kinwatch.ENOTFOUND)
	_, err = s.ApproveJoinRequest(ctx, fam.ID, r1.ID, kinwatch.RoleGuardian, at)
	wantCode(t, "ApproveJoinRequest(again)", err, kinwatch.ENOTFOUND)
	same(t, "JoinRequests after approval", list(fam.ID), []*kinwatch.JoinRequest{withNick(r2, "Cleo")})
	same(t, "the requester's request to another family", list(other.ID), []*kinwatch.JoinRequest{withNick(r3, "Bert")})

	// The requester got in another way meanwhile: the approval is refused or does nothing more,
	// and there is never a second membership.
	join(t, s, fam.ID, "acc3", kinwatch.RoleGuardian, t0.Add(2*time.Hour))
	_, err = s.ApproveJoinRequest(ctx, fam.ID, r2.ID, kinwatch.RoleViewer, t0.Add(3*time.Hour))
	switch kinwatch.ErrorCode(err) {
	case "":
		_, err := s.JoinRequest(ctx, fam.ID, r2.ID)
		wantCode(t, "JoinRequest approved for a member", err, kinwatch.ENOTFOUND)
	case kinwatch.ECONFLICT:
		if r := mustMember(t, s, fam.ID, "acc3").Role; r != kinwatch.RoleGuardian {
			t.Errorf("a refused approval changed the member's role to %s", r)
		}
	default:
		t.Errorf("ApproveJoinRequest(already a member) = %v; want success or conflict", err)
	}
	if roles := memberRoles(t, s, fam.ID); len(roles) != 3 || roles["acc3"] == "" {
		t.Errorf("members after approving a member = %v; want acc1, acc2 and acc3 once each", roles)
	}

	// Declining goes by family and id too.
	wantCode(t, "DeleteJoinRequest(wrong family)", s.DeleteJoinRequest(ctx, fam.ID, r3.ID), kinwatch.ENOTFOUND)
	if _, err := s.JoinRequest(ctx, other.ID, r3.ID); err != nil {
		t.Errorf("JoinRequest after a refused DeleteJoinRequest: %v", err)
	}
	if err := s.DeleteJoinRequest(ctx, other.ID, r3.ID); err != nil {
		t.Fatalf("DeleteJoinRequest: %v", err)
	}
	if rs := list(other.ID); len(rs) != 0 {
		t.Errorf("JoinRequests after DeleteJoinRequest = %d; want none", len(rs))
	}
	wantCode(t, "DeleteJoinRequest(again)", s.DeleteJoinRequest(ctx, other.ID, r3.ID), kinwatch.ENOTFOUND)
	_, err = s.Member(ctx, other.ID, "acc2")
	wantCode(t, "Member after a declined request", err, kinwatch.ENOTFOUND)
	// Once declined, the account may ask again.
	create(&kinwatch.JoinRequest{ID: kinwatch.NewID(), FamilyID: other.ID, AccountID: "acc2", CreatedAt: t0.Add(4 * time.Hour)})
}

func testBindChallenges(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	guardian(t, s, "acc1", "Anna")
	guardian(t, s, "acc2", "Bert")
	const w1, w2 = "8800000001", "8800000002"
	pendingWatch(t, s, w1, w2)
	fam := newFamily(t, s, w1, "acc1", "Family")

	into := createChallenge(t, s, &kinwatch.BindChallenge{ID: kinwatch.NewID(), DeviceID: w2, AccountID: "acc1", FamilyID: fam.ID,
		CodeHash: hash("123456"), CreatedAt: t0.Add(time.Second), ExpiresAt: t0.Add(10 * time.Minute)})
	fresh := createChallenge(t, s, &kinwatch.BindChallenge{ID: kinwatch.NewID(), DeviceID: w2, AccountID: "acc2",
		CodeHash: hash("654321"), CreatedAt: t0.Add(2 * time.Second), ExpiresAt: t0.Add(5 * time.Minute)})

	for _, c := range []*kinwatch.BindChallenge{into, fresh} {
		got, err := s.BindChallenge(ctx, c.AccountID, c.ID)
		if err != nil {
			t.Fatalf("BindChallenge(%s): %v", c.AccountID, err)
		}
		same(t, "BindChallenge of "+c.AccountID, got, c)
	}
	for _, tc := range []struct{ name, acc, id string }{
		{"another account's", "acc2", into.ID},
		{"another account's, the other way", "acc1", fresh.ID},
		{"unknown", "acc1", kinwatch.NewID()},
	} {
		_, err := s.BindChallenge(ctx, tc.acc, tc.id)
		wantCode(t, "BindChallenge("+tc.name+")", err, kinwatch.ENOTFOUND)
	}

	for want := 1; want <= 3; want++ {
		n, err := s.TakeBindAttempt(ctx, into.ID, 5)
		if err != nil || n != want {
			t.Errorf("TakeBindAttempt #%d = %d, %v; want %d", want, n, err, want)
		}
	}
	if c, err := s.BindChallenge(ctx, "acc1", into.ID); err != nil || c.Attempts != 3 {
		t.Errorf("BindChallenge after three wrong codes = %+v, %v; want 3 attempts", c, err)
	}
	if c, err := s.BindChallenge(ctx, "acc2", fresh.ID); err != nil || c.Attempts != 0 {
		t.Errorf("the other challenge after wrong codes for the first = %+v, %v; want 0 attempts", c, err)
	}

	if err := s.DeleteBindChallenge(ctx, into.ID); err != nil {
		t.Fatalf("DeleteBindChallenge: %v", err)
	}
	_, err := s.BindChallenge(ctx, "acc1", into.ID)
	wantCode(t, "BindChallenge(deleted)", err, kinwatch.ENOTFOUND)
	if _, err := s.BindChallenge(ctx, "acc2", fresh.ID); err != nil {
		t.Errorf("the other challenge after DeleteBindChallenge: %v", err)
	}
}

func testChildProfile(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	guardian(t, s, "acc1", "Anna")
	const w1, w2 = "8800000001", "8800000002"
	pendingWatch(t, s, w1, w2)
	fam := newFamily(t, s, w1, "acc1", "Family")
	bindInto(t, s, w2, fam.ID)

	_, err := s.ChildProfile(ctx, w1)
	wantCode(t, "ChildProfile before any Put", err, kinwatch.ENOTFOUND)

	get := func(dev string) *kinwatch.ChildProfile {
		t.Helper()
		p, err := s.ChildProfile(ctx, dev)
		if err != nil {
			t.Fatalf("ChildProfile(%s): %v", dev, err)
		}
		return p
	}
	full := &kinwatch.ChildProfile{DeviceID: w1, Name: "Lea-Marie 🦄", Avatar: "avatars/" + w1 + "/lea.jpg", Birthday: "2019-02-28",
		Gender: "female", HeightCM: 117, WeightKG: 21.35, School: `Volksschule "Am Park"`, Grade: "1b", Phone: "+436641234567",
		UpdatedAt: t0.Add(time.Minute)}
	put := *full
	if err := s.PutChildProfile(ctx, fam.ID, &put); err != nil {
		t.Fatalf("PutChildProfile(create): %v", err)
	}
	// The picture is not PutChildProfile's to write: a profile read before a picture was set and
	// written after must not take it back.
	noPicture := *full
	noPicture.Avatar = ""
	same(t, "created child profile", get(w1), &noPicture)
	old, err := s.SetChildAvatar(ctx, fam.ID, w1, full.Avatar)
	if err != nil || old != "" {
		t.Fatalf("SetChildAvatar(first) = %q, %v; want no previous picture", old, err)
	}
	withPicture := get(w1)
	if withPicture.Avatar != full.Avatar || !withPicture.UpdatedAt.After(full.UpdatedAt) {
		t.Errorf("after SetChildAvatar: %+v", withPicture)
	}
	put = noPicture
	if err := s.PutChildProfile(ctx, fam.ID, &put); err != nil {
		t.Fatalf("PutChildProfile(stale, without the picture): %v", err)
	}
	if got := get(w1); got.Avatar != full.Avatar {
		t.Errorf("a profile write took the picture back: %q", got.Avatar)
	}
	old, err = s.SetChildAvatar(ctx, fam.ID, w1, "avatars/"+w1+"/new.jpg")
	if err != nil || old != full.Avatar {
		t.Errorf("SetChildAvatar(replace) = %q, %v; want the replaced key %q", old, err, full.Avatar)
	}
	if old, err = s.SetChildAvatar(ctx, fam.ID, w1, ""); err != nil || old != "avatars/"+w1+"/new.jpg" {
		t.Errorf("SetChildAvatar(remove) = %q, %v", old, err)
	}

	// A second Put replaces every field, clearing some.
	replaced := &kinwatch.ChildProfile{DeviceID: w1, Name: "Lea", Birthday: "", Gender: "other", HeightCM: 0, WeightKG: 22.5,
		School: "", Grade: "2a", Phone: "", UpdatedAt: t0.Add(time.Hour)}
	put = *replaced
	if err := s.PutChildProfile(ctx, fam.ID, &put); err != nil {
		t.Fatalf("PutChildProfile(replace): %v", err)
	}
	same(t, "replaced child profile", get(w1), replaced)

	second := &kinwatch.ChildProfile{DeviceID: w2, Name: "Max", HeightCM: 130, UpdatedAt: t0.Add(2 * time.Hour)}
	put = *second
	if err := s.PutChildProfile(ctx, fam.ID, &put); err != nil {
		t.Fatalf("PutChildProfile(second watch): %v", err)
	}
	same(t, "the second watch's profile", get(w2), second)
	same(t, "the first watch's profile after the second's Put", get(w1), replaced)

	const missing, pending = "8800000099", "8800000003"
	wantCode(t, "PutChildProfile(unknown watch)", s.PutChildProfile(ctx, fam.ID, &kinwatch.ChildProfile{DeviceID: missing, Name: "x", UpdatedAt: t0}),
		kinwatch.ENOTFOUND)
	// Only into the watch's own family: not a pending watch, not through another family.
	pendingWatch(t, s, pending)
	guardian(t, s, "acc2", "Bert")
	other := newFamily(t, s, pending, "acc2", "Other")
	if _, err := s.Unbind(ctx, pending); err != nil {
		t.Fatalf("Unbind: %v", err)
	}
	wantCode(t, "PutChildProfile(unbound watch)", s.PutChildProfile(ctx, other.ID, &kinwatch.ChildProfile{DeviceID: pending, Name: "x", UpdatedAt: t0}),
		kinwatch.ENOTFOUND)
	_, err = s.SetChildAvatar(ctx, other.ID, pending, "children/x/1")
	wantCode(t, "SetChildAvatar(unbound watch)", err, kinwatch.ENOTFOUND)
	wantCode(t, "PutChildProfile(another family's watch)", s.PutChildProfile(ctx, other.ID, &kinwatch.ChildProfile{DeviceID: w2, Name: "x", UpdatedAt: t0}),
		kinwatch.ENOTFOUND)
	_, err = s.SetChildAvatar(ctx, other.ID, w2, "children/x/1")
	wantCode(t, "SetChildAvatar(another family's watch)", err, kinwatch.ENOTFOUND)
	_, err = s.ChildProfile(ctx, pending)
	wantCode(t, "ChildProfile(unbound watch after refused writes)", err, kinwatch.ENOTFOUND)
	same(t, "the second watch's profile after another family's writes", get(w2), second)
	_, err = s.ChildProfile(ctx, missing)
	wantCode(t, "ChildProfile(unknown watch)", err, kinwatch.ENOTFOUND)
	_, err = s.Device(ctx, missing)
	wantCode(t, "Device after PutChildProfile(unknown watch)", err, kinwatch.ENOTFOUND)
}

func testDeleteAccountLeavesFamilies(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	for _, id := range []string{"acc1", "acc2", "acc3", "acc4"} {
		guardian(t, s, id, "nick "+id)
	}
	const w1, w2 = "8800000001", "8800000002"
	pendingWatch(t, s, w1, w2)
	fam := newFamily(t, s, w1, "acc1", "Family")
	other := newFamily(t, s, w2, "acc3", "Other")
	join(t, s, fam.ID, "acc2", kinwatch.RoleGuardian, t0.Add(time.Minute))
	for _, acc := range []string{"acc2", "acc4"} {
		if err := s.CreateJoinRequest(ctx, &kinwatch.JoinRequest{ID: kinwatch.NewID(), FamilyID: other.ID, AccountID: acc, CreatedAt: t0}); err != nil {
			t.Fatalf("CreateJoinRequest(%s): %v", acc, err)
		}
	}

	if err := s.DeleteAccount(ctx, "acc2"); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	_, err := s.Member(ctx, fam.ID, "acc2")
	wantCode(t, "Member(deleted account)", err, kinwatch.ENOTFOUND)
	same(t, "Members after DeleteAccount", memberIDs(t, s, fam.ID), []string{"acc1"})
	if ids := familyIDs(t, s, "acc2"); len(ids) != 0 {
		t.Errorf("Families(deleted account) = %v; want none", ids)
	}
	_, err = s.WatchAccess(ctx, "acc2", w1)
	wantCode(t, "WatchAccess(deleted account)", err, kinwatch.ENOTFOUND)
	same(t, "AccountsWithAccess after DeleteAccount", accountsWithAccess(t, s, w1), []string{"acc1"})
	rs, err := s.JoinRequests(ctx, other.ID)
	if err != nil {
		t.Fatalf("JoinRequests: %v", err)
	}
	var requesters []string
	for _, r := range rs {
		requesters = append(requesters, r.AccountID)
	}
	same(t, "join requests after DeleteAccount", requesters, []string{"acc4"})

	// The families and their watches stay.
	same(t, "family after DeleteAccount", mustFamily(t, s, fam.ID), fam)
	same(t, "the other family after DeleteAccount", mustFamily(t, s, other.ID), other)
	same(t, "FamilyWatches after DeleteAccount", familyWatches(t, s, fam.ID), []string{w1})
	if st := mustDevice(t, s, w1).State; st != kinwatch.DeviceBound {
		t.Errorf("the family's watch is %s after a member's account was deleted, want bound", st)
	}
}

func testLatestPositions(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const a, b, none, unasked, missing = "8800000001", "8800000002", "8800000003", "8800000004", "8800000099"
	pendingWatch(t, s, none)
	fam := BoundWatches(t, s, a, b, unasked)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	var pa []*kinwatch.Position
	for _, m := range []int{3, 1, 4, 0, 2} { // written out of order
		pa = append(pa, &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: a, Type: "UD", Time: at(m), Received: at(m).Add(time.Second),
			Valid: true, Source: kinwatch.SourceGPS, Lat: 48.2 + float64(m)/1000, Lon: 16.37, HasCoords: true, Battery: 90 - m, Steps: int64(m)})
	}
	pb := &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: b, Type: "UD2", Time: at(-60),
		Cells: []kinwatch.Cell{{MCC: 232, MNC: 1, LAC: 1, CID: 2, RSSI: -70}}}
	pu := &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: unasked, Time: at(10)}
	recs := []kinwatch.Record{{Position: pb}, {Position: pu}}
	for _, p := range pa {
		recs = append(recs, kinwatch.Record{Position: p})
	}
	write(t, s, recs...)

	got, err := s.LatestPositions(ctx, []string{missing, none, b, a})
	if err != nil {
		t.Fatalf("LatestPositions: %v", err)
	}
	same(t, "LatestPositions", got, map[string]*kinwatch.Position{a: pa[2], b: pb})
	for dev, p := range got {
		one, err := s.LatestPosition(ctx, dev)
		if err != nil {
			t.Fatalf("LatestPosition(%s): %v", dev, err)
		}
		same(t, "LatestPositions["+dev+"] against LatestPosition", p, one)
	}
	// By account: every watch of its families, in id order, and nothing of another family's.
	ms, err := s.Members(ctx, fam)
	if err != nil || len(ms) != 1 {
		t.Fatalf("Members of the watches' family: %v, %v", ms, err)
	}
	otherFam := BoundWatches(t, s, "8800000005")
	write(t, s, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: "8800000005", Time: at(20)}})
	mine, err := s.AccountLatestPositions(ctx, ms[0].AccountID)
	if err != nil {
		t.Fatalf("AccountLatestPositions: %v", err)
	}
	same(t, "AccountLatestPositions", mine, []*kinwatch.Position{pa[2], pb, pu})
	others, _ := s.Members(ctx, otherFam)
	if theirs, err := s.AccountLatestPositions(ctx, others[0].AccountID); err != nil || len(theirs) != 1 || theirs[0].DeviceID != "8800000005" {
		t.Errorf("AccountLatestPositions(the other family's admin) = %v, %v; want only its own watch", theirs, err)
	}
	if none, err := s.AccountLatestPositions(ctx, "nobody"); err != nil || len(none) != 0 {
		t.Errorf("AccountLatestPositions(an account without families) = %v, %v; want none", none, err)
	}

	got, err = s.LatestPositions(ctx, []string{b})
	if err != nil {
		t.Fatalf("LatestPositions(one): %v", err)
	}
	same(t, "LatestPositions(one device)", got, map[string]*kinwatch.Position{b: pb})
	for name, ids := range map[string][]string{"nil": nil, "empty": {}, "only unknown and empty": {missing, ""}} {
		got, err := s.LatestPositions(ctx, ids)
		if err != nil || len(got) != 0 {
			t.Errorf("LatestPositions(%s) = %v, %v; want an empty map", name, got, err)
		}
	}

	// Many devices in one call, each with its newest at another index in the batch.
	const devices, per = 50, 5
	var ids []string
	for i := range devices {
		ids = append(ids, fmt.Sprintf("88%08d", 100+i))
	}
	BoundWatches(t, s, ids...)
	newest := map[string]string{}
	recs = nil
	for j := range per {
		for i, dev := range ids {
			step := (i + j) % per
			p := &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: dev, Time: t0.Add(time.Duration(step)*time.Minute + time.Duration(i)*time.Second)}
			if step == per-1 {
				newest[dev] = p.ID
			}
			recs = append(recs, kinwatch.Record{Position: p})
		}
	}
	write(t, s, recs...)
	got, err = s.LatestPositions(ctx, ids)
	if err != nil {
		t.Fatalf("LatestPositions(%d devices): %v", devices, err)
	}
	gotIDs := map[string]string{}
	for dev, p := range got {
		gotIDs[dev] = p.ID
		if p.DeviceID != dev {
			t.Errorf("LatestPositions[%s] is a position of %s", dev, p.DeviceID)
		}
	}
	same(t, fmt.Sprintf("LatestPositions(%d devices × %d positions), ids", devices, per), gotIDs, newest)
}

func testCommandIdempotency(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const d1, d2, missing = "8800000001", "8800000002", "8800000099"
	guardian(t, s, "acc1", "Anna")
	guardian(t, s, "acc2", "Bert")
	pendingWatch(t, s, d1, d2)
	cmd := func(dev, account, key string) *kinwatch.Command {
		return &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: dev, Keyword: "CR", Content: []byte("CR"),
			ExpiresAt: t0.Add(time.Hour), RequestedBy: account, IdempotencyKey: key}
	}

	c1 := enqueue(t, s, cmd(d1, "acc1", "k1"))
	got := mustCommand(t, s, c1.ID)
	if got.RequestedBy != "acc1" || got.IdempotencyKey != "k1" {
		t.Errorf("command read back with RequestedBy %q, IdempotencyKey %q; want acc1, k1", got.RequestedBy, got.IdempotencyKey)
	}
	same(t, "command with an idempotency key", got, c1)

	dup := cmd(d1, "acc1", "k1")
	dup.Keyword = "SOS"
	wantCode(t, "EnqueueCommand(same device, account and key)", s.EnqueueCommand(ctx, dup), kinwatch.ECONFLICT)
	_, err := s.Command(ctx, dup.ID)
	wantCode(t, "Command(refused duplicate)", err, kinwatch.ENOTFOUND)
	if cs, err := s.Commands(ctx, d1, 0, 0); err != nil {
		t.Fatalf("Commands: %v", err)
	} else {
		same(t, "commands after a refused duplicate", commandIDs(cs), []string{c1.ID})
	}

	// The key is the account's, for one device.
	c2 := enqueue(t, s, cmd(d1, "acc2", "k1"))
	c3 := enqueue(t, s, cmd(d2, "acc1", "k1"))
	for _, tc := range []struct {
		name, dev, acc, key string
		want                *kinwatch.Command // nil: not found
	}{
		{"acc1's", d1, "acc1", "k1", c1},
		{"acc2's, same key", d1, "acc2", "k1", c2},
		{"acc1's, other device", d2, "acc1", "k1", c3},
		{"other key", d1, "acc1", "k2", nil},
		{"other account", d1, "acc3", "k1", nil},
		{"no such pair", d2, "acc2", "k1", nil},
		{"unknown device", missing, "acc1", "k1", nil},
		{"empty key", d1, "acc1", "", nil},
	} {
		got, err := s.CommandByIdempotencyKey(ctx, tc.dev, tc.acc, tc.key)
		what := "CommandByIdempotencyKey(" + tc.name + ")"
		if tc.want == nil {
			wantCode(t, what, err, kinwatch.ENOTFOUND)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		same(t, what, got, mustCommand(t, s, tc.want.ID))
	}

	// A finished command still holds its key: a late retry queues nothing.
	if err := s.FinishCommand(ctx, c1.ID, kinwatch.CommandAcknowledged, "", "", t0.Add(time.Minute)); err != nil {
		t.Fatalf("FinishCommand: %v", err)
	}
	wantCode(t, "EnqueueCommand(key of a finished command)", s.EnqueueCommand(ctx, cmd(d1, "acc1", "k1")), kinwatch.ECONFLICT)

	// Commands without a key never conflict, whoever queued them.
	var plain []string
	for _, acc := range []string{"acc1", "acc1", "", ""} {
		plain = append(plain, enqueue(t, s, cmd(d1, acc, "")).ID)
	}
	for _, acc := range []string{"acc1", ""} {
		_, err := s.CommandByIdempotencyKey(ctx, d1, acc, "")
		wantCode(t, "CommandByIdempotencyKey(empty key, by "+acc+")", err, kinwatch.ENOTFOUND)
	}
	cs, err := s.Commands(ctx, d1, 0, 0)
	if err != nil {
		t.Fatalf("Commands: %v", err)
	}
	ids := commandIDs(cs)
	slices.Sort(ids)
	want := append([]string{c1.ID, c2.ID}, plain...)
	slices.Sort(want)
	same(t, "commands of d1", ids, want)
}

// testUnbindResetsWatch: Unbind forgets what the watch reported while the child wore it and the
// join requests made with its code, and keeps what the gateway needs to talk to it.
func testUnbindResetsWatch(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const w1, w2 = "8800000001", "8800000002"
	for id, nick := range map[string]string{"acc1": "Anna", "acc2": "Bert", "acc3": "Cleo", "acc4": "Dora"} {
		guardian(t, s, id, nick)
	}
	pendingWatch(t, s, w1, w2, "8800000003")
	fam := newFamily(t, s, w1, "acc1", "Family")
	bindInto(t, s, w2, fam.ID)
	other := newFamily(t, s, "8800000003", "acc4", "Other")
	for _, dev := range []string{w1, w2} {
		write(t, s, update(kinwatch.DeviceUpdate{ID: dev, Time: t0.Add(time.Minute), Manufacturer: "3G", HasIndex: ptr(true),
			Online: ptr(true), Battery: ptr(55), Signal: ptr(80), Steps: ptr(int64(4321)), Firmware: "G36_V1.2",
			ICCID: "8986000000000000000" + dev[len(dev)-1:], Encrypted: ptr(true)}))
	}
	before1, before2 := mustDevice(t, s, w1), mustDevice(t, s, w2)

	requests := map[string]*kinwatch.JoinRequest{
		"w1's code":                  {FamilyID: fam.ID, AccountID: "acc2", DeviceID: w1},
		"w2's code":                  {FamilyID: fam.ID, AccountID: "acc3", DeviceID: w2},
		"no code":                    {FamilyID: fam.ID, AccountID: "acc4"},
		"w1's code, to other family": {FamilyID: other.ID, AccountID: "acc2", DeviceID: w1},
	}
	for _, r := range requests {
		r.ID, r.CreatedAt = kinwatch.NewID(), t0.Add(2*time.Minute)
		if err := s.CreateJoinRequest(ctx, r); err != nil {
			t.Fatalf("CreateJoinRequest: %v", err)
		}
	}

	if _, err := s.Unbind(ctx, w1); err != nil {
		t.Fatalf("Unbind: %v", err)
	}
	want := *before1
	want.State, want.Battery, want.Signal, want.Steps, want.ICCID, want.Consent, want.FamilyID = kinwatch.DevicePending, -1, -1, 0, "", 0, ""
	same(t, "unbound watch", mustDevice(t, s, w1), &want)
	same(t, "the family's other watch", mustDevice(t, s, w2), before2)
	for name, r := range requests {
		_, err := s.JoinRequest(ctx, r.FamilyID, r.ID)
		if r.DeviceID == w1 {
			wantCode(t, "join request with "+name+" after Unbind", err, kinwatch.ENOTFOUND)
		} else if err != nil {
			t.Errorf("join request with %s after Unbind: %v", name, err)
		}
	}
}

func testTakeBindAttempt(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	guardian(t, s, "acc1", "Anna")
	guardian(t, s, "acc2", "Bert")
	const w1 = "8800000001"
	pendingWatch(t, s, w1)
	c := createChallenge(t, s, challenge(w1, "acc1", ""))
	half := challenge(w1, "acc2", "")
	half.Attempts = 2
	createChallenge(t, s, half)

	for want := 1; want <= 3; want++ {
		n, err := s.TakeBindAttempt(ctx, c.ID, 3)
		if err != nil || n != want {
			t.Errorf("TakeBindAttempt #%d = %d, %v; want %d", want, n, err, want)
		}
	}
	for range 2 {
		n, err := s.TakeBindAttempt(ctx, c.ID, 3)
		wantCode(t, fmt.Sprintf("TakeBindAttempt after 3 of 3 (returned %d)", n), err, kinwatch.EFORBIDDEN)
	}
	if got, err := s.BindChallenge(ctx, "acc1", c.ID); err != nil || got.Attempts != 3 {
		t.Errorf("BindChallenge after refused attempts = %+v, %v; want 3 attempts", got, err)
	}
	// The limit is the caller's: a higher one allows more.
	if n, err := s.TakeBindAttempt(ctx, c.ID, 4); err != nil || n != 4 {
		t.Errorf("TakeBindAttempt(max 4) after 3 = %d, %v; want 4", n, err)
	}

	// Attempts counted before (here at creation) count against max; the other challenge is apart.
	if n, err := s.TakeBindAttempt(ctx, half.ID, 3); err != nil || n != 3 {
		t.Errorf("TakeBindAttempt on a challenge with 2 attempts = %d, %v; want 3", n, err)
	}
	_, err := s.TakeBindAttempt(ctx, half.ID, 3)
	wantCode(t, "TakeBindAttempt after 3 of 3 on the second challenge", err, kinwatch.EFORBIDDEN)
	if got, err := s.BindChallenge(ctx, "acc1", c.ID); err != nil || got.Attempts != 4 {
		t.Errorf("first challenge after attempts on the second = %+v, %v; want 4 attempts", got, err)
	}

	_, err = s.TakeBindAttempt(ctx, kinwatch.NewID(), 3)
	wantCode(t, "TakeBindAttempt(unknown challenge)", err, kinwatch.ENOTFOUND)
	if err := s.DeleteBindChallenge(ctx, c.ID); err != nil {
		t.Fatalf("DeleteBindChallenge: %v", err)
	}
	_, err = s.TakeBindAttempt(ctx, c.ID, 10)
	wantCode(t, "TakeBindAttempt(deleted challenge)", err, kinwatch.ENOTFOUND)
}

// Twenty wrong codes arrive at once for a challenge that allows five: exactly five are tried.
func testTakeBindAttemptConcurrently(t *testing.T, s kinwatch.Store) {
	const n, allowed = 20, 5
	guardian(t, s, "acc1", "Anna")
	pendingWatch(t, s, "8800000001")
	c := createChallenge(t, s, challenge("8800000001", "acc1", ""))

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		taken []int
	)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			got, err := s.TakeBindAttempt(t.Context(), c.ID, allowed)
			mu.Lock()
			defer mu.Unlock()
			switch kinwatch.ErrorCode(err) {
			case "":
				taken = append(taken, got)
			case kinwatch.EFORBIDDEN:
			default:
				t.Errorf("concurrent TakeBindAttempt = %d, %v; want an attempt or forbidden", got, err)
			}
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(taken)
	same(t, fmt.Sprintf("attempts taken by %d concurrent calls with max %d", n, allowed), taken, []int{1, 2, 3, 4, 5})
	if got, err := s.BindChallenge(t.Context(), "acc1", c.ID); err != nil || got.Attempts != allowed {
		t.Errorf("BindChallenge after concurrent attempts = %+v, %v; want %d attempts", got, err, allowed)
	}
}

// DirectBus is a kinwatch.Bus that commits what is published straight into a store, as the
// storage writer would: for testing what publishes records (the watchdog, the safe-zone
// evaluator) without a writer.
type DirectBus struct{ Store kinwatch.Store }

// Publish writes recs in one batch.
func (b DirectBus) Publish(ctx context.Context, recs []kinwatch.Record, durable bool) error {
	return b.Store.WriteBatch(ctx, recs)
}

// Consume has nothing to consume.
func (DirectBus) Consume(context.Context, int, time.Duration, func(context.Context, []kinwatch.Record) error) error {
	return nil
}

// Depth is always 0.
func (DirectBus) Depth() int { return 0 }

// Close does nothing.
func (DirectBus) Close() error { return nil }
