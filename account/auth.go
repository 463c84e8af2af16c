package account

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"kinwatch"
)

// SignUp is what a new guardian submits.
type SignUp struct {
	Email        string
	Phone        string
	Password     string
	AcceptPolicy string // the policy version the guardian was shown and accepted
	AgeConfirmed bool   // the guardian confirmed being at least Policy.MinAge years old
	Profile      ProfilePatch
}

const (
	verifyTTL = 48 * time.Hour
	resetTTL  = time.Hour
	// Failed sign-ins lock an account after lockAfter attempts, for lockBase doubling with every
	// further failure up to lockMax.
	lockAfter = 5
	lockBase  = 30 * time.Second
	lockMax   = time.Hour
)

// SignUp creates an account and mails a verification link. It answers nil both for a new account
// and for an address that already has one (whose owner is told by mail instead), so sign-up cannot
// be used to find out who has an account. Only invalid input is an error.
func (s *Service) SignUp(ctx context.Context, in SignUp, c Client) error {
	if err := s.limits.Allow("signup-ip:"+c.network(), 20, time.Hour); err != nil {
		return err
	}
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return err
	}
	phone, err := NormalizePhone(in.Phone)
	if err != nil {
		return err
	}
	if email == "" && phone == "" {
		return invalid("email or phone: one is required to sign in")
	}
	if err := s.checkAcceptance(Acceptance{in.AcceptPolicy, in.AgeConfirmed}, ""); err != nil {
		return err
	}
	now := s.now()
	a := &kinwatch.Account{
		ID:             kinwatch.NewID(),
		Email:          email,
		Phone:          phone,
		Preferences:    DefaultPreferences,
		PolicyVersion:  s.Policy.Version,
		PolicyAccepted: now,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	if err := in.Profile.Apply(a, now); err != nil {
		return err
	}
	if err := s.Passwords.Check(ctx, in.Password, email, a.Profile.Nickname); err != nil {
		return err
	}
	if a.PasswordHash, err = HashPassword(in.Password, s.Argon2); err != nil {
		return err
	}
	err = s.Store.CreateAccount(ctx, a)
	if kinwatch.ErrorCode(err) == kinwatch.ECONFLICT {
		if existing, lerr := s.Store.AccountByLogin(ctx, email); lerr == nil && email != "" {
			s.send(ctx, existing.Email, "Someone tried to sign up with your address",
				fmt.Sprintf("Someone tried to create a Kinwatch account with this address, which already has one.\n\n"+
					"If it was you, sign in instead, or reset your password at %s.\n\nIf it was not you, you can ignore this mail.\n",
					s.BaseURL))
		}
		return nil
	}
	if err != nil {
		return err
	}
	s.Log.Info("account created", "account", a.ID)
	return s.mailVerification(ctx, a)
}

func (s *Service) mailVerification(ctx context.Context, a *kinwatch.Account) error {
	if a.Email == "" || !a.EmailVerifiedAt.IsZero() {
		return nil
	}
	secret, hash := newSecret()
	now := s.now()
	if err := s.Store.DeleteTokens(ctx, a.ID, kinwatch.TokenVerifyEmail); err != nil {
		return err
	}
	if err := s.Store.CreateToken(ctx, &kinwatch.Token{Hash: hash, AccountID: a.ID, Purpose: kinwatch.TokenVerifyEmail,
		CreatedAt: now, ExpiresAt: now.Add(verifyTTL)}); err != nil {
		return err
	}
	s.send(ctx, a.Email, "Confirm your email address for Kinwatch",
		fmt.Sprintf("Welcome to Kinwatch, %s.\n\nConfirm your email address by opening this link (valid for 48 hours):\n\n%s\n\n"+
			"Verification code: %s\n\nIf you did not sign up, ignore this mail and nothing happens.\n",
			a.Profile.Nickname, s.link("/verify-email", secret), secret))
	return nil
}

