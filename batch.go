package kinwatch

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// DeviceChange is what one batch does to one device row: its DeviceUpdates folded in record order
// (the latest reported value of each field wins), so a store writes each row once per batch. Nil and
// empty fields were not reported.
type DeviceChange struct {
	ID string
	// Updated is false when only data records name the device: the store creates it (as pending)
	// if missing and changes nothing else.
	Updated                       bool
	First, Last                   time.Time // earliest and latest update time, zero if no update had one
	Manufacturer, Firmware, ICCID string
	HasIndex, Encrypted, Online   *bool
	Battery, Signal               *int
	Steps                         *int64
}

// Apply folds u into c.
func (c *DeviceChange) Apply(u *DeviceUpdate) {
	c.Updated = true
	if !u.Time.IsZero() {
		if c.First.IsZero() || u.Time.Before(c.First) {
			c.First = u.Time
		}
		if u.Time.After(c.Last) {
			c.Last = u.Time
		}
	}
	c.Manufacturer = cmp.Or(u.Manufacturer, c.Manufacturer)
	c.Firmware = cmp.Or(u.Firmware, c.Firmware)
	c.ICCID = cmp.Or(u.ICCID, c.ICCID)
	c.HasIndex = cmp.Or(u.HasIndex, c.HasIndex)
	c.Encrypted = cmp.Or(u.Encrypted, c.Encrypted)
	c.Online = cmp.Or(u.Online, c.Online)
	c.Battery = cmp.Or(u.Battery, c.Battery)
	c.Signal = cmp.Or(u.Signal, c.Signal)
	c.Steps = cmp.Or(u.Steps, c.Steps)
}

// FoldBatch checks every record of a batch before anything is written (so a bad record cannot
// cost a half-written transaction) and folds the device updates, returning one change per device
// in id order. Every device a data record names is included, so foreign keys hold and a watch whose
// data arrives first is registered like one that sent an update. The id order walks the devices
// index in order and keeps the lock order of concurrent batches fixed, so they wait for each other
// instead of deadlocking. validTime reports whether the store can hold a time.
func FoldBatch(recs []Record, validTime func(time.Time) bool) ([]*DeviceChange, error) {
	byID := make(map[string]*DeviceChange)
	get := func(id string) *DeviceChange {
		c := byID[id]
		if c == nil {
			c = &DeviceChange{ID: id}
			byID[id] = c
		}
		return c
	}
	for i := range recs {
		r := &recs[i]
		deviceID, err := checkRecord(r, validTime)
		if err != nil {
			return nil, &Error{Code: EINVALID, Message: fmt.Sprintf("record %d: %s", i, err)}
		}
		if r.Device != nil {
			get(deviceID).Apply(r.Device)
		} else {
			get(deviceID)
		}
	}
	out := make([]*DeviceChange, 0, len(byID))
	for _, c := range byID {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *DeviceChange) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// checkRecord returns the device id r refers to, or why r cannot be stored.
func checkRecord(r *Record, validTime func(time.Time) bool) (string, error) {
	n := 0
	for _, set := range [...]bool{r.Position != nil, r.Event != nil, r.Health != nil, r.Device != nil, r.Media != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return "", fmt.Errorf("exactly one field must be set, not %d", n)
	}
	var (
		what, deviceID string
		t              time.Time
	)
	switch {
	case r.Device != nil:
		if r.Device.ID == "" {
			return "", errors.New("device update without a device id")
		}
		if t := r.Device.Time; !t.IsZero() && !validTime(t) {
			return "", fmt.Errorf("device update time %s is out of range", t.Format(time.RFC3339))
		}
		return r.Device.ID, nil
	case r.Position != nil:
		what, deviceID, t = "position", r.Position.DeviceID, r.Position.Time
		if rt := r.Position.Received; !rt.IsZero() && !validTime(rt) {
			return "", fmt.Errorf("position received time %s is out of range", rt.Format(time.RFC3339))
		}
	case r.Event != nil:
		what, deviceID, t = "event", r.Event.DeviceID, r.Event.Time
		if len(r.Event.Data) > 0 && !json.Valid(r.Event.Data) {
			return "", errors.New("event data is not valid JSON")
		}
	case r.Health != nil:
		what, deviceID, t = "health reading", r.Health.DeviceID, r.Health.Time
	case r.Media != nil:
		what, deviceID, t = "media", r.Media.DeviceID, r.Media.Time
	}
	switch {
	case deviceID == "":
		return "", fmt.Errorf("%s without a device id", what)
	case t.IsZero():
		return "", fmt.Errorf("%s without a time", what)
	case !validTime(t):
		return "", fmt.Errorf("%s time %s is out of range", what, t.Format(time.RFC3339))
	}
	return deviceID, nil
}
