package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"kinwatch"
)

var consentTests = []storeTest{
	{"ConsentGatesCollection", testConsentGatesCollection},
	{"ConsentLedger", testConsentLedger},
	{"ConsentSubjects", testConsentSubjects},
	{"ConsentDuringBatches", testConsentDuringBatches},
}

// allChild is every purpose a guardian can consent to for a child.
var allChild = kinwatch.Purposes(0).Apply(func() (cs []*kinwatch.Consent) {
	for _, p := range kinwatch.ChildPurposes {
		cs = append(cs, &kinwatch.Consent{Purpose: p, Granted: true})
	}
	return cs
}())

// consentAll records, as the guardian by, consent to every child purpose for the child wearing dev.
func consentAll(tb testing.TB, s kinwatch.Store, familyID, dev, by string) {
	tb.Helper()
	consent(tb, s, familyID, dev, by, true, kinwatch.ChildPurposes...)
}

// consent gives (granted) or withdraws purposes for the child wearing dev, as the guardian by.
func consent(tb testing.TB, s kinwatch.Store, familyID, dev, by string, granted bool, purposes ...kinwatch.Purpose) kinwatch.Purposes {
	tb.Helper()
	var entries []*kinwatch.Consent
	for _, p := range purposes {
		entries = append(entries, &kinwatch.Consent{ID: kinwatch.NewID(), AccountID: by, FamilyID: familyID, DeviceID: dev,
			Purpose: p, Granted: granted, PolicyVersion: "v1", Method: kinwatch.ConsentSettings, Time: t0})
	}
	now, err := s.RecordConsents(tb.Context(), entries)
	if err != nil {
		tb.Fatalf("RecordConsents(%v %v for %s): %v", granted, purposes, dev, err)
	}
	return now
}

// childRecords is one record of every kind a watch reports about its child.
func childRecords(dev string, at time.Time) []kinwatch.Record {
	return []kinwatch.Record{
		{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: dev, Time: at, Lat: 48.2, Lon: 16.37, HasCoords: true}},
		{Health: &kinwatch.HealthReading{ID: kinwatch.NewID(), DeviceID: dev, Time: at, HeartRate: 90}},
		{Media: &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: dev, Kind: kinwatch.MediaAudio, ContentType: "audio/amr", Key: "a/" + kinwatch.NewID(), Size: 1, Time: at}},
		{Media: &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: dev, Kind: kinwatch.MediaImage, ContentType: "image/jpeg", Key: "p/" + kinwatch.NewID(), Size: 1, Time: at}},
		{Event: &kinwatch.Event{ID: kinwatch.NewID(), DeviceID: dev, Time: at, Type: kinwatch.EventAlarm, Alarm: "sos"}},
		update(kinwatch.DeviceUpdate{ID: dev, Time: at, Battery: ptr(55), Steps: ptr(int64(1200)), ICCID: "8986000000000000001"}),
	}
}

// stored counts what of childRecords' kinds is stored for dev.
func storedKinds(t *testing.T, s kinwatch.Store, dev string) (kinds []string) {
	t.Helper()
	ctx := t.Context()
	if ps, err := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: dev}); err != nil {
		t.Fatalf("Positions: %v", err)
	} else if len(ps) > 0 {
		kinds = append(kinds, "position")
	}
	if hs, err := s.HealthReadings(ctx, dev, kinwatch.Page{}); err != nil {
		t.Fatalf("HealthReadings: %v", err)
	} else if len(hs) > 0 {
		kinds = append(kinds, "health")
	}
	ms, err := s.MediaList(ctx, dev, kinwatch.Page{})
	if err != nil {
		t.Fatalf("MediaList: %v", err)
	}
	for _, m := range ms {
		if !slices.Contains(kinds, m.Kind) {
			kinds = append(kinds, m.Kind)
		}
	}
	if es, err := s.Events(ctx, kinwatch.EventFilter{DeviceID: dev}); err != nil {
		t.Fatalf("Events: %v", err)
	} else if len(es) > 0 {
		kinds = append(kinds, "event")
	}
	if d, err := s.Device(ctx, dev); err != nil {
		t.Fatalf("Device: %v", err)
	} else if d.Battery != -1 || d.Steps != 0 || d.ICCID != "" {
		kinds = append(kinds, "device")
	}
	slices.Sort(kinds)
	return kinds
}

