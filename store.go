package kinwatch

import (
	"context"
	"time"
)

// Record is one item flowing from the gateway to storage: exactly one field is set.
type Record struct {
	Position *Position
	Event    *Event
	Health   *HealthReading
	Device   *DeviceUpdate
	Media    *Media
}

// DeviceID is the watch the record is about; "" for the zero Record.
func (r *Record) DeviceID() string {
	switch {
	case r.Position != nil:
		return r.Position.DeviceID
	case r.Event != nil:
		return r.Event.DeviceID
	case r.Health != nil:
		return r.Health.DeviceID
	case r.Media != nil:
		return r.Media.DeviceID
	case r.Device != nil:
		return r.Device.ID
	}
	return ""
}

// Page selects one page of a newest-first list: at most Limit items (0: no limit) that come after
// the cursor (Before, BeforeID), i.e. older than Before or as old with a smaller ID. A zero Before
// starts at the newest. Items sharing a time are ordered by ID, so a page boundary between them
// neither skips nor repeats one.
type Page struct {
	Before   time.Time
	BeforeID string
	Limit    int
}

// Store is what kinwatch keeps. SQLite and PostgreSQL implement it; the same test suite
// (storetest) runs against both.
type Store interface {
	DeviceStore
	PositionStore
	EventStore
	CommandStore
	MediaStore
	AccountStore
	FamilyStore
	ConsentStore
	KeyStore
	RetentionStore
	ExportStore
	AccessStore
	DeletionStore
	NoticeStore
	GeoStore
	FenceStore
	NotificationStore

	// WriteBatch commits records in one transaction, in order: either all are stored or none. Device
	// updates are folded so a batch touches each device row once. The data records (positions,
	// events, health readings, media) of a watch that is not bound are not stored: a watch nobody is
	// responsible for keeps only its registry entry, which its device updates still change. The
	// state is read in the batch's transaction, so records queued before an Unbind that commit after
	// it are dropped, never left behind. Once the batch commits, the entries of recs it dropped are
	// set to the zero Record: what the caller then publishes or counts is what was stored. Only a
	// bound watch's device updates change what describes the child (battery, signal, steps, SIM).
	WriteBatch(ctx context.Context, recs []Record) error
	// Ping checks the database is reachable (readiness).
	Ping(ctx context.Context) error
	Close() error
}
