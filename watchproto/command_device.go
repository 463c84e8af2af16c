package watchproto

import (
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Upload sets the GPS upload interval. The watch applies it only while moving; at rest it sends
// just LK.
type Upload struct {
	Interval time.Duration
}

// The vendor's bounds.
const (
	uploadMin = 60 * time.Second
	uploadMax = 65535 * time.Second
)

func (Upload) Keyword() string { return "UPLOAD" }

func (c Upload) AppendContent(dst []byte) []byte {
	dst = append(dst, "UPLOAD,"...)
	return strconv.AppendInt(dst, int64(c.Interval/time.Second), 10)
}

func (c Upload) Validate() error {
	return cmdCheckSeconds("interval_seconds", c.Interval, uploadMin, uploadMax)
}

type uploadJSON struct {
	IntervalSeconds int64 `json:"interval_seconds"`
}

func (c Upload) MarshalJSON() ([]byte, error) {
	return json.Marshal(uploadJSON{int64(c.Interval / time.Second)})
}

func (c *Upload) UnmarshalJSON(b []byte) error {
	var w uploadJSON
	if err := cmdDecodeStrict(b, &w); err != nil {
		return err
	}
	c.Interval = cmdScale(w.IntervalSeconds, time.Second)
	return nil
}

// cmdScale converts a count of units to a Duration, saturating instead of wrapping around into a
// plausible value when a client sends an absurd number.
func cmdScale(n int64, unit time.Duration) time.Duration {
	if n > math.MaxInt64/int64(unit) {
		return math.MaxInt64
	}
	if n < math.MinInt64/int64(unit) {
		return math.MinInt64
	}
	return time.Duration(n) * unit
}

func cmdCheckSeconds(param string, d, min, max time.Duration) error {
	if d%time.Second != 0 || d < min || d > max {
		return cmdErrorf(param, "must be whole seconds between %d and %d", min/time.Second, max/time.Second)
	}
	return nil
}

// Password sets the password the watch demands in SMS commands (pw,123456,…#).
type Password struct {
	Password string `json:"password"`
}

func (Password) Keyword() string { return "PW" }

func (c Password) AppendContent(dst []byte) []byte {
	return append(append(dst, "PW,"...), c.Password...)
}

// Validate insists on six digits: the factory default and every vendor example have that form,
// and a password the firmware cannot parse would lock the guardian out of SMS control.
func (c Password) Validate() error {
	if len(c.Password) != 6 || !cmdIsDigits(c.Password) {
		return cmdErrorf("password", "must be exactly 6 digits")
	}
	return nil
}

// IP moves the watch to another server. The watch does not answer: it disconnects and reaches the
// new address after 5–8 minutes or a restart. A wrong address loses the watch: EU firmwares have
// no SMS command to set it back.
type IP struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

func (IP) Keyword() string { return "IP" }
func (IP) NoReply() bool   { return true }

func (c IP) AppendContent(dst []byte) []byte {
	dst = append(dst, "IP,"...)
	dst = append(dst, c.Host...)
	dst = append(dst, ',')
	return strconv.AppendInt(dst, int64(c.Port), 10)
}

func (c IP) Validate() error {
	if !cmdValidHost(c.Host) {
		return cmdErrorf("host", "must be an IPv4 address or a DNS name (letters, digits, - and .)")
	}
	if c.Port < 1 || c.Port > 65535 {
		return cmdErrorf("port", "must be between 1 and 65535")
	}
	return nil
}

// cmdValidHost accepts dotted IPv4 and RFC 1123 host names. IPv6 is left out: its colons and
// brackets are not something the watch firmware is known to parse.
func cmdValidHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if strings.Trim(h, "0123456789.") == "" {
		a, err := netip.ParseAddr(h)
		return err == nil && a.Is4()
	}
	label := 0
	for i := 0; i < len(h); i++ {
		b := h[i]
		switch {
		case b == '.':
			if label == 0 || h[i-1] == '-' {
				return false
			}
			label = 0
		case b == '-':
			if label == 0 {
				return false
			}
			label++
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
			label++
		default:
			return false
		}
		if label > 63 {
			return false
		}
	}
	return label > 0 && h[len(h)-1] != '-'
}