// testConsentGatesCollection: a bound watch's child data is stored only for the purposes its
// guardian consented to, on top of the basic service; withdrawing stops it at once; records the
// store dropped are zeroed in the batch.
func testConsentGatesCollection(t *testing.T, s kinwatch.Store) {
	guardian(t, s, "g1", "Parent")
	P := func(ps ...kinwatch.Purpose) []kinwatch.Purpose { return ps }
	const (
		svc, loc, hea, mic, cam = kinwatch.PurposeService, kinwatch.PurposeLocation, kinwatch.PurposeHealth, kinwatch.PurposeMicrophone, kinwatch.PurposeCamera
	)
	steps := []struct {
		name              string
		granted, withdraw []kinwatch.Purpose
		want              []string
	}{
		{"bound without consent keeps nothing", nil, nil, nil},
		{"location alone needs the service", P(loc), nil, nil},
		{"service: status and alarms", P(svc), nil, []string{"device", "event"}},
		{"location", P(svc, loc), nil, []string{"device", "event", "position"}},
		{"health", P(svc, hea), nil, []string{"device", "event", "health"}},
		{"microphone", P(svc, mic), nil, []string{"audio", "device", "event"}},
		{"camera", P(svc, cam), nil, []string{"device", "event", "image"}},
		{"location withdrawn", kinwatch.ChildPurposes, P(loc), []string{"audio", "device", "event", "health", "image"}},
		{"service withdrawn", kinwatch.ChildPurposes, P(svc), nil},
	}
	var fam string
	for i, st := range steps {
		dev := fmt.Sprintf("w%d", i)
		pendingWatch(t, s, dev)
		if i == 0 {
			fam = newFamilyWithout(t, s, dev, "g1")
		} else {
			if err := s.Bind(t.Context(), &kinwatch.Binding{DeviceID: dev, FamilyID: fam, At: t0}); err != nil {
				t.Fatalf("Bind(%s): %v", dev, err)
			}
		}
		if len(st.granted) > 0 {
			consent(t, s, fam, dev, "g1", true, st.granted...)
		}
		if len(st.withdraw) > 0 {
			consent(t, s, fam, dev, "g1", false, st.withdraw...)
		}
		recs := childRecords(dev, t0.Add(time.Minute))
		write(t, s, recs...)
		if got := storedKinds(t, s, dev); !slices.Equal(got, st.want) {
			t.Errorf("%s: stored %v, want %v", st.name, got, st.want)
		}
		kept := 0
		for _, r := range recs[:len(recs)-1] {
			if r != (kinwatch.Record{}) {
				kept++
			}
		}
		if want := len(st.want) - min(1, len(st.want)); kept != want { // "device" is the update, never zeroed
			t.Errorf("%s: %d data records left in the batch after the commit, want %d (dropped ones are zeroed)", st.name, kept, want)
		}
		if recs[len(recs)-1].Device == nil {
			t.Errorf("%s: the device update was zeroed; the registry entry is always kept", st.name)
		}
	}
}

// newFamilyWithout binds dev into a new family of admin without recording any consent.
func newFamilyWithout(t *testing.T, s kinwatch.Store, dev, admin string) string {
	t.Helper()
	id := kinwatch.NewID()
	if err := s.Bind(t.Context(), &kinwatch.Binding{DeviceID: dev, FamilyID: id,
		NewFamily: &kinwatch.Family{ID: id, Name: "F", CreatedAt: t0},
		Admin:     &kinwatch.Member{FamilyID: id, AccountID: admin, Role: kinwatch.RoleAdmin, JoinedAt: t0}, At: t0}); err != nil {
		t.Fatalf("Bind(%s into a new family of %s): %v", dev, admin, err)
	}
	return id
}

