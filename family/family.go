// Package family owns who may see and control which watch: binding a watch with proof of
// possession (a one-time code shown on its screen), families and their guardians' roles,
// invitations and join requests, the child's profile, and unbinding. Every decision about access
// to a watch is made here or by the store's WatchAccess; HTTP belongs to httpapi.
package family

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"kinwatch"
	"kinwatch/account"
	"kinwatch/commands"
	"kinwatch/gateway"
	"kinwatch/ratelimit"
	"kinwatch/watchproto"
)

// DeviceNotifier tells the gateway holding a watch's connection that its registry entry changed
// (bound, unbound, blocked), so it starts or stops collecting at once.
type DeviceNotifier interface {
	NotifyDevice(deviceID string)
}

// AccessRefresher learns that accounts gained or lost access to watches (the live stream).
type AccessRefresher interface {
	RefreshAccess(accountID string)
	// Forget drops what is held about a watch that changed hands, so its next family is never
	// sent what was published for the previous one.
	Forget(deviceID string)
}

// Service is the family logic.
type Service struct {
	Store    kinwatch.Store
	Commands *commands.Service
	Blobs    kinwatch.BlobStore
	Devices  DeviceNotifier
	Access   AccessRefresher
	BaseURL  string // invitation links point here
	Log      *slog.Logger
	Now      func() time.Time

	CodeTTL     time.Duration // how long an on-screen binding code is valid (default 10 min)
	MaxAttempts int           // wrong codes before a binding must start again (default 5)
	InviteTTL   time.Duration // default 7 days
	// Retention is the operator's retention; a family may choose shorter (nil: the defaults).
	Retention kinwatch.Retention

	limitsOnce sync.Once
	limits     *ratelimit.Limiter
}

// allow rate-limits probing: binding attempts answer differently for unknown, offline and bound
// watches, and each bound one files a join request its admin must deal with.
func (s *Service) allow(key string, n int, period time.Duration) error {
	s.limitsOnce.Do(func() { s.limits = ratelimit.New(time.Now) })
	return s.limits.Allow(key, n, period)
}

// log is Log, or a logger that discards when none is set.
func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (s *Service) codeTTL() time.Duration   { return cmpOr(s.CodeTTL, 10*time.Minute) }
func (s *Service) inviteTTL() time.Duration { return cmpOr(s.InviteTTL, 7*24*time.Hour) }
func (s *Service) maxAttempts() int         { return cmpOr(s.MaxAttempts, 5) }
func cmpOr[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}
func invalid(f string, a ...any) error   { return kinwatch.Errorf(kinwatch.EINVALID, f, a...) }
func forbidden(f string, a ...any) error { return kinwatch.Errorf(kinwatch.EFORBIDDEN, f, a...) }

// Require returns the account's access to a watch, refusing a role that may not control it when
// control is true. A watch of another family is ENOTFOUND, exactly like a missing one.
func (s *Service) Require(ctx context.Context, accountID, deviceID string, control bool) (*kinwatch.WatchAccess, error) {
	acc, err := s.Store.WatchAccess(ctx, accountID, deviceID)
	if err != nil {
		if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
			return nil, kinwatch.Errorf(kinwatch.ENOTFOUND, "no such watch")
		}
		return nil, err
	}
	if control && !acc.Role.CanControl() {
		return nil, forbidden("a viewer cannot change or control the watch")
	}
	return acc, nil
}

// RequireMember returns the account's membership, refusing non-admins when admin is true. Another
// family is ENOTFOUND.
func (s *Service) RequireMember(ctx context.Context, accountID, familyID string, admin bool) (*kinwatch.Member, error) {
	m, err := s.Store.Member(ctx, familyID, accountID)
	if err != nil {
		if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
			return nil, kinwatch.Errorf(kinwatch.ENOTFOUND, "no such family")
		}
		return nil, err
	}
	if admin && m.Role != kinwatch.RoleAdmin {
		return nil, forbidden("only the family's admin can do this")
	}
	return m, nil
}

