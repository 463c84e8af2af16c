package watchproto

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Command is a server→watch command.
type Command interface {
	// Keyword is the command word; the watch's acknowledgement starts with it (matched by prefix).
	Keyword() string
	// AppendContent appends the frame content (KEYWORD[,params], binary parts escaped) to dst.
	AppendContent(dst []byte) []byte
	// Validate reports a clear, user-facing error for bad parameters.
	Validate() error
}

// NoReply is implemented by commands the watch never acknowledges, so a queue must count them
// done once written instead of waiting for an answer that will not come.
type NoReply interface {
	NoReply() bool
}

// ExpectsReply reports whether the watch answers c.
func ExpectsReply(c Command) bool {
	nr, ok := c.(NoReply)
	return !ok || !nr.NoReply()
}

// commandContentMax is what the 4-hex-digit LEN field can announce.
const commandContentMax = 0xFFFF

// CommandContent validates c and returns its frame content, refusing content the LEN field cannot
// describe.
func CommandContent(c Command) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	content := c.AppendContent(nil)
	if len(content) > commandContentMax {
		return nil, cmdErrorf("", "the command is %d bytes on the wire; a frame carries at most %d", len(content), commandContentMax)
	}
	return content, nil
}

// ErrInvalidCommand is matched (errors.Is) by every error Validate, CommandContent and
// ParseCommand return: all of them are the caller's fault and safe to show to a user.
var ErrInvalidCommand = errors.New("invalid command")

// ErrUnknownCommand is matched, besides ErrInvalidCommand, when ParseCommand does not know the name.
var ErrUnknownCommand = errors.New("unknown command")

// CommandError is a user-facing complaint about a command's parameters. Param is the JSON path of
// the offending parameter ("alarms[1].time"), empty when the complaint is about the whole command.
// Messages never repeat phone numbers or texts: they end up in logs.
type CommandError struct {
	Param  string
	Reason string
	kind   error
}

func (e *CommandError) Error() string {
	if e.Param == "" {
		return e.Reason
	}
	return e.Param + ": " + e.Reason
}

// Is lets callers test for ErrInvalidCommand (always) and ErrUnknownCommand (unknown names).
func (e *CommandError) Is(target error) bool {
	return target == ErrInvalidCommand || (e.kind != nil && target == e.kind)
}

func cmdErrorf(param, format string, args ...any) *CommandError {
	return &CommandError{Param: param, Reason: fmt.Sprintf(format, args...)}
}

// cmdNest prefixes the parameter path of a nested value's error with where the value sits.
func cmdNest(prefix string, err error) error {
	var ce *CommandError
	if err == nil || !errors.As(err, &ce) {
		return err
	}
	out := *ce
	switch {
	case out.Param == "":
		out.Param = prefix
	case strings.HasPrefix(out.Param, "["):
		out.Param = prefix + out.Param
	default:
		out.Param = prefix + "." + out.Param
	}
	return &out
}

// cmdQuote quotes a value the client sent for an error message, cut short: messages are logged,
// and a client can send anything.
func cmdQuote(s string) string {
	const max = 24
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}

func cmdIndex(param string, i int) string {
	return fmt.Sprintf("%s[%d]", param, i)
}

// Phone numbers go into comma-separated fields and the watch dials them as they are: only digits
// and a leading + survive every firmware. 20 is the longest number the phone book stores.
const (
	phoneMinDigits = 3
	phoneMaxLen    = 20
)

// cmdCheckPhone validates a phone number. optional allows the empty string, which the protocol
// uses to clear a slot (SOS numbers, phone book and white list entries).
func cmdCheckPhone(param, phone string, optional bool) error {
	if phone == "" {
		if optional {
			return nil
		}
		return cmdErrorf(param, "a phone number is required")
	}
	digits := strings.TrimPrefix(phone, "+")
	if len(phone) > phoneMaxLen || len(digits) < phoneMinDigits || !cmdIsDigits(digits) {
		return cmdErrorf(param, "must be a phone number of %d to %d digits, optionally starting with +, without spaces or separators", phoneMinDigits, phoneMaxLen)
	}
	return nil
}

func cmdIsDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// cmdCheckText validates text the watch shows: sent as UTF-16BE hex, so any character survives
// framing, but a control character (no firmware is known to break lines) or broken UTF-8 would
// reach the screen as garbage. maxUnits counts UTF-16 code units, what the watch stores.
func cmdCheckText(param, text string, maxUnits int) error {
	if text == "" {
		return cmdErrorf(param, "must not be empty")
	}
	if !utf8.ValidString(text) {
		return cmdErrorf(param, "is not valid UTF-8")
	}
	for _, r := range text {
		if r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0) {
			return cmdErrorf(param, "must not contain control characters such as line breaks")
		}
	}
	if n := cmdUTF16Len(text); n > maxUnits {
		return cmdErrorf(param, "is %d characters long; the watch takes at most %d (emoji and other characters outside the Basic Multilingual Plane count twice)", n, maxUnits)
	}
	return nil
}

// cmdCheckToken validates a field sent verbatim: printable ASCII without the bytes that end a
// field (,) or a frame ([ ] *) or start an escape (}). Spaces are allowed only where the vendor
// shows them.
func cmdCheckToken(param, s string, maxLen int, allowSpace bool) error {
	if len(s) > maxLen {
		return cmdErrorf(param, "is %d characters long; at most %d allowed", len(s), maxLen)
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b == ' ' && allowSpace:
		case b <= ' ' || b >= 0x7F:
			if allowSpace {
				return cmdErrorf(param, "must be printable ASCII")
			}
			return cmdErrorf(param, "must be printable ASCII without spaces")
		case b == ',' || b == '[' || b == ']' || b == '*' || b == '}':
			return cmdErrorf(param, "must not contain any of , [ ] * }")
		}
	}
	return nil
}

func cmdUTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// appendUTF16Hex writes s as big-endian UTF-16 without a byte-order mark, four lower-case hex
// digits per code unit: the form the vendor's own server sends (PHB names such as
// 0066007200690065006e00640031 sniffed from it) and Traccar's encoder writes.
func appendUTF16Hex(dst []byte, s string) []byte {
	const lowerHex = "0123456789abcdef"
	var units []uint16
	for _, r := range s {
		units = utf16.AppendRune(units[:0], r)
		for _, u := range units {
			dst = append(dst, lowerHex[u>>12], lowerHex[u>>8&0xF], lowerHex[u>>4&0xF], lowerHex[u&0xF])
		}
	}
	return dst
}

func appendFlag(dst []byte, on bool) []byte {
	if on {
		return append(dst, '1')
	}
	return append(dst, '0')
}

// Custom is raw content for a command this package has no type for. It is sent as is, so it must
// already be in wire form: text, or binary with the 0x7D escapes applied.
type Custom struct {
	Text string `json:"text"`
}

func (c Custom) Keyword() string {
	kw, _, _ := strings.Cut(c.Text, ",")
	return kw
}

func (c Custom) AppendContent(dst []byte) []byte { return append(dst, c.Text...) }

func (c Custom) Validate() error {
	if c.Text == "" {
		return cmdErrorf("text", "must not be empty")
	}
	kw := c.Keyword()
	if kw == "" {
		return cmdErrorf("text", "must start with a command keyword")
	}
	for i := 0; i < len(kw); i++ {
		b := kw[i]
		if !(b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_') {
			return cmdErrorf("text", "the keyword before the first comma must be letters, digits or _")
		}
	}
	if i := strings.IndexAny(c.Text, "[]*"); i >= 0 {
		return cmdErrorf("text", "contains %q at byte %d, which breaks framing; escape binary data with 0x7D", c.Text[i], i)
	}
	if _, err := AppendUnescaped(nil, []byte(c.Text)); err != nil {
		return cmdErrorf("text", "contains a 0x7D byte that does not start a valid escape (0x7D followed by 0x01..0x05)")
	}
	if len(c.Text) > commandContentMax {
		return cmdErrorf("text", "is %d bytes; a frame carries at most %d", len(c.Text), commandContentMax)
	}
	return nil
}

// NoReply reports whether the raw command is one the watch is known not to answer.
func (c Custom) NoReply() bool {
	switch c.Keyword() {
	case "IP", "PPR":
		return true
	}
	return false
}
