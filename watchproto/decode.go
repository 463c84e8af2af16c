package watchproto

import (
	"bytes"
	"time"
)

// Decode parses one frame as Framer delivers it (escaped, brackets included) into m, which it resets
// first while keeping the storage of m's slices. It returns an error (ErrMalformed) only when the bytes
// are not a frame at all; any frame with a valid header decodes, unknown types to KindUnknown.
// Strings in m never alias frame.
func Decode(frame []byte, m *Message) error {
	m.reset()
	h, err := parseHeader(frame)
	if err != nil {
		return err
	}
	m.Manufacturer = m.internManufacturer(h.mfr)
	m.Device = m.str(h.dev)
	m.Index = m.str(h.idx)
	m.Length = h.length
	m.LengthOK = h.length == len(h.content)

	content := h.content
	typ, rest, hasFields := content, []byte(nil), false
	if i := bytes.IndexByte(content, ','); i >= 0 {
		typ, rest, hasFields = content[:i], content[i+1:], true
	}
	f := splitter{rest: rest, done: !hasFields}

	if t, k := knownType(typ); k != decNone {
		m.Type = t
		m.decodeKnown(k, f, rest)
		return nil
	}
	m.Type = m.str(typ)
	// Traccar treats every type starting with UD, AL or WT as a location (UD_CDMA, ALCUSTOMER1, …).
	if hasPrefix(typ, "UD") || hasPrefix(typ, "AL") || hasPrefix(typ, "WT") {
		m.Kind = KindLocation
		m.Location.AlarmReport = hasPrefix(typ, "AL")
		m.decodeLocation(f)
		return nil
	}
	if k := healthType(typ); k != decNone {
		m.decodeKnown(k, f, rest)
		return nil
	}
	if kw, ok := commandKeyword(typ); ok {
		m.Kind, m.Keyword = KindCommandReply, kw
		if hasFields {
			m.Data = m.str(rest)
		}
		return nil
	}
	if kw, ok := commandPrefix(typ); ok {
		m.Kind, m.Keyword = KindCommandReply, kw
		data := content[len(kw):]
		if data[0] == ',' {
			data = data[1:]
		}
		m.Data = m.str(data)
		return nil
	}
	m.Kind = KindUnknown
	m.decodeFields(f)
	return nil
}

// decoder names the parser of a known type; a type maps to one decoder and the decoder sets Kind.
type decoder uint8

const (
	decNone decoder = iota
	decLK
	decLocation
	decAlarm
	decWAD
	decPP
	decTKQ
	decTK
	decJXTK
	decImg
	decHeart
	decBlood
	decBPHRT
	decOxygen
	decBtemp
	decTemp
	decInit
	decICCID
	decConfig
	decWiFiInfo
	decGS1
)

// knownType interns the keywords a watch sends often, so that decoding them allocates no type string.
func knownType(t []byte) (string, decoder) {
	switch string(t) {
	case "LK":
		return "LK", decLK
	case "KA":
		return "KA", decLK
	case "UD":
		return "UD", decLocation
	case "UD2":
		return "UD2", decLocation
	case "UD3":
		return "UD3", decLocation
	case "UD_LTE":
		return "UD_LTE", decLocation
	case "UD_WCDMA":
		return "UD_WCDMA", decLocation
	case "UD_TDSCDMA":
		return "UD_TDSCDMA", decLocation
	case "UD_CDMA":
		return "UD_CDMA", decLocation
	case "WT":
		return "WT", decLocation
	case "WG":
		return "WG", decLocation
	case "AL":
		return "AL", decAlarm
	case "AL_LTE":
		return "AL_LTE", decAlarm
	case "AL_WCDMA":
		return "AL_WCDMA", decAlarm
	case "AL_TDSCDMA":
		return "AL_TDSCDMA", decAlarm
	case "AL_CDMA":
		return "AL_CDMA", decAlarm
	case "WAD":
		return "WAD", decWAD
	case "PP":
		return "PP", decPP
	case "TKQ":
		return "TKQ", decTKQ
	case "TKQ2":
		return "TKQ2", decTKQ
	case "TK":
		return "TK", decTK
	case "TK2":
		return "TK2", decTK
	case "JXTK":
		return "JXTK", decJXTK
	case "img":
		return "img", decImg
	case "heart":
		return "heart", decHeart
	case "HEART":
		return "HEART", decHeart
	case "PULSE":
		return "PULSE", decHeart
	case "BLOOD":
		return "BLOOD", decBlood
	case "bphrt":
		return "bphrt", decBPHRT
	case "BPHRT":
		return "BPHRT", decBPHRT
	case "oxygen":
		return "oxygen", decOxygen
	case "btemp2":
		return "btemp2", decBtemp
	case "TEMP":
		return "TEMP", decTemp
	case "temp":
		return "temp", decTemp
	case "INIT":
		return "INIT", decInit
	case "CCID":
		return "CCID", decICCID
	case "ICCID":
		return "ICCID", decICCID
	case "CONFIG":
		return "CONFIG", decConfig
	case "WIFIINFOUP":
		return "WIFIINFOUP", decWiFiInfo
	case "GS1":
		return "GS1", decGS1
	}
	return "", decNone
}

