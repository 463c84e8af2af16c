// Package rights owns what a person can do about the data kinwatch holds on them: cancel the
// account (irreversibly deleting or anonymising everything that is only theirs, in every store),
// and the other data-subject rights as they are added. It decides what happens and in which
// order; the stores do the deleting (kinwatch.Store.CancelAccount) and the blob store loses the
// content. It talks HTTP nowhere.
package rights

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"kinwatch"
)

// Reauthenticator proves the account's owner is at the keyboard (account.Service).
type Reauthenticator interface {
	Reauthenticate(ctx context.Context, accountID string, session *kinwatch.Session, password string) error
}

// SessionEnder closes what stays open for an account's sessions (the live stream).
type SessionEnder interface {
	EndSessions(accountID, keep string)
}

// AccessRefresher learns that accounts gained or lost access to watches (the live stream).
type AccessRefresher interface {
	RefreshAccess(accountID string)
	Forget(deviceID string)
}

// DeviceNotifier tells a watch's connection to re-read its registry entry (the gateway).
type DeviceNotifier interface {
	NotifyDevice(deviceID string)
}

// Service carries out data-subject rights.
type Service struct {
	Store    kinwatch.Store
	Blobs    kinwatch.BlobStore
	Accounts Reauthenticator
	Watches  WatchAccess     // who may delete a watch's records; nil: nobody here
	Live     SessionEnder    // nil: nothing open to close
	Access   AccessRefresher // nil: no live stream
	Devices  DeviceNotifier  // nil: no gateway in this process
	Mailer   Mailer          // mails export links; nil: none
	BaseURL  string          // mailed links point here
	Log      *slog.Logger
	Now      func() time.Time

	wakeOnce sync.Once
	wake     chan struct{}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (s *Service) exportWake() chan struct{} {
	s.wakeOnce.Do(func() { s.wake = make(chan struct{}, 1) })
	return s.wake
}

// wakeExports tells the export worker a job is queued.
func (s *Service) wakeExports() {
	select {
	case s.exportWake() <- struct{}{}:
	default:
	}
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// CancelPhrase must be typed to cancel an account: a second, deliberate step after the password.
const CancelPhrase = "delete my account"

// CancelStatement says what cancelling does, before anyone does it.
const CancelStatement = "Cancelling your account cannot be undone. Kinwatch deletes your account, profile and picture, " +
	"your sign-in methods and sessions, and the record of your own consent. " +
	"A family you share with other guardians keeps its children's data, without the commands you sent; " +
	"where you are its admin, the guardian who joined first takes over. " +
	"A family nobody else is in is deleted with everything stored about its children (positions, alarms, " +
	"health readings, voice messages, photos, profiles, consent), its watches are unbound, and its " +
	"encryption keys are destroyed, which makes any copy of that data, backups included, unreadable. " +
	"To go on, enter your password and type \"" + CancelPhrase + "\"."

// PlanFamily is what cancelling would do to one family.
type PlanFamily struct {
	ID, Name string
	Watches  int
	Others   int    // members besides the account
	Deleted  bool   // nobody else is left: the family and its children's data are deleted
	NewAdmin string // the member who would become admin ("" when the account is not admin or the family is deleted)
}

// Plan is what cancelling the account would do, for the statement shown before.
type Plan struct {
	Statement string
	Families  []PlanFamily
}

// CancellationPlan says what cancelling the account would do.
func (s *Service) CancellationPlan(ctx context.Context, accountID string) (*Plan, error) {
	ms, err := s.Store.Families(ctx, accountID)
	if err != nil {
		return nil, err
	}
	p := &Plan{Statement: CancelStatement, Families: []PlanFamily{}}
	for _, m := range ms {
		members, err := s.Store.Members(ctx, m.Family.ID)
		if err != nil {
			return nil, err
		}
		watches, err := s.Store.FamilyWatches(ctx, m.Family.ID)
		if err != nil {
			return nil, err
		}
		f := PlanFamily{ID: m.Family.ID, Name: m.Family.Name, Watches: len(watches), Others: len(members) - 1, Deleted: len(members) <= 1}
		if m.Role == kinwatch.RoleAdmin && !f.Deleted {
			f.NewAdmin = successor(members, accountID)
		}
		p.Families = append(p.Families, f)
	}
	return p, nil
}

// successor is who takes over a family's admin role: the guardian who joined first, else the
// viewer who did (the store's rule, repeated for the plan).
func successor(members []*kinwatch.Member, leaving string) string {
	var best *kinwatch.Member
	for _, m := range members {
		if m.AccountID == leaving {
			continue
		}
		if best == nil || rank(m) < rank(best) || rank(m) == rank(best) && (m.JoinedAt.Before(best.JoinedAt) ||
			m.JoinedAt.Equal(best.JoinedAt) && m.AccountID < best.AccountID) {
			best = m
		}
	}
	if best == nil {
		return ""
	}
	return best.AccountID
}

func rank(m *kinwatch.Member) int {
	if m.Role == kinwatch.RoleGuardian {
		return 0
	}
	return 1
}

// Cancel cancels the account: the password again (or a fresh sign-in for accounts without
// one) and the typed CancelPhrase. Everything that is only the account's is deleted or
// anonymised in the database, its content leaves the blob store, its keys and those of the
// families it leaves empty are shredded, and its open streams close.
func (s *Service) Cancel(ctx context.Context, accountID string, session *kinwatch.Session, password, confirm string) (*kinwatch.Cancellation, error) {
	if err := s.Accounts.Reauthenticate(ctx, accountID, session, password); err != nil {
		return nil, err
	}
	if !strings.EqualFold(strings.TrimSpace(confirm), CancelPhrase) {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "confirm: type %q to cancel the account", CancelPhrase)
	}
	// Who stays in the families the account shares: their live streams learn of the change.
	stay := map[string]bool{}
	ms, err := s.Store.Families(ctx, accountID)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		members, err := s.Store.Members(ctx, m.Family.ID)
		if err != nil {
			return nil, err
		}
		for _, o := range members {
			if o.AccountID != accountID {
				stay[o.AccountID] = true
			}
		}
	}
	c, err := s.Store.CancelAccount(ctx, accountID)
	if err != nil {
		return nil, err
	}
	// The rows are gone and the keys shredded; the content goes too (it no longer opens anyway).
	for _, k := range c.BlobKeys {
		s.deleteBlob(ctx, k)
	}
	if s.Live != nil {
		s.Live.EndSessions(accountID, "")
	}
	for _, w := range c.Unbound {
		if s.Access != nil {
			s.Access.Forget(w)
		}
		if s.Devices != nil {
			s.Devices.NotifyDevice(w)
		}
	}
	if s.Access != nil {
		for id := range stay {
			s.Access.RefreshAccess(id)
		}
	}
	s.log().Info("account cancelled", "account", accountID, "families_deleted", len(c.Deleted), "families_left", len(c.Left),
		"watches_unbound", len(c.Unbound), "blobs", len(c.BlobKeys))
	return c, nil
}

// deleteBlob removes content of deleted rows; a failure is logged with the key (ids only) for the
// operator: the rows are gone and the content's key is shredded, so it no longer opens.
func (s *Service) deleteBlob(ctx context.Context, key string) {
	if s.Blobs == nil || key == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.Blobs.Delete(ctx, key); err != nil && kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		s.log().Warn("deleting content of a cancelled account failed", "key", key, "err", err)
	}
}