// APN sets the mobile data access point: APN,<apn>,<user>,<password>,<MCCMNC>. The vendor's
// template shows the two middle fields empty; user and password are what tracker firmwares of this
// family put there (unverified for this protocol), so leave them empty unless the carrier needs them.
type APN struct {
	Name     string `json:"name"`
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	// Operator is the SIM's MCC followed by its MNC (e.g. 26201); optional.
	Operator string `json:"operator,omitempty"`
}

func (APN) Keyword() string { return "APN" }

func (c APN) AppendContent(dst []byte) []byte {
	dst = append(dst, "APN,"...)
	dst = append(dst, c.Name...)
	dst = append(dst, ',')
	dst = append(dst, c.User...)
	dst = append(dst, ',')
	dst = append(dst, c.Password...)
	dst = append(dst, ',')
	return append(dst, c.Operator...)
}

func (c APN) Validate() error {
	if c.Name == "" || len(c.Name) > 63 {
		return cmdErrorf("name", "must be 1 to 63 characters")
	}
	for i := 0; i < len(c.Name); i++ {
		b := c.Name[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '-' || b == '_') {
			return cmdErrorf("name", "may hold only letters, digits, '.', '-' and '_'")
		}
	}
	if err := cmdCheckToken("user", c.User, 32, false); err != nil {
		return err
	}
	if err := cmdCheckToken("password", c.Password, 32, false); err != nil {
		return err
	}
	if c.Operator != "" && (len(c.Operator) < 5 || len(c.Operator) > 6 || !cmdIsDigits(c.Operator)) {
		return cmdErrorf("operator", "must be the 5 or 6 digits of MCC and MNC, e.g. 26201")
	}
	return nil
}

// Factory resets the watch's settings; the server address survives.
type Factory struct{}

func (Factory) Keyword() string                 { return "FACTORY" }
func (Factory) AppendContent(dst []byte) []byte { return append(dst, "FACTORY"...) }
func (Factory) Validate() error                 { return nil }

// Reset reboots the watch.
type Reset struct{}

func (Reset) Keyword() string                 { return "RESET" }
func (Reset) AppendContent(dst []byte) []byte { return append(dst, "RESET"...) }
func (Reset) Validate() error                 { return nil }

// PowerOff switches the watch off; only a button press brings it back.
type PowerOff struct{}

func (PowerOff) Keyword() string                 { return "POWEROFF" }
func (PowerOff) AppendContent(dst []byte) []byte { return append(dst, "POWEROFF"...) }
func (PowerOff) Validate() error                 { return nil }

// Find makes the watch ring for a minute.
type Find struct{}

func (Find) Keyword() string                 { return "FIND" }
func (Find) AppendContent(dst []byte) []byte { return append(dst, "FIND"...) }
func (Find) Validate() error                 { return nil }

// Version asks for the firmware version; the reply is VERNO,<version>.
type Version struct{}

func (Version) Keyword() string                 { return "VERNO" }
func (Version) AppendContent(dst []byte) []byte { return append(dst, "VERNO"...) }
func (Version) Validate() error                 { return nil }

// Settings asks for the watch's settings; the reply is TS followed by key:value; pairs.
type Settings struct{}

func (Settings) Keyword() string                 { return "TS" }
func (Settings) AppendContent(dst []byte) []byte { return append(dst, "TS"...) }
func (Settings) Validate() error                 { return nil }

// LocateNow switches GPS on for about three minutes with a position every 20 seconds (the app's
// "locate" button); WorkTime changes the period.
type LocateNow struct{}

func (LocateNow) Keyword() string                 { return "CR" }
func (LocateNow) AppendContent(dst []byte) []byte { return append(dst, "CR"...) }
func (LocateNow) Validate() error                 { return nil }

// Language is a language code of the LZ command. Firmwares report further codes in CONFIG (LG:),
// so any code from 0 to 99 is accepted; the constants are the documented ones.
type Language int

const (
	LanguageEnglish            Language = 0
	LanguageChineseSimplified  Language = 1
	LanguagePortuguese         Language = 3
	LanguageSpanish            Language = 4
	LanguageGerman             Language = 5
	LanguageTurkish            Language = 7
	LanguageVietnamese         Language = 8
	LanguageRussian            Language = 9
	LanguageFrench             Language = 10
	LanguageGreek              Language = 11
	LanguageItalian            Language = 12
	LanguageSwedish            Language = 13
	LanguageChineseTraditional Language = 14
	LanguageBulgarian          Language = 15
	LanguageDutch              Language = 16
	LanguagePolish             Language = 17
	LanguageFinnish            Language = 18
	LanguageThai               Language = 19
	LanguageHebrew             Language = 22
	LanguageDanish             Language = 23
	LanguageIndian             Language = 25
	LanguageRomanian           Language = 26
	LanguageCzech              Language = 27
	LanguageArabic             Language = 28
	LanguageHungarian          Language = 34
	LanguageSlovak             Language = 36
)

