package kinwatch

import (
	"context"
	"time"
)

// Kinds of a watch's records a family can delete.
const (
	RecordPositions = "positions"
	RecordEvents    = "events"
	RecordHealth    = "health"
	RecordMedia     = "media"
)

// RecordDeletion selects a watch's records to delete: one record (ID), or every record with
// From <= time < To.
type RecordDeletion struct {
	Kind     string
	DeviceID string
	FamilyID string // the family asking: nothing is deleted once the watch is in another
	ID       string
	From, To time.Time
}

// DeletionStore deletes a watch's records on its family's request.
type DeletionStore interface {
	// DeleteRecords deletes what d selects and returns how many records it deleted and the blob
	// keys of deleted media, which the caller removes from the blob store. ENOTFOUND when d names
	// one record that does not exist (or belongs to another watch).
	DeleteRecords(ctx context.Context, d RecordDeletion) (int, []string, error)
}