// testConsentLedger: the ledger keeps every change, newest first, pages without skipping, and the
// current set follows it; Unbind forgets the child's consent and its history.
func testConsentLedger(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	guardian(t, s, "g1", "Parent")
	guardian(t, s, "g2", "Other parent")
	pendingWatch(t, s, "w1")
	fam := newFamilyWithout(t, s, "w1", "g1")
	join(t, s, fam, "g2", kinwatch.RoleGuardian, t0)
	var entries []*kinwatch.Consent
	steps := []struct {
		by      string
		granted bool
		p       kinwatch.Purpose
	}{{"g1", true, kinwatch.PurposeService}, {"g1", true, kinwatch.PurposeLocation}, {"g2", false, kinwatch.PurposeLocation}, {"g2", true, kinwatch.PurposeHealth}}
	var now kinwatch.Purposes
	for i, st := range steps {
		c := &kinwatch.Consent{ID: kinwatch.NewID(), AccountID: st.by, FamilyID: fam, DeviceID: "w1", Purpose: st.p, Granted: st.granted,
			PolicyVersion: "2026-11", Method: kinwatch.ConsentReauthenticated, Statement: "I am the child's guardian", Time: t0.Add(time.Duration(i) * time.Second)}
		var err error
		if now, err = s.RecordConsents(ctx, []*kinwatch.Consent{c}); err != nil {
			t.Fatalf("RecordConsents(%d): %v", i, err)
		}
		entries = append([]*kinwatch.Consent{c}, entries...)
	}
	want := kinwatch.PurposeService.Bit() | kinwatch.PurposeHealth.Bit()
	if now != want {
		t.Errorf("current consent %v, want %v", now.List(), want.List())
	}
	if d := mustDevice(t, s, "w1"); d.Consent != want {
		t.Errorf("Device.Consent %v, want %v", d.Consent.List(), want.List())
	}
	got, err := s.ChildConsents(ctx, "w1", kinwatch.Page{})
	if err != nil {
		t.Fatalf("ChildConsents: %v", err)
	}
	same(t, "ChildConsents", got, entries)
	// Paging two at a time returns the same entries.
	var paged []*kinwatch.Consent
	var p kinwatch.Page
	p.Limit = 2
	for {
		page, err := s.ChildConsents(ctx, "w1", p)
		if err != nil {
			t.Fatalf("ChildConsents(page): %v", err)
		}
		paged = append(paged, page...)
		if len(page) < 2 {
			break
		}
		p.Before, p.BeforeID = page[len(page)-1].Time, page[len(page)-1].ID
	}
	same(t, "ChildConsents paged", paged, entries)

	// A guardian's deleted account leaves the family's entry, without naming anyone.
	if err := s.DeleteAccount(ctx, "g2"); err != nil {
		t.Fatalf("DeleteAccount(g2): %v", err)
	}
	got, _ = s.ChildConsents(ctx, "w1", kinwatch.Page{})
	if len(got) != 4 || got[0].AccountID != "" || got[3].AccountID != "g1" {
		t.Errorf("after the guardian's account was deleted: %d entries, first by %q, last by %q; want 4, \"\", g1", len(got), got[0].AccountID, got[3].AccountID)
	}

	if _, err := s.Unbind(ctx, "w1"); err != nil {
		t.Fatalf("Unbind: %v", err)
	}
	if d := mustDevice(t, s, "w1"); d.Consent != 0 {
		t.Errorf("after Unbind the consent is %v, want none", d.Consent.List())
	}
	if got, _ := s.ChildConsents(ctx, "w1", kinwatch.Page{}); len(got) != 0 {
		t.Errorf("after Unbind %d ledger entries remain, want 0", len(got))
	}
	// A new binding starts without consent.
	fam2 := newFamilyWithout(t, s, "w1", "g1")
	if d := mustDevice(t, s, "w1"); d.Consent != 0 || fam2 == fam {
		t.Errorf("rebound: consent %v, want none", d.Consent.List())
	}
}

