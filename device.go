package kinwatch

import (
	"context"
	"time"
)

// DeviceState says whether a guardian has claimed a watch. A pending watch keeps only its registry
// entry: the privacy rules forbid storing data of a watch nobody is responsible for.
type DeviceState string

const (
	DevicePending DeviceState = "pending"
	DeviceBound   DeviceState = "bound"
	DeviceBlocked DeviceState = "blocked"
)

// Device is a watch's registry entry: the last state the gateway saw. ID is the id the watch sends
// in every frame header (opaque digits, usually 10 of the IMEI's).
type Device struct {
	ID           string
	State        DeviceState
	Manufacturer string // the 2-character prefix the watch last used, echoed in downlink frames
	HasIndex     bool   // the watch frames carry a 4-hex index (ZJ firmwares); downlink must too
	Online       bool
	FirstSeen    time.Time
	LastSeen     time.Time
	Battery      int // percent, -1 if never reported
	Signal       int // percent, -1 if never reported
	Steps        int64
	Firmware     string
	ICCID        string
	Encrypted    bool // the watch speaks the vendor-encrypted AQSH framing and cannot be understood
	// Consent is what the child's guardians consented to (ConsentStore); none while pending.
	Consent Purposes
	// FamilyID is the family the watch is bound into ("" while pending): its key seals the
	// child's data.
	FamilyID string
}

// DeviceUpdate carries what the gateway learned about a device; empty strings and nil pointers are
// "not reported" and leave the stored value alone. Applying one to an unknown ID registers the
// device as pending.
type DeviceUpdate struct {
	ID           string
	Time         time.Time
	Manufacturer string
	HasIndex     *bool
	Online       *bool
	Battery      *int
	Signal       *int
	Steps        *int64
	Firmware     string
	ICCID        string
	Encrypted    *bool
}

// DeviceFilter selects devices; the zero value selects all.
type DeviceFilter struct {
	State  DeviceState
	Online *bool
	After  string // cursor: return devices with ID greater than this
	Limit  int
}

// DeviceStore reads the device registry.
type DeviceStore interface {
	Device(ctx context.Context, id string) (*Device, error)
	Devices(ctx context.Context, f DeviceFilter) ([]*Device, error)
	// SetDeviceState changes a device's state (binding happens in the accounts layer).
	SetDeviceState(ctx context.Context, id string, state DeviceState) error
	// MarkAllOffline is called at start-up, when the connections of a previous process are gone:
	// every device last seen at or before at is marked offline (the zero time: every device).
	MarkAllOffline(ctx context.Context, at time.Time) error
	// SilentWatches lists bound watches, with the service consent, not heard from for silence
	// at now whose silence has no AlarmOffline yet (MarkOfflineAlarmed): the ones to raise it
	// for. Longest silent first, at most limit.
	SilentWatches(ctx context.Context, now time.Time, silence time.Duration, limit int) ([]*Device, error)
	// MarkOfflineAlarmed records that the offline alarm of the silence that began at lastSeen
	// was raised (nothing changes if the watch was heard from since).
	MarkOfflineAlarmed(ctx context.Context, deviceID string, lastSeen time.Time) error
}