var languageEnum = cmdEnum{what: "language", names: []cmdEnumName{
	{0, "english"}, {1, "chinese_simplified"}, {3, "portuguese"}, {4, "spanish"}, {5, "german"},
	{7, "turkish"}, {8, "vietnamese"}, {9, "russian"}, {10, "french"}, {11, "greek"}, {12, "italian"},
	{13, "swedish"}, {14, "chinese_traditional"}, {15, "bulgarian"}, {16, "dutch"}, {17, "polish"},
	{18, "finnish"}, {19, "thai"}, {22, "hebrew"}, {23, "danish"}, {25, "indian"}, {26, "romanian"},
	{27, "czech"}, {28, "arabic"}, {34, "hungarian"}, {36, "slovak"},
}}

// String returns the API name, or the number for an undocumented code.
func (l Language) String() string {
	if n, ok := languageEnum.name(int(l)); ok {
		return n
	}
	return strconv.Itoa(int(l))
}

func (l Language) MarshalJSON() ([]byte, error) { return languageEnum.marshal(int(l)) }

func (l *Language) UnmarshalJSON(b []byte) error {
	v, err := languageEnum.unmarshal(b)
	*l = Language(v)
	return err
}

// SetTimeZone sets the watch's language and UTC offset (LZ). The watch knows no daylight saving
// time: send the offset in force now (_, off := now.In(loc).Zone()) and again when it changes,
// unlike Traccar, which sends a zone's standard offset all year. A nil Language leaves the
// language alone (LZ,,+1).
type SetTimeZone struct {
	Language *Language
	Offset   time.Duration
}

// The offsets in use run from UTC-12 to UTC+14, all multiples of a quarter hour (Nepal +5:45,
// Chatham +12:45); the wire writes them as decimal hours.
const (
	offsetMin  = -12 * time.Hour
	offsetMax  = 14 * time.Hour
	offsetStep = 15 * time.Minute
)

func (SetTimeZone) Keyword() string { return "LZ" }

func (c SetTimeZone) AppendContent(dst []byte) []byte {
	dst = append(dst, "LZ,"...)
	if c.Language != nil {
		dst = strconv.AppendInt(dst, int64(*c.Language), 10)
	}
	dst = append(dst, ',')
	h := c.Offset.Hours()
	if h < 0 {
		dst = append(dst, '-')
	} else {
		dst = append(dst, '+')
	}
	// Quarter hours are exact in binary, so the shortest form is the vendor's: 1, 1.5, 5.75.
	return strconv.AppendFloat(dst, math.Abs(h), 'f', -1, 64)
}

func (c SetTimeZone) Validate() error {
	if c.Language != nil && (*c.Language < 0 || *c.Language > 99) {
		return cmdErrorf("language", "must be a language code between 0 and 99")
	}
	if c.Offset < offsetMin || c.Offset > offsetMax || c.Offset%offsetStep != 0 {
		return cmdErrorf("offset_hours", "must be between -12 and +14 hours in steps of a quarter hour (e.g. 1, -3.5, 5.75)")
	}
	return nil
}

type setTimeZoneJSON struct {
	Language    *Language `json:"language"`
	OffsetHours float64   `json:"offset_hours"`
}

func (c SetTimeZone) MarshalJSON() ([]byte, error) {
	return json.Marshal(setTimeZoneJSON{Language: c.Language, OffsetHours: c.Offset.Hours()})
}

func (c *SetTimeZone) UnmarshalJSON(b []byte) error {
	var w setTimeZoneJSON
	if err := cmdDecodeStrict(b, &w); err != nil {
		return err
	}
	c.Language = w.Language
	// Out-of-range values saturate so Validate reports them instead of wrapping around.
	minutes := math.Round(w.OffsetHours * 60)
	if math.Abs(w.OffsetHours*60-minutes) > 1e-6 || math.Abs(minutes) > 48*60 {
		c.Offset = math.MaxInt64
		return nil
	}
	c.Offset = time.Duration(minutes) * time.Minute
	return nil
}

