package httpapi

import (
	"encoding/json"
	"time"

	"kinwatch"
)

// Live message types of GET /api/v1/stream.
const (
	LivePosition = "position" // data: a Position
	LiveStatus   = "status"   // data: what changed (online, battery, signal, steps_today, firmware)
	LiveAlarm    = "alarm"    // data: an Event of type alarm
	LiveCommand  = "command"  // data: an Event of type command (command_id, keyword, state …)
	LiveEvent    = "event"    // data: any other Event (connected, disconnected …)
)

// LiveMessage is one committed record rendered for the live stream; ok is false for records the
// stream does not show (media and health readings have their own routes).
func LiveMessage(r kinwatch.Record) (deviceID, typ string, at time.Time, data []byte, ok bool) {
	var v any
	switch {
	case r.Position != nil:
		deviceID, typ, at, v = r.Position.DeviceID, LivePosition, r.Position.Time, ToPositionJSON(r.Position)
	case r.Event != nil:
		deviceID, typ, at, v = r.Event.DeviceID, LiveEvent, r.Event.Time, ToEventJSON(r.Event)
		switch r.Event.Type {
		case kinwatch.EventAlarm:
			typ = LiveAlarm
		case kinwatch.EventCommand:
			typ = LiveCommand
		}
	case r.Device != nil:
		u := r.Device
		st := map[string]any{}
		if u.Online != nil {
			st["online"] = *u.Online
		}
		if u.Battery != nil {
			st["battery"] = *u.Battery
		}
		if u.Signal != nil {
			st["signal"] = *u.Signal
		}
		if u.Steps != nil {
			st["steps_today"] = *u.Steps
		}
		if u.Firmware != "" {
			st["firmware"] = u.Firmware
		}
		if len(st) == 0 {
			return "", "", time.Time{}, nil, false
		}
		st["last_seen"] = rfc3339(u.Time)
		deviceID, typ, at, v = u.ID, LiveStatus, u.Time, st
	default:
		return "", "", time.Time{}, nil, false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", "", time.Time{}, nil, false
	}
	return deviceID, typ, at, b, true
}
