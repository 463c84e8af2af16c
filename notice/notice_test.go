package notice_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/envelope"
	"kinwatch/fileblob"
	"kinwatch/mail"
	"kinwatch/mail/smtptest"
	"kinwatch/notice"
	"kinwatch/sqlite"
	"kinwatch/storetest"
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

type env struct {
	svc   *notice.Service
	db    *sqlite.DB
	smtp  *smtptest.Server
	clock *clock
	logs  *bytes.Buffer
}

// newEnv is a notice service on a real SQLite database, mailing through a real SMTP server.
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"), envelope.NewMaster())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := fileblob.New(filepath.Join(t.TempDir(), "media"))
	if err != nil {
		t.Fatal(err)
	}
	smtp := smtptest.Start(t)
	e := &env{db: db, smtp: smtp, clock: &clock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}, logs: &bytes.Buffer{}}
	e.svc = &notice.Service{Store: db, Blobs: blobs, Mailer: &mail.SMTP{Addr: smtp.Addr(), From: "kinwatch@example.org", TLS: "none"},
		BaseURL: "https://kinwatch.example/", By: "ops", Log: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now: e.clock.Now}
	return e
}

func (e *env) account(t *testing.T, id, email string) *kinwatch.Account {
	t.Helper()
	a := &kinwatch.Account{ID: id, Email: email, Profile: kinwatch.Profile{Nickname: id}, CreatedAt: e.clock.Now()}
	if email == "" {
		a.Phone = "+49151000" + id[len(id)-4:]
	}
	if err := e.db.CreateAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return a
}

func (e *env) deliver(t *testing.T) (sent, failed int) {
	t.Helper()
	sent, failed, err := e.svc.DeliverEmail(context.Background())
	if err != nil {
		t.Fatalf("DeliverEmail: %v", err)
	}
	return sent, failed
}

// TestIncident: an incident notice says what happened, what was done and what users can do; it
// reaches the affected accounts in the app and by mail, once, and nobody else.
func TestIncident(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.account(t, "acc-0001", "anna@example.org")
	e.account(t, "acc-0002", "bert@example.org")
	e.account(t, "acc-0003", "") // signed up with a phone number: in the app only

	n, err := e.svc.NotifyIncident(ctx, notice.Incident{Title: "Backup exposed", WhatHappened: "A backup was readable from the internet for two hours.",
		WhatWeDid: "We removed it and rotated the keys.", WhatYouCanDo: "Change your password.", Accounts: []string{"acc-0001", "acc-0003"}})
	if err != nil {
		t.Fatal(err)
	}
	if n.Recipients != 2 || n.Audience != kinwatch.AudienceAccounts || n.CreatedBy != "ops" || !n.CreatedAt.Equal(e.clock.Now()) {
		t.Errorf("notice: %+v", n)
	}
	for _, want := range []string{"What happened\nA backup", "What we have done\nWe removed", "What you can do\nChange your password."} {
		if !strings.Contains(n.Body, want) {
			t.Errorf("the body lacks %q: %q", want, n.Body)
		}
	}
	for id, want := range map[string]int{"acc-0001": 1, "acc-0002": 0, "acc-0003": 1} {
		if list, err := e.svc.AccountNotices(ctx, id, 10); err != nil || len(list) != want {
			t.Errorf("%s has %d notices (%v), want %d", id, len(list), err, want)
		}
	}

	if sent, failed := e.deliver(t); sent != 1 || failed != 0 {
		t.Fatalf("delivered %d, %d failed; want 1 mail (the phone account has no address)", sent, failed)
	}
	m := e.smtp.Wait(t, "anna@example.org", 5*time.Second)
	if m.Subject != "Kinwatch: Backup exposed" {
		t.Errorf("subject %q", m.Subject)
	}
	for _, want := range []string{"What happened", "What we have done", "What you can do", "Change your password.", "https://kinwatch.example,", "among your notices"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the mail lacks %q:\n%s", want, m.Text)
		}
	}
	if sent, _ := e.deliver(t); sent != 0 {
		t.Errorf("a second delivery sent %d more", sent)
	}
	if got := len(e.smtp.Messages()); got != 1 {
		t.Errorf("%d mails in all, want 1", got)
	}

	// Reading is per account and only for an addressed notice.
	if err := e.svc.MarkRead(ctx, "acc-0001", n.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.MarkRead(ctx, "acc-0002", n.ID); kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		t.Errorf("an account not told marked it read: %v", err)
	}
	if list, _ := e.svc.AccountNotices(ctx, "acc-0001", 10); !list[0].ReadAt.Equal(e.clock.Now()) || list[0].EmailedAt.IsZero() {
		t.Errorf("after reading: %+v", list[0])
	}

	for _, in := range []notice.Incident{
		{Title: "x", WhatWeDid: "y", WhatYouCanDo: "z"},
		{Title: "x", WhatHappened: "y", WhatYouCanDo: "z"},
		{Title: "x", WhatHappened: "y", WhatWeDid: "z", WhatYouCanDo: " "},
		{WhatHappened: "x", WhatWeDid: "y", WhatYouCanDo: "z"},
	} {
		if _, err := e.svc.NotifyIncident(ctx, in); kinwatch.ErrorCode(err) != kinwatch.EINVALID {
			t.Errorf("NotifyIncident(%+v): %v, want invalid", in, err)
		}
	}
	if _, err := e.svc.NotifyIncident(ctx, notice.Incident{Title: "x", WhatHappened: "a", WhatWeDid: "b", WhatYouCanDo: "c",
		Accounts: []string{"acc-0001", "acc-9999"}}); kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		t.Errorf("an unknown account: %v, want not_found", err)
	}
	if strings.Contains(e.logs.String(), "@example.org") {
		t.Errorf("the log holds an address:\n%s", e.logs)
	}
}