// ResendVerification mails a new verification link if login names an unverified account; it
// answers the same in every case.
func (s *Service) ResendVerification(ctx context.Context, login string, c Client) error {
	if err := s.limits.Allow("verify-ip:"+c.network(), 10, time.Hour); err != nil {
		return err
	}
	login = normalizeLogin(login)
	if err := s.limits.Allow("verify-login:"+login, 3, time.Hour); err != nil {
		return err
	}
	a, err := s.Store.AccountByLogin(ctx, login)
	if err != nil {
		if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
			return nil
		}
		return err
	}
	return s.mailVerification(ctx, a)
}

// VerifyEmail consumes a verification token; a change-of-address token also moves the account to
// its new address.
func (s *Service) VerifyEmail(ctx context.Context, token string, c Client) (*kinwatch.Account, error) {
	if err := s.limits.Allow("token-ip:"+c.network(), 30, time.Hour); err != nil {
		return nil, err
	}
	now := s.now()
	t, err := s.Store.ConsumeToken(ctx, hashSecret(token), kinwatch.TokenVerifyEmail, now)
	if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
		t, err = s.Store.ConsumeToken(ctx, hashSecret(token), kinwatch.TokenChangeEmail, now)
	}
	if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
		return nil, invalid("this verification link is invalid, used or expired: ask for a new one")
	}
	if err != nil {
		return nil, err
	}
	a, err := s.Store.Account(ctx, t.AccountID)
	if err != nil {
		return nil, err
	}
	old := a.Email
	if t.Purpose == kinwatch.TokenChangeEmail {
		a.Email = t.Data
	}
	a.EmailVerifiedAt, a.UpdatedAt = now, now
	if err := s.Store.UpdateAccount(ctx, a); err != nil {
		if kinwatch.ErrorCode(err) == kinwatch.ECONFLICT {
			return nil, kinwatch.Errorf(kinwatch.ECONFLICT, "this address is used by another account")
		}
		return nil, err
	}
	if old != "" && old != a.Email {
		// The previous address hears of it, so a takeover through a stolen session and password
		// does not go unnoticed.
		s.send(ctx, old, "Your Kinwatch sign-in address was changed",
			fmt.Sprintf("The email address of your Kinwatch account was changed to %s.\n\n"+
				"If you did not do this, someone who knows your password did: contact the operator of this Kinwatch server at once.\n",
				maskAddress(a.Email)))
	}
	return a, nil
}

// RequestEmailChange mails a confirmation link to the new address; the account keeps its current
// address until the link is opened.
func (s *Service) RequestEmailChange(ctx context.Context, accountID, password, newEmail string) error {
	a, err := s.Store.Account(ctx, accountID)
	if err != nil {
		return err
	}
	// Limited before the password is checked: a stolen session must not become a password oracle.
	if err := s.limits.Allow("email-change:"+accountID, 5, time.Hour); err != nil {
		return err
	}
	if err := s.checkPassword(a, password); err != nil {
		return err
	}
	email, err := NormalizeEmail(newEmail)
	if err != nil || email == "" {
		return invalid("email: a new email address is required")
	}
	secret, hash := newSecret()
	now := s.now()
	if err := s.Store.DeleteTokens(ctx, a.ID, kinwatch.TokenChangeEmail); err != nil {
		return err
	}
	if err := s.Store.CreateToken(ctx, &kinwatch.Token{Hash: hash, AccountID: a.ID, Purpose: kinwatch.TokenChangeEmail,
		Data: email, CreatedAt: now, ExpiresAt: now.Add(verifyTTL)}); err != nil {
		return err
	}
	s.send(ctx, email, "Confirm your new email address for Kinwatch",
		fmt.Sprintf("Open this link to use this address for your Kinwatch account (valid for 48 hours):\n\n%s\n\nVerification code: %s\n",
			s.link("/verify-email", secret), secret))
	return nil
}

func (s *Service) checkPassword(a *kinwatch.Account, password string) error {
	if a.PasswordHash == "" {
		return kinwatch.Errorf(kinwatch.EFORBIDDEN, "this account has no password: set one through password reset first")
	}
	if ok, _ := VerifyPassword(a.PasswordHash, password, s.Argon2); !ok {
		return kinwatch.Errorf(kinwatch.EFORBIDDEN, "the current password is wrong")
	}
	return nil
}

