package kinwatch

import (
	"context"
	"time"
)

// What a recorded access read.
const (
	AccessLocationHistory = "location_history"
	AccessVoice           = "voice"
	AccessPhoto           = "photo"
	AccessHealth          = "health"
	AccessChildProfile    = "child_profile" // the child's name, school, phone number …
	AccessExport          = "export"        // everything of the child, in a data export
)

// Access is one read of a child's sensitive data, by a guardian or by operator staff.
type Access struct {
	ID         string
	FamilyID   string
	DeviceID   string
	AccessorID string // the account that read it; for staff without an account, the name they gave
	Staff      bool   // operator staff, not a member of the family
	What       string
	Item       string // the media id, or the time range read
	Reason     string // why staff opened it (required for staff)
	Time       time.Time
}

// AccessStore keeps the access log.
type AccessStore interface {
	RecordAccess(ctx context.Context, a *Access) error
	// AccessLog lists a family's accesses, newest first.
	AccessLog(ctx context.Context, familyID string, p Page) ([]*Access, error)
}
