package account

import (
	"context"
	"fmt"
	"strings"
	"time"

	"kinwatch"
)

// External is what an OpenID Connect provider vouched for.
type External struct {
	Provider      string
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
}

// SignInExternal signs in the account linked to the provider subject. An unknown subject creates an
// account when accept names the current policy version and confirms the age; it is never silently attached to an
// existing account with the same email (whoever controls a provider account could otherwise take
// over a kinwatch account): the guardian signs in and links the provider instead.
func (s *Service) SignInExternal(ctx context.Context, e External, accept Acceptance, kind string, c Client) (*kinwatch.Session, string, error) {
	if err := s.limits.Allow("oidc-ip:"+c.network(), 60, 15*time.Minute); err != nil {
		return nil, "", err
	}
	id, err := s.Store.Identity(ctx, e.Provider, e.Subject)
	if err == nil {
		a, err := s.Store.Account(ctx, id.AccountID)
		if err != nil {
			return nil, "", err
		}
		if a.Disabled {
			return nil, "", errCredentials
		}
		return s.openSession(ctx, a.ID, kind, c)
	}
	if kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		return nil, "", err
	}
	if err := s.checkAcceptance(accept, "this "+e.Provider+" account is new here: "); err != nil {
		return nil, "", err
	}
	// Only an address the provider verified becomes the account's: an unverified one would claim
	// an address nobody proved to own (and block its owner from signing up).
	email, _ := NormalizeEmail(e.Email)
	if !e.EmailVerified {
		email = ""
	}
	if email != "" {
		if _, err := s.Store.AccountByLogin(ctx, email); err == nil {
			return nil, "", kinwatch.Errorf(kinwatch.ECONFLICT,
				"an account with this email exists: sign in with its password and link %s in your account settings", e.Provider)
		}
	}
	now := s.now()
	a := &kinwatch.Account{ID: kinwatch.NewID(), Email: email, Preferences: DefaultPreferences,
		PolicyVersion: s.Policy.Version, PolicyAccepted: now, CreatedAt: now, UpdatedAt: now}
	if email != "" {
		a.EmailVerifiedAt = now
	}
	nick := strings.TrimSpace(e.Name)
	if nick == "" {
		nick, _, _ = strings.Cut(email, "@")
	}
	if nick == "" || ValidateText("nickname", nick, 40) != nil || strings.ContainsRune(nick, '\n') {
		nick = "Guardian"
	}
	a.Profile.Nickname = nick
	if err := s.Store.CreateAccount(ctx, a); err != nil {
		return nil, "", err
	}
	reported, _ := NormalizeEmail(e.Email)
	if err := s.Store.CreateIdentity(ctx, &kinwatch.Identity{Provider: e.Provider, Subject: e.Subject, AccountID: a.ID,
		Email: reported, CreatedAt: now}); err != nil {
		s.Store.DeleteAccount(ctx, a.ID)
		return nil, "", err
	}
	s.Log.Info("account created", "account", a.ID, "provider", e.Provider)
	return s.openSession(ctx, a.ID, kind, c)
}

// Link attaches a provider subject to a signed-in account. An account with an email address must
// have verified it first: otherwise whoever signed up with someone else's address could link their
// own provider account and keep a way in after the address's owner takes the account over. (A
// password reset, the way an owner takes an account over, also removes every link.) The owner is
// told of every new link by mail.
func (s *Service) Link(ctx context.Context, accountID string, e External) error {
	a, err := s.Store.Account(ctx, accountID)
	if err != nil {
		return err
	}
	if a.Email != "" && a.EmailVerifiedAt.IsZero() {
		return kinwatch.Errorf(kinwatch.EFORBIDDEN, "verify your email address before linking %s: open the link we mailed you", e.Provider)
	}
	err = s.Store.CreateIdentity(ctx, &kinwatch.Identity{Provider: e.Provider, Subject: e.Subject, AccountID: accountID,
		Email: strings.ToLower(e.Email), CreatedAt: s.now()})
	if kinwatch.ErrorCode(err) == kinwatch.ECONFLICT {
		return kinwatch.Errorf(kinwatch.ECONFLICT, "this %s account is linked already (to this or another kinwatch account), or you linked another %s account", e.Provider, e.Provider)
	}
	if err != nil {
		return err
	}
	s.send(ctx, a.Email, "A sign-in provider was linked to your Kinwatch account",
		fmt.Sprintf("Your Kinwatch account can now be signed in to with %s.\n\n"+
			"If you did not do this, reset your password (%s): that ends every session and removes every linked provider.\n",
			e.Provider, strings.TrimRight(s.BaseURL, "/")+"/reset-password"))
	return nil
}

// Unlink removes a provider link, unless it is the account's only way to sign in.
func (s *Service) Unlink(ctx context.Context, accountID, provider string) error {
	a, err := s.Store.Account(ctx, accountID)
	if err != nil {
		return err
	}
	ids, err := s.Store.Identities(ctx, accountID)
	if err != nil {
		return err
	}
	linked := false
	for _, id := range ids {
		linked = linked || id.Provider == provider
	}
	if !linked {
		return kinwatch.Errorf(kinwatch.ENOTFOUND, "this account is not linked to %q", provider)
	}
	if a.PasswordHash == "" && len(ids) <= 1 {
		return kinwatch.Errorf(kinwatch.ECONFLICT, "this is your only way to sign in: set a password (through password reset) before unlinking")
	}
	return s.Store.DeleteIdentity(ctx, accountID, provider)
}

// Identities lists the account's provider links.
func (s *Service) Identities(ctx context.Context, accountID string) ([]*kinwatch.Identity, error) {
	return s.Store.Identities(ctx, accountID)
}
