package kinwatch

import (
	"context"
	"time"
)

// Account is a guardian's (or an operator's) sign-in identity and profile. Email and Phone are the
// sign-up identifiers: each is unique, and changing one goes through verification, never a plain
// profile update.
type Account struct {
	ID              string
	Email           string // lower-case; "" when the account signed up with a phone number
	Phone           string // E.164 (+4915112345678); "" when not given
	EmailVerifiedAt time.Time
	PasswordHash    string // a PHC string ($argon2id$…); "" for accounts that sign in only through OIDC
	Profile         Profile
	Preferences     Preferences
	Operator        bool // may use the operator's API and console
	Disabled        bool
	PolicyVersion   string // the privacy policy version the guardian accepted last
	PolicyAccepted  time.Time
	FailedLogins    int       // consecutive failed sign-ins; reset by a successful one
	LastFailedLogin time.Time // when the last of FailedLogins happened
	CreatedAt       time.Time
	UpdatedAt       time.Time
	// Consent is what the account consented to for its own data (ConsentStore).
	Consent Purposes
}

// Profile is what a guardian tells others about themselves.
type Profile struct {
	Nickname string
	Avatar   string // blob key of the uploaded picture, "" for none
	Gender   string // "", "female", "male", "other"
	Birthday string // YYYY-MM-DD or ""
	Region   string // ISO 3166-1 alpha-2 or ""
	Bio      string
}

// Preferences shape how clients present data to the guardian.
type Preferences struct {
	Language string // BCP 47 tag, e.g. "en", "de-AT"
	Units    string // "metric" or "imperial"
	TimeZone string // IANA name, e.g. "Europe/Berlin"
	MapStyle string // "standard", "satellite", "dark"
}

// Cancellation is what cancelling an account did.
type Cancellation struct {
	BlobKeys  []string          // content of deleted media and pictures, to remove from the blob store
	Unbound   []string          // watches unbound with all their data (nobody else was left in the family)
	Deleted   []string          // families deleted
	Left      []string          // families the account left, which go on
	Handovers map[string]string // family → the member who became its admin
}

// AccountFilter selects accounts for operators, ordered by ID.
type AccountFilter struct {
	Query string // substring of email, phone or nickname
	After string // cursor: accounts with ID greater than this
	Limit int
}

// Session is one signed-in client. The secret token is never stored, only its SHA-256.
type Session struct {
	ID         string // public: lists and revocation use it
	AccountID  string
	TokenHash  []byte
	Kind       string // "cookie" (browsers, with CSRF protection) or "bearer" (apps, scripts)
	UserAgent  string
	IP         string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
}

// Session kinds.
const (
	SessionCookie = "cookie"
	SessionBearer = "bearer"
)

// Token purposes: single-use secrets mailed to the guardian.
const (
	TokenVerifyEmail   = "verify_email"
	TokenResetPassword = "reset_password"
	TokenChangeEmail   = "change_email" // Data holds the new address
)

// Token is a single-use secret sent by mail; only its SHA-256 is stored.
type Token struct {
	Hash      []byte
	AccountID string
	Purpose   string
	Data      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Identity links an account to a subject at an external OpenID Connect provider.
type Identity struct {
	Provider  string // the configured provider's name
	Subject   string // the provider's "sub" claim
	AccountID string
	Email     string // as the provider reported it when linked
	CreatedAt time.Time
}

// AccountStore keeps accounts, sessions, mailed tokens and external identities.
type AccountStore interface {
	// CreateAccount stores a; ECONFLICT when the email or phone is taken.
	CreateAccount(ctx context.Context, a *Account) error
	Account(ctx context.Context, id string) (*Account, error)
	// AccountByLogin finds an account by email (case-insensitively) or phone.
	AccountByLogin(ctx context.Context, login string) (*Account, error)
	// UpdateAccount writes every field of a except ID, CreatedAt, FailedLogins, LastFailedLogin
	// and Profile.Avatar (SetAccountAvatar); ECONFLICT when a new email or phone is taken.
	UpdateAccount(ctx context.Context, a *Account) error
	// SetAccountAvatar swaps the profile picture's key ("" removes it) and returns the key it
	// replaced, read in the same transaction.
	SetAccountAvatar(ctx context.Context, accountID, key string) (old string, err error)
	Accounts(ctx context.Context, f AccountFilter) ([]*Account, error)
	// LoginFailed counts a failed sign-in atomically and returns the new count.
	LoginFailed(ctx context.Context, id string, at time.Time) (int, error)
	// LoginSucceeded resets the failure count.
	LoginSucceeded(ctx context.Context, id string) error
	// DeleteAccount removes the account with its sessions, tokens, identities and memberships.
	DeleteAccount(ctx context.Context, id string) error
	// CancelAccount deletes the account and everything that is only its, in one transaction: a
	// family it shares hands the admin role to the member who joined first and keeps its
	// children's data, minus the commands the account sent; a family it was alone in is deleted
	// with its watches' data, the watches unbound and the family's keys shredded; the account's
	// own keys are shredded. The caller deletes the returned blob keys.
	CancelAccount(ctx context.Context, id string) (*Cancellation, error)

	CreateSession(ctx context.Context, s *Session) error
	// SessionByToken finds a session by the SHA-256 of its token, expired or not.
	SessionByToken(ctx context.Context, hash []byte) (*Session, error)
	// SessionAccount is SessionByToken with the session's account, in one query (every
	// authenticated request asks).
	SessionAccount(ctx context.Context, hash []byte) (*Session, *Account, error)
	// TouchSession records a use of the session.
	TouchSession(ctx context.Context, id string, at time.Time, ip string) error
	// Sessions lists an account's sessions, most recently used first.
	Sessions(ctx context.Context, accountID string) ([]*Session, error)
	// DeleteSession revokes one of the account's sessions; ENOTFOUND if it has no such session.
	DeleteSession(ctx context.Context, accountID, id string) error
	// DeleteSessions revokes all of the account's sessions except keepID and returns how many.
	DeleteSessions(ctx context.Context, accountID, keepID string) (int, error)
	// DeleteExpired removes sessions and tokens that expired before now.
	DeleteExpired(ctx context.Context, now time.Time) error

	CreateToken(ctx context.Context, t *Token) error
	// ConsumeToken deletes and returns the unexpired token with this hash and purpose; ENOTFOUND if
	// there is none. A token can be consumed once.
	ConsumeToken(ctx context.Context, hash []byte, purpose string, now time.Time) (*Token, error)
	// DeleteTokens removes an account's tokens of one purpose (an older reset link dies with a newer).
	DeleteTokens(ctx context.Context, accountID, purpose string) error

	// CreateIdentity links an identity; ECONFLICT if the provider subject or the account's link to
	// that provider already exists.
	CreateIdentity(ctx context.Context, id *Identity) error
	Identity(ctx context.Context, provider, subject string) (*Identity, error)
	Identities(ctx context.Context, accountID string) ([]*Identity, error)
	DeleteIdentity(ctx context.Context, accountID, provider string) error
}
