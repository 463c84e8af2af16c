package storetest

import (
	"sync"
	"testing"
	"time"

	"kinwatch"
)

// noticeTests cover kinwatch.NoticeStore: the operator's notices and who received them.
var noticeTests = []storeTest{
	{"NoticeForEveryone", testNoticeForEveryone},
	{"NoticeForSome", testNoticeForSome},
	{"NoticeValidation", testNoticeValidation},
	{"NoticeReadMarks", testNoticeReadMarks},
	{"NoticeEmailQueue", testNoticeEmailQueue},
	{"NoticeEmailClaimConcurrently", testNoticeEmailClaimConcurrently},
	{"NoticeAccountDeleted", testNoticeAccountDeleted},
}

// incident is a valid notice made at t0 plus offset.
func incident(id string, offset time.Duration) *kinwatch.Notice {
	return &kinwatch.Notice{
		ID: id, Kind: kinwatch.NoticeIncident, Title: "Incident " + id,
		Body:      "What happened: a backup was exposed.\nWhat we did: removed it.\nWhat you can do: change your password. Ünïcode ✓",
		CreatedAt: t0.Add(offset), CreatedBy: "ops on call",
	}
}

func createNotice(t *testing.T, s kinwatch.Store, n *kinwatch.Notice, accounts []string) *kinwatch.Notice {
	t.Helper()
	if err := s.CreateNotice(t.Context(), n, accounts); err != nil {
		t.Fatalf("CreateNotice(%s): %v", n.ID, err)
	}
	return n
}

// noticeState is what an account's list says about each notice: id → read/mailed.
func noticeState(t *testing.T, s kinwatch.Store, account string) (ids []string, read map[string]time.Time) {
	t.Helper()
	list, err := s.AccountNotices(t.Context(), account, 0)
	if err != nil {
		t.Fatalf("AccountNotices(%s): %v", account, err)
	}
	read = map[string]time.Time{}
	for _, n := range list {
		ids = append(ids, n.ID)
		read[n.ID] = n.ReadAt
	}
	return ids, read
}

func noticeCounts(t *testing.T, s kinwatch.Store, id string) (recipients, emailed, read int) {
	t.Helper()
	list, err := s.Notices(t.Context(), 0)
	if err != nil {
		t.Fatalf("Notices: %v", err)
	}
	for _, n := range list {
		if n.ID == id {
			return n.Recipients, n.Emailed, n.Read
		}
	}
	t.Fatalf("Notices: %s is not listed", id)
	return
}

// testNoticeForEveryone: a notice to everyone reaches every account there is, each with its own
// unread copy, and every field comes back as written.
func testNoticeForEveryone(t *testing.T, s kinwatch.Store) {
	for _, id := range []string{"acc1", "acc2", "acc3"} {
		guardian(t, s, id, id)
	}
	n := incident("n1", 0)
	n.Kind, n.EffectiveAt = kinwatch.NoticeCeaseOperations, t0.Add(30*24*time.Hour)
	createNotice(t, s, n, nil)
	if n.Audience != kinwatch.AudienceAll || n.Recipients != 3 {
		t.Errorf("CreateNotice(everyone): audience %q, %d recipients; want all, 3", n.Audience, n.Recipients)
	}
	for _, id := range []string{"acc1", "acc2", "acc3"} {
		list, err := s.AccountNotices(t.Context(), id, 10)
		if err != nil || len(list) != 1 {
			t.Fatalf("AccountNotices(%s) = %v, %v; want the notice", id, list, err)
		}
		want := *n
		want.Recipients = 0 // counted by Notices only
		same(t, "AccountNotices("+id+")", list[0], &kinwatch.AccountNotice{Notice: want})
	}
	list, err := s.Notices(t.Context(), 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("Notices = %v, %v", list, err)
	}
	same(t, "Notices", list[0], n)
	// A notice to everyone made before an account existed is not that account's.
	guardian(t, s, "acc4", "late")
	if ids, _ := noticeState(t, s, "acc4"); len(ids) != 0 {
		t.Errorf("an account made after the notice has %v", ids)
	}
}