// errCredentials is the one answer for an unknown login, a wrong password, a disabled account and
// an account locked after failed sign-ins.
var errCredentials = kinwatch.Errorf(kinwatch.EUNAUTHORIZED,
	"the email, phone or password is wrong, or failed attempts locked the account for a while: try again later or reset the password")

// LockedUntil is when an account with these failures may try again (zero: not locked).
func LockedUntil(failures int, last time.Time) time.Time {
	if failures < lockAfter {
		return time.Time{}
	}
	d := lockBase << min(failures-lockAfter, 16)
	return last.Add(min(d, lockMax))
}

// Login checks the credentials and opens a session of kind; it returns the session and its secret
// token, which the caller hands to the client once.
func (s *Service) Login(ctx context.Context, login, password, kind string, c Client) (*kinwatch.Session, string, error) {
	if kind != kinwatch.SessionCookie && kind != kinwatch.SessionBearer {
		return nil, "", invalid("session kind: cookie or bearer")
	}
	login = normalizeLogin(login)
	// Per address and per IP, whether or not the account exists, so the limit reveals nothing.
	if err := s.limits.Allow("login-ip:"+c.network(), 60, 15*time.Minute); err != nil {
		return nil, "", err
	}
	if err := s.limits.Allow("login:"+login, 10, 15*time.Minute); err != nil {
		return nil, "", err
	}
	a, err := s.Store.AccountByLogin(ctx, login)
	if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
		VerifyPassword(s.dummyHash, password, s.Argon2)
		return nil, "", errCredentials
	}
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	if now.Before(LockedUntil(a.FailedLogins, a.LastFailedLogin)) {
		// Locked: the same answer, after the same work, as a wrong password or an unknown login,
		// so the lock does not tell that the account exists.
		VerifyPassword(s.dummyHash, password, s.Argon2)
		return nil, "", errCredentials
	}
	ok, rehash := false, false
	if a.PasswordHash != "" {
		ok, rehash = VerifyPassword(a.PasswordHash, password, s.Argon2)
	} else {
		VerifyPassword(s.dummyHash, password, s.Argon2)
	}
	if !ok || a.Disabled {
		if !ok {
			if _, err := s.Store.LoginFailed(ctx, a.ID, now); err != nil {
				return nil, "", err
			}
		}
		return nil, "", errCredentials
	}
	if a.FailedLogins > 0 {
		if err := s.Store.LoginSucceeded(ctx, a.ID); err != nil {
			return nil, "", err
		}
	}
	if rehash {
		if h, err := HashPassword(password, s.Argon2); err == nil {
			a.PasswordHash, a.UpdatedAt = h, now
			if err := s.Store.UpdateAccount(ctx, a); err != nil {
				s.Log.Warn("rehashing password failed", "account", a.ID, "err", err)
			}
		}
	}
	return s.openSession(ctx, a.ID, kind, c)
}

func (s *Service) openSession(ctx context.Context, accountID, kind string, c Client) (*kinwatch.Session, string, error) {
	secret, hash := newSecret()
	now := s.now()
	ss := &kinwatch.Session{
		ID: kinwatch.NewID(), AccountID: accountID, TokenHash: hash, Kind: kind,
		UserAgent: truncate(c.UserAgent, 200), IP: truncate(c.IP, 64),
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(s.SessionTTL),
	}
	if err := s.Store.CreateSession(ctx, ss); err != nil {
		return nil, "", err
	}
	return ss, secret, nil
}

// errSession is the answer for a missing, expired or revoked session.
var errSession = kinwatch.Errorf(kinwatch.EUNAUTHORIZED, "sign in first: the session is missing, expired or revoked")

// touchEvery bounds how often a session's last use is written: not on every request.
const touchEvery = time.Minute