// ParseWatchCode accepts what a guardian scanned or typed: the watch's id, on its own or at the end
// of a URL or "key:value" label, with spaces and dashes ignored.
func ParseWatchCode(code string) (string, error) {
	code = strings.TrimSpace(code)
	switch upper := strings.ToUpper(code); {
	case strings.Contains(code, "://"):
		// A link in a QR code: the id is its "id" parameter or its last path segment.
		u, err := url.Parse(code)
		if err != nil {
			return "", invalid("code: not a watch code (the id on the watch's label or in its QR code)")
		}
		if code = u.Query().Get("id"); code == "" {
			code = path.Base(u.Path)
		}
	case strings.HasPrefix(upper, "IMEI:"), strings.HasPrefix(upper, "ID:"):
		_, code, _ = strings.Cut(code, ":")
	}
	code = strings.NewReplacer(" ", "", "-", "").Replace(code)
	if !gateway.ValidDeviceID(code) {
		return "", invalid("code: not a watch code (the id on the watch's label or in its QR code: letters and digits)")
	}
	return code, nil
}

// BindStart is the outcome of starting a binding.
type BindStart struct {
	Challenge   *kinwatch.BindChallenge // the code is on the watch's screen; confirm with it
	JoinRequest *kinwatch.JoinRequest   // the watch is bound already: its admin was asked instead
}

// BindRequest names the watch to bind and where.
type BindRequest struct {
	Code     string // the watch id, or its label or QR code content (see ParseWatchCode)
	FamilyID string // bind into this family the account administers; "" creates a new family
	Note     string // shown to the admin if the watch is bound already and a join request is filed
}

// StartBinding begins binding the watch named by req.Code for the account. If the watch is
// connected and unbound, a one-time code goes to its screen. If it is bound already, the family's
// admin gets a join request instead.
func (s *Service) StartBinding(ctx context.Context, a *kinwatch.Account, req BindRequest) (*BindStart, error) {
	code, familyID := req.Code, req.FamilyID
	if a.EmailVerifiedAt.IsZero() {
		return nil, forbidden("verify your email address before binding a watch")
	}
	if err := s.allow("bind:"+a.ID, 20, time.Hour); err != nil {
		return nil, err
	}
	id, err := ParseWatchCode(code)
	if err != nil {
		return nil, err
	}
	note := strings.TrimSpace(req.Note)
	if err := account.ValidateText("note", note, 280); err != nil {
		return nil, err
	}
	if familyID != "" {
		if _, err := s.RequireMember(ctx, a.ID, familyID, true); err != nil {
			return nil, err
		}
	}
	d, err := s.Store.Device(ctx, id)
	if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
		return nil, kinwatch.Errorf(kinwatch.ENOTFOUND, "no watch with this code has connected to this server yet: switch it on and check its server setting")
	}
	if err != nil {
		return nil, err
	}
	switch d.State {
	case kinwatch.DeviceBlocked:
		return nil, kinwatch.Errorf(kinwatch.ECONFLICT, "this watch is blocked by the operator")
	case kinwatch.DeviceBound:
		return s.requestJoin(ctx, a, d.ID, note)
	}
	if !d.Online {
		return nil, kinwatch.Errorf(kinwatch.ECONFLICT, "the watch is not connected: switch it on, wait until it is online and try again")
	}
	digits, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return nil, err
	}
	secret := fmt.Sprintf("%06d", digits.Int64())
	now := s.now()
	c := &kinwatch.BindChallenge{
		ID: kinwatch.NewID(), DeviceID: d.ID, AccountID: a.ID, FamilyID: familyID,
		CreatedAt: now, ExpiresAt: now.Add(s.codeTTL()),
	}
	c.CodeHash = codeHash(c.ID, secret)
	if err := s.Store.CreateBindChallenge(ctx, c); err != nil {
		return nil, err
	}
	msg := watchproto.TextMessage{Text: "Kinwatch code: " + secret}
	if _, _, err := s.Commands.SendFor(ctx, d.ID, msg, commands.Request{AccountID: a.ID}); err != nil {
		s.Store.DeleteBindChallenge(ctx, c.ID)
		return nil, err
	}
	s.log().Info("binding started", "device", d.ID, "account", a.ID, "challenge", c.ID)
	return &BindStart{Challenge: c}, nil
}

