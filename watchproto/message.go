package watchproto

import (
	"encoding/binary"
	"math/bits"
	"time"
)

// Kind says which group of fields of a Message a decoded frame filled in.
type Kind uint8

// The kinds of device→server messages. The Message fields each kind fills are listed on Message.
const (
	KindUnknown      Kind = iota // a type this package does not know: Fields holds the raw fields
	KindHeartbeat                // LK, KA
	KindLocation                 // UD*, AL*, WT, WAD, WG, PP
	KindHealth                   // heart, PULSE, BLOOD, bphrt, oxygen, btemp2, TEMP (any case)
	KindAudio                    // TK, TK2, JXTK
	KindImage                    // img
	KindVoiceQuery               // TKQ, TKQ2
	KindInit                     // INIT
	KindICCID                    // CCID, ICCID
	KindConfig                   // CONFIG
	KindWiFiInfo                 // WIFIINFOUP
	KindCellReport               // GS1
	KindCommandReply             // the device answering a server→device command
)

var kindNames = [...]string{"unknown", "heartbeat", "location", "health", "audio", "image", "voice_query",
	"init", "iccid", "config", "wifi_info", "cell_report", "command_reply"}

// String returns a stable lower-case name, suitable for logs and JSON.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Fields records which optional numeric values a message carried, so that a zero that was sent can be
// told from a value that was absent.
type Fields uint32

// The optional values. Heartbeat and Location share FieldSteps, FieldRolls and FieldBattery.
const (
	FieldSpeed Fields = 1 << iota
	FieldCourse
	FieldAltitude
	FieldSatellites
	FieldSignal
	FieldBattery
	FieldSteps
	FieldRolls
	FieldStatus
	FieldAccuracy // set only for a positive accuracy: watches send 0 when they have none
	FieldHeartRate
	FieldBloodPressure // Systolic and Diastolic
	FieldSpO2
	FieldTemperature
	FieldMode
)

// Has reports whether every value in x is present.
func (f Fields) Has(x Fields) bool { return f&x == x }

// Message is one decoded device→server frame. Decode fills the header fields, Type, Kind, Present and
// the fields of its kind:
//
//	KindHeartbeat    Heartbeat
//	KindLocation     Location (Language for WAD, PPTime for PP)
//	KindCellReport   Location.Cells only
//	KindHealth       Health
//	KindAudio        Payload, BadEscape; for JXTK also FileName, Part, Total
//	KindImage        Payload, BadEscape, ImageSource, ImageTime
//	KindICCID        ICCID
//	KindConfig       Config
//	KindCommandReply Keyword, Data
//	KindInit, KindWiFiInfo, KindUnknown: Fields (the raw comma-separated fields after the type)
//	KindVoiceQuery   nothing beyond the header
//
// Decode reuses the slices of the Message it is given: copy Payload, Cells, WiFi, Config or Fields
// before decoding the next frame into the same Message if they must outlive it.
type Message struct {
	Manufacturer string // two characters, echoed in replies
	Device       string // the device id, opaque
	Index        string // the optional 4-hex sequence field, "" if the frame had none
	Length       int    // LEN as declared
	LengthOK     bool   // LEN equals the escaped content length (real firmwares often get it wrong)
	Type         string // the keyword as sent (case preserved)
	Kind         Kind
	Present      Fields

	Heartbeat Heartbeat
	Location  Location
	Health    Health

	Payload     []byte    // audio or image bytes, unescaped
	BadEscape   bool      // the payload held an invalid 0x7D escape; Payload stops before it
	FileName    string    // JXTK: the name of the file the chunks belong to
	Part, Total int       // JXTK: this chunk's number and the chunk count
	ImageSource int       // img: the first field (5 = a remote snapshot requested with rcapture)
	ImageTime   time.Time // img: when the photo was taken, as the watch's clock says

	ICCID  string
	Config []KV

	Keyword string // KindCommandReply: the server→device keyword answered, canonical spelling
	Data    string // KindCommandReply: the content after the keyword and its comma

	Fields []string

	cache *stringCache
}

// Heartbeat is what an LK/KA carries: all of it optional (see Message.Present).
type Heartbeat struct {
	Steps   int64 // cumulative pedometer count
	Rolls   int   // sleep tumbling count
	Battery int   // percent
}

// Location is the location block shared by UD, AL, WT, WAD, WG and PP.
type Location struct {
	Time       time.Time // UTC; zero if the watch sent no valid date
	Valid      bool      // an A (GPS) fix
	Lat, Lon   float64   // signed degrees; meaningful only if HasCoords
	HasCoords  bool      // false for missing, out-of-range or 0/0 coordinates
	Speed      float64   // km/h
	Course     float64   // degrees
	Altitude   float64   // metres
	Satellites int
	Signal     int // GSM signal, 0–100
	Battery    int // percent
	Steps      int64
	Rolls      int
	Status     string // the terminal status as sent (hex, 4 or 8 digits)
	StatusBits uint32
	Alarms     Alarms
	Wear       Wear
	Static     bool // status bit 4: the watch is not moving
	Cells      []Cell
	WiFi       []WiFi
	Accuracy   float64 // metres, 0 if the watch gave none

	AlarmReport bool   // an AL* frame: an alarm report even if no alarm bit is set (e.g. a shock alarm)
	Language    string // WAD: the language the address is wanted in (CH, EN)
	PPTime      string // PP: the leading HHMMSS field, as sent
}