// Authenticate resolves a session token to its account. Sessions end SessionTTL after sign-in
// however much they are used: a stolen token does not live forever.
func (s *Service) Authenticate(ctx context.Context, token string, c Client) (*kinwatch.Account, *kinwatch.Session, error) {
	if token == "" || len(token) > 100 {
		return nil, nil, errSession
	}
	ss, a, err := s.Store.SessionAccount(ctx, hashSecret(token))
	if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
		return nil, nil, errSession
	}
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	if !now.Before(ss.ExpiresAt) || a.Disabled {
		return nil, nil, errSession
	}
	if now.Sub(ss.LastUsedAt) >= touchEvery || ss.IP != truncate(c.IP, 64) {
		if err := s.Store.TouchSession(ctx, ss.ID, now, truncate(c.IP, 64)); err != nil {
			s.Log.Warn("recording session use failed", "session", ss.ID, "err", err)
		}
		ss.LastUsedAt, ss.IP = now, truncate(c.IP, 64)
	}
	return a, ss, nil
}

// StillValid reports whether the session of token still lets its account in (not ended, not
// expired, the account not disabled), like Authenticate but without recording a use: open live
// streams ask it every minute. It answers the EUNAUTHORIZED error of Authenticate when not.
func (s *Service) StillValid(ctx context.Context, token string) error {
	ss, a, err := s.Store.SessionAccount(ctx, hashSecret(token))
	switch {
	case kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND:
		return errSession
	case err != nil:
		return err
	case !s.now().Before(ss.ExpiresAt) || a.Disabled:
		return errSession
	}
	return nil
}

// CSRFToken is the anti-forgery token of a cookie session: browsers send it back in a header,
// which a cross-site form or image cannot. It is derived from the session secret, so nothing more
// is stored.
func CSRFToken(sessionToken string) string {
	h := sha256.Sum256([]byte("kinwatch csrf\x00" + sessionToken))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// Sessions lists the account's sessions.
func (s *Service) Sessions(ctx context.Context, accountID string) ([]*kinwatch.Session, error) {
	return s.Store.Sessions(ctx, accountID)
}

// Revoke ends one of the account's sessions.
func (s *Service) Revoke(ctx context.Context, accountID, sessionID string) error {
	if err := s.Store.DeleteSession(ctx, accountID, sessionID); err != nil {
		return err
	}
	s.ended(accountID, sessionID, "")
	return nil
}

// RevokeOthers ends all of the account's sessions but keep ("" ends all: log out everywhere).
func (s *Service) RevokeOthers(ctx context.Context, accountID, keep string) (int, error) {
	n, err := s.Store.DeleteSessions(ctx, accountID, keep)
	if err != nil {
		return 0, err
	}
	s.ended(accountID, "", keep)
	return n, nil
}

// RequestPasswordReset mails a reset link if login names an account with an email; it answers the
// same in every case.
func (s *Service) RequestPasswordReset(ctx context.Context, login string, c Client) error {
	if err := s.limits.Allow("reset-ip:"+c.network(), 10, time.Hour); err != nil {
		return err
	}
	login = normalizeLogin(login)
	if err := s.limits.Allow("reset:"+login, 3, time.Hour); err != nil {
		return err
	}
	a, err := s.Store.AccountByLogin(ctx, login)
	if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND || err == nil && (a.Email == "" || a.Disabled) {
		return nil
	}
	if err != nil {
		return err
	}
	secret, hash := newSecret()
	now := s.now()
	if err := s.Store.DeleteTokens(ctx, a.ID, kinwatch.TokenResetPassword); err != nil {
		return err
	}
	if err := s.Store.CreateToken(ctx, &kinwatch.Token{Hash: hash, AccountID: a.ID, Purpose: kinwatch.TokenResetPassword,
		CreatedAt: now, ExpiresAt: now.Add(resetTTL)}); err != nil {
		return err
	}
	s.send(ctx, a.Email, "Reset your Kinwatch password",
		fmt.Sprintf("Someone asked to reset the password of your Kinwatch account.\n\nTo choose a new password, open this link (valid for one hour):\n\n%s\n\n"+
			"Reset code: %s\n\nIf it was not you, ignore this mail: your password stays as it is.\n", s.link("/reset-password", secret), secret))
	return nil
}

// ResetPassword sets a new password with a mailed token, ends every session of the account and
// removes its provider links (whoever knew the old password, or linked a provider, is out). The
// address the mail reached is now verified.
func (s *Service) ResetPassword(ctx context.Context, token, password string, c Client) error {
	if err := s.limits.Allow("token-ip:"+c.network(), 30, time.Hour); err != nil {
		return err
	}
	now := s.now()
	t, err := s.Store.ConsumeToken(ctx, hashSecret(token), kinwatch.TokenResetPassword, now)
	if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
		return invalid("this reset link is invalid, used or expired: ask for a new one")
	}
	if err != nil {
		return err
	}
	a, err := s.Store.Account(ctx, t.AccountID)
	if err != nil {
		return err
	}
	if err := s.setPassword(ctx, a, password, now); err != nil {
		// The token is spent; a typo in the new password must not cost a new mail round trip.
		if kinwatch.ErrorCode(err) == kinwatch.EINVALID {
			s.Store.CreateToken(ctx, t)
		}
		return err
	}
	// Whoever resets holds the mailbox and takes the account over: every other way in ends, the
	// sessions below and the provider links here (someone who signed up with this address, or had
	// the password, may have linked their own provider account).
	ids, err := s.Store.Identities(ctx, a.ID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.Store.DeleteIdentity(ctx, a.ID, id.Provider); err != nil && kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
			return err
		}
	}
	if a.EmailVerifiedAt.IsZero() {
		a.EmailVerifiedAt = now
		if err := s.Store.UpdateAccount(ctx, a); err != nil {
			return err
		}
	}
	if err := s.Store.LoginSucceeded(ctx, a.ID); err != nil {
		return err
	}
	_, err = s.RevokeOthers(ctx, a.ID, "")
	return err
}