// closedAddr is an address nothing listens on: connecting fails at once.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestDeliveryRetries: a mail that cannot be sent is logged without the address and retried on
// the next run; a relay that keeps failing ends the run early; once it works, each recipient gets
// exactly one mail.
func TestDeliveryRetries(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var addrs []string
	for i := range 7 {
		id := "acc-000" + string(rune('1'+i))
		addrs = append(addrs, id+"@example.org")
		e.account(t, id, id+"@example.org")
	}
	if _, err := e.svc.PublishPolicy(ctx, "2027-01", "https://kinwatch.example/privacy-policy"); err != nil {
		t.Fatal(err)
	}
	working := e.svc.Mailer
	e.svc.Mailer = &mail.SMTP{Addr: closedAddr(t), From: "kinwatch@example.org", TLS: "none"}
	sent, failed, err := e.svc.DeliverEmail(ctx)
	if sent != 0 || failed != 5 || kinwatch.ErrorCode(err) != kinwatch.EUNAVAILABLE {
		t.Fatalf("with the relay down: %d sent, %d failed, %v; want 0, 5 and unavailable", sent, failed, err)
	}
	if strings.Contains(e.logs.String(), "@example.org") || !strings.Contains(e.logs.String(), "acc-0001") {
		t.Errorf("the log should name accounts by id, never by address:\n%s", e.logs)
	}

	// The relay is back: two processes deliver at once, and every recipient gets one mail.
	e.svc.Mailer = working
	other := *e.svc
	var wg sync.WaitGroup
	var total int
	var mu sync.Mutex
	for _, s := range []*notice.Service{e.svc, &other} {
		wg.Go(func() {
			sent, failed, err := s.DeliverEmail(ctx)
			if err != nil || failed != 0 {
				t.Errorf("DeliverEmail: %d failed, %v\n%s", failed, err, e.logs)
			}
			mu.Lock()
			total += sent
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != len(addrs) {
		t.Errorf("%d mails sent, want %d", total, len(addrs))
	}
	var to []string
	for _, m := range e.smtp.Messages() {
		to = append(to, m.To...)
	}
	slices.Sort(to)
	if !slices.Equal(to, addrs) {
		t.Errorf("mailed %v, want each of %v once", to, addrs)
	}
}

// TestPublishPolicy: a new policy version is announced to everyone once, with where to read it
// and that new purposes stay off until consented to.
func TestPublishPolicy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.account(t, "acc-0001", "anna@example.org")
	e.account(t, "acc-0002", "")
	n, err := e.svc.PublishPolicy(ctx, "2027-01", "https://kinwatch.example/privacy-policy")
	if err != nil {
		t.Fatal(err)
	}
	if n.Kind != kinwatch.NoticePolicy || n.Audience != kinwatch.AudienceAll || n.Recipients != 2 {
		t.Errorf("notice: %+v", n)
	}
	for _, want := range []string{"version 2027-01", "https://kinwatch.example/privacy-policy", "stays off until you consent"} {
		if !strings.Contains(n.Body, want) {
			t.Errorf("the body lacks %q: %q", want, n.Body)
		}
	}
	if _, err := e.svc.PublishPolicy(ctx, "2027-01", "https://kinwatch.example/privacy-policy"); kinwatch.ErrorCode(err) != kinwatch.ECONFLICT {
		t.Errorf("the same version again: %v, want conflict", err)
	}
	if _, err := e.svc.PublishPolicy(ctx, " ", "https://kinwatch.example/privacy-policy"); kinwatch.ErrorCode(err) != kinwatch.EINVALID {
		t.Errorf("no version: %v, want invalid", err)
	}
	e.deliver(t)
	if m := e.smtp.Wait(t, "anna@example.org", 5*time.Second); !strings.Contains(m.Subject, "2027-01") {
		t.Errorf("subject %q", m.Subject)
	}
}

// TestCeaseOperations: everyone is told the date; before it nothing is deleted; after it every
// account is cancelled with its families' data and content, and running it again finds nothing
// left to do.
func TestCeaseOperations(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.svc.ExecuteCeaseOperations(ctx); kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		t.Fatalf("executing without a notice: %v, want not_found", err)
	}
	if _, err := e.svc.CeaseOperations(ctx, e.clock.Now().Add(-time.Hour), ""); kinwatch.ErrorCode(err) != kinwatch.EINVALID {
		t.Fatalf("a date in the past: %v, want invalid", err)
	}

	anna := e.account(t, "acc-0001", "anna@example.org")
	e.account(t, "acc-0002", "")
	// A family with a watch, a photo in the blob store and Anna's picture.
	family := storetest.BoundWatches(t, e.db, "8800000701")
	photo := "8800000701/image/" + kinwatch.NewID()
	if err := e.svc.Blobs.Put(ctx, photo, []byte("jpeg")); err != nil {
		t.Fatal(err)
	}
	if err := e.db.WriteBatch(ctx, []kinwatch.Record{{Media: &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: "8800000701",
		Kind: kinwatch.MediaImage, ContentType: "image/jpeg", Key: photo, Size: 4, Time: e.clock.Now()}}}); err != nil {
		t.Fatal(err)
	}
	avatar := "avatars/" + anna.ID + "/" + kinwatch.NewID()
	if err := e.svc.Blobs.Put(ctx, avatar, []byte("png")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.SetAccountAvatar(ctx, anna.ID, avatar); err != nil {
		t.Fatal(err)
	}

	at := e.clock.Now().Add(30 * 24 * time.Hour)
	n, err := e.svc.CeaseOperations(ctx, at, "We could not find a successor.")
	if err != nil {
		t.Fatal(err)
	}
	if n.Recipients != 3 || !n.EffectiveAt.Equal(at) || !strings.Contains(n.Title, "2026-12-31") ||
		!strings.Contains(n.Body, "We could not find a successor.") || !strings.Contains(n.Body, "/api/v1/me/exports") {
		t.Errorf("notice: %+v", n)
	}
	e.deliver(t)
	if m := e.smtp.Wait(t, "anna@example.org", 5*time.Second); !strings.Contains(m.Text, "31 December 2026") {
		t.Errorf("the mail does not name the date: %s", m.Text)
	}

	e.clock.Add(29 * 24 * time.Hour)
	if _, err := e.svc.ExecuteCeaseOperations(ctx); kinwatch.ErrorCode(err) != kinwatch.ECONFLICT {
		t.Fatalf("executing during the notice period: %v, want conflict", err)
	}
	if as, _ := e.db.Accounts(ctx, kinwatch.AccountFilter{}); len(as) != 3 {
		t.Fatalf("accounts were deleted during the notice period: %d left", len(as))
	}

	e.clock.Add(24 * time.Hour)
	c, err := e.svc.ExecuteCeaseOperations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Notice.ID != n.ID || c.Accounts != 3 || c.FamiliesDeleted != 1 || c.WatchesUnbound != 1 || c.Blobs != 2 || c.BlobsFailed != 0 {
		t.Errorf("closure: %+v", c)
	}
	if as, err := e.db.Accounts(ctx, kinwatch.AccountFilter{}); err != nil || len(as) != 0 {
		t.Errorf("accounts left: %d, %v", len(as), err)
	}
	if _, err := e.db.Family(ctx, family); kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		t.Errorf("the family is still there: %v", err)
	}
	if d, err := e.db.Device(ctx, "8800000701"); err != nil || d.State != kinwatch.DevicePending {
		t.Errorf("the watch: %+v, %v; want pending", d, err)
	}
	for _, k := range []string{photo, avatar} {
		if _, err := e.svc.Blobs.Get(ctx, k); kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
			t.Errorf("blob %s survived: %v", k, err)
		}
	}
	if c, err := e.svc.ExecuteCeaseOperations(ctx); err != nil || c.Accounts != 0 {
		t.Errorf("running again: %+v, %v", c, err)
	}
}
