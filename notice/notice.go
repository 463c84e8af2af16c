// Package notice owns what the operator tells the users, as the privacy policy promises: a
// security incident (what happened, what was done, what they can do), a new version of the privacy
// policy, and ceasing operations, after whose notice period every account is cancelled. Each
// notice is recorded with every account it is addressed to (kinwatch.NoticeStore), shown in the app
// and mailed; who read it and who was mailed stays on record.
//
// Notices reach users in the app and by email only (Web Push carries alarms only). This package
// decides the words and the order of things; the stores keep the record and delete accounts
// (kinwatch.Store.CancelAccount). It talks HTTP nowhere, and logs ids, never addresses or text.
package notice

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"kinwatch"
	"kinwatch/account"
	kwmail "kinwatch/mail"
)

// Mailer sends mail (kinwatch/mail implements it).
type Mailer interface {
	Send(ctx context.Context, m kwmail.Message) error
}

// Service publishes and delivers notices.
type Service struct {
	Store   kinwatch.Store
	Blobs   kinwatch.BlobStore // where cancelled accounts' content is deleted from (ExecuteCeaseOperations)
	Mailer  Mailer             // nil: notices are shown in the app only
	BaseURL string             // the server's public address, named in mail
	By      string             // who publishes, recorded with each notice ("" : "operator")
	Log     *slog.Logger
	Now     func() time.Time
}

// Delivery timing.
const (
	mailBatch   = 100
	sendTimeout = 30 * time.Second
	// A relay that refused this many mails in a row is likely down: the rest wait for the next run
	// instead of each waiting out its own timeout.
	maxFailuresInARow = 5
)

func (s *Service) now() time.Time {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	// PostgreSQL keeps microseconds: a time read back equals the one written.
	return now().UTC().Truncate(time.Microsecond)
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Service) by() string {
	if s.By != "" {
		return s.By
	}
	return "operator"
}

// Incident is what the operator tells the accounts a security incident affects. The three parts
// are what the privacy policy promises: the circumstances and possible impact, what was done or
// will be done, and what users can do to protect themselves.
type Incident struct {
	Title        string
	WhatHappened string
	WhatWeDid    string
	WhatYouCanDo string
	Accounts     []string // the accounts affected; nil: everyone
}

// NotifyIncident records an incident notice for the affected accounts (nil: every account); it is
// shown in their app at once and mailed by DeliverEmail.
func (s *Service) NotifyIncident(ctx context.Context, in Incident) (*kinwatch.Notice, error) {
	for _, f := range []struct{ name, v string }{{"what happened", in.WhatHappened}, {"what was done", in.WhatWeDid}, {"what you can do", in.WhatYouCanDo}} {
		if strings.TrimSpace(f.v) == "" {
			return nil, kinwatch.Errorf(kinwatch.EINVALID, "incident: %q is required: users are told what happened, what was done and what they can do", f.name)
		}
	}
	body := "What happened\n" + strings.TrimSpace(in.WhatHappened) +
		"\n\nWhat we have done\n" + strings.TrimSpace(in.WhatWeDid) +
		"\n\nWhat you can do\n" + strings.TrimSpace(in.WhatYouCanDo)
	n := &kinwatch.Notice{ID: kinwatch.NewID(), Kind: kinwatch.NoticeIncident, Title: strings.TrimSpace(in.Title), Body: body,
		CreatedAt: s.now(), CreatedBy: s.by()}
	return n, s.create(ctx, n, in.Accounts)
}

// CeaseOperations records a notice to every account that the server stops: at (the end of the
// notice period) every account is cancelled with everything that is only its. text is the
// operator's own words, added to the notice ("" for none). The deletion itself is
// ExecuteCeaseOperations, run after that time; a later notice replaces an earlier date.
func (s *Service) CeaseOperations(ctx context.Context, at time.Time, text string) (*kinwatch.Notice, error) {
	now := s.now()
	at = at.UTC()
	if !at.After(now) {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "the deletion date %s has passed: give users a notice period", at.Format(time.RFC3339))
	}
	var b strings.Builder
	b.WriteString("The operator of this Kinwatch server is ceasing operations.\n\n")
	if t := strings.TrimSpace(text); t != "" {
		b.WriteString(t + "\n\n")
	}
	fmt.Fprintf(&b, "What happens\nUntil %s the service works as before. From then on, every account is cancelled: it is deleted "+
		"with everything stored about it and about the children in the families nobody else is left in (positions, alarms, "+
		"health readings, voice messages, photos, profiles, consent). The watches are unbound and nothing more is collected "+
		"from them, and the encryption keys are destroyed, which makes that data unreadable in the database and in every copy made afterwards (older backups once the server's master key is retired).\n\n", dateTime(at))
	b.WriteString("What you can do\nDownload your data before then: ask for an export in the app (POST /api/v1/me/exports); the " +
		"link arrives by mail. You can point your watches at another server, and you can cancel your account yourself at any time.")
	n := &kinwatch.Notice{ID: kinwatch.NewID(), Kind: kinwatch.NoticeCeaseOperations,
		Title: "This Kinwatch server closes: accounts are deleted from " + at.Format(time.DateOnly),
		Body:  b.String(), CreatedAt: now, CreatedBy: s.by(), EffectiveAt: at}
	return n, s.create(ctx, n, nil)
}

