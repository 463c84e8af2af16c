package account

import (
	"context"

	"kinwatch"
	"kinwatch/picture"
)

// SetAvatar stores a new profile picture for the account (a PNG or JPEG image, checked by
// package picture) and removes the one it replaces.
func (s *Service) SetAvatar(ctx context.Context, accountID string, data []byte, contentType string) (*kinwatch.Account, error) {
	if _, err := picture.Check(data, contentType); err != nil {
		return nil, err
	}
	a, err := s.Store.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if s.Blobs == nil {
		return nil, kinwatch.Errorf(kinwatch.EUNAVAILABLE, "pictures cannot be stored on this server")
	}
	// A fresh key for each picture: a cached old one is never served under the new one's name,
	// and the account's id in the key lets deletion find what is the account's.
	key := "avatars/" + accountID + "/" + kinwatch.NewID()
	if err := s.Blobs.Put(ctx, key, data); err != nil {
		return nil, err
	}
	old := a.Profile.Avatar
	a.Profile.Avatar, a.UpdatedAt = key, s.now()
	if err := s.Store.UpdateAccount(ctx, a); err != nil {
		s.deleteBlob(ctx, key)
		return nil, err
	}
	s.deleteBlob(ctx, old)
	return a, nil
}

// DeleteAvatar removes the account's profile picture; without one it is a no-op.
func (s *Service) DeleteAvatar(ctx context.Context, accountID string) (*kinwatch.Account, error) {
	a, err := s.Store.Account(ctx, accountID)
	if err != nil || a.Profile.Avatar == "" {
		return a, err
	}
	old := a.Profile.Avatar
	a.Profile.Avatar, a.UpdatedAt = "", s.now()
	if err := s.Store.UpdateAccount(ctx, a); err != nil {
		return nil, err
	}
	s.deleteBlob(ctx, old)
	return a, nil
}

// Avatar returns the account's profile picture; ENOTFOUND when it has none.
func (s *Service) Avatar(ctx context.Context, accountID string) ([]byte, error) {
	a, err := s.Store.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if a.Profile.Avatar == "" || s.Blobs == nil {
		return nil, kinwatch.Errorf(kinwatch.ENOTFOUND, "no profile picture")
	}
	return s.Blobs.Get(ctx, a.Profile.Avatar)
}

// deleteBlob removes a blob that nothing refers to any more; a failure is logged, not returned:
// the change that orphaned it has happened.
func (s *Service) deleteBlob(ctx context.Context, key string) {
	if key == "" || s.Blobs == nil {
		return
	}
	if err := s.Blobs.Delete(ctx, key); err != nil && kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		s.Log.Warn("deleting a replaced picture failed", "err", err)
	}
}
