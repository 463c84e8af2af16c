package kinwatch

import (
	"context"
	"time"
)

// GeoFence is a safe zone of a watch. Its definition (name, shape, schedules) is opaque here
// (package fence reads it) and sealed at rest with the family's key; State is the tracker's
// (inside, outside, pending), kept so a restart neither forgets nor re-announces.
type GeoFence struct {
	ID         string
	DeviceID   string
	Definition []byte
	State      string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// MaxFences bounds a watch's safe zones: each is evaluated for every position.
const MaxFences = 50

// FenceStore keeps safe zones.
type FenceStore interface {
	// PutFence creates or replaces a fence of a watch of familyID (its definition sealed with
	// the family's key; a replaced definition resets the state). ENOTFOUND when the watch is not
	// in that family; ECONFLICT when the watch has MaxFences already.
	PutFence(ctx context.Context, familyID string, f *GeoFence) error
	// Fences lists a watch's fences, oldest first, opened.
	Fences(ctx context.Context, deviceID string) ([]*GeoFence, error)
	// DeleteFence deletes one; ENOTFOUND for another watch's or a missing one.
	DeleteFence(ctx context.Context, deviceID, id string) error
	// SaveFenceState records a fence's tracker state, computed for the definition of version (its
	// UpdatedAt). ENOTFOUND when the fence was replaced since (its new definition starts afresh),
	// deleted, or is another watch's.
	SaveFenceState(ctx context.Context, deviceID, id, state string, version time.Time) error
}

func fenceAAD(id string) []byte { return []byte("fences:" + id) }