// testNoticeForSome: a notice to named accounts reaches them only; another account never sees it
// or marks it read, and a list naming an unknown account stores nothing.
func testNoticeForSome(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	for _, id := range []string{"acc1", "acc2", "acc3"} {
		guardian(t, s, id, id)
	}
	n := createNotice(t, s, incident("n1", 0), []string{"acc2", "acc1", "acc2"})
	if n.Audience != kinwatch.AudienceAccounts || n.Recipients != 2 {
		t.Errorf("CreateNotice(some): audience %q, %d recipients; want accounts, 2", n.Audience, n.Recipients)
	}
	for id, want := range map[string]int{"acc1": 1, "acc2": 1, "acc3": 0} {
		if ids, _ := noticeState(t, s, id); len(ids) != want {
			t.Errorf("AccountNotices(%s) = %v, want %d notices", id, ids, want)
		}
	}
	wantCode(t, "MarkNoticeRead(not addressed)", s.MarkNoticeRead(ctx, "acc3", "n1", t0), kinwatch.ENOTFOUND)
	wantCode(t, "MarkNoticeEmailed(not addressed)", s.MarkNoticeEmailed(ctx, "n1", "acc3", t0), kinwatch.ENOTFOUND)
	if r, _, read := noticeCounts(t, s, "n1"); r != 2 || read != 0 {
		t.Errorf("after another account tried: %d recipients, %d read", r, read)
	}

	err := s.CreateNotice(ctx, incident("n2", time.Minute), []string{"acc1", "nobody"})
	wantCode(t, "CreateNotice(unknown account)", err, kinwatch.ENOTFOUND)
	if list, err := s.Notices(ctx, 0); err != nil || len(list) != 1 {
		t.Errorf("after a failed CreateNotice, Notices = %d, %v; want only n1", len(list), err)
	}
	if ids, _ := noticeState(t, s, "acc1"); len(ids) != 1 {
		t.Errorf("after a failed CreateNotice, acc1 has %v", ids)
	}
	// The id of the failed notice is free: nothing of it was kept.
	createNotice(t, s, incident("n2", time.Minute), []string{"acc3"})
	wantCode(t, "CreateNotice(same id)", s.CreateNotice(ctx, incident("n2", time.Minute), nil), kinwatch.ECONFLICT)
}

// testNoticeValidation: what the operator wrote is checked before anything is stored.
func testNoticeValidation(t *testing.T, s kinwatch.Store) {
	guardian(t, s, "acc1", "a")
	for name, tc := range map[string]struct {
		edit     func(n *kinwatch.Notice)
		accounts []string
	}{
		"no accounts":            {func(*kinwatch.Notice) {}, []string{}},
		"empty account id":       {func(*kinwatch.Notice) {}, []string{""}},
		"no id":                  {func(n *kinwatch.Notice) { n.ID = "" }, nil},
		"unknown kind":           {func(n *kinwatch.Notice) { n.Kind = "advert" }, nil},
		"no title":               {func(n *kinwatch.Notice) { n.Title = " " }, nil},
		"two-line title":         {func(n *kinwatch.Notice) { n.Title = "a\r\nBcc: x" }, nil},
		"no body":                {func(n *kinwatch.Notice) { n.Body = "" }, nil},
		"no time":                {func(n *kinwatch.Notice) { n.CreatedAt = time.Time{} }, nil},
		"ceasing without a date": {func(n *kinwatch.Notice) { n.Kind = kinwatch.NoticeCeaseOperations }, nil},
		"ceasing in the past": {func(n *kinwatch.Notice) {
			n.Kind, n.EffectiveAt = kinwatch.NoticeCeaseOperations, n.CreatedAt.Add(-time.Hour)
		}, nil},
	} {
		n := incident("n1", 0)
		tc.edit(n)
		wantCode(t, name, s.CreateNotice(t.Context(), n, tc.accounts), kinwatch.EINVALID)
	}
	if list, err := s.Notices(t.Context(), 0); err != nil || len(list) != 0 {
		t.Errorf("invalid notices were stored: %d, %v", len(list), err)
	}
}

