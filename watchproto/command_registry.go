package watchproto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// CommandInfo documents one command of the registry that ParseCommand builds from.
type CommandInfo struct {
	Name    string // stable API name, snake_case
	Keyword string // the wire keyword; alternatives joined by |
	Summary string // one line for docs
	Example string // a params object that passes validation
}

type commandSpec struct {
	CommandInfo
	required []string
	typ      reflect.Type
	parse    func(params []byte) (Command, error)
}

// specOf registers T under name. required lists the parameters that must be present: for them a
// Go zero value (false, 0, "") would be a plausible but unintended setting.
func specOf[T Command](name, keyword, summary, example string, required ...string) commandSpec {
	return commandSpec{
		CommandInfo: CommandInfo{Name: name, Keyword: keyword, Summary: summary, Example: example},
		required:    required,
		typ:         reflect.TypeFor[T](),
		parse: func(params []byte) (Command, error) {
			var c T
			if err := cmdDecodeStrict(params, &c); err != nil {
				return nil, err
			}
			return c, nil
		},
	}
}

// commandSpecs is in documentation order: as section 3.2 of the protocol reference lists them.
var commandSpecs = []commandSpec{
	specOf[Upload]("upload", "UPLOAD", "GPS upload interval while moving, 60 to 65535 seconds", `{"interval_seconds":600}`, "interval_seconds"),
	specOf[Center]("center_number", "CENTER", "set the center number (SMS commands without password, SMS alarms)", `{"phone":"+4915112345678"}`, "phone"),
	specOf[Slave]("slave_number", "SLAVE", "set the assistant (second center) number", `{"phone":"+4915112345679"}`, "phone"),
	specOf[Password]("password", "PW", "set the 6-digit SMS control password", `{"password":"654321"}`, "password"),
	specOf[Call]("call", "CALL", "make the watch dial a number", `{"phone":"+4915112345678"}`, "phone"),
	specOf[Monitor]("monitor", "MONITOR", "make the watch call a number back silently (listen in; only where legal)", `{"phone":"+4915112345678"}`, "phone"),
	specOf[SOSNumber]("sos_number", "SOS1|SOS2|SOS3", "set one SOS number; an empty phone clears the slot", `{"slot":1,"phone":"+4915112345678"}`, "slot", "phone"),
	specOf[SOSNumbers]("sos_numbers", "SOS", "set all three SOS numbers; empty entries clear their slot", `{"phones":["+4915112345678","+4915112345679",""]}`, "phones"),
	specOf[IP]("server", "IP", "move the watch to another server; no reply, the watch reconnects there after 5-8 minutes", `{"host":"watch.example.org","port":5093}`, "host", "port"),
	specOf[APN]("apn", "APN", "set the mobile data access point", `{"name":"internet.telekom","operator":"26201"}`, "name"),
	specOf[Factory]("factory_reset", "FACTORY", "reset the watch's settings (the server address survives)", `{}`),
	specOf[SetTimeZone]("set_time_zone", "LZ", "set the UTC offset (quarter hours, no DST) and optionally the language", `{"language":"german","offset_hours":1}`, "offset_hours"),
	specOf[SOSSMS]("sos_sms", "SOSSMS", "text the SOS numbers when SOS is pressed", `{"enabled":true}`, "enabled"),
	specOf[LowBatteryAlarm]("low_battery_alarm", "LOWBAT", "text the center number when the battery drops below 20%", `{"enabled":true}`, "enabled"),
	specOf[RemoveAlarm]("remove_alarm", "REMOVE", "alarm when the watch is taken off", `{"enabled":true}`, "enabled"),
	specOf[RemoveSMS]("remove_sms", "REMOVESMS", "text the center number when the watch is taken off", `{"enabled":false}`, "enabled"),
	specOf[Pedometer]("pedometer", "PEDO", "switch step counting", `{"enabled":true}`, "enabled"),
	specOf[WalkTime]("walk_time", "WALKTIME", "up to 3 daily windows for step counting", `{"windows":[{"start":"07:00","end":"08:30"},{"start":"15:00","end":"18:00"}]}`, "windows"),
	specOf[SleepTime]("sleep_time", "SLEEPTIME", "the sleep monitoring window", `{"window":{"start":"21:00","end":"07:00"}}`, "window"),
	specOf[SilenceTime]("silence_time", "SILENCETIME", "up to 4 daily do-not-disturb (class mode) windows", `{"windows":[{"start":"08:00","end":"12:00"},{"start":"13:30","end":"15:30"}]}`, "windows"),
	specOf[SilenceTime2]("silence_time_weekly", "SILENCETIME2", "up to 4 do-not-disturb windows, each on chosen days of the week", `{"windows":[{"start":"08:00","end":"12:00","days":["monday","tuesday","wednesday","thursday","friday"]}]}`, "windows"),
	specOf[Find]("find", "FIND", "ring the watch for a minute", `{}`),
	specOf[Flower]("flower", "FLOWER", "show 0 to 99 reward flowers on the watch", `{"count":5}`, "count"),
	specOf[Remind]("remind", "REMIND", "set up to 3 alarm clocks", `{"alarms":[{"time":"07:00","enabled":true,"repeat":"custom_days","days":["monday","tuesday","wednesday","thursday","friday"]},{"time":"09:30","enabled":true,"repeat":"once"}]}`, "alarms"),
	specOf[VoiceMessage]("voice_message", "TK", "push a voice message: base64 AMR-NB, at most 15 s", `{"amr":"IyFBTVIKPAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh88KCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRg=="}`, "amr"),
	specOf[TextMessage]("message", "MESSAGE", "show a text (up to 100 characters) on the watch screen", `{"text":"Dinner is ready"}`, "text"),
	specOf[SMS]("sms", "SMS", "make the watch send an SMS (printable ASCII text)", `{"phone":"+4915112345678","text":"On my way home"}`, "phone", "text"),
	specOf[PhoneBook]("phone_book", "PHB|PHB2", "replace phone book entries 1-5 (part 1) or 6-10 (part 2)", `{"part":1,"entries":[{"name":"Mum","phone":"+4915112345678"},{"name":"Dad","phone":"+4915112345679"}]}`, "part", "entries"),
	specOf[PhoneBookX]("phone_book_x", "PHBX", "set a contact with avatar (1-30), photo as base64 JPEG", `{"index":1,"name":"Mum","phone":"+4915112345678"}`, "index", "name", "phone"),
	specOf[PhoneBookX2]("phone_book_x2", "PHBX2", "add a contact with avatar", `{"sum":1,"name":"Mum","phone":"+4915112345678","type":0}`, "sum", "name", "phone", "type"),
	specOf[DeletePhoneBookX]("delete_phone_book_x", "DPHBX", "delete a contact with avatar", `{"index":1}`, "index"),
	specOf[WhiteList]("white_list", "WHITELIST1|WHITELIST2", "replace white list numbers 1-5 (part 1) or 6-10 (part 2)", `{"part":1,"phones":["+4915112345678","+4915112345679"]}`, "part", "phones"),
	specOf[RefuseUnknownCalls]("refuse_unknown_calls", "DEVREFUSEPHONESWITCH", "reject calls from numbers not in the phone book", `{"enabled":true}`, "enabled"),
	specOf[AutoAnswer]("auto_answer", "ACALL", "auto-answer calls from up to 15 numbers; none switches it off", `{"phones":["+4915112345678"]}`, "phones"),
	specOf[Profile]("profile", "profile", "ring profile: ring_and_vibrate, ring, vibrate or silent", `{"mode":"vibrate"}`, "mode"),
	specOf[Version]("version", "VERNO", "ask for the firmware version", `{}`),
	specOf[Settings]("settings", "TS", "ask for the watch's settings", `{}`),
	specOf[Reset]("reboot", "RESET", "reboot the watch", `{}`),
	specOf[PowerOff]("power_off", "POWEROFF", "switch the watch off", `{}`),
	specOf[LocateNow]("locate_now", "CR", "GPS on for about 3 minutes, a position every 20 s", `{}`),
	specOf[Work]("work", "WORK", "up to 4 tracking windows in whole hours", `{"windows":[{"start":6,"end":9},{"start":17,"end":19}]}`, "windows"),
	specOf[WorkTime]("work_time", "WORKTIME", "minutes of tracking after locate_now", `{"minutes":5}`, "minutes"),
	specOf[RemoteCapture]("remote_capture", "rcapture", "take a photo with the watch camera", `{}`),
	specOf[OfflinePhotos]("offline_photos", "wdimgq", "ask for photos taken while offline", `{}`),
	specOf[HeartRateStart]("heart_rate", "hrtstart", "measure heart rate once, stop, or every 300-65535 s", `{"mode":"periodic","interval_seconds":3600}`, "mode"),
	specOf[HealthAutoSet]("health_auto_set", "HEALTHAUTOSET", "periodic health measuring, every 300-65535 s", `{"enabled":true,"interval_seconds":3600}`, "enabled", "interval_seconds"),
	specOf[BodyTemperature]("body_temperature", "bodytemp", "periodic temperature measuring, every 1-12 hours", `{"enabled":true,"interval_hours":4}`, "enabled", "interval_hours"),
	specOf[BodyTemperatureNow]("body_temperature_now", "bodytemp2", "measure the temperature now", `{}`),
	specOf[FallDetection]("fall_detection", "FALLDOWN", "fall alarm, and whether the watch then calls the center number", `{"enabled":true,"call_center":true}`, "enabled", "call_center"),
	specOf[FallSensitivity]("fall_sensitivity", "LSSET", "fall detector sensitivity level on a scale", `{"level":5,"scale":8}`, "level", "scale"),
	specOf[TakePills]("take_pills", "TAKEPILLS", "medication reminder with text and optional base64 AMR-NB audio", `{"enabled":true,"number":1,"text":"Vitamin D"}`, "enabled", "number", "text"),
	specOf[RemoveFriend]("remove_friend", "PPR", "remove a watch friend; no reply", `{}`),
	specOf[WiFiSearch]("wifi_search", "WIFISEARCH", "scan for wifi networks (Android 4G watches)", `{}`),
	specOf[WiFiSet]("wifi_set", "WIFISET", "join a wifi network; fields verbatim in the firmware's encoding", `{"id":"486f6d65","password":"7365637265743132","ssid":"Home"}`, "id", "password", "ssid"),
	specOf[WiFiDelete]("wifi_delete", "WIFIDEL", "forget the wifi network", `{}`),
	specOf[WiFiCurrent]("wifi_current", "WIFICUR", "ask which wifi network the watch is on", `{}`),
	specOf[AppLock]("app_lock", "APPLOCK", "4G watches: positioning (must be on for GPS), night_power_saving, dial_pad lock", `{"feature":"positioning","enabled":true}`, "feature", "enabled"),
	specOf[Custom]("custom", "(any)", "raw content for a command without a type, in wire form", `{"text":"GPSTEST"}`, "text"),
}

