package watchproto

import "math"

// AppendReply appends the frame the server owes the device for m, echoing m's manufacturer and index,
// and returns dst unchanged when m needs no reply. The replies follow the vendor spec where Traccar
// answers less:
//
//	LK → LK                 AL* → AL             TKQ, TKQ2 → the same keyword
//	TK, TK2 (voice) → TK,1 / TK2,1, or ,0 when the payload is empty or badly escaped
//	JXTK → JXTKR,1 (JXTKR,0 for a badly escaped chunk)
//	INIT → INIT,1           CONFIG → CONFIG,1    WIFIINFOUP → WIFIINFOUP,1
//	bphrt, btemp2 (any case) → the keyword as received
//	oxygen (any case) → oxygen,1 for SpO2 94–100, oxygen,0 for another reading, oxygen,2 when there is none
//	WG, WAD → the "not found" answer of AppendLocationReply; call that instead once the location is known
//
// Nothing else is answered. CCID/ICCID in particular gets no reply: only unverified third-party servers
// send one (ICCID2,1), Traccar sends none, watches do not resend it, and an unexpected frame is the
// likelier of the two to upset a firmware. Command replies are never answered, or a watch and server
// could ack each other forever. KA, PP (friend matching is the gateway's business), WT (the weather reply
// format is unknown), health readings other than the above and unknown types get nothing either.
func AppendReply(dst []byte, m *Message) []byte {
	switch m.Kind {
	case KindHeartbeat:
		if m.Type == "LK" {
			return appendReplyText(dst, m, "LK")
		}
	case KindLocation:
		switch {
		case m.Location.AlarmReport:
			return appendReplyText(dst, m, "AL")
		case m.GeoRequest():
			return AppendLocationReply(dst, m, GeoAnswer{})
		}
	case KindVoiceQuery:
		return appendReplyText(dst, m, m.Type)
	case KindHealth:
		switch healthDecoder(m.Type) {
		case decBPHRT, decBtemp:
			return appendReplyText(dst, m, m.Type)
		case decOxygen:
			status := "oxygen,2"
			if m.Present.Has(FieldSpO2) && m.Health.SpO2 > 0 {
				status = "oxygen,0"
				if m.Health.SpO2 >= 94 && m.Health.SpO2 <= 100 {
					status = "oxygen,1"
				}
			}
			return appendReplyText(dst, m, status)
		}
	case KindAudio:
		ok := !m.BadEscape && len(m.Payload) > 0
		switch m.Type {
		case "TK":
			return appendReplyText(dst, m, pick(ok, "TK,1", "TK,0"))
		case "TK2":
			return appendReplyText(dst, m, pick(ok, "TK2,1", "TK2,0"))
		case "JXTK":
			return appendReplyText(dst, m, pick(!m.BadEscape, "JXTKR,1", "JXTKR,0"))
		}
	case KindInit:
		return appendReplyText(dst, m, "INIT,1")
	case KindConfig:
		return appendReplyText(dst, m, "CONFIG,1")
	case KindWiFiInfo:
		return appendReplyText(dst, m, "WIFIINFOUP,1")
	}
	return dst
}

func pick(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

func appendReplyText(dst []byte, m *Message, content string) []byte {
	dst, at := beginFrame(dst, m.Manufacturer, m.Device, m.Index)
	dst = append(dst, content...)
	return endFrame(dst, at)
}

// GeoAnswer is what the server found for a WG (coordinates) or WAD (address) request.
type GeoAnswer struct {
	Found   bool
	FromGPS bool // the answer comes from a GPS fix (GPS) rather than cells/Wi-Fi (BASE)
	Lat     float64
	Lon     float64
	Address string // WAD only; the caller picks the encoding the watch expects
}

// AppendLocationReply appends the answer to a WG or WAD request m: RG,GPS|BASE,lat,N|S,lon,E|W for WG
// (degrees with six decimals, about 0.1 m) and RAD,GPS|BASE,<address> for WAD. '[' and ']' in the
// address become '(' and ')' because they would end the frame early.
//
// When the location is not known (a.Found false) it sends RG,BASE,,,, and RAD,BASE, : the same fields
// with the values left empty. A well-formed answer stops the watch waiting and retrying; empty values
// rather than 0,0 because 0,0 is a real place that a watch would show as the child's position.
// For other message types it returns dst unchanged.
func AppendLocationReply(dst []byte, m *Message, a GeoAnswer) []byte {
	var src string
	if a.FromGPS && a.Found {
		src = "GPS"
	} else {
		src = "BASE"
	}
	var at int
	switch m.Type {
	case "WG":
		dst, at = beginFrame(dst, m.Manufacturer, m.Device, m.Index)
		dst = append(dst, "RG,"...)
		dst = append(dst, src...)
		if !a.Found {
			dst = append(dst, ",,,,"...)
			return endFrame(dst, at)
		}
		dst = append(dst, ',')
		dst = appendCoord(dst, a.Lat, 'N', 'S')
		dst = append(dst, ',')
		dst = appendCoord(dst, a.Lon, 'E', 'W')
		return endFrame(dst, at)
	case "WAD":
		dst, at = beginFrame(dst, m.Manufacturer, m.Device, m.Index)
		dst = append(dst, "RAD,"...)
		dst = append(dst, src...)
		dst = append(dst, ',')
		if a.Found {
			for i := 0; i < len(a.Address); i++ {
				c := a.Address[i]
				switch c {
				case '[':
					c = '('
				case ']':
					c = ')'
				}
				dst = append(dst, c)
			}
		}
		return endFrame(dst, at)
	}
	return dst
}

// appendCoord writes |v| with six decimals and its hemisphere letter.
func appendCoord(dst []byte, v float64, pos, neg byte) []byte {
	h := pos
	if v < 0 {
		h = neg
	}
	dst = appendFixed6(dst, math.Abs(v))
	return append(dst, ',', h)
}