// PublishPolicy records a notice to every account that the privacy policy changed to version,
// published at url. Consent is per purpose and off until given, so nothing new is used before a
// user agrees to it; the notice says so. A version is announced once (ECONFLICT after).
func (s *Service) PublishPolicy(ctx context.Context, version, url string) (*kinwatch.Notice, error) {
	version, url = strings.TrimSpace(version), strings.TrimSpace(url)
	if version == "" || url == "" {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "policy: a version and the address of its text are required")
	}
	title := "Privacy policy updated to version " + version
	existing, err := s.Store.Notices(ctx, 0)
	if err != nil {
		return nil, err
	}
	for _, e := range existing {
		if e.Kind == kinwatch.NoticePolicy && e.Title == title {
			return nil, kinwatch.Errorf(kinwatch.ECONFLICT, "policy version %s was announced already (notice %s)", version, e.ID)
		}
	}
	body := "The privacy policy of this Kinwatch server changed to version " + version + ". Read it at " + url + ".\n\n" +
		"What this means for you\nWhat you consented to stays as it was. A new purpose (a new use of your data or your " +
		"children's) stays off until you consent to it in the app, and you can withdraw any consent there at any time."
	n := &kinwatch.Notice{ID: kinwatch.NewID(), Kind: kinwatch.NoticePolicy, Title: title, Body: body, CreatedAt: s.now(), CreatedBy: s.by()}
	return n, s.create(ctx, n, nil)
}

func (s *Service) create(ctx context.Context, n *kinwatch.Notice, accounts []string) error {
	if err := s.Store.CreateNotice(ctx, n, accounts); err != nil {
		return err
	}
	s.log().Info("notice published", "notice", n.ID, "kind", string(n.Kind), "audience", n.Audience, "recipients", n.Recipients)
	return nil
}

// AccountNotices lists the notices addressed to the account, newest first, with its read state.
func (s *Service) AccountNotices(ctx context.Context, accountID string, limit int) ([]*kinwatch.AccountNotice, error) {
	return s.Store.AccountNotices(ctx, accountID, limit)
}

// MarkRead records that the account read one of its notices; ENOTFOUND for any other notice.
func (s *Service) MarkRead(ctx context.Context, accountID, noticeID string) error {
	return s.Store.MarkNoticeRead(ctx, accountID, noticeID, s.now())
}

// DeliverEmail mails every recipient not mailed yet and returns how many mails went out and how
// many failed. Each recipient is claimed in the store before its mail is sent, so processes
// delivering at the same time (the server, an admin command) never send one twice; a failed
// send gives the claim back and the next run retries it. A process dying between the claim and
// the send loses that one mail (the notice still shows in the app).
func (s *Service) DeliverEmail(ctx context.Context) (sent, failed int, err error) {
	if s.Mailer == nil {
		return 0, 0, nil
	}
	skip := map[[2]string]bool{} // failed in this run: retried next run, not again now
	inARow := 0
	for {
		limit := mailBatch + len(skip)
		batch, err := s.Store.NoticesToEmail(ctx, limit)
		if err != nil {
			return sent, failed, err
		}
		tried := false
		for _, m := range batch {
			k := [2]string{m.Notice.ID, m.AccountID}
			if skip[k] {
				continue
			}
			tried = true
			res, err := s.mailOne(ctx, m)
			if err != nil {
				return sent, failed, err
			}
			switch res {
			case mailed:
				sent++
				inARow = 0
				continue
			case taken:
				continue
			}
			skip[k] = true
			failed++
			if inARow++; inARow >= maxFailuresInARow {
				return sent, failed, kinwatch.Errorf(kinwatch.EUNAVAILABLE, "mail: %d sends failed in a row; the rest are retried on the next run", inARow)
			}
		}
		if !tried || len(batch) < limit {
			return sent, failed, nil
		}
	}
}

// What became of one recipient's mail.
type outcome int

const (
	mailed     outcome = iota
	taken              // another process mails it, or the account is gone
	sendFailed         // released for the next run
)

// mailOne claims, sends and, on failure, releases one recipient's mail. An error is the store's,
// and ends the run.
func (s *Service) mailOne(ctx context.Context, m *kinwatch.NoticeMail) (outcome, error) {
	switch err := s.Store.MarkNoticeEmailed(ctx, m.Notice.ID, m.AccountID, s.now()); kinwatch.ErrorCode(err) {
	case "":
	case kinwatch.ECONFLICT, kinwatch.ENOTFOUND:
		return taken, nil
	default:
		return sendFailed, err
	}
	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	err := s.Mailer.Send(sctx, kwmail.Message{To: m.Email, Subject: "Kinwatch: " + m.Notice.Title, Text: s.mailText(m.Notice)})
	cancel()
	if err == nil {
		s.log().Debug("notice mailed", "notice", m.Notice.ID, "account", m.AccountID)
		return mailed, nil
	}
	// SMTP replies often quote the recipient: not for logs.
	s.log().Warn("mailing a notice failed; retried on the next run", "notice", m.Notice.ID, "account", m.AccountID,
		"err", account.RedactAddresses(err.Error()))
	// Released even when ctx ended (shutdown): a claim kept without a mail would never be retried.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.Store.MarkNoticeEmailed(rctx, m.Notice.ID, m.AccountID, time.Time{}); err != nil && kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		s.log().Error("a notice whose mail failed stays marked as mailed", "notice", m.Notice.ID, "account", m.AccountID, "err", err)
	}
	return sendFailed, nil
}

