package geo

import "strings"

// NormalizeMAC returns an access point's MAC address as "aa:bb:cc:dd:ee:ff" in lower case, the one
// spelling every lookup and cache key uses. It accepts ':' or '-' separated octets (firmwares drop
// leading zeros: "0:1e:…"), twelve bare hex digits, and the dotted "aabb.ccdd.eeff" form.
//
// It returns false for what cannot locate anything and must not be stored as a landmark: invalid
// text, the all-zero address ("0" and "00:00:…" are what watches send for none), group addresses
// (broadcast and multicast are never a BSSID), and locally administered addresses: phones' hotspots
// and randomised addresses carry that bit, move with their owner, and would pin a child to wherever
// a phone happened to be.
func NormalizeMAC(s string) (string, bool) {
	s = strings.TrimSpace(s)
	var b [6]byte
	switch {
	case len(s) == 12:
		for i := range b {
			hi, ok1 := unhex(s[2*i])
			lo, ok2 := unhex(s[2*i+1])
			if !ok1 || !ok2 {
				return "", false
			}
			b[i] = hi<<4 | lo
		}
	case len(s) == 14 && s[4] == '.' && s[9] == '.':
		hexes := s[0:4] + s[5:9] + s[10:14]
		return NormalizeMAC(hexes)
	default:
		// Octets of one or two digits, all separated by the same ':' or '-'.
		i := 0
		var sep byte
		for n := range b {
			if n > 0 {
				if i >= len(s) || (s[i] != ':' && s[i] != '-') || (sep != 0 && s[i] != sep) {
					return "", false
				}
				sep = s[i]
				i++
			}
			var v byte
			digits := 0
			for i < len(s) && digits < 2 {
				d, ok := unhex(s[i])
				if !ok {
					break
				}
				v, digits, i = v<<4|d, digits+1, i+1
			}
			if digits == 0 {
				return "", false
			}
			b[n] = v
		}
		if i != len(s) {
			return "", false
		}
	}
	if b == [6]byte{} || b[0]&0x01 != 0 || b[0]&0x02 != 0 {
		return "", false
	}
	const digits = "0123456789abcdef"
	out := make([]byte, 17)
	for i, x := range b {
		if i > 0 {
			out[3*i-1] = ':'
		}
		out[3*i], out[3*i+1] = digits[x>>4], digits[x&0x0F]
	}
	return string(out), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