// testConsentSubjects: who can be the subject of which consent, and that an account's own
// consent is its own.
func testConsentSubjects(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	guardian(t, s, "g1", "Parent")
	guardian(t, s, "g2", "Stranger")
	pendingWatch(t, s, "w1", "w2", "w3")
	fam := newFamilyWithout(t, s, "w1", "g1")
	other := newFamilyWithout(t, s, "w2", "g2")
	entry := func(account, family, dev string, p kinwatch.Purpose) *kinwatch.Consent {
		return &kinwatch.Consent{ID: kinwatch.NewID(), AccountID: account, FamilyID: family, DeviceID: dev, Purpose: p, Granted: true,
			PolicyVersion: "v1", Method: kinwatch.ConsentSettings, Time: t0}
	}
	bad := []struct {
		name    string
		entries []*kinwatch.Consent
		code    string
	}{
		{"nothing", nil, kinwatch.EINVALID},
		{"another family's watch", []*kinwatch.Consent{entry("g1", fam, "w2", kinwatch.PurposeLocation)}, kinwatch.ENOTFOUND},
		{"a watch named with the wrong family", []*kinwatch.Consent{entry("g2", other, "w1", kinwatch.PurposeLocation)}, kinwatch.ENOTFOUND},
		{"a pending watch", []*kinwatch.Consent{entry("g1", fam, "w3", kinwatch.PurposeLocation)}, kinwatch.ENOTFOUND},
		{"marketing for a child", []*kinwatch.Consent{entry("g1", fam, "w1", kinwatch.PurposeMarketing)}, kinwatch.EINVALID},
		{"the service for an account", []*kinwatch.Consent{entry("g1", "", "", kinwatch.PurposeService)}, kinwatch.EINVALID},
		{"an unknown purpose", []*kinwatch.Consent{entry("g1", "", "", "telepathy")}, kinwatch.EINVALID},
		{"two subjects", []*kinwatch.Consent{entry("g1", "", "", kinwatch.PurposeMarketing), entry("g2", "", "", kinwatch.PurposeMarketing)}, kinwatch.EINVALID},
		{"an unknown account", []*kinwatch.Consent{entry("nobody", "", "", kinwatch.PurposeMarketing)}, kinwatch.ENOTFOUND},
	}
	for _, tc := range bad {
		_, err := s.RecordConsents(ctx, tc.entries)
		wantCode(t, tc.name, err, tc.code)
	}
	if d := mustDevice(t, s, "w2"); d.Consent != 0 {
		t.Errorf("a refused entry changed another family's watch: %v", d.Consent.List())
	}
	// An account's own consent.
	now, err := s.RecordConsents(ctx, []*kinwatch.Consent{entry("g1", "", "", kinwatch.PurposeMarketing), entry("g1", "", "", kinwatch.PurposeRecommendation)})
	if err != nil {
		t.Fatalf("RecordConsents(account): %v", err)
	}
	want := kinwatch.PurposeMarketing.Bit() | kinwatch.PurposeRecommendation.Bit()
	if now != want || mustAccount(t, s, "g1").Consent != want || mustAccount(t, s, "g2").Consent != 0 {
		t.Errorf("account consent %v (stored %v, other account %v), want %v", now.List(), mustAccount(t, s, "g1").Consent.List(), mustAccount(t, s, "g2").Consent.List(), want.List())
	}
	own, err := s.AccountConsents(ctx, "g1", kinwatch.Page{})
	if err != nil || len(own) != 2 {
		t.Fatalf("AccountConsents = %d entries, %v; want 2", len(own), err)
	}
	if theirs, _ := s.AccountConsents(ctx, "g2", kinwatch.Page{}); len(theirs) != 0 {
		t.Errorf("another account sees %d of g1's entries", len(theirs))
	}
	// A child's entries are not the guardian's own.
	consent(t, s, fam, "w1", "g1", true, kinwatch.PurposeService)
	if own, _ := s.AccountConsents(ctx, "g1", kinwatch.Page{}); len(own) != 2 {
		t.Errorf("AccountConsents includes the child's entries: %d", len(own))
	}
	// Deleting the account deletes its own ledger.
	if err := s.DeleteAccount(ctx, "g1"); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	if own, _ := s.AccountConsents(ctx, "g1", kinwatch.Page{}); len(own) != 0 {
		t.Errorf("%d of a deleted account's own entries remain", len(own))
	}
}

// testConsentDuringBatches: once a withdrawal returns, no batch stores the withdrawn purpose's
// data, however the batches and the withdrawal interleave.
func testConsentDuringBatches(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	guardian(t, s, "g1", "Parent")
	pendingWatch(t, s, "w1")
	fam := newFamily(t, s, "w1", "g1", "F")
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			recs := []kinwatch.Record{{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: "w1", Time: t0.Add(time.Duration(i) * time.Second), HasCoords: true}}}
			if err := s.WriteBatch(ctx, recs); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	consent(t, s, fam.ID, "w1", "g1", false, kinwatch.PurposeLocation)
	before, err := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: "w1"})
	if err != nil {
		t.Fatalf("Positions: %v", err)
	}
	time.Sleep(20 * time.Millisecond)
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
	after, _ := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: "w1"})
	if len(before) == 0 {
		t.Fatalf("no position was stored before the withdrawal; the test proves nothing")
	}
	if len(after) != len(before) {
		t.Errorf("%d positions were stored after location consent was withdrawn", len(after)-len(before))
	}
}