// healthType recognises the health keywords in spellings knownType does not intern: firmwares differ
// in case (Traccar issue #4395), so they are compared ignoring it.
func healthType(t []byte) decoder {
	switch {
	case equalFold(t, "heart"), equalFold(t, "pulse"):
		return decHeart
	case equalFold(t, "blood"):
		return decBlood
	case equalFold(t, "bphrt"):
		return decBPHRT
	case equalFold(t, "oxygen"):
		return decOxygen
	case equalFold(t, "btemp2"):
		return decBtemp
	case equalFold(t, "temp"):
		return decTemp
	}
	return decNone
}

// healthDecoder returns the decoder of a health Type in any spelling.
func healthDecoder(typ string) decoder {
	if _, d := knownType([]byte(typ)); d != decNone {
		return d
	}
	return healthType([]byte(typ))
}

func (m *Message) decodeKnown(d decoder, f splitter, rest []byte) {
	switch d {
	case decLK:
		m.Kind = KindHeartbeat
		m.decodeHeartbeat(f)
	case decLocation:
		m.Kind = KindLocation
		m.decodeLocation(f)
	case decAlarm:
		m.Kind = KindLocation
		m.Location.AlarmReport = true
		m.decodeLocation(f)
	case decWAD:
		m.Kind = KindLocation
		lang, _ := f.next()
		m.Location.Language = m.str(lang)
		m.decodeLocation(f)
	case decPP:
		m.Kind = KindLocation
		t, _ := f.next()
		m.Location.PPTime = m.str(t)
		m.decodeLocation(f)
	case decTKQ:
		m.Kind = KindVoiceQuery
	case decTK:
		// A lone 0 or 1 is the watch acknowledging a voice message the server pushed, not a
		// one-byte recording.
		if len(rest) == 1 && (rest[0] == '0' || rest[0] == '1') {
			m.Kind, m.Keyword, m.Data = KindCommandReply, m.Type, m.str(rest)
			return
		}
		m.Kind = KindAudio
		m.unescapePayload(rest)
	case decJXTK:
		m.Kind = KindAudio
		f.next() // always 0; its meaning is undocumented
		name, _ := f.next()
		m.FileName = m.str(name)
		part, _ := f.next()
		m.Part, _ = parseSmall(part)
		total, _ := f.next()
		m.Total, _ = parseSmall(total)
		m.unescapePayload(f.tail())
	case decImg:
		m.Kind = KindImage
		src, _ := f.next()
		m.ImageSource, _ = parseSmall(src)
		ts, _ := f.next()
		m.ImageTime = parseStamp(ts)
		m.unescapePayload(f.tail())
	case decHeart:
		m.Kind = KindHealth
		m.healthInt(&f, &m.Health.HeartRate, FieldHeartRate)
	case decBlood, decBPHRT:
		m.Kind = KindHealth
		sys, _ := f.next()
		dia, _ := f.next()
		s, ok1 := parseSmall(sys)
		d, ok2 := parseSmall(dia)
		if ok1 && ok2 {
			m.Health.Systolic, m.Health.Diastolic = s, d
			m.Present |= FieldBloodPressure
		}
		m.healthInt(&f, &m.Health.HeartRate, FieldHeartRate)
	case decOxygen:
		m.Kind = KindHealth
		m.healthInt(&f, &m.Health.Mode, FieldMode)
		m.healthInt(&f, &m.Health.SpO2, FieldSpO2)
	case decBtemp:
		// Both modes are temperatures: Traccar drops the forehead (mode 0) reading, which is a bug.
		m.Kind = KindHealth
		m.healthInt(&f, &m.Health.Mode, FieldMode)
		m.healthTemp(&f)
	case decTemp:
		m.Kind = KindHealth
		m.healthTemp(&f)
	case decInit:
		m.Kind = KindInit
		m.decodeFields(f)
	case decICCID:
		m.Kind = KindICCID
		id, _ := f.next()
		m.ICCID = m.str(trimSpace(id))
	case decConfig:
		m.Kind = KindConfig
		for {
			kv, ok := f.next()
			if !ok {
				break
			}
			if len(kv) == 0 {
				continue
			}
			k, v := kv, []byte(nil)
			if i := bytes.IndexByte(kv, ':'); i >= 0 {
				k, v = kv[:i], kv[i+1:]
			}
			m.Config = append(m.Config, KV{Key: m.str(k), Value: m.str(v)})
		}
	case decWiFiInfo:
		m.Kind = KindWiFiInfo
		m.decodeFields(f)
	case decGS1:
		// GS1 is n,timing advance,mcc,mnc,(lac,cid,rssi)*n: the cell part of a location block.
		m.Kind = KindCellReport
		m.decodeCells(&f)
	}
}

