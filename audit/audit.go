// Package audit records who read a child's sensitive data (location history, voice, photos,
// health readings, the child's profile): every guardian's read, and every time operator staff
// open it, which needs a stated reason. The family sees the log. A read whose record cannot be
// written is refused: nothing is read unrecorded.
//
// It records and lists; it decides nothing about who may read (family.Service.Require does).
package audit

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"kinwatch"
)

// Access says who may read the log (family.Service).
type Access interface {
	RequireMember(ctx context.Context, accountID, familyID string, admin bool) (*kinwatch.Member, error)
}

// Service records and lists reads.
type Service struct {
	Store   kinwatch.Store
	Members Access
	Now     func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

// Read records that accountID, a member of acc's family, read what (item: a media id or the
// range read). An error means the read must not happen.
func (s *Service) Read(ctx context.Context, acc *kinwatch.WatchAccess, accountID, what, item string) error {
	return s.Store.RecordAccess(ctx, &kinwatch.Access{ID: kinwatch.NewID(), FamilyID: acc.FamilyID, DeviceID: acc.DeviceID,
		AccessorID: accountID, What: what, Item: item, Time: s.now()})
}

// Staff records that operator staff (who: their account id or name) open a watch's data, for
// reason. It returns the watch's family; ENOTFOUND for a watch no family holds.
func (s *Service) Staff(ctx context.Context, deviceID, who, reason, what string) (string, error) {
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) < 10 || len(reason) > 500 {
		return "", kinwatch.Errorf(kinwatch.EINVALID, "reason: say why you open this child's data (10 to 500 characters); the family will see it")
	}
	if strings.TrimSpace(who) == "" {
		return "", kinwatch.Errorf(kinwatch.EINVALID, "who: name the staff member opening the data")
	}
	d, err := s.Store.Device(ctx, deviceID)
	if err != nil {
		return "", err
	}
	if d.FamilyID == "" {
		return "", kinwatch.Errorf(kinwatch.ENOTFOUND, "the watch is not bound: nothing of a child is kept")
	}
	return d.FamilyID, s.Store.RecordAccess(ctx, &kinwatch.Access{ID: kinwatch.NewID(), FamilyID: d.FamilyID, DeviceID: deviceID,
		AccessorID: who, Staff: true, What: what, Reason: reason, Time: s.now()})
}

// FamilyLog lists who read what of the family's children, newest first, to any member.
func (s *Service) FamilyLog(ctx context.Context, accountID, familyID string, p kinwatch.Page) ([]*kinwatch.Access, error) {
	if _, err := s.Members.RequireMember(ctx, accountID, familyID, false); err != nil {
		return nil, err
	}
	return s.Store.AccessLog(ctx, familyID, p)
}
