package kinwatch

import (
	"context"
	"slices"
	"time"
)

// Purpose is one thing personal data may be collected or used for. Every purpose is off until
// consent is given for it, and withdrawing it stops collection at once (Store.WriteBatch reads
// the consent in the batch's transaction).
type Purpose string

const (
	// PurposeService is a guardian's verifiable consent to the watch's basic service for the
	// child (status, alarms, commands). No data of a child is collected without it, whatever else
	// was granted.
	PurposeService        Purpose = "service"
	PurposeLocation       Purpose = "location"        // precise location: positions, Wi-Fi and cell reports
	PurposeHealth         Purpose = "health"          // heart rate, blood pressure, SpO₂, temperature
	PurposeContacts       Purpose = "contacts"        // the phone book and contacts
	PurposeCamera         Purpose = "camera"          // photos
	PurposeMicrophone     Purpose = "microphone"      // voice
	PurposePostLocation   Purpose = "post_location"   // showing a location on a community post
	PurposeRecommendation Purpose = "recommendations" // recommendations from (de-identified) usage data
	PurposeMarketing      Purpose = "marketing"
)

// Purposes is a set of purposes (the current consent of one subject).
type Purposes uint32

var purposeBits = [...]Purpose{PurposeService, PurposeLocation, PurposeHealth, PurposeContacts, PurposeCamera, PurposeMicrophone, PurposePostLocation, PurposeRecommendation, PurposeMarketing}

// ChildPurposes are what a guardian can consent to for a child; AccountPurposes what an account
// consents to for itself.
var (
	ChildPurposes   = []Purpose{PurposeService, PurposeLocation, PurposeHealth, PurposeContacts, PurposeCamera, PurposeMicrophone}
	AccountPurposes = []Purpose{PurposeLocation, PurposeContacts, PurposeCamera, PurposeMicrophone, PurposePostLocation, PurposeRecommendation, PurposeMarketing}
)

// Bit returns p's bit; 0 for an unknown purpose.
func (p Purpose) Bit() Purposes {
	for i, q := range purposeBits {
		if q == p {
			return 1 << i
		}
	}
	return 0
}

// Has reports whether every purpose in want is granted.
func (s Purposes) Has(want Purposes) bool { return want != 0 && s&want == want }

// Child reports whether a child's data of purpose p may be collected: p and the basic service
// are both granted.
func (s Purposes) Child(p Purpose) bool { return s.Has(PurposeService.Bit() | p.Bit()) }

// List returns the purposes in s in a fixed order.
func (s Purposes) List() []Purpose {
	out := []Purpose{}
	for i, p := range purposeBits {
		if s&(1<<i) != 0 {
			out = append(out, p)
		}
	}
	return out
}

// Consent methods: how a consent was given or withdrawn.
const (
	ConsentReauthenticated = "reauthenticated" // given after re-entering the password, with the guardian's statement
	ConsentSettings        = "settings"        // given or withdrawn in the settings by a signed-in user
	ConsentSeeded          = "seeded"          // recorded by the operator's tooling (the demo, benchmarks), not by a guardian
)

// Consent is one entry of the consent ledger: a purpose given or withdrawn for a subject, the
// account itself (DeviceID "") or the child wearing DeviceID, under a policy version. The ledger
// is append-only history; the current consent of a subject is kept beside it (Device.Consent,
// Account.Consent) and changed in the same transaction.
type Consent struct {
	ID            string
	AccountID     string // the subject's account; for a child, the family's guardian who acted
	FamilyID      string // the child's family ("" for an account's own consent)
	DeviceID      string // the child's watch ("" for an account's own consent)
	Purpose       Purpose
	Granted       bool
	PolicyVersion string
	Method        string
	Statement     string // the statement the guardian confirmed, verbatim
	Time          time.Time
}

// ConsentStore keeps the consent ledger.
type ConsentStore interface {
	// RecordConsents appends the entries (all for one subject) and applies them to the subject's
	// current consent in one transaction, returning the new current set. For a child the watch
	// must still be bound in the entries' FamilyID (ENOTFOUND otherwise).
	RecordConsents(ctx context.Context, entries []*Consent) (Purposes, error)
	// AccountConsents lists the ledger of an account's own consent, newest first.
	AccountConsents(ctx context.Context, accountID string, p Page) ([]*Consent, error)
	// ChildConsents lists the ledger of the child wearing a watch, newest first.
	ChildConsents(ctx context.Context, deviceID string, p Page) ([]*Consent, error)
}

// Purpose returns what collecting r needs consent for: the data records of a child each need
// their own purpose (besides the basic service); "" for device updates, which keep the registry
// entry (what they say about the child is kept only with the service consent).
func (r *Record) Purpose() Purpose {
	switch {
	case r.Position != nil:
		return PurposeLocation
	case r.Health != nil:
		return PurposeHealth
	case r.Media != nil:
		switch r.Media.Kind {
		case MediaAudio:
			return PurposeMicrophone
		case MediaImage:
			return PurposeCamera
		}
		return PurposeService
	case r.Event != nil:
		return PurposeService
	}
	return ""
}

// Collects reports whether a bound watch whose child has consent c may have r stored.
func (c Purposes) Collects(r *Record) bool {
	switch p := r.Purpose(); p {
	case "":
		return true
	case PurposeService:
		return c.Has(PurposeService.Bit())
	default:
		return c.Child(p)
	}
}

// Bound is what a storage batch reads of a bound watch in its transaction: the family that owns
// its data (and whose key seals it) and the child's current consent.
type Bound struct {
	Owner   string // FamilyOwner(family id)
	Consent Purposes
}

// Keeps reports whether a batch stores r, given the batch's bound watches (a watch missing from
// bound is not bound): device updates always, a child's data only with consent for its purpose.
func Keeps(bound map[string]Bound, r *Record) bool {
	if r.Device != nil {
		return true
	}
	b, ok := bound[r.DeviceID()]
	if ok && r.Media != nil && r.Media.Family != "" && FamilyOwner(r.Media.Family) != b.Owner {
		return false // sealed for the family the watch has left since
	}
	return ok && b.Consent.Collects(r)
}

// CheckConsents validates the entries of one RecordConsents call: at least one, all about one
// subject, each a purpose that subject can consent to, with an id, a method and a time.
func CheckConsents(entries []*Consent) error {
	if len(entries) == 0 {
		return Errorf(EINVALID, "no consent to record")
	}
	first := entries[0]
	for _, c := range entries {
		if c.AccountID != first.AccountID || c.DeviceID != first.DeviceID || c.FamilyID != first.FamilyID {
			return Errorf(EINVALID, "consent entries of one call must be about one subject")
		}
		allowed := AccountPurposes
		if c.DeviceID != "" {
			allowed = ChildPurposes
			if c.FamilyID == "" {
				return Errorf(EINVALID, "a child's consent needs the family")
			}
		}
		if !slices.Contains(allowed, c.Purpose) {
			return Errorf(EINVALID, "%q is not a purpose one can consent to here", c.Purpose)
		}
		if c.ID == "" || c.Method == "" || c.Time.IsZero() || c.AccountID == "" {
			return Errorf(EINVALID, "a consent entry needs an id, an account, a method and a time")
		}
	}
	return nil
}

// Apply returns s with the entries applied in order.
func (s Purposes) Apply(entries []*Consent) Purposes {
	for _, c := range entries {
		if c.Granted {
			s |= c.Purpose.Bit()
		} else {
			s &^= c.Purpose.Bit()
		}
	}
	return s
}