func (m *Message) decodeHeartbeat(f splitter) {
	if b, ok := f.next(); ok {
		if n, ok := parseInt(b); ok {
			m.Heartbeat.Steps, m.Present = n, m.Present|FieldSteps
		}
	}
	if b, ok := f.next(); ok {
		if n, ok := parseSmall(b); ok {
			m.Heartbeat.Rolls, m.Present = n, m.Present|FieldRolls
		}
	}
	if b, ok := f.next(); ok {
		if n, ok := parseSmall(b); ok {
			m.Heartbeat.Battery, m.Present = n, m.Present|FieldBattery
		}
	}
}

func (m *Message) healthInt(f *splitter, dst *int, bit Fields) {
	if b, ok := f.next(); ok {
		if n, ok := parseSmall(b); ok {
			*dst, m.Present = n, m.Present|bit
		}
	}
}

func (m *Message) healthTemp(f *splitter) {
	if b, ok := f.next(); ok {
		if t, ok := parseFloat(b); ok {
			m.Health.Temperature, m.Present = t, m.Present|FieldTemperature
		}
	}
}

func (m *Message) decodeFields(f splitter) {
	for {
		b, ok := f.next()
		if !ok {
			return
		}
		m.Fields = append(m.Fields, m.str(b))
	}
}

// unescapePayload decodes a binary payload into m.Payload. A bad escape is kept as a flag rather
// than an error so the gateway can still answer the watch (TK,0) instead of dropping the frame.
func (m *Message) unescapePayload(wire []byte) {
	var err error
	m.Payload, err = AppendUnescaped(m.Payload[:0], wire)
	m.BadEscape = err != nil
}

// splitter walks comma-separated fields. done distinguishes "no fields" from "one empty field".
type splitter struct {
	rest []byte
	done bool
}

// next scans by hand: fields are a few bytes long, too short for IndexByte's call to pay off.
func (s *splitter) next() ([]byte, bool) {
	if s.done {
		return nil, false
	}
	for i, c := range s.rest {
		if c == ',' {
			f := s.rest[:i]
			s.rest = s.rest[i+1:]
			return f, true
		}
	}
	s.done = true
	return s.rest, true
}

// tail returns everything not yet split, commas included: a payload after its leading fields.
func (s *splitter) tail() []byte {
	if s.done {
		return nil
	}
	s.done = true
	return s.rest
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

// internManufacturer avoids a string per frame for the manufacturers seen in the field.
func (m *Message) internManufacturer(b []byte) string {
	switch string(b) {
	case "3G":
		return "3G"
	case "SG":
		return "SG"
	case "CS":
		return "CS"
	case "ZJ":
		return "ZJ"
	}
	return m.str(b)
}

// parseStamp parses YYMMDDhhmmss (img) as UTC; zero if it is not a valid time.
func parseStamp(b []byte) time.Time {
	if len(b) != 12 {
		return time.Time{}
	}
	return civil(b[4:6], b[2:4], b[0:2], b[6:12])
}

// civil builds a UTC time from two-digit day, month, year and an hhmmss field, or returns zero if they
// do not name a real instant (watches without a fix send 000000 and the like).
func civil(day, month, year, hms []byte) time.Time {
	d, ok1 := two(day)
	mo, ok2 := two(month)
	y, ok3 := two(year)
	if len(hms) != 6 || !ok1 || !ok2 || !ok3 {
		return time.Time{}
	}
	hh, ok4 := two(hms[0:2])
	mm, ok5 := two(hms[2:4])
	ss, ok6 := two(hms[4:6])
	if !ok4 || !ok5 || !ok6 || mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, 2000+y) || hh > 23 || mm > 59 || ss > 59 {
		return time.Time{}
	}
	return time.Date(2000+y, time.Month(mo), d, hh, mm, ss, 0, time.UTC)
}

func two(b []byte) (int, bool) {
	if len(b) != 2 || b[0] < '0' || b[0] > '9' || b[1] < '0' || b[1] > '9' {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