// testNoticeReadMarks: an account's list is newest first with its own read state; reading twice
// keeps the first time.
func testNoticeReadMarks(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	guardian(t, s, "acc1", "a")
	guardian(t, s, "acc2", "b")
	createNotice(t, s, incident("n-old", 0), nil)
	createNotice(t, s, incident("n-new", time.Hour), nil)
	createNotice(t, s, incident("n-new2", time.Hour), nil) // same time: the larger id first
	ids, _ := noticeState(t, s, "acc1")
	same(t, "AccountNotices order", ids, []string{"n-new2", "n-new", "n-old"})
	if list, err := s.AccountNotices(ctx, "acc1", 2); err != nil || len(list) != 2 {
		t.Errorf("AccountNotices(limit 2) = %d, %v", len(list), err)
	}

	if err := s.MarkNoticeRead(ctx, "acc1", "n-old", t0.Add(2*time.Hour)); err != nil {
		t.Fatalf("MarkNoticeRead: %v", err)
	}
	if err := s.MarkNoticeRead(ctx, "acc1", "n-old", t0.Add(3*time.Hour)); err != nil {
		t.Fatalf("MarkNoticeRead again: %v", err)
	}
	_, read := noticeState(t, s, "acc1")
	if !read["n-old"].Equal(t0.Add(2*time.Hour)) || !read["n-new"].IsZero() {
		t.Errorf("acc1's read marks: %v; want n-old read at the first time only", read)
	}
	if _, read := noticeState(t, s, "acc2"); !read["n-old"].IsZero() {
		t.Errorf("acc1 reading marked acc2's copy read: %v", read)
	}
	if _, _, n := noticeCounts(t, s, "n-old"); n != 1 {
		t.Errorf("n-old read by %d, want 1", n)
	}
	wantCode(t, "MarkNoticeRead(unknown notice)", s.MarkNoticeRead(ctx, "acc1", "nope", t0), kinwatch.ENOTFOUND)
}

