package watchproto

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// VoiceMessage pushes a voice message: TK,<AMR bytes, escaped>. The watch answers TK,1 (played)
// or TK,0.
type VoiceMessage struct {
	AMR []byte `json:"amr"`
	// Raw skips the AMR checks: for replaying captured payloads (Traccar's encoder tests send
	// arbitrary bytes) and firmware taking other audio. JSON cannot set it, so API input is
	// always checked.
	Raw bool `json:"-"`
}

// voiceMax is the longest message the vendor's app records and the watch is documented to play.
const voiceMax = 15 * time.Second

func (VoiceMessage) Keyword() string { return "TK" }

func (c VoiceMessage) AppendContent(dst []byte) []byte {
	return AppendEscaped(append(dst, "TK,"...), c.AMR)
}

func (c VoiceMessage) Validate() error {
	if len(c.AMR) == 0 {
		return cmdErrorf("amr", "must not be empty")
	}
	if !c.Raw {
		if err := cmdCheckAMR("amr", c.AMR); err != nil {
			return err
		}
	}
	if n := len("TK,") + EscapedLen(c.AMR); n > commandContentMax {
		return cmdErrorf("amr", "makes the command %d bytes on the wire; a frame carries at most %d", n, commandContentMax)
	}
	return nil
}

// amrMagic opens an AMR-NB file in the RFC 4867 storage format, the only audio the watches play.
var amrMagic = []byte("#!AMR\n")

// amrFrameBytes is the speech data after each frame's header byte, by frame type (RFC 4867 table
// 1 and 3GPP TS 26.101); -1 marks the reserved types 9–14. Every frame, even NO_DATA (15), is 20 ms.
var amrFrameBytes = [16]int{12, 13, 15, 17, 19, 20, 26, 31, 5, -1, -1, -1, -1, -1, -1, 0}

const amrFrameDuration = 20 * time.Millisecond

// AMRDuration returns the playing time of an AMR-NB file, walking its frames, so that a file that
// is not AMR-NB, is cut short or is too long is refused before it reaches the watch.
func AMRDuration(amr []byte) (time.Duration, error) {
	if !bytes.HasPrefix(amr, amrMagic) {
		if bytes.HasPrefix(amr, []byte("#!AMR-WB\n")) {
			return 0, errors.New("AMR-WB audio; the watches play only AMR-NB (#!AMR)")
		}
		return 0, errors.New("not AMR-NB audio: it does not start with #!AMR and a line feed")
	}
	frames := 0
	for i := len(amrMagic); i < len(amr); frames++ {
		h := amr[i]
		n := amrFrameBytes[h>>3&0x0F]
		// Bit 7 and bits 0–1 of the header are padding and must be zero.
		if n < 0 || h&0x83 != 0 {
			return 0, fmt.Errorf("corrupt AMR-NB audio: invalid frame header at byte %d", i)
		}
		i += 1 + n
		if i > len(amr) {
			return 0, errors.New("truncated AMR-NB audio: the last frame is incomplete")
		}
	}
	if frames == 0 {
		return 0, errors.New("AMR-NB file without audio frames")
	}
	return time.Duration(frames) * amrFrameDuration, nil
}

func cmdCheckAMR(param string, amr []byte) error {
	d, err := AMRDuration(amr)
	if err != nil {
		return &CommandError{Param: param, Reason: err.Error()}
	}
	if d > voiceMax {
		return cmdErrorf(param, "is %.2f s long; the watch plays at most %d s", d.Seconds(), voiceMax/time.Second)
	}
	return nil
}

// TextMessage shows a text on the watch screen: MESSAGE,<UTF-16BE hex>. Watches show ASCII sent
// as such as boxes (Traccar PR #4206), hence hex for every text. (Message is the decoded uplink.)
type TextMessage struct {
	Text string `json:"text"`
}

// messageMax bounds what the screen shows in one go; the vendor gives no limit, and a watch
// shows a long message one small screen at a time.
const messageMax = 100

func (TextMessage) Keyword() string { return "MESSAGE" }

func (c TextMessage) AppendContent(dst []byte) []byte {
	return appendUTF16Hex(append(dst, "MESSAGE,"...), c.Text)
}

func (c TextMessage) Validate() error { return cmdCheckText("text", c.Text, messageMax) }

// SMS makes the watch send a text message: SMS,<phone>,<text>. Unlike MESSAGE the text goes as is
// (the vendor says GB2312, whose ASCII range is all that can be relied on), so it is limited to
// printable ASCII without the field and frame separators.
type SMS struct {
	Phone string `json:"phone"`
	Text  string `json:"text"`
}

const smsMax = 160

func (SMS) Keyword() string { return "SMS" }

func (c SMS) AppendContent(dst []byte) []byte {
	dst = append(append(dst, "SMS,"...), c.Phone...)
	return append(append(dst, ','), c.Text...)
}

func (c SMS) Validate() error {
	if err := cmdCheckPhone("phone", c.Phone, false); err != nil {
		return err
	}
	if c.Text == "" {
		return cmdErrorf("text", "must not be empty")
	}
	return cmdCheckToken("text", c.Text, smsMax, true)
}

// TakePills sets a medication reminder: TAKEPILLS,<remind>,<n>,<text hex>[,<audio>]. The vendor
// names the fields only; Enabled is <remind> as 0/1, Number is <n>, the text goes as UTF-16BE hex
// and the optional spoken reminder as escaped AMR-NB. The watch answers TAKEPILLS,1 or ,0.
type TakePills struct {
	Enabled bool   `json:"enabled"`
	Number  int    `json:"number"`
	Text    string `json:"text"`
	Audio   []byte `json:"audio,omitempty"`
}

func (TakePills) Keyword() string { return "TAKEPILLS" }

func (c TakePills) AppendContent(dst []byte) []byte {
	dst = appendFlag(append(dst, "TAKEPILLS,"...), c.Enabled)
	dst = strconv.AppendInt(append(dst, ','), int64(c.Number), 10)
	dst = appendUTF16Hex(append(dst, ','), c.Text)
	if len(c.Audio) > 0 {
		dst = AppendEscaped(append(dst, ','), c.Audio)
	}
	return dst
}

func (c TakePills) Validate() error {
	if c.Number < 0 || c.Number > 99 {
		return cmdErrorf("number", "must be between 0 and 99")
	}
	if err := cmdCheckText("text", c.Text, messageMax); err != nil {
		return err
	}
	if len(c.Audio) == 0 {
		return nil
	}
	if err := cmdCheckAMR("audio", c.Audio); err != nil {
		return err
	}
	if n := len(c.AppendContent(nil)); n > commandContentMax {
		return cmdErrorf("audio", "makes the command %d bytes on the wire; a frame carries at most %d", n, commandContentMax)
	}
	return nil
}

// RemoteCapture makes the watch take a photo; it uploads it as img,5,<time>,<JPEG>.
type RemoteCapture struct{}

func (RemoteCapture) Keyword() string                 { return "rcapture" }
func (RemoteCapture) AppendContent(dst []byte) []byte { return append(dst, "rcapture"...) }
func (RemoteCapture) Validate() error                 { return nil }

// OfflinePhotos asks the watch for the photos it took while offline.
type OfflinePhotos struct{}

func (OfflinePhotos) Keyword() string                 { return "wdimgq" }
func (OfflinePhotos) AppendContent(dst []byte) []byte { return append(dst, "wdimgq"...) }
func (OfflinePhotos) Validate() error                 { return nil }
