// Package account owns guardians' accounts: sign-up with the privacy policy's acceptance, email
// verification, passwords (argon2id), sessions for browsers and apps, password reset, profiles and
// preferences, and sign-in through external OpenID Connect providers. It talks to the store and the
// mailer only; HTTP belongs to httpapi.
//
// Responses never reveal whether an account exists: sign-up, sign-in, reset and verification
// answer the same for a known and an unknown address, and take comparable time.
package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"log/slog"
	"net/mail"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"kinwatch"
	kwmail "kinwatch/mail"
	"kinwatch/ratelimit"
)

// Mailer sends mail (kinwatch/mail implements it).
type Mailer interface {
	Send(ctx context.Context, m kwmail.Message) error
}

// SessionEnder closes what stays open for a session after sign-in (the live stream's connections)
// when the session ends; the hub of kinwatch/stream implements it.
type SessionEnder interface {
	// EndSession ends one session's connections.
	EndSession(accountID, sessionID string)
	// EndSessions ends the connections of all the account's sessions but keep ("" ends all).
	EndSessions(accountID, keep string)
}

// Policy is the privacy policy in force; sign-up must accept exactly this version.
type Policy struct {
	// MinAge is the youngest age at which one may create an account (MinAgeFor the region served,
	// unless the operator sets it); a child's watch is set up by a parent or guardian.
	MinAge  int
	Version string
	URL     string // where it is published
	Text    string // its text (Markdown), served at GET /api/v1/policy and /privacy-policy
}

// DefaultPolicyText is the policy served until the operator configures their own: what the
// software does, in the shape of the policy it replaces, with a placeholder for the operator.
//
//go:embed policy.md
var DefaultPolicyText string

// Service is the account logic.
type Service struct {
	Store     kinwatch.Store
	Blobs     kinwatch.BlobStore // profile pictures
	Mailer    Mailer
	Passwords *PasswordChecker
	Argon2    Argon2Params
	Policy    Policy
	// BaseURL is where guardians reach the web app; mailed links point there.
	BaseURL    string
	SessionTTL time.Duration // how long a session lives after sign-in (default 30 days)
	// Live learns of sessions ending, so open streams end with them; nil when nothing is open.
	Live SessionEnder
	Log  *slog.Logger
	Now  func() time.Time

	limits *ratelimit.Limiter
	mails  sync.WaitGroup
	// dummyHash is verified against when the login names no account, so that takes as long as a
	// wrong password does.
	dummyHash string
}