// mailText is the notice as mailed: its text, then where it comes from and where else it shows.
func (s *Service) mailText(n *kinwatch.Notice) string {
	server := "this Kinwatch server"
	if base := strings.TrimRight(s.BaseURL, "/"); base != "" {
		server = "the Kinwatch server at " + base
	}
	return n.Title + "\n\n" + n.Body + "\n\n-- \n" +
		"This is a notice from the operator of " + server + ", sent to every account it concerns on " + dateTime(n.CreatedAt) +
		". You also find it in the app, among your notices.\n"
}

// Run delivers mail now and then every interval until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		sent, failed, err := s.DeliverEmail(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log().Warn("delivering notices by mail", "sent", sent, "failed", failed, "err", err)
		case sent > 0 || failed > 0:
			s.log().Info("notices mailed", "sent", sent, "failed", failed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Closure is what ExecuteCeaseOperations did.
type Closure struct {
	Notice          *kinwatch.Notice // the cease-operations notice it carried out
	Accounts        int              // accounts cancelled
	FamiliesDeleted int
	WatchesUnbound  int
	Blobs           int // content deleted from the blob store
	BlobsFailed     int // content whose deletion failed (logged by key; its keys are shredded, so it no longer opens)
}

// ExecuteCeaseOperations carries out the newest cease-operations notice once its date has come:
// every account is cancelled as if its owner had (kinwatch.Store.CancelAccount: everything that is
// only the account's is deleted, watches unbound, keys shredded) and the content it leaves is
// deleted from the blob store. Before the date it refuses (ECONFLICT); without a notice, ENOTFOUND.
// It can run again after an interruption and goes on where it stopped. The server may keep
// running meanwhile: what a cancelled account's watches send is no longer stored (they are
// unbound), and its sessions end with it.
func (s *Service) ExecuteCeaseOperations(ctx context.Context) (*Closure, error) {
	notices, err := s.Store.Notices(ctx, 0)
	if err != nil {
		return nil, err
	}
	var c Closure
	for _, n := range notices {
		if n.Kind == kinwatch.NoticeCeaseOperations {
			c.Notice = n
			break
		}
	}
	if c.Notice == nil {
		return nil, kinwatch.Errorf(kinwatch.ENOTFOUND, "no cease-operations notice was published: users must be told first")
	}
	if s.Blobs == nil {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "ceasing operations needs the blob store, to delete the accounts' content")
	}
	if now := s.now(); now.Before(c.Notice.EffectiveAt) {
		return nil, kinwatch.Errorf(kinwatch.ECONFLICT, "the notice period of notice %s runs until %s: nothing was deleted",
			c.Notice.ID, dateTime(c.Notice.EffectiveAt))
	}
	// Cancelled accounts leave the list, so each round starts at the beginning again: an account
	// that signed up while this ran is cancelled too.
	for {
		accounts, err := s.Store.Accounts(ctx, kinwatch.AccountFilter{Limit: 100})
		if err != nil {
			return &c, err
		}
		if len(accounts) == 0 {
			break
		}
		cancelled := 0
		for _, a := range accounts {
			res, err := s.Store.CancelAccount(ctx, a.ID)
			if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
				continue // cancelled meanwhile, by its owner
			}
			if err != nil {
				return &c, fmt.Errorf("cancelling account %s: %w", a.ID, err)
			}
			cancelled++
			c.Accounts++
			c.FamiliesDeleted += len(res.Deleted)
			c.WatchesUnbound += len(res.Unbound)
			for _, k := range res.BlobKeys {
				if s.deleteBlob(ctx, k) {
					c.Blobs++
				} else {
					c.BlobsFailed++
				}
			}
			s.log().Info("account cancelled: operations ceased", "account", a.ID, "notice", c.Notice.ID,
				"families_deleted", len(res.Deleted), "watches_unbound", len(res.Unbound), "blobs", len(res.BlobKeys))
		}
		if cancelled == 0 {
			break // every account listed was gone already: nothing is left
		}
	}
	return &c, nil
}

// deleteBlob removes content of a cancelled account; a failure is logged with the key (ids only):
// the rows are gone and the content's keys shredded, so it no longer opens.
func (s *Service) deleteBlob(ctx context.Context, key string) bool {
	if key == "" {
		return true
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.Blobs.Delete(ctx, key); err != nil && kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		s.log().Warn("deleting content of a cancelled account failed", "key", key, "err", err)
		return false
	}
	return true
}

// dateTime is how a notice names a time: UTC, to the minute.
func dateTime(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 UTC") }