// ChangePassword sets a new password after checking the current one, and ends the account's other
// sessions.
func (s *Service) ChangePassword(ctx context.Context, accountID, sessionID, current, next string) error {
	a, err := s.Store.Account(ctx, accountID)
	if err != nil {
		return err
	}
	if err := s.limits.Allow("password-change:"+accountID, 10, time.Hour); err != nil {
		return err
	}
	if err := s.checkPassword(a, current); err != nil {
		return err
	}
	if err := s.setPassword(ctx, a, next, s.now()); err != nil {
		return err
	}
	_, err = s.RevokeOthers(ctx, accountID, sessionID)
	return err
}

func (s *Service) setPassword(ctx context.Context, a *kinwatch.Account, password string, now time.Time) error {
	if err := s.Passwords.Check(ctx, password, a.Email, a.Profile.Nickname); err != nil {
		return err
	}
	h, err := HashPassword(password, s.Argon2)
	if err != nil {
		return err
	}
	a.PasswordHash, a.UpdatedAt = h, now
	return s.Store.UpdateAccount(ctx, a)
}

// FreshSignIn is how recent a sign-in must be to stand in for the password where one is asked
// again (consent for a child, cancelling the account) and the account has no password.
const FreshSignIn = 10 * time.Minute

// Reauthenticate proves it is the account's owner at the keyboard, not someone holding a session:
// the password again, or, for an account that signs in only through a provider, a session opened
// within FreshSignIn. Attempts are limited like other password checks.
func (s *Service) Reauthenticate(ctx context.Context, accountID string, session *kinwatch.Session, password string) error {
	a, err := s.Store.Account(ctx, accountID)
	if err != nil {
		return err
	}
	if err := s.limits.Allow("reauth:"+accountID, 10, time.Hour); err != nil {
		return err
	}
	if a.PasswordHash == "" {
		if session == nil || s.now().Sub(session.CreatedAt) > FreshSignIn {
			return kinwatch.Errorf(kinwatch.EFORBIDDEN, "sign in again to confirm it is you (within the last %d minutes)", int(FreshSignIn/time.Minute))
		}
		return nil
	}
	if password == "" {
		return kinwatch.Errorf(kinwatch.EFORBIDDEN, "password: enter your password again to confirm it is you")
	}
	return s.checkPassword(a, password)
}