func codeHash(challengeID, code string) []byte {
	h := sha256.Sum256([]byte(challengeID + "\x00" + code))
	return h[:]
}

func (s *Service) requestJoin(ctx context.Context, a *kinwatch.Account, deviceID, note string) (*BindStart, error) {
	acc, err := s.Store.WatchAccess(ctx, a.ID, deviceID)
	if err == nil {
		return nil, kinwatch.Errorf(kinwatch.ECONFLICT, "you already have access to this watch (family %s)", acc.FamilyID)
	}
	owners, err := s.Store.AccountsWithAccess(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	if len(owners) == 0 {
		return nil, kinwatch.Errorf(kinwatch.ECONFLICT, "this watch is bound but has no guardians: ask the operator")
	}
	// The family comes from any guardian's access; every guardian of a watch is in its family.
	wa, err := s.Store.WatchAccess(ctx, owners[0], deviceID)
	if err != nil {
		return nil, err
	}
	r := &kinwatch.JoinRequest{ID: kinwatch.NewID(), FamilyID: wa.FamilyID, AccountID: a.ID, DeviceID: deviceID, Note: note,
		CreatedAt: s.now(), Nickname: a.Profile.Nickname}
	if err := s.Store.CreateJoinRequest(ctx, r); err != nil {
		if kinwatch.ErrorCode(err) == kinwatch.ECONFLICT {
			return nil, kinwatch.Errorf(kinwatch.ECONFLICT, "you already asked to join this watch's family; its admin has not answered yet")
		}
		return nil, err
	}
	return &BindStart{JoinRequest: r}, nil
}

// ConfirmBinding checks the code the guardian read off the watch. The right code binds the watch;
// the account becomes the admin of a new family (named familyName) unless the binding was started
// for an existing family.
func (s *Service) ConfirmBinding(ctx context.Context, a *kinwatch.Account, challengeID, code, familyName string) (*kinwatch.WatchAccess, error) {
	c, err := s.Store.BindChallenge(ctx, a.ID, challengeID)
	if err != nil {
		if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
			return nil, kinwatch.Errorf(kinwatch.ENOTFOUND, "no such binding: start again")
		}
		return nil, err
	}
	now := s.now()
	if !now.Before(c.ExpiresAt) {
		s.Store.DeleteBindChallenge(ctx, c.ID)
		return nil, kinwatch.Errorf(kinwatch.ENOTFOUND, "the code expired: start the binding again for a new one")
	}
	// Every try takes an attempt before the code is compared, atomically: parallel guesses cannot
	// all slip in under the limit.
	n, err := s.Store.TakeBindAttempt(ctx, c.ID, s.maxAttempts())
	switch kinwatch.ErrorCode(err) {
	case "":
	case kinwatch.EFORBIDDEN:
		s.Store.DeleteBindChallenge(ctx, c.ID)
		return nil, forbidden("too many wrong codes: start the binding again for a new one")
	case kinwatch.ENOTFOUND:
		return nil, kinwatch.Errorf(kinwatch.ENOTFOUND, "no such binding: start again")
	default:
		return nil, err
	}
	code = strings.TrimSpace(code)
	if subtle.ConstantTimeCompare(codeHash(c.ID, code), c.CodeHash) != 1 {
		if left := s.maxAttempts() - n; left > 0 {
			return nil, invalid("code: wrong code, %d attempts left", left)
		}
		s.Store.DeleteBindChallenge(ctx, c.ID)
		return nil, forbidden("too many wrong codes: start the binding again for a new one")
	}
	// Started for an existing family: the guardian must still be its admin when the binding
	// commits (the store checks in the binding's transaction).
	b := &kinwatch.Binding{DeviceID: c.DeviceID, FamilyID: c.FamilyID, ChallengeID: c.ID, By: a.ID, At: now}
	if c.FamilyID == "" {
		name := strings.TrimSpace(familyName)
		if name == "" {
			name = a.Profile.Nickname + "'s family"
		}
		if err := validateName(name); err != nil {
			return nil, err
		}
		b.FamilyID = kinwatch.NewID()
		b.NewFamily = &kinwatch.Family{ID: b.FamilyID, Name: name, CreatedAt: now}
		b.Admin = &kinwatch.Member{FamilyID: b.FamilyID, AccountID: a.ID, Role: kinwatch.RoleAdmin, JoinedAt: now}
	}
	if err := s.Store.Bind(ctx, b); err != nil {
		switch kinwatch.ErrorCode(err) {
		case kinwatch.ECONFLICT:
			return nil, kinwatch.Errorf(kinwatch.ECONFLICT, "the watch was bound by someone else meanwhile")
		case kinwatch.EFORBIDDEN:
			s.Store.DeleteBindChallenge(ctx, c.ID)
			return nil, forbidden("you are no longer the family's admin: only its admin can add a watch")
		}
		return nil, err
	}
	s.log().Info("watch bound", "device", c.DeviceID, "family", b.FamilyID, "account", a.ID)
	if s.Access != nil {
		s.Access.Forget(c.DeviceID)
	}
	s.accessChanged(ctx, b.FamilyID, c.DeviceID)
	return &kinwatch.WatchAccess{DeviceID: c.DeviceID, FamilyID: b.FamilyID, Role: kinwatch.RoleAdmin}, nil
}

