package kinwatch

import (
	"context"
	"encoding/json"
	"time"
)

// Event types.
const (
	EventAlarm        = "alarm"        // Alarm names which one
	EventConnected    = "connected"    // a watch opened its connection
	EventDisconnected = "disconnected" // a watch's connection ended
	EventCommand      = "command"      // a command changed state; Data has id, keyword, state
	EventEncrypted    = "encrypted"    // a watch speaks the vendor-encrypted framing
)

// Event is something that happened to a watch.
// AlarmRepeatWindow is how close in time two alarms of one kind from one watch must be to count as
// one: a watch resends an unanswered alarm (with a fresh fix time) until the server answers, and
// an alarm is stored, and announced, once.
const AlarmRepeatWindow = 2 * time.Minute

type Event struct {
	ID       string
	DeviceID string
	Time     time.Time
	Type     string
	Alarm    string // for EventAlarm: the alarm's API name (sos, fall, …)
	// Subject is what an alarm is about beyond the watch (the fence entered): alarms of one kind
	// with different subjects are different alarms.
	Subject string
	Data    json.RawMessage // type-specific detail, a JSON object or nil
}

// EventFilter selects a device's events in [From, To), newest first.
type EventFilter struct {
	DeviceID string
	Type     string
	From, To time.Time
	BeforeID string // as in PositionFilter
	Limit    int
}

// EventStore reads events.
type EventStore interface {
	Events(ctx context.Context, f EventFilter) ([]*Event, error)
	// Event returns one of a device's events; ENOTFOUND for another device's or a missing one.
	Event(ctx context.Context, deviceID, id string) (*Event, error)
}
