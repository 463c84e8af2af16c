package kinwatch

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// NoticeKind is what an operator's notice is about.
type NoticeKind string

const (
	// NoticeIncident tells the accounts a security incident affects what happened, what was done
	// and what they can do.
	NoticeIncident NoticeKind = "incident"
	// NoticePolicy announces a new version of the privacy policy.
	NoticePolicy NoticeKind = "policy"
	// NoticeCeaseOperations announces that the server stops and deletes every account at the
	// notice's EffectiveAt.
	NoticeCeaseOperations NoticeKind = "cease_operations"
)

// NoticeKinds are the kinds a notice may have.
var NoticeKinds = []NoticeKind{NoticeIncident, NoticePolicy, NoticeCeaseOperations}

// Notice audiences: every account, or the accounts named when it was made.
const (
	AudienceAll      = "all"
	AudienceAccounts = "accounts"
)

// Limits of a notice's text: a title fits a mail subject, a body a long incident report.
const (
	MaxNoticeTitle = 200
	MaxNoticeBody  = 20000
)

// Notice is an announcement from the operator to users. Who it was addressed to is recorded per
// account (NoticeStore), with when the account was mailed and when it read the notice.
type Notice struct {
	ID          string
	Kind        NoticeKind
	Title       string
	Body        string // plain text; an incident's says what happened, what was done, what you can do
	Audience    string // AudienceAll or AudienceAccounts; CreateNotice sets it
	CreatedAt   time.Time
	CreatedBy   string    // who published it, as the operator wrote it
	EffectiveAt time.Time // zero: none; for NoticeCeaseOperations the day every account is deleted

	// Counted by CreateNotice (Recipients) and Notices (all three).
	Recipients int // accounts it is addressed to
	Emailed    int // of them, mailed (or being mailed)
	Read       int // of them, who marked it read
}

// AccountNotice is a notice as one account received it.
type AccountNotice struct {
	Notice
	EmailedAt time.Time // zero: not mailed (yet, or the account has no email address)
	ReadAt    time.Time // zero: unread
}

// NoticeMail is one recipient whose mail about a notice is still to be sent.
type NoticeMail struct {
	Notice    *Notice
	AccountID string
	Email     string
}

// CheckNotice validates what the operator wrote: a known kind, a one-line title and a body of
// bounded length, and an effective time where the kind needs one.
func CheckNotice(n *Notice) error {
	switch {
	case n.ID == "":
		return Errorf(EINVALID, "notice: an id is required")
	case !slices.Contains(NoticeKinds, n.Kind):
		return Errorf(EINVALID, "notice: kind %q is not one of %v", n.Kind, NoticeKinds)
	case strings.TrimSpace(n.Title) == "":
		return Errorf(EINVALID, "notice: a title is required")
	case strings.ContainsAny(n.Title, "\r\n"):
		return Errorf(EINVALID, "notice: the title must be one line (it is the mail's subject)")
	case utf8.RuneCountInString(n.Title) > MaxNoticeTitle:
		return Errorf(EINVALID, "notice: the title is longer than %d characters", MaxNoticeTitle)
	case strings.TrimSpace(n.Body) == "":
		return Errorf(EINVALID, "notice: a body is required")
	case utf8.RuneCountInString(n.Body) > MaxNoticeBody:
		return Errorf(EINVALID, "notice: the body is longer than %d characters", MaxNoticeBody)
	case !utf8.ValidString(n.Title) || !utf8.ValidString(n.Body) || !utf8.ValidString(n.CreatedBy):
		return Errorf(EINVALID, "notice: the text is not valid UTF-8")
	case n.CreatedAt.IsZero():
		return Errorf(EINVALID, "notice: a creation time is required")
	case n.Kind == NoticeCeaseOperations && !n.EffectiveAt.After(n.CreatedAt):
		return Errorf(EINVALID, "notice: ceasing operations needs a date after the notice")
	}
	return nil
}

// AddressNotice validates n for CreateNotice and sets its audience from accountIDs (nil: every
// account). It returns the accounts named, sorted and without repeats, or nil for everyone.
func AddressNotice(n *Notice, accountIDs []string) ([]string, error) {
	n.Audience = AudienceAll
	var ids []string
	if accountIDs != nil {
		if len(accountIDs) == 0 {
			return nil, Errorf(EINVALID, "notice: name at least one account, or address it to everyone")
		}
		n.Audience = AudienceAccounts
		ids = slices.Clone(accountIDs)
		slices.Sort(ids)
		ids = slices.Compact(ids)
		if ids[0] == "" {
			return nil, Errorf(EINVALID, "notice: an empty account id")
		}
	}
	return ids, CheckNotice(n)
}

// NoticeStore keeps the operator's notices and who received them.
type NoticeStore interface {
	// CreateNotice stores n and addresses it, in one transaction, to accountIDs, or to every
	// account when accountIDs is nil (n.Audience is set accordingly, and n.Recipients counted).
	// An empty non-nil list is EINVALID; an id that names no account is ENOTFOUND and nothing is
	// stored.
	CreateNotice(ctx context.Context, n *Notice, accountIDs []string) error
	// Notices lists notices with their counts, newest first, for operators.
	Notices(ctx context.Context, limit int) ([]*Notice, error)
	// AccountNotices lists the notices addressed to the account, newest first, with its read
	// and mailed state.
	AccountNotices(ctx context.Context, accountID string, limit int) ([]*AccountNotice, error)
	// MarkNoticeRead records that the account read the notice; the first time counts, again is
	// a no-op. ENOTFOUND when the notice is not addressed to the account.
	MarkNoticeRead(ctx context.Context, accountID, noticeID string, at time.Time) error
	// NoticesToEmail lists recipients with an email address not yet mailed, oldest notice first.
	NoticesToEmail(ctx context.Context, limit int) ([]*NoticeMail, error)
	// MarkNoticeEmailed records at as when the recipient was mailed. A sender claims a recipient
	// this way before sending, so that two processes never mail it twice: ECONFLICT when it is
	// marked already. A zero at clears the mark (the send failed; the next run retries).
	// ENOTFOUND when the notice is not addressed to the account.
	MarkNoticeEmailed(ctx context.Context, noticeID, accountID string, at time.Time) error
}