// The on/off switches: KEYWORD,1 or KEYWORD,0.

// SOSSMS makes the watch text the SOS numbers when SOS is pressed.
type SOSSMS struct {
	Enabled bool `json:"enabled"`
}

func (SOSSMS) Keyword() string { return "SOSSMS" }
func (SOSSMS) Validate() error { return nil }
func (c SOSSMS) AppendContent(dst []byte) []byte {
	return appendFlag(append(dst, "SOSSMS,"...), c.Enabled)
}

// LowBatteryAlarm makes the watch text the center number when the battery drops below 20%.
type LowBatteryAlarm struct {
	Enabled bool `json:"enabled"`
}

func (LowBatteryAlarm) Keyword() string { return "LOWBAT" }
func (LowBatteryAlarm) Validate() error { return nil }
func (c LowBatteryAlarm) AppendContent(dst []byte) []byte {
	return appendFlag(append(dst, "LOWBAT,"...), c.Enabled)
}

// RemoveAlarm raises an alarm when the watch is taken off the wrist (needs the light sensor).
type RemoveAlarm struct {
	Enabled bool `json:"enabled"`
}

func (RemoveAlarm) Keyword() string { return "REMOVE" }
func (RemoveAlarm) Validate() error { return nil }
func (c RemoveAlarm) AppendContent(dst []byte) []byte {
	return appendFlag(append(dst, "REMOVE,"...), c.Enabled)
}

// RemoveSMS makes the watch text the center number when it is taken off.
type RemoveSMS struct {
	Enabled bool `json:"enabled"`
}

func (RemoveSMS) Keyword() string { return "REMOVESMS" }
func (RemoveSMS) Validate() error { return nil }
func (c RemoveSMS) AppendContent(dst []byte) []byte {
	return appendFlag(append(dst, "REMOVESMS,"...), c.Enabled)
}

// Pedometer switches step counting; it is off by default.
type Pedometer struct {
	Enabled bool `json:"enabled"`
}

func (Pedometer) Keyword() string { return "PEDO" }
func (Pedometer) Validate() error { return nil }
func (c Pedometer) AppendContent(dst []byte) []byte {
	return appendFlag(append(dst, "PEDO,"...), c.Enabled)
}

// RefuseUnknownCalls rejects calls from numbers that are not in the phone book.
type RefuseUnknownCalls struct {
	Enabled bool `json:"enabled"`
}

func (RefuseUnknownCalls) Keyword() string { return "DEVREFUSEPHONESWITCH" }
func (RefuseUnknownCalls) Validate() error { return nil }
func (c RefuseUnknownCalls) AppendContent(dst []byte) []byte {
	return appendFlag(append(dst, "DEVREFUSEPHONESWITCH,"...), c.Enabled)
}

// Flower shows Count "red flowers" on the watch, a reward for the child.
type Flower struct {
	Count int `json:"count"`
}

func (Flower) Keyword() string { return "FLOWER" }

func (c Flower) AppendContent(dst []byte) []byte {
	return strconv.AppendInt(append(dst, "FLOWER,"...), int64(c.Count), 10)
}

// Validate keeps to two digits, the most a watch face shows; the vendor gives no bound.
func (c Flower) Validate() error {
	if c.Count < 0 || c.Count > 99 {
		return cmdErrorf("count", "must be between 0 and 99")
	}
	return nil
}

// ProfileMode is how the watch signals a call.
type ProfileMode int

const (
	ProfileRingAndVibrate ProfileMode = 1
	ProfileRing           ProfileMode = 2
	ProfileVibrate        ProfileMode = 3
	ProfileSilent         ProfileMode = 4
)

var profileEnum = cmdEnum{what: "profile mode", names: []cmdEnumName{
	{1, "ring_and_vibrate"}, {2, "ring"}, {3, "vibrate"}, {4, "silent"},
}}

func (m ProfileMode) MarshalJSON() ([]byte, error) { return profileEnum.marshal(int(m)) }

func (m *ProfileMode) UnmarshalJSON(b []byte) error {
	v, err := profileEnum.unmarshal(b)
	*m = ProfileMode(v)
	return err
}

