package family

import (
	"context"
	"fmt"
	"time"

	"kinwatch"
	"kinwatch/fence"
)

// Fence is a watch's safe zone as its family sees it: the definition, with the store's ID, and
// when it was created and last replaced.
type Fence struct {
	fence.Fence
	CreatedAt, UpdatedAt time.Time
}

// Fences lists a watch's safe zones, oldest first, to any member of its family (viewers too, as
// with the child's profile).
func (s *Service) Fences(ctx context.Context, accountID, deviceID string) ([]*Fence, error) {
	if _, err := s.Require(ctx, accountID, deviceID, false); err != nil {
		return nil, err
	}
	return s.fences(ctx, deviceID)
}

// Fence returns one of a watch's safe zones; ENOTFOUND for a missing one or another watch's.
func (s *Service) Fence(ctx context.Context, accountID, deviceID, id string) (*Fence, error) {
	if _, err := s.Require(ctx, accountID, deviceID, false); err != nil {
		return nil, err
	}
	return s.findFence(ctx, deviceID, id)
}

// CreateFence adds a safe zone to a watch under a new id (admins and guardians, who may change
// the watch's settings; viewers only look). f.ID is ignored. EINVALID with fence.Validate's
// message for a fence that is not valid; ECONFLICT when the watch has kinwatch.MaxFences.
func (s *Service) CreateFence(ctx context.Context, accountID, deviceID string, f fence.Fence) (*Fence, error) {
	acc, err := s.Require(ctx, accountID, deviceID, true)
	if err != nil {
		return nil, err
	}
	def, err := encodeFence(f)
	if err != nil {
		return nil, err
	}
	now := s.now()
	return s.putFence(ctx, acc, &kinwatch.GeoFence{ID: kinwatch.NewID(), DeviceID: deviceID, Definition: def, CreatedAt: now, UpdatedAt: now})
}

// ReplaceFence replaces the whole definition of an existing safe zone (admins and guardians); its
// tracker starts afresh, since what it knew described the old fence. ENOTFOUND for a missing
// one: ids are the server's to give.
func (s *Service) ReplaceFence(ctx context.Context, accountID, deviceID, id string, f fence.Fence) (*Fence, error) {
	acc, err := s.Require(ctx, accountID, deviceID, true)
	if err != nil {
		return nil, err
	}
	def, err := encodeFence(f)
	if err != nil {
		return nil, err
	}
	// The store's put also creates, so the fence must exist first. A deletion racing this
	// replacement can lose: the fence is then back under its old id, as the guardian who
	// replaced it last saw it.
	old, err := s.findFence(ctx, deviceID, id)
	if err != nil {
		return nil, err
	}
	// UpdatedAt is the definition's version for the evaluator (a tracker state saved for an
	// older one is refused): it must move forward even if the clock did not.
	now := s.now()
	if !now.After(old.UpdatedAt) {
		now = old.UpdatedAt.Add(time.Microsecond)
	}
	return s.putFence(ctx, acc, &kinwatch.GeoFence{ID: id, DeviceID: deviceID, Definition: def, CreatedAt: old.CreatedAt, UpdatedAt: now})
}

// DeleteFence deletes a safe zone (admins and guardians).
func (s *Service) DeleteFence(ctx context.Context, accountID, deviceID, id string) error {
	if _, err := s.Require(ctx, accountID, deviceID, true); err != nil {
		return err
	}
	err := s.Store.DeleteFence(ctx, deviceID, id)
	if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
		return kinwatch.Errorf(kinwatch.ENOTFOUND, "no such safe zone")
	}
	return err
}

func (s *Service) fences(ctx context.Context, deviceID string) ([]*Fence, error) {
	gs, err := s.Store.Fences(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	out := make([]*Fence, len(gs))
	for i, g := range gs {
		if out[i], err = openFence(g); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// findFence returns one fence of the watch. The store lists at most MaxFences, and has no
// lookup of one.
func (s *Service) findFence(ctx context.Context, deviceID, id string) (*Fence, error) {
	fs, err := s.fences(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if f.ID == id {
			return f, nil
		}
	}
	return nil, kinwatch.Errorf(kinwatch.ENOTFOUND, "no such safe zone")
}

// putFence stores g and returns it as a later read will show it (days sorted, say).
func (s *Service) putFence(ctx context.Context, acc *kinwatch.WatchAccess, g *kinwatch.GeoFence) (*Fence, error) {
	if err := s.Store.PutFence(ctx, acc.FamilyID, g); err != nil {
		if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
			return nil, kinwatch.Errorf(kinwatch.ENOTFOUND, "no such watch: it was unbound meanwhile")
		}
		return nil, err // ECONFLICT at MaxFences says so itself
	}
	return openFence(g)
}

// encodeFence is the stored definition of f, or why f is not a fence a guardian may store.
func encodeFence(f fence.Fence) ([]byte, error) {
	def, err := fence.Encode(f)
	if err != nil {
		return nil, &kinwatch.Error{Code: kinwatch.EINVALID, Message: err.Error(), Err: err}
	}
	return def, nil
}

func openFence(g *kinwatch.GeoFence) (*Fence, error) {
	f, err := fence.Decode(g.Definition)
	if err != nil {
		// Only Encode's output is stored, sealed: this is a bug, not the client's doing.
		return nil, fmt.Errorf("family: safe zone %s of watch %s: %w", g.ID, g.DeviceID, err)
	}
	f.ID = g.ID
	return &Fence{Fence: f, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}, nil
}
