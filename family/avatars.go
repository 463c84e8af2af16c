package family

import (
	"context"

	"kinwatch"
	"kinwatch/picture"
)

// SetChildAvatar stores a new picture for the child's profile (admins and guardians) and removes
// the one it replaces. It is deleted with the watch's other data when the watch is unbound.
func (s *Service) SetChildAvatar(ctx context.Context, accountID, deviceID string, data []byte, contentType string) (*kinwatch.ChildProfile, error) {
	cp, err := s.ChildProfile(ctx, accountID, deviceID)
	if err != nil {
		return nil, err
	}
	if _, err := s.Require(ctx, accountID, deviceID, true); err != nil {
		return nil, err
	}
	if _, err := picture.Check(data, contentType); err != nil {
		return nil, err
	}
	// Under the watch's id: what is the watch's can be found by it.
	key := "children/" + deviceID + "/" + kinwatch.NewID()
	if err := s.Blobs.Put(ctx, key, data); err != nil {
		return nil, err
	}
	old := cp.Avatar
	cp.Avatar, cp.UpdatedAt = key, s.now()
	if err := s.Store.PutChildProfile(ctx, cp); err != nil {
		s.deleteBlob(ctx, key)
		return nil, err
	}
	s.deleteBlob(ctx, old)
	return cp, nil
}

// DeleteChildAvatar removes the picture of the child's profile (admins and guardians).
func (s *Service) DeleteChildAvatar(ctx context.Context, accountID, deviceID string) (*kinwatch.ChildProfile, error) {
	cp, err := s.ChildProfile(ctx, accountID, deviceID)
	if err != nil {
		return nil, err
	}
	if _, err := s.Require(ctx, accountID, deviceID, true); err != nil {
		return nil, err
	}
	if cp.Avatar == "" {
		return cp, nil
	}
	old := cp.Avatar
	cp.Avatar, cp.UpdatedAt = "", s.now()
	if err := s.Store.PutChildProfile(ctx, cp); err != nil {
		return nil, err
	}
	s.deleteBlob(ctx, old)
	return cp, nil
}

// ChildAvatar returns the picture of the child's profile to anyone in the watch's family;
// ENOTFOUND when there is none.
func (s *Service) ChildAvatar(ctx context.Context, accountID, deviceID string) ([]byte, error) {
	cp, err := s.ChildProfile(ctx, accountID, deviceID)
	if err != nil {
		return nil, err
	}
	if cp.Avatar == "" {
		return nil, kinwatch.Errorf(kinwatch.ENOTFOUND, "the child's profile has no picture")
	}
	return s.Blobs.Get(ctx, cp.Avatar)
}

// MemberAvatar returns the profile picture of a member of the family to another member: the
// guardians of a child see who else has access, faces included. ENOTFOUND when the caller or the
// account is not a member, or the account has no picture.
func (s *Service) MemberAvatar(ctx context.Context, callerID, familyID, accountID string) ([]byte, error) {
	if _, err := s.RequireMember(ctx, callerID, familyID, false); err != nil {
		return nil, err
	}
	if _, err := s.Store.Member(ctx, familyID, accountID); err != nil {
		return nil, err
	}
	a, err := s.Store.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if a.Profile.Avatar == "" {
		return nil, kinwatch.Errorf(kinwatch.ENOTFOUND, "no profile picture")
	}
	return s.Blobs.Get(ctx, a.Profile.Avatar)
}

// deleteBlob removes a blob nothing refers to any more; a failure is logged, not returned: the
// change that orphaned it has happened.
func (s *Service) deleteBlob(ctx context.Context, key string) {
	if key == "" {
		return
	}
	if err := s.Blobs.Delete(ctx, key); err != nil && kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		s.log().Warn("deleting a replaced picture failed", "err", err)
	}
}
