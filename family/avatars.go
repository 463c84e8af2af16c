package family

import (
	"context"
	"time"

	"kinwatch"
	"kinwatch/picture"
)

// SetChildAvatar stores a new picture for the child's profile (admins and guardians), without the
// metadata its file carried, and deletes the one it replaces. It goes with the watch's other data
// when the watch is unbound; an upload racing the unbinding is not kept.
func (s *Service) SetChildAvatar(ctx context.Context, accountID, deviceID string, data []byte, contentType string) (*kinwatch.ChildProfile, error) {
	acc, err := s.Require(ctx, accountID, deviceID, true)
	if err != nil {
		return nil, err
	}
	if err := s.allow("picture:"+accountID, 30, time.Hour); err != nil {
		return nil, err
	}
	if data, err = picture.Prepare(data, contentType); err != nil {
		return nil, err
	}
	// Under the watch's id, a fresh key each time (its last part is the picture's ETag).
	key := "children/" + deviceID + "/" + kinwatch.NewID()
	if err := kinwatch.PutSealed(ctx, s.Blobs, s.Store.Keys(), kinwatch.FamilyOwner(acc.FamilyID), key, data); err != nil {
		return nil, err
	}
	old, err := s.Store.SetChildAvatar(ctx, acc.FamilyID, deviceID, key)
	if err != nil {
		s.deleteBlob(ctx, key)
		if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
			return nil, kinwatch.Errorf(kinwatch.ENOTFOUND, "no such watch: it was unbound meanwhile")
		}
		return nil, err
	}
	s.deleteBlob(ctx, old)
	return s.ChildProfile(ctx, accountID, deviceID)
}

// DeleteChildAvatar removes the picture of the child's profile (admins and guardians).
func (s *Service) DeleteChildAvatar(ctx context.Context, accountID, deviceID string) error {
	acc, err := s.Require(ctx, accountID, deviceID, true)
	if err != nil {
		return err
	}
	cp, err := s.Store.ChildProfile(ctx, deviceID)
	if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND || err == nil && cp.Avatar == "" {
		return nil
	}
	if err != nil {
		return err
	}
	old, err := s.Store.SetChildAvatar(ctx, acc.FamilyID, deviceID, "")
	if err != nil {
		return err
	}
	s.deleteBlob(ctx, old)
	return nil
}

// ChildAvatar returns the picture of the child's profile, and its key, to anyone in the watch's
// family; ENOTFOUND when there is none.
func (s *Service) ChildAvatar(ctx context.Context, accountID, deviceID string) ([]byte, string, error) {
	acc, err := s.Require(ctx, accountID, deviceID, false)
	if err != nil {
		return nil, "", err
	}
	cp, err := s.ChildProfile(ctx, accountID, deviceID)
	if err != nil {
		return nil, "", err
	}
	return s.picture(ctx, kinwatch.FamilyOwner(acc.FamilyID), cp.Avatar, "the child's profile has no picture")
}

// MemberAvatar returns the profile picture of a member of the family, and its key, to another
// member: the guardians of a child see who else has access, faces included. ENOTFOUND when the
// caller or the account is not a member, or the account has no picture.
func (s *Service) MemberAvatar(ctx context.Context, callerID, familyID, accountID string) ([]byte, string, error) {
	if _, err := s.RequireMember(ctx, callerID, familyID, false); err != nil {
		return nil, "", err
	}
	// The account must be in this family: the caller's membership alone opens no one else's.
	if _, err := s.Store.Member(ctx, familyID, accountID); err != nil {
		if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
			return nil, "", kinwatch.Errorf(kinwatch.ENOTFOUND, "no such member")
		}
		return nil, "", err
	}
	a, err := s.Store.Account(ctx, accountID)
	if err != nil {
		return nil, "", err
	}
	return s.picture(ctx, kinwatch.AccountOwner(accountID), a.Profile.Avatar, "no profile picture")
}

// picture reads a picture sealed with owner's key.
func (s *Service) picture(ctx context.Context, owner, key, none string) ([]byte, string, error) {
	if key == "" {
		return nil, "", kinwatch.Errorf(kinwatch.ENOTFOUND, "%s", none)
	}
	data, err := kinwatch.GetSealed(ctx, s.Blobs, s.Store.Keys(), owner, key)
	return data, key, err
}

// deleteBlob removes a blob nothing refers to any more; a failure is logged with the key (ids
// only), for the operator to clean up, not returned: the change that orphaned it has happened.
func (s *Service) deleteBlob(ctx context.Context, key string) {
	if key == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.Blobs.Delete(ctx, key); err != nil && kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		s.log().Warn("deleting a picture nothing refers to failed", "key", key, "err", err)
	}
}