// Profile sets the ring profile. The keyword is lower case on the wire.
type Profile struct {
	Mode ProfileMode `json:"mode"`
}

func (Profile) Keyword() string { return "profile" }

func (c Profile) AppendContent(dst []byte) []byte {
	return strconv.AppendInt(append(dst, "profile,"...), int64(c.Mode), 10)
}

func (c Profile) Validate() error {
	if c.Mode < ProfileRingAndVibrate || c.Mode > ProfileSilent {
		return cmdErrorf("mode", "must be one of %s", profileEnum.list())
	}
	return nil
}

// Work sets the hours in which the watch tracks (WORK,6-9,11-13).
type Work struct {
	Windows []HourWindow `json:"windows"`
}

// workWindowsMax is what the only captured example uses; the vendor documents no bound.
const workWindowsMax = 4

func (Work) Keyword() string { return "WORK" }

func (c Work) AppendContent(dst []byte) []byte {
	dst = append(dst, "WORK"...)
	for _, w := range c.Windows {
		dst = w.appendTo(append(dst, ','))
	}
	return dst
}

func (c Work) Validate() error {
	if len(c.Windows) == 0 || len(c.Windows) > workWindowsMax {
		return cmdErrorf("windows", "must hold 1 to %d windows", workWindowsMax)
	}
	for i, w := range c.Windows {
		if err := w.check(cmdIndex("windows", i)); err != nil {
			return err
		}
	}
	return nil
}

// WorkTime sets for how many minutes the watch tracks after LocateNow.
type WorkTime struct {
	Minutes int `json:"minutes"`
}

func (WorkTime) Keyword() string { return "WORKTIME" }

func (c WorkTime) AppendContent(dst []byte) []byte {
	return strconv.AppendInt(append(dst, "WORKTIME,"...), int64(c.Minutes), 10)
}

// Validate caps the period at a day: GPS on for longer empties any watch battery first.
func (c WorkTime) Validate() error {
	if c.Minutes < 1 || c.Minutes > 24*60 {
		return cmdErrorf("minutes", "must be between 1 and 1440")
	}
	return nil
}

// AppLockFeature is a switch of the APPLOCK command of 4G watches.
type AppLockFeature string

const (
	// AppLockPositioning ("DW") is GPS positioning, off by default on some 4G models: without
	// APPLOCK,DW-1 they never report a GPS fix.
	AppLockPositioning AppLockFeature = "DW"
	// AppLockNightPowerSaving ("YJ") is the night-time power saving mode.
	AppLockNightPowerSaving AppLockFeature = "YJ"
	// AppLockDialPad ("PH") locks the dial pad, so the child can call only phone book numbers.
	AppLockDialPad AppLockFeature = "PH"
)

var appLockNames = map[AppLockFeature]string{
	AppLockPositioning:      "positioning",
	AppLockNightPowerSaving: "night_power_saving",
	AppLockDialPad:          "dial_pad",
}

func (f AppLockFeature) MarshalJSON() ([]byte, error) {
	if n, ok := appLockNames[f]; ok {
		return json.Marshal(n)
	}
	return json.Marshal(string(f))
}

// UnmarshalJSON takes the API name or the wire code (DW, YJ, PH).
func (f *AppLockFeature) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return cmdErrorf("", "feature must be a string: positioning, night_power_saving or dial_pad")
	}
	for code, name := range appLockNames {
		if s == name || s == string(code) {
			*f = code
			return nil
		}
	}
	return cmdErrorf("", "unknown feature %s: use positioning, night_power_saving or dial_pad", cmdQuote(s))
}

// AppLock switches a feature of 4G watches: APPLOCK,DW-1. For the dial pad, Enabled means locked.
type AppLock struct {
	Feature AppLockFeature `json:"feature"`
	Enabled bool           `json:"enabled"`
}

func (AppLock) Keyword() string { return "APPLOCK" }

func (c AppLock) AppendContent(dst []byte) []byte {
	dst = append(dst, "APPLOCK,"...)
	dst = append(dst, c.Feature...)
	dst = append(dst, '-')
	return appendFlag(dst, c.Enabled)
}

func (c AppLock) Validate() error {
	if _, ok := appLockNames[c.Feature]; !ok {
		return cmdErrorf("feature", "must be positioning (DW), night_power_saving (YJ) or dial_pad (PH)")
	}
	return nil
}
