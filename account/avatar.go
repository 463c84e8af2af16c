package account

import (
	"context"
	"time"

	"kinwatch"
	"kinwatch/picture"
)

// SetAvatar stores a new profile picture for the account (a PNG or JPEG image, checked by package
// picture and stored without the metadata its file carried) and deletes the one it replaces.
func (s *Service) SetAvatar(ctx context.Context, accountID string, data []byte, contentType string) (*kinwatch.Account, error) {
	if s.Blobs == nil {
		return nil, kinwatch.Errorf(kinwatch.EUNAVAILABLE, "pictures cannot be stored on this server")
	}
	if err := s.limits.Allow("picture:"+accountID, 30, time.Hour); err != nil {
		return nil, err
	}
	data, err := picture.Prepare(data, contentType)
	if err != nil {
		return nil, err
	}
	// A fresh key for each picture (its last part is the picture's ETag), under the account's id.
	key := "avatars/" + accountID + "/" + kinwatch.NewID()
	// Sealed with the account's own key: cancelling the account shreds it, backups included.
	if err := s.Store.EnsureKey(ctx, kinwatch.AccountOwner(accountID)); err != nil {
		return nil, err
	}
	if err := kinwatch.PutSealed(ctx, s.Blobs, s.Store.Keys(), kinwatch.AccountOwner(accountID), key, data); err != nil {
		return nil, err
	}
	old, err := s.Store.SetAccountAvatar(ctx, accountID, key)
	if err != nil {
		s.deleteBlob(ctx, key)
		return nil, err
	}
	s.deleteBlob(ctx, old)
	return s.Store.Account(ctx, accountID)
}

// DeleteAvatar removes the account's profile picture; without one it is a no-op.
func (s *Service) DeleteAvatar(ctx context.Context, accountID string) error {
	old, err := s.Store.SetAccountAvatar(ctx, accountID, "")
	if err != nil {
		return err
	}
	s.deleteBlob(ctx, old)
	return nil
}

// Avatar returns the account's profile picture and its key; ENOTFOUND when it has none.
func (s *Service) Avatar(ctx context.Context, accountID string) ([]byte, string, error) {
	a, err := s.Store.Account(ctx, accountID)
	if err != nil {
		return nil, "", err
	}
	if a.Profile.Avatar == "" || s.Blobs == nil {
		return nil, "", kinwatch.Errorf(kinwatch.ENOTFOUND, "no profile picture")
	}
	data, err := kinwatch.GetSealed(ctx, s.Blobs, s.Store.Keys(), kinwatch.AccountOwner(accountID), a.Profile.Avatar)
	return data, a.Profile.Avatar, err
}

// deleteBlob removes a blob nothing refers to any more; a failure is logged with the key (ids
// only), for the operator to clean up, not returned: the change that orphaned it has happened.
func (s *Service) deleteBlob(ctx context.Context, key string) {
	if key == "" || s.Blobs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.Blobs.Delete(ctx, key); err != nil && kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		s.Log.Warn("deleting a picture nothing refers to failed", "key", key, "err", err)
	}
}