// Cell is one mobile network cell. A frame's cells share one MCC/MNC on the wire.
type Cell struct {
	MCC, MNC int
	LAC, CID int64
	RSSI     int
	HasRSSI  bool
}

// WiFi is one access point.
type WiFi struct {
	SSID string
	MAC  string
	RSSI int // dBm
}

// Health is one sensor reading (see Message.Present for which values were sent).
type Health struct {
	HeartRate   int // beats per minute
	Systolic    int // mmHg
	Diastolic   int // mmHg
	SpO2        int // percent
	Temperature float64
	Mode        int // oxygen: the measurement type (0 = manual); btemp2: 0 forehead, 1 wrist
}

// KV is one key:value pair of a CONFIG report, as sent.
type KV struct {
	Key, Value string
}

// Wear says whether the watch reports being worn (terminal status bit 3).
type Wear uint8

// The wear states. WearUnknown means the message carried no status.
const (
	WearUnknown Wear = iota
	WearOn
	WearOff
)

// Alarms is a set of alarms raised by the terminal status. The bit order is the API order of Names, the
// same as kinwatch.Alarms, so a conversion is a cast.
type Alarms uint16

// The alarms, in API order.
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

var alarmNames = [...]string{"sos", "low_battery", "geofence_exit", "geofence_enter", "removed", "fall",
	"abnormal_heart_rate", "power_cut"}

// Names returns the API names of the alarms in a, in API order.
func (a Alarms) Names() []string {
	var out []string
	for i, n := range alarmNames {
		if a&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// Terminal status bits (vendor: the high 16 bits are alarms, the low 16 bits states). The alarm bits are
// also decoded into Location.Alarms; bit 22 is abnormal heart rate, not a fall as Traccar has it.
const (
	StatusLowBattery         uint32 = 1 << 0 // state
	StatusOutOfFence         uint32 = 1 << 1 // state
	StatusInFence            uint32 = 1 << 2 // state
	StatusNotWorn            uint32 = 1 << 3 // state
	StatusStatic             uint32 = 1 << 4 // state: not moving
	StatusPowerCut           uint32 = 1 << 14
	StatusSOS                uint32 = 1 << 16
	StatusLowBatteryAlarm    uint32 = 1 << 17
	StatusGeofenceExitAlarm  uint32 = 1 << 18
	StatusGeofenceEnterAlarm uint32 = 1 << 19
	StatusRemovedAlarm       uint32 = 1 << 20
	StatusFallAlarm          uint32 = 1 << 21
	StatusHeartRateAlarm     uint32 = 1 << 22
)

// alarmsFromStatus maps the alarm bits of a terminal status to Alarms.
func alarmsFromStatus(s uint32) Alarms {
	// Bits 16..22 are in API order already.
	a := Alarms(s>>16) & (AlarmSOS | AlarmLowBattery | AlarmGeofenceExit | AlarmGeofenceEnter |
		AlarmRemoved | AlarmFall | AlarmAbnormalHeartRate)
	if s&StatusPowerCut != 0 {
		a |= AlarmPowerCut
	}
	return a
}

// GeoRequest reports whether the device asked the server for a location answer (WG wants coordinates,
// WAD an address); answer with AppendLocationReply.
func (m *Message) GeoRequest() bool {
	return m.Kind == KindLocation && (m.Type == "WG" || m.Type == "WAD")
}

// reset clears m for a new frame, keeping its slices' storage and its string cache.
func (m *Message) reset() {
	cells, wifi := m.Location.Cells[:0], m.Location.WiFi[:0]
	payload, config, fields := m.Payload[:0], m.Config[:0], m.Fields[:0]
	cache := m.cache
	*m = Message{}
	m.Location.Cells, m.Location.WiFi = cells, wifi
	m.Payload, m.Config, m.Fields = payload, config, fields
	m.cache = cache
}

// stringCache remembers recently made strings so that a Message reused for one connection does not
// allocate the same device id, status, SSID or MAC again for every frame. It is a small two-way
// set-associative cache indexed by a hash of the length and the outer eight bytes, so a lookup costs a
// couple of loads and at most two comparisons.
type stringCache struct {
	set [64][2]string
}

// str returns b as a string, reusing a cached copy when there is one.
func (m *Message) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if m.cache == nil {
		m.cache = new(stringCache)
	}
	var h uint64
	if len(b) >= 8 {
		h = binary.LittleEndian.Uint64(b) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(b[len(b)-8:]), 29)
	} else {
		for _, c := range b {
			h = h<<8 | uint64(c)
		}
	}
	h = (h ^ uint64(len(b))) * 0x9E3779B97F4A7C15
	ways := &m.cache.set[h>>58]
	switch string(b) {
	case ways[0]:
		return ways[0]
	case ways[1]:
		ways[0], ways[1] = ways[1], ways[0]
		return ways[0]
	}
	ways[1], ways[0] = ways[0], string(b)
	return ways[0]
}
