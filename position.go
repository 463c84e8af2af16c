package kinwatch

import (
	"context"
	"time"
)

// Alarms is the set of alarms a watch raised in one report.
type Alarms uint16

const (
	AlarmSOS Alarms = 1 << iota
	AlarmLowBattery
	AlarmGeofenceExit
	AlarmGeofenceEnter
	AlarmRemoved
	AlarmFall
	AlarmAbnormalHeartRate
	AlarmPowerCut
)

var alarmNames = [...]string{"sos", "low_battery", "geofence_exit", "geofence_enter", "removed", "fall", "abnormal_heart_rate", "power_cut"}

// AlarmNames returns the API names of the alarms in a, in a fixed order.
func (a Alarms) Names() []string {
	var out []string
	for i, n := range alarmNames {
		if a&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// ParseAlarm returns the alarm with the given API name.
func ParseAlarm(name string) (Alarms, bool) {
	for i, n := range alarmNames {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}

// Position sources: where the coordinates came from.
const (
	SourceGPS       = "gps"
	SourceWiFi      = "wifi"
	SourceCell      = "cell"
	SourceLastKnown = "last_known"
	SourceNone      = "" // no coordinates: a V fix that nothing has resolved yet
)

// Cell is one mobile network cell a watch heard.
type Cell struct {
	MCC  int   `json:"mcc"`
	MNC  int   `json:"mnc"`
	LAC  int64 `json:"lac"`
	CID  int64 `json:"cid"`
	RSSI int   `json:"rssi"`
}

// WiFi is one access point a watch heard.
type WiFi struct {
	SSID string `json:"ssid"`
	MAC  string `json:"mac"`
	RSSI int    `json:"rssi"`
}

// Position is one location report with everything the watch sent alongside it.
type Position struct {
	ID         string
	DeviceID   string
	Type       string    // the frame type it came in (UD, UD2, AL_LTE, …)
	Time       time.Time // the watch's own fix time (UTC)
	Received   time.Time // when the gateway read it
	Valid      bool      // a GPS fix (A); false means coordinates are absent or stale
	Source     string
	Lat, Lon   float64
	HasCoords  bool    // false: the report carried no usable coordinates (not 0,0)
	Speed      float64 // km/h
	Course     float64
	Altitude   float64
	Accuracy   float64 // metres, 0 if unknown
	Satellites int
	Signal     int
	Battery    int
	Steps      int64
	Rolls      int
	Status     string // the terminal status as the watch sent it (hex)
	Alarms     Alarms
	Worn       *bool
	Static     bool
	Cells      []Cell
	WiFi       []WiFi
}

// PositionFilter selects a device's positions in [From, To) by watch time, newest first.
type PositionFilter struct {
	DeviceID string
	From, To time.Time
	// BeforeID continues a page: positions at exactly To with an ID below it are included too, so
	// a page boundary between records of the same time neither skips nor repeats one.
	BeforeID string
	Limit    int
}

// HealthReading is one measurement from the watch's sensors; zero fields were not measured.
type HealthReading struct {
	ID          string
	DeviceID    string
	Time        time.Time
	HeartRate   int
	Systolic    int
	Diastolic   int
	SpO2        int
	Temperature float64
}

// PositionStore reads positions and health readings (they are written through the Bus).
type PositionStore interface {
	LatestPosition(ctx context.Context, deviceID string) (*Position, error)
	// LatestPositions returns the newest position of each listed device that has one, keyed by
	// device ID, in one query.
	LatestPositions(ctx context.Context, deviceIDs []string) (map[string]*Position, error)
	// AccountLatestPositions returns the newest position of every watch of the account's families
	// that has one, in watch ID order, in one query: "where are my children", the question asked
	// most.
	AccountLatestPositions(ctx context.Context, accountID string) ([]*Position, error)
	Positions(ctx context.Context, f PositionFilter) ([]*Position, error)
	// HealthReadings lists a device's readings newest first.
	HealthReadings(ctx context.Context, deviceID string, p Page) ([]*HealthReading, error)
	// Track calls each with the device's positions that have coordinates in [from, to) (zero
	// times: unbounded), oldest first, reading only what a track needs: a year of one-minute
	// positions streams through without building 500k Positions. An error from each stops it.
	Track(ctx context.Context, deviceID string, from, to time.Time, each func(*TrackPoint) error) error
	// PruneTrackDays deletes rows of Track's day cache that are no longer of their day (see
	// TrackCached) and returns how many.
	PruneTrackDays(ctx context.Context) (int, error)
}

// TrackPoint is what a track needs of a position.
type TrackPoint struct {
	Time     time.Time
	Lat, Lon float64
	Accuracy float64
	Source   string
	Steps    int64
}
