package watchproto

import "errors"

// escapeByte introduces a two-byte escape for binary payloads (voice, photos): 0x7D 0x01..0x05
// stand for the five bytes that would otherwise break framing or field splitting.
const escapeByte = 0x7D

// escaped maps the second byte of an escape pair (index 1..5) to the raw byte.
var escaped = [6]byte{0, 0x7D, '[', ']', ',', '*'}

// ErrBadEscape reports a 0x7D followed by something other than 0x01..0x05.
var ErrBadEscape = errors.New("watchproto: invalid 0x7D escape")

// AppendEscaped appends raw to dst, escaping the bytes that may not appear in frame content.
func AppendEscaped(dst, raw []byte) []byte {
	for _, b := range raw {
		switch b {
		case 0x7D:
			dst = append(dst, escapeByte, 0x01)
		case '[':
			dst = append(dst, escapeByte, 0x02)
		case ']':
			dst = append(dst, escapeByte, 0x03)
		case ',':
			dst = append(dst, escapeByte, 0x04)
		case '*':
			dst = append(dst, escapeByte, 0x05)
		default:
			dst = append(dst, b)
		}
	}
	return dst
}

// EscapedLen returns len(AppendEscaped(nil, raw)) without building it.
func EscapedLen(raw []byte) int {
	n := len(raw)
	for _, b := range raw {
		switch b {
		case 0x7D, '[', ']', ',', '*':
			n++
		}
	}
	return n
}

// AppendUnescaped appends the raw bytes encoded by wire to dst. A trailing lone 0x7D or an unknown
// escape yields ErrBadEscape and the bytes decoded so far.
func AppendUnescaped(dst, wire []byte) ([]byte, error) {
	for i := 0; i < len(wire); i++ {
		b := wire[i]
		if b != escapeByte {
			dst = append(dst, b)
			continue
		}
		if i+1 >= len(wire) || wire[i+1] < 1 || wire[i+1] > 5 {
			return dst, ErrBadEscape
		}
		i++
		dst = append(dst, escaped[wire[i]])
	}
	return dst, nil
}