func validateName(name string) error {
	if n := len([]rune(name)); n == 0 || n > 60 || strings.ContainsAny(name, "\r\n\x00") {
		return invalid("name: 1 to 60 characters on one line")
	}
	return nil
}

// accessChanged tells the gateway and the live stream that who may see deviceID changed.
func (s *Service) accessChanged(ctx context.Context, familyID, deviceID string, extra ...string) {
	if deviceID != "" && s.Devices != nil {
		s.Devices.NotifyDevice(deviceID)
	}
	if s.Access == nil {
		return
	}
	for _, id := range extra {
		s.Access.RefreshAccess(id)
	}
	members, err := s.Store.Members(ctx, familyID)
	if err != nil {
		s.log().Warn("refreshing stream access failed", "family", familyID, "err", err)
		return
	}
	for _, m := range members {
		s.Access.RefreshAccess(m.AccountID)
	}
}

// Unbind releases a watch (admin only): everything stored about it is deleted (positions, events,
// health readings, voice messages, photos, commands, the child's profile) and it returns to pending,
// so it can be bound again, by this family or another, only with a new on-screen code.
func (s *Service) Unbind(ctx context.Context, accountID, deviceID string) error {
	acc, err := s.Require(ctx, accountID, deviceID, false)
	if err != nil {
		return err
	}
	if acc.Role != kinwatch.RoleAdmin {
		return forbidden("only the family's admin can unbind a watch")
	}
	members, err := s.Store.Members(ctx, acc.FamilyID)
	if err != nil {
		return err
	}
	keys, err := s.Store.Unbind(ctx, deviceID)
	if err != nil {
		return err
	}
	if s.Access != nil {
		s.Access.Forget(deviceID)
	}
	for _, k := range keys {
		s.deleteBlob(ctx, k)
	}
	s.log().Info("watch unbound", "device", deviceID, "family", acc.FamilyID, "account", accountID)
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.AccountID
	}
	s.accessChanged(ctx, acc.FamilyID, deviceID, ids...)
	return nil
}

var inviteEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func hashCode(code string) []byte {
	h := sha256.Sum256([]byte(strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(code)))))
	return h[:]
}