// Init prepares the service; call it once before use.
func (s *Service) Init() error {
	if s.Argon2 == (Argon2Params{}) {
		s.Argon2 = DefaultArgon2
	}
	if s.SessionTTL == 0 {
		s.SessionTTL = 30 * 24 * time.Hour
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	s.limits = ratelimit.New(s.Now)
	var err error
	s.dummyHash, err = HashPassword("kinwatch dummy password", s.Argon2)
	return err
}

// ended tells Live that sessions of the account ended: sessionID alone, or all but keep when
// sessionID is "".
func (s *Service) ended(accountID, sessionID, keep string) {
	switch {
	case s.Live == nil:
	case sessionID != "":
		s.Live.EndSession(accountID, sessionID)
	default:
		s.Live.EndSessions(accountID, keep)
	}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// Client describes where a request comes from, for sessions and rate limits.
type Client struct {
	IP        string
	UserAgent string
}

// Network is what per-address rate limits count against (see network).
func (c Client) Network() string { return c.network() }

// network is what per-address rate limits count against: the IPv4 address, or the /64 an IPv6
// address is in (one subscriber usually holds a whole /64, so counting single addresses would
// give them billions of tries).
func (c Client) network() string {
	a, err := netip.ParseAddr(c.IP)
	if err != nil || a.Unmap().Is4() {
		return c.IP
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// newSecret returns a random URL-safe secret of 256 bits and its SHA-256 (what the store keeps).
func newSecret() (string, []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	secret := base64.RawURLEncoding.EncodeToString(b)
	return secret, hashSecret(secret)
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

var phonePattern = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// NormalizeEmail lower-cases and checks an email address; "" stays "".
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 || !strings.Contains(s[strings.LastIndexByte(s, '@'):], ".") {
		return "", kinwatch.Errorf(kinwatch.EINVALID, "email: %q is not an email address like name@example.com", truncate(s, 80))
	}
	return strings.ToLower(s), nil
}

// NormalizePhone checks an E.164 number after removing spaces, dashes and parentheses.
func NormalizePhone(s string) (string, error) {
	s = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "", ".", "").Replace(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	if !phonePattern.MatchString(s) {
		return "", kinwatch.Errorf(kinwatch.EINVALID, "phone: use the international format with country code, e.g. +4915112345678")
	}
	return s, nil
}

// normalizeLogin turns what a guardian typed into the stored form of an email or phone.
func normalizeLogin(login string) string {
	login = strings.TrimSpace(login)
	if strings.Contains(login, "@") {
		return strings.ToLower(login)
	}
	if p, err := NormalizePhone(login); err == nil {
		return p
	}
	return login
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (s *Service) send(ctx context.Context, to, subject, text string) {
	if s.Mailer == nil || to == "" {
		return
	}
	// Mail goes out in the background: waiting for SMTP would make responses for existing accounts
	// slower than for unknown ones, and a slow relay must not hold requests.
	s.mails.Add(1)
	go func() {
		defer s.mails.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := s.Mailer.Send(ctx, kwmail.Message{To: to, Subject: subject, Text: text}); err != nil {
			// SMTP replies often quote the recipient ("550 <anna@…>: no such user"): not for logs.
			s.Log.Warn("sending mail failed", "subject", subject, "err", RedactAddresses(err.Error()))
		}
	}()
}

var mailAddress = regexp.MustCompile(`[^\s<>"'(),;:\[\]]+@[^\s<>"'(),;:\[\]]+`)

// RedactAddresses replaces what looks like an email address in s, for logs.
func RedactAddresses(s string) string { return mailAddress.ReplaceAllString(s, "<address>") }

// maskAddress shows enough of an address for its owner to recognise it: a***@example.org.
func maskAddress(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" {
		return "***"
	}
	r, _ := utf8.DecodeRuneInString(local)
	return string(r) + "***@" + domain
}

// Close waits for mail being sent.
func (s *Service) Close() { s.mails.Wait() }

func (s *Service) link(path, token string) string {
	return strings.TrimRight(s.BaseURL, "/") + path + "?token=" + token
}

// minAges are the ages of digital consent by region (ISO 3166-1 alpha-2, or "eu"): GDPR Art. 8 as
// each member state set it, COPPA in the US, PIPL in China, the UK's. Self-registration below
// them would need a parent's consent, which kinwatch takes for children's watches only.
var minAges = map[string]int{
	"at": 14, "be": 13, "bg": 14, "hr": 16, "cy": 14, "cz": 15, "dk": 13, "ee": 13, "fi": 13, "fr": 15,
	"de": 16, "gr": 15, "hu": 16, "ie": 16, "it": 14, "lv": 13, "lt": 14, "lu": 16, "mt": 13, "nl": 16,
	"pl": 16, "pt": 13, "ro": 16, "sk": 16, "si": 15, "es": 14, "se": 13, "eu": 16,
	"us": 13, "gb": 13, "uk": 13, "cn": 14, "kr": 14,
}

// DefaultMinAge is the age used for a region not in the table: the highest the GDPR allows.
const DefaultMinAge = 16

// MinAgeFor returns the youngest age at which one may create an account in region.
func MinAgeFor(region string) int {
	if n, ok := minAges[strings.ToLower(strings.TrimSpace(region))]; ok {
		return n
	}
	return DefaultMinAge
}

// Acceptance is what a new account accepts: the policy version it was shown, and that its owner
// is at least Policy.MinAge years old.
type Acceptance struct {
	Policy       string
	AgeConfirmed bool
}

// check refuses an acceptance of another policy version or without the age confirmation.
func (s *Service) checkAcceptance(a Acceptance, what string) error {
	if a.Policy != s.Policy.Version {
		return invalid("accept_policy: %saccept the current privacy policy (version %q) to sign up", what, s.Policy.Version)
	}
	if s.Policy.MinAge > 0 && !a.AgeConfirmed {
		return invalid("age_confirmed: Kinwatch accounts are for parents and guardians aged %d or older; confirm your age to sign up (a child's watch is set up by a parent or guardian)", s.Policy.MinAge)
	}
	return nil
}
