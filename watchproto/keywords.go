package watchproto

import "strings"

// commandKeywords lists the server→device command keywords (reference section 3.2) in canonical
// spelling. A device answers a command with its keyword, sometimes followed by data or by an echo of
// the parameters, so the gateway matches answers to pending commands by keyword.
var commandKeywords = []string{
	"UPLOAD", "CENTER", "SLAVE", "PW", "CALL", "MONITOR", "SOS", "SOS1", "SOS2", "SOS3", "IP", "APN",
	"FACTORY", "LZ", "SOSSMS", "LOWBAT", "REMOVE", "REMOVESMS", "PEDO", "WALKTIME", "SLEEPTIME",
	"SILENCETIME", "SILENCETIME2", "FIND", "FLOWER", "REMIND", "TK", "MESSAGE", "SMS", "PHB", "PHB2",
	"PHBX", "PHBX2", "DPHBX", "WHITELIST1", "WHITELIST2", "DEVREFUSEPHONESWITCH", "ACALL", "profile",
	"VERNO", "TS", "RESET", "POWEROFF", "CR", "WORK", "WORKTIME", "rcapture", "wdimgq", "hrtstart",
	"HEALTHAUTOSET", "bodytemp", "bodytemp2", "FALLDOWN", "LSSET", "TAKEPILLS", "PPR", "WIFISEARCH",
	"WIFISET", "WIFIDEL", "WIFICUR", "APPLOCK",
}

// byLength is commandKeywords longest first, so that a prefix match prefers SOSSMS over SOS.
var byLength = func() []string {
	s := append([]string(nil), commandKeywords...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && len(s[j]) > len(s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}()

// CommandKeywords returns the server→device command keywords in canonical spelling (a new slice).
func CommandKeywords() []string { return append([]string(nil), commandKeywords...) }

// IsCommandKeyword reports whether s is a server→device command keyword, ignoring case.
func IsCommandKeyword(s string) bool {
	for _, k := range commandKeywords {
		if strings.EqualFold(k, s) {
			return true
		}
	}
	return false
}

// commandKeyword returns the canonical keyword that typ is, ignoring case.
func commandKeyword(typ []byte) (string, bool) {
	for _, k := range commandKeywords {
		if equalFold(typ, k) {
			return k, true
		}
	}
	return "", false
}

// commandPrefix returns the longest keyword that typ starts with, for devices that echo parameters
// glued to the keyword (UPLOAD600). The keyword must not be followed by a letter, so that an unknown
// type such as TSX is not mistaken for an answer to TS. TK is left out: TK-something is voice (TK2),
// never a glued acknowledgement.
func commandPrefix(typ []byte) (string, bool) {
	for _, k := range byLength {
		if k != "TK" && len(typ) > len(k) && equalFold(typ[:len(k)], k) && !isLetter(typ[len(k)]) {
			return k, true
		}
	}
	return "", false
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// equalFold is strings.EqualFold for ASCII bytes against a string, without a conversion.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if x != y && (!isLetter(x) || x|0x20 != y|0x20) {
			return false
		}
	}
	return true
}
