package rights

import (
	"context"

	"kinwatch"
)

// WatchAccess answers what an account may do with a watch (family.Service).
type WatchAccess interface {
	Require(ctx context.Context, accountID, deviceID string, control bool) (*kinwatch.WatchAccess, error)
}

// DeleteRecords deletes a watch's records for one of its family's guardians (admins and
// guardians; viewers only read): one record by id, or a time range given with both ends. The
// content of deleted voice messages and photos leaves the blob store.
func (s *Service) DeleteRecords(ctx context.Context, accountID string, d kinwatch.RecordDeletion) (int, error) {
	if s.Watches == nil {
		return 0, kinwatch.Errorf(kinwatch.EUNAVAILABLE, "deleting records is not available here")
	}
	acc, err := s.Watches.Require(ctx, accountID, d.DeviceID, true)
	if err != nil {
		return 0, err
	}
	d.FamilyID = acc.FamilyID
	if d.ID == "" {
		if d.From.IsZero() || d.To.IsZero() {
			return 0, kinwatch.Errorf(kinwatch.EINVALID, "from, to: give both ends of the time range to delete")
		}
		if !d.From.Before(d.To) {
			return 0, kinwatch.Errorf(kinwatch.EINVALID, "from, to: the range is empty (from must come before to)")
		}
	}
	n, keys, err := s.Store.DeleteRecords(ctx, d)
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		s.deleteBlob(ctx, k)
	}
	if s.Access != nil && n > 0 {
		// The live stream's replay must not bring back what was just deleted; clients that
		// resume from before are told to re-fetch.
		s.Access.Forget(d.DeviceID)
	}
	s.log().Info("records deleted by the family", "device", d.DeviceID, "account", accountID, "kind", d.Kind, "records", n)
	return n, nil
}
