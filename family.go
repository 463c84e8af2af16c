package kinwatch

import (
	"context"
	"time"
)

// Role is what a guardian may do in a family.
type Role string

const (
	RoleAdmin    Role = "admin"    // everything, including guardians, binding and unbinding; one per family
	RoleGuardian Role = "guardian" // sees the watches and controls them
	RoleViewer   Role = "viewer"   // sees the watches, changes nothing
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleGuardian || r == RoleViewer }

// CanControl reports whether the role may send commands and change a watch's settings.
func (r Role) CanControl() bool { return r == RoleAdmin || r == RoleGuardian }

// Family is the group of guardians responsible for one or more children's watches. It owns the
// watches' personal data.
type Family struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// Member is a guardian's place in a family.
type Member struct {
	FamilyID  string
	AccountID string
	Role      Role
	Relation  string // how the guardian relates to the child ("mother", "grandpa"), free text
	JoinedAt  time.Time
	Nickname  string // the account's nickname, filled in by reads
	HasAvatar bool   // whether the account has a profile picture, filled in by reads
}

// Membership is one of an account's families with its role there.
type Membership struct {
	Family *Family
	Role   Role
}

// Invitation lets whoever holds its code join a family with Role. Only the code's SHA-256 is stored.
type Invitation struct {
	ID        string
	FamilyID  string
	CodeHash  []byte
	Role      Role
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsesLeft  int
}

// JoinRequest is an account asking the family's admin to be let in (for example after scanning
// the QR code of a watch that is already bound).
type JoinRequest struct {
	ID        string
	FamilyID  string
	AccountID string
	DeviceID  string // the watch whose code was used, "" for none
	Note      string // what the requester wrote to the admin
	CreatedAt time.Time
	Nickname  string // the requester's nickname, filled in by reads
}