// testNoticeEmailQueue: recipients with an email address wait to be mailed, oldest notice first;
// a claimed recipient leaves the queue and cannot be claimed again; a released one comes back;
// once every one is marked, the queue is empty.
func testNoticeEmailQueue(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	guardian(t, s, "acc1", "a")
	guardian(t, s, "acc2", "b")
	createAccount(t, s, fullAccount("acc3", "", "+4915100000003")) // no address: in-app only
	createNotice(t, s, incident("n2", time.Hour), []string{"acc2", "acc3"})
	createNotice(t, s, incident("n1", 0), nil)

	queue := func() (got []string) {
		t.Helper()
		ms, err := s.NoticesToEmail(ctx, 0)
		if err != nil {
			t.Fatalf("NoticesToEmail: %v", err)
		}
		for _, m := range ms {
			got = append(got, m.Notice.ID+"→"+m.AccountID+" "+m.Email)
		}
		return got
	}
	same(t, "queue", queue(), []string{"n1→acc1 acc1@example.com", "n1→acc2 acc2@example.com", "n2→acc2 acc2@example.com"})
	ms, err := s.NoticesToEmail(ctx, 1)
	if err != nil || len(ms) != 1 || ms[0].Notice.Title != "Incident n1" || ms[0].Notice.Body == "" {
		t.Fatalf("NoticesToEmail(1) = %+v, %v; want n1 with its text", ms, err)
	}

	if err := s.MarkNoticeEmailed(ctx, "n1", "acc1", t0.Add(time.Minute)); err != nil {
		t.Fatalf("MarkNoticeEmailed: %v", err)
	}
	wantCode(t, "MarkNoticeEmailed(again)", s.MarkNoticeEmailed(ctx, "n1", "acc1", t0.Add(2*time.Minute)), kinwatch.ECONFLICT)
	same(t, "queue after one", queue(), []string{"n1→acc2 acc2@example.com", "n2→acc2 acc2@example.com"})
	list, _ := s.AccountNotices(ctx, "acc1", 0)
	if len(list) != 1 || !list[0].EmailedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("acc1's notice after mailing: %+v", list)
	}

	// A failed send gives the claim back.
	if err := s.MarkNoticeEmailed(ctx, "n2", "acc2", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkNoticeEmailed(ctx, "n2", "acc2", time.Time{}); err != nil {
		t.Fatalf("MarkNoticeEmailed(release): %v", err)
	}
	same(t, "queue after a release", queue(), []string{"n1→acc2 acc2@example.com", "n2→acc2 acc2@example.com"})
	wantCode(t, "MarkNoticeEmailed(release unknown)", s.MarkNoticeEmailed(ctx, "n2", "acc1", time.Time{}), kinwatch.ENOTFOUND)

	for _, m := range [][2]string{{"n1", "acc2"}, {"n2", "acc2"}} {
		if err := s.MarkNoticeEmailed(ctx, m[0], m[1], t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	same(t, "queue drained", queue(), []string(nil))
	if r, e, _ := noticeCounts(t, s, "n1"); r != 3 || e != 2 {
		t.Errorf("n1: %d recipients, %d mailed; want 3, 2 (acc3 has no address)", r, e)
	}
	if r, e, _ := noticeCounts(t, s, "n2"); r != 2 || e != 1 {
		t.Errorf("n2: %d recipients, %d mailed; want 2, 1 (acc3 has no address)", r, e)
	}
}

// testNoticeEmailClaimConcurrently: of senders claiming one recipient at once, exactly one gets
// it, so a notice is never mailed twice by two processes.
func testNoticeEmailClaimConcurrently(t *testing.T, s kinwatch.Store) {
	guardian(t, s, "acc1", "a")
	createNotice(t, s, incident("n1", 0), nil)
	const senders = 8
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		won      int
		conflict int
	)
	for i := range senders {
		wg.Go(func() {
			err := s.MarkNoticeEmailed(t.Context(), "n1", "acc1", t0.Add(time.Duration(i)*time.Second))
			mu.Lock()
			defer mu.Unlock()
			switch kinwatch.ErrorCode(err) {
			case "":
				won++
			case kinwatch.ECONFLICT:
				conflict++
			default:
				t.Errorf("MarkNoticeEmailed: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 || conflict != senders-1 {
		t.Errorf("%d senders claimed the recipient, %d were refused; want 1 and %d", won, conflict, senders-1)
	}
}

// testNoticeAccountDeleted: deleting or cancelling an account deletes what it received; the
// notice stays, as the record of what the others were told.
func testNoticeAccountDeleted(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	for _, id := range []string{"acc1", "acc2", "acc3"} {
		guardian(t, s, id, id)
	}
	createNotice(t, s, incident("n1", 0), nil)
	if err := s.MarkNoticeRead(ctx, "acc1", "n1", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAccount(ctx, "acc1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CancelAccount(ctx, "acc2"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"acc1", "acc2"} {
		if ids, _ := noticeState(t, s, id); len(ids) != 0 {
			t.Errorf("the deleted account %s still has %v", id, ids)
		}
	}
	if r, _, read := noticeCounts(t, s, "n1"); r != 1 || read != 0 {
		t.Errorf("n1 after two accounts went: %d recipients, %d read; want 1, 0", r, read)
	}
	ms, err := s.NoticesToEmail(ctx, 0)
	if err != nil || len(ms) != 1 || ms[0].AccountID != "acc3" {
		t.Errorf("NoticesToEmail after the deletions = %+v, %v; want acc3 only", ms, err)
	}
}