var (
	specByName = func() map[string]*commandSpec {
		m := make(map[string]*commandSpec, len(commandSpecs))
		for i := range commandSpecs {
			m[commandSpecs[i].Name] = &commandSpecs[i]
		}
		return m
	}()
	specByKeyword = func() map[string]*commandSpec {
		m := make(map[string]*commandSpec, len(commandSpecs))
		for i := range commandSpecs {
			if commandSpecs[i].Name == "custom" {
				continue
			}
			for _, k := range strings.Split(commandSpecs[i].Keyword, "|") {
				m[k] = &commandSpecs[i]
			}
		}
		return m
	}()
	specByType = func() map[reflect.Type]*commandSpec {
		m := make(map[reflect.Type]*commandSpec, len(commandSpecs))
		for i := range commandSpecs {
			m[commandSpecs[i].typ] = &commandSpecs[i]
		}
		return m
	}()
)

// CommandNames returns the API names ParseCommand knows, sorted.
func CommandNames() []string {
	names := make([]string, 0, len(commandSpecs))
	for _, s := range commandSpecs {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return names
}

// CommandCatalog describes every command, in the order of the protocol reference.
func CommandCatalog() []CommandInfo {
	out := make([]CommandInfo, len(commandSpecs))
	for i, s := range commandSpecs {
		out[i] = s.CommandInfo
	}
	return out
}

// DescribeCommand returns the documentation of the command with the given API name.
func DescribeCommand(name string) (CommandInfo, bool) {
	s, ok := specByName[name]
	if !ok {
		return CommandInfo{}, false
	}
	return s.CommandInfo, true
}

// CommandName returns the API name of c's type, so a command built in Go can be stored or shown
// the way the API names it.
func CommandName(c Command) (string, bool) {
	s, ok := specByType[reflect.TypeOf(c)]
	if !ok {
		return "", false
	}
	return s.Name, true
}

// CommandNameOfKeyword returns the API name of the command sent with a wire keyword (stored
// commands keep only the keyword); ok is false for keywords no typed command uses, which were sent
// as "custom".
func CommandNameOfKeyword(keyword string) (name string, ok bool) {
	s, ok := specByKeyword[keyword]
	if !ok {
		return "", false
	}
	return s.Name, true
}

// ParseCommand builds the command with API name name from params, a JSON object with snake_case
// keys (empty params mean {}). Unknown keys, wrong types and missing required keys are errors,
// and the command is validated. Every error matches ErrInvalidCommand; an unknown name also
// matches ErrUnknownCommand.
func ParseCommand(name string, params []byte) (Command, error) {
	s, ok := specByName[name]
	if !ok {
		return nil, &CommandError{Reason: "unknown command " + cmdQuote(name), kind: ErrUnknownCommand}
	}
	params = bytes.TrimSpace(params)
	if len(params) == 0 {
		params = []byte("{}")
	}
	if params[0] != '{' {
		return nil, cmdErrorf("", "params must be a JSON object")
	}
	c, err := s.parse(params)
	if err != nil {
		return nil, err
	}
	if err := cmdCheckRequired(params, s.required); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func cmdCheckRequired(params []byte, required []string) error {
	if len(required) == 0 {
		return nil
	}
	var present map[string]json.RawMessage
	if err := json.Unmarshal(params, &present); err != nil {
		return cmdJSONError(err)
	}
	for _, k := range required {
		if v, ok := present[k]; !ok || string(v) == "null" {
			return cmdErrorf(k, "is required")
		}
	}
	return nil
}

// cmdDecodeStrict decodes exactly one JSON value into v, rejecting unknown keys. Types with their
// own UnmarshalJSON call it too, since the outer decoder's strictness does not reach into them.
func cmdDecodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return cmdJSONError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return cmdErrorf("", "params must be a single JSON object")
	}
	return nil
}

// cmdJSONError turns encoding/json's errors, written for programmers, into CommandErrors.
func cmdJSONError(err error) error {
	var ce *CommandError
	if errors.As(err, &ce) {
		return ce
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var b64 base64.CorruptInputError
	switch {
	case errors.As(err, &syntax):
		return cmdErrorf("", "params are not valid JSON: %v", syntax)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return cmdErrorf("", "params are not valid JSON: unexpected end of input")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return cmdErrorf("", "params must be a JSON object, not %s", typ.Value)
		}
		value := typ.Value
		if len(value) > 32 {
			value = value[:32] + "…"
		}
		return cmdErrorf(typ.Field, "must be %s, not %s", cmdJSONKind(typ.Type), value)
	case errors.As(err, &b64):
		return cmdErrorf("", "binary data must be standard base64 (bad input at byte %d)", int64(b64))
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name, err := strconv.Unquote(field); err == nil {
			field = cmdQuote(name)
		}
		return cmdErrorf("", "unknown parameter %s", field)
	}
	return cmdErrorf("", "params are invalid: %v", err)
}

func cmdJSONKind(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "base64 text"
		}
		return "a list"
	case reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a different type"
}