// BindChallenge is a pending proof of possession: the code shown on the watch's screen, hashed.
type BindChallenge struct {
	ID        string
	DeviceID  string
	AccountID string
	FamilyID  string // bind into this existing family; "" creates a new family
	CodeHash  []byte
	Attempts  int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Binding makes a pending watch part of a family in one transaction.
type Binding struct {
	DeviceID    string
	FamilyID    string
	NewFamily   *Family // created with Admin as its first member when non-nil (ID == FamilyID)
	Admin       *Member
	ChallengeID string // consumed in the same transaction
	// By is the account binding the watch into an existing family: it must be that family's admin
	// when the binding commits, or Bind fails with EFORBIDDEN (an admin transfer cannot slip in
	// between a check and the binding). "" skips the check.
	By string
	At time.Time
}

// ChildProfile describes the child wearing a watch ("device user information").
type ChildProfile struct {
	DeviceID  string
	Name      string
	Avatar    string // blob key, "" for none
	Birthday  string // YYYY-MM-DD or ""
	Gender    string
	HeightCM  int     // 0: not given
	WeightKG  float64 // 0: not given
	School    string
	Grade     string
	Phone     string // the watch's own number (E.164), used to call it
	UpdatedAt time.Time
}

// WatchAccess is what an account may do with one watch.
type WatchAccess struct {
	DeviceID string
	FamilyID string
	Role     Role
	BoundAt  time.Time // when the watch was bound into the family: what came before was another's
}

// FamilyStore keeps families, their guardians and watches.
type FamilyStore interface {
	Family(ctx context.Context, id string) (*Family, error)
	UpdateFamily(ctx context.Context, f *Family) error
	// Families lists the account's families, oldest membership first.
	Families(ctx context.Context, accountID string) ([]*Membership, error)

	// Member returns the account's membership; ENOTFOUND when it is not a member.
	Member(ctx context.Context, familyID, accountID string) (*Member, error)
	Members(ctx context.Context, familyID string) ([]*Member, error)
	// AddMember adds m; ECONFLICT when already a member.
	AddMember(ctx context.Context, m *Member) error
	// UpdateMember changes a member's role and relation; making someone admin goes through
	// TransferAdmin.
	UpdateMember(ctx context.Context, m *Member) error
	RemoveMember(ctx context.Context, familyID, accountID string) error
	// TransferAdmin makes to the admin and from a guardian in one transaction.
	TransferAdmin(ctx context.Context, familyID, from, to string) error

	CreateInvitation(ctx context.Context, inv *Invitation) error
	Invitations(ctx context.Context, familyID string) ([]*Invitation, error)
	// AcceptInvitation uses one of the invitation's uses and adds m in one transaction;
	// ENOTFOUND when the code is unknown, used up or expired; ECONFLICT when already a member.
	AcceptInvitation(ctx context.Context, codeHash []byte, m *Member, now time.Time) (*Invitation, error)
	DeleteInvitation(ctx context.Context, familyID, id string) error

	// CreateJoinRequest stores r; ECONFLICT when the account already asked this family.
	CreateJoinRequest(ctx context.Context, r *JoinRequest) error
	JoinRequests(ctx context.Context, familyID string) ([]*JoinRequest, error)
	JoinRequest(ctx context.Context, familyID, id string) (*JoinRequest, error)
	// ApproveJoinRequest adds the requester as m.Role and deletes the request in one transaction.
	ApproveJoinRequest(ctx context.Context, familyID, id string, role Role, at time.Time) (*Member, error)
	DeleteJoinRequest(ctx context.Context, familyID, id string) error

	CreateBindChallenge(ctx context.Context, c *BindChallenge) error
	// BindChallenge returns the account's challenge; ENOTFOUND for anyone else's.
	BindChallenge(ctx context.Context, accountID, id string) (*BindChallenge, error)
	// TakeBindAttempt atomically counts one attempt on the challenge if fewer than max were counted
	// and returns the attempts so far (1 to max), so concurrent guesses cannot together try more
	// than max codes. ENOTFOUND when the challenge does not exist, EFORBIDDEN when its max
	// attempts are taken already.
	TakeBindAttempt(ctx context.Context, id string, max int) (int, error)
	DeleteBindChallenge(ctx context.Context, id string) error
	// Bind binds a pending watch; ECONFLICT when it is no longer pending (bound meanwhile) or the
	// challenge is gone.
	Bind(ctx context.Context, b *Binding) error
	// Unbind returns a watch to pending and deletes everything stored about it (positions, events,
	// health readings, media rows, commands, child profile, bind challenges, the join requests made
	// with its code) and resets what it reported about the child's use (battery and signal to -1,
	// steps to 0, ICCID to ""); the registry entry otherwise stays (manufacturer, framing, firmware,
	// first and last seen, online). It returns the blob keys of the deleted media and of the child's
	// picture, which the caller removes from the blob store. A family left without watches stays. Data records of the watch
	// that a batch writes after the Unbind are not stored (see Store.WriteBatch).
	Unbind(ctx context.Context, deviceID string) (blobKeys []string, err error)

	// WatchAccess returns the account's access to a bound watch; ENOTFOUND when it has none, so
	// another family's watch and a missing watch look the same.
	WatchAccess(ctx context.Context, accountID, deviceID string) (*WatchAccess, error)
	// Watches lists the watches of every family the account belongs to, ordered by device ID.
	Watches(ctx context.Context, accountID string) ([]*WatchAccess, error)
	// FamilyWatches lists a family's watches, ordered by device ID.
	FamilyWatches(ctx context.Context, familyID string) ([]string, error)
	// AccountsWithAccess lists the accounts that can see a watch (the stream's fan-out).
	AccountsWithAccess(ctx context.Context, deviceID string) ([]string, error)

	ChildProfile(ctx context.Context, deviceID string) (*ChildProfile, error)
	// PutChildProfile writes the profile of a watch of familyID, all but its picture; ENOTFOUND
	// when the watch is not in that family (any more).
	PutChildProfile(ctx context.Context, familyID string, p *ChildProfile) error
	// SetChildAvatar swaps the picture key of the child's profile (creating the profile if
	// needed) and returns the key it replaced; ENOTFOUND when the watch is not in familyID.
	SetChildAvatar(ctx context.Context, familyID, deviceID, key string) (old string, err error)
}
