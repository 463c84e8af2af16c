package watchproto

import (
	"math"
	"strconv"
)

// The parsers below work on field bytes without converting them to strings and accept only plain
// decimal notation: strconv alone would also take "NaN", "Inf", exponents and hex floats, none of which
// a watch sends and all of which would survive into stored positions.

// trimSpace drops the spaces some firmwares put before (and, rarely, after) a number.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// parseInt parses an optionally signed decimal integer of at most 18 digits.
func parseInt(b []byte) (int64, bool) {
	b = trimSpace(b)
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// parseSmall is parseInt for values that fit an int comfortably (counts, percentages, dBm).
func parseSmall(b []byte) (int, bool) {
	n, ok := parseInt(b)
	if !ok || n > math.MaxInt32 || n < math.MinInt32 {
		return 0, false
	}
	return int(n), true
}

// parseHex parses up to 14 hex digits, few enough that the value prints in the 18 decimal digits
// parseInt accepts (the encoder writes cells in decimal).
func parseHex(b []byte) (int64, bool) {
	b = trimSpace(b)
	if len(b) == 0 || len(b) > 14 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !isHex(c) {
			return 0, false
		}
		n = n<<4 | int64(hexVal(c))
	}
	return n, true
}

// hasHexLetter reports whether b contains a-f or A-F, which marks a cell number written in hex.
func hasHexLetter(b []byte) bool {
	for _, c := range b {
		if 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' {
			return true
		}
	}
	return false
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
	1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat parses [spaces][sign]digits[.digits] (a leading or trailing '.' allowed). With at most 15
// significant digits the mantissa and the power of ten are both exact, so one division is correctly
// rounded and equals strconv's result; longer numbers go to strconv.
func parseFloat(b []byte) (float64, bool) {
	b = trimSpace(b)
	s := b
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	var mant uint64
	digits, frac, dot := 0, 0, false
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if digits > 0 || c != '0' {
				digits++
			}
			if digits <= 19 {
				mant = mant*10 + uint64(c-'0')
			}
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if len(b) == 0 || len(b) == 1 && dot {
		return 0, false
	}
	var f float64
	if digits <= 15 && frac < len(pow10) {
		f = float64(mant) / pow10[frac]
	} else {
		var err error
		if f, err = strconv.ParseFloat(string(s), 64); err != nil {
			return 0, false
		}
		return f, true
	}
	if neg {
		f = -f
	}
	return f, true
}

// appendInt and appendFloat are the inverses used by the encoder.
func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

func appendFloat(dst []byte, f float64) []byte { return strconv.AppendFloat(dst, f, 'f', -1, 64) }

func appendFixed6(dst []byte, f float64) []byte { return strconv.AppendFloat(dst, f, 'f', 6, 64) }
