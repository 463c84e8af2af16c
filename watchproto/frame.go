package watchproto

import "errors"

// ErrMalformed reports bytes that are not a frame at all (no '[' … ']', no header, bad LEN). Frames with
// a valid header never yield an error, whatever their content.
var ErrMalformed = errors.New("watchproto: malformed frame")

// malformed is ErrMalformed with the reason; errors.Is(err, ErrMalformed) holds.
type malformed string

func (e malformed) Error() string        { return "watchproto: malformed frame: " + string(e) }
func (e malformed) Is(target error) bool { return target == ErrMalformed }

// header is the parsed frame header; the strings are still slices of the frame.
type header struct {
	mfr, dev, idx []byte
	length        int
	content       []byte
}

// parseHeader splits '[' MFR '*' ID '*' [IDX '*'] LEN '*' CONTENT ']'.
func parseHeader(frame []byte) (header, error) {
	var h header
	if len(frame) < 2 || frame[0] != '[' || frame[len(frame)-1] != ']' {
		return h, malformed("not enclosed in [ ]")
	}
	b := frame[1 : len(frame)-1]
	if len(b) < 3 || b[2] != '*' {
		return h, malformed("no two-character manufacturer")
	}
	h.mfr, b = b[:2], b[3:]
	i := indexStar(b)
	if i <= 0 {
		return h, malformed("no device id")
	}
	h.dev, b = b[:i], b[i+1:]
	// The index is recognised the way Traccar does it: two 4-hex fields in a row after the id.
	if hex4Star(b) && hex4Star(b[5:]) {
		h.idx, b = b[:4], b[5:]
	}
	if !hex4Star(b) {
		return h, malformed("no 4-hex-digit LEN")
	}
	h.length = int(hexVal(b[0]))<<12 | int(hexVal(b[1]))<<8 | int(hexVal(b[2]))<<4 | int(hexVal(b[3]))
	h.content = b[5:]
	return h, nil
}

func indexStar(b []byte) int {
	for i, c := range b {
		if c == '*' {
			return i
		}
	}
	return -1
}

// hex4Star reports whether b starts with four hex digits and a '*'.
func hex4Star(b []byte) bool {
	return len(b) >= 5 && isHex(b[0]) && isHex(b[1]) && isHex(b[2]) && isHex(b[3]) && b[4] == '*'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hexVal(c byte) uint32 {
	switch {
	case c <= '9':
		return uint32(c - '0')
	case c >= 'a':
		return uint32(c - 'a' + 10)
	default:
		return uint32(c - 'A' + 10)
	}
}

const hexDigits = "0123456789abcdef"

// AppendFrame appends the frame '[' manufacturer '*' device '*' [index '*'] LEN '*' content ']' to dst.
// content must already be escaped (AppendEscaped). LEN is len(content) as four lower-case hex digits,
// as Traccar writes it; content longer than 0xFFFF gets LEN ffff because the field cannot say more and
// watches frame by brackets anyway.
func AppendFrame(dst []byte, manufacturer, device, index string, content []byte) []byte {
	dst, at := beginFrame(dst, manufacturer, device, index)
	dst = append(dst, content...)
	return endFrame(dst, at)
}

// beginFrame appends the header up to and including LEN's '*', with LEN left as a placeholder, and
// returns where LEN starts: content can then be appended in place and endFrame patches LEN.
func beginFrame(dst []byte, manufacturer, device, index string) ([]byte, int) {
	dst = append(dst, '[')
	dst = append(dst, manufacturer...)
	dst = append(dst, '*')
	dst = append(dst, device...)
	dst = append(dst, '*')
	if index != "" {
		dst = append(dst, index...)
		dst = append(dst, '*')
	}
	at := len(dst)
	return append(dst, "0000*"...), at
}

// endFrame patches LEN at dst[at:at+4] to the length of the content appended since, and closes the frame.
func endFrame(dst []byte, at int) []byte {
	n := len(dst) - at - 5
	if n > 0xFFFF {
		n = 0xFFFF
	}
	dst[at] = hexDigits[n>>12]
	dst[at+1] = hexDigits[n>>8&0xF]
	dst[at+2] = hexDigits[n>>4&0xF]
	dst[at+3] = hexDigits[n&0xF]
	return append(dst, ']')
}
