package watchproto

import (
	"bytes"
	"strconv"
)

// Center sets the center number: it may send SMS commands without the password and receives the
// SMS alarms.
type Center struct {
	Phone string `json:"phone"`
}

func (Center) Keyword() string { return "CENTER" }
func (c Center) AppendContent(dst []byte) []byte {
	return append(append(dst, "CENTER,"...), c.Phone...)
}
func (c Center) Validate() error { return cmdCheckPhone("phone", c.Phone, false) }

// Slave sets the assistant (second center) number.
type Slave struct {
	Phone string `json:"phone"`
}

func (Slave) Keyword() string { return "SLAVE" }
func (c Slave) AppendContent(dst []byte) []byte {
	return append(append(dst, "SLAVE,"...), c.Phone...)
}
func (c Slave) Validate() error { return cmdCheckPhone("phone", c.Phone, false) }

// Call makes the watch dial a number.
type Call struct {
	Phone string `json:"phone"`
}

func (Call) Keyword() string { return "CALL" }
func (c Call) AppendContent(dst []byte) []byte {
	return append(append(dst, "CALL,"...), c.Phone...)
}
func (c Call) Validate() error { return cmdCheckPhone("phone", c.Phone, false) }

// Monitor makes the watch call a number back silently, to listen to its surroundings. It is legal
// only where the law allows it; the vendor treats it as optional.
type Monitor struct {
	Phone string `json:"phone"`
}

func (Monitor) Keyword() string { return "MONITOR" }
func (c Monitor) AppendContent(dst []byte) []byte {
	return append(append(dst, "MONITOR,"...), c.Phone...)
}
func (c Monitor) Validate() error { return cmdCheckPhone("phone", c.Phone, false) }

// SOSNumber sets one of the three SOS numbers (SOS1..SOS3). An empty Phone clears the slot.
type SOSNumber struct {
	Slot  int    `json:"slot"`
	Phone string `json:"phone"`
}

func (c SOSNumber) Keyword() string { return "SOS" + strconv.Itoa(c.Slot) }

func (c SOSNumber) AppendContent(dst []byte) []byte {
	dst = strconv.AppendInt(append(dst, "SOS"...), int64(c.Slot), 10)
	return append(append(dst, ','), c.Phone...)
}

func (c SOSNumber) Validate() error {
	if c.Slot < 1 || c.Slot > 3 {
		return cmdErrorf("slot", "must be 1, 2 or 3")
	}
	return cmdCheckPhone("phone", c.Phone, true)
}

// SOSNumbers sets all three SOS numbers, dialled in turn when SOS is pressed. Empty entries clear
// their slot.
type SOSNumbers struct {
	Phones [3]string `json:"phones"`
}

func (SOSNumbers) Keyword() string { return "SOS" }

func (c SOSNumbers) AppendContent(dst []byte) []byte {
	dst = append(dst, "SOS"...)
	for _, p := range c.Phones {
		dst = append(append(dst, ','), p...)
	}
	return dst
}

func (c SOSNumbers) Validate() error {
	for i, p := range c.Phones {
		if err := cmdCheckPhone(cmdIndex("phones", i), p, true); err != nil {
			return err
		}
	}
	return nil
}

// UnmarshalJSON takes up to three numbers; JSON into a Go array would drop a fourth silently.
func (c *SOSNumbers) UnmarshalJSON(b []byte) error {
	var w struct {
		Phones []string `json:"phones"`
	}
	if err := cmdDecodeStrict(b, &w); err != nil {
		return err
	}
	if len(w.Phones) > len(c.Phones) {
		return cmdErrorf("phones", "holds %d numbers; the watch has 3 SOS slots", len(w.Phones))
	}
	c.Phones = [3]string{}
	copy(c.Phones[:], w.Phones)
	return nil
}

// PhoneBookEntry is a contact of the watch's phone book. A wholly empty entry clears its slot.
type PhoneBookEntry struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// The watch stores names of up to 10 characters (sent as UTF-16BE hex) and numbers of up to 20.
const phoneBookNameMax = 10

func (e PhoneBookEntry) check(param string) error {
	if e.Name == "" && e.Phone == "" {
		return nil
	}
	if err := cmdCheckText("name", e.Name, phoneBookNameMax); err != nil {
		return cmdNest(param, err)
	}
	return cmdNest(param, cmdCheckPhone("phone", e.Phone, false))
}

// PhoneBook replaces one half of the watch's ten-entry phone book: Part 1 is entries 1–5 (PHB),
// Part 2 entries 6–10 (PHB2). Missing entries are sent empty, which clears them, as the vendor's
// own server does (PHB,1111111,0066…0031,2222222,0066…0032,,,,,,).
type PhoneBook struct {
	Part    int              `json:"part"`
	Entries []PhoneBookEntry `json:"entries"`
}

const phoneBookPartSize = 5

func (c PhoneBook) Keyword() string {
	if c.Part == 2 {
		return "PHB2"
	}
	return "PHB"
}

func (c PhoneBook) AppendContent(dst []byte) []byte {
	dst = append(dst, c.Keyword()...)
	for i := 0; i < phoneBookPartSize; i++ {
		var e PhoneBookEntry
		if i < len(c.Entries) {
			e = c.Entries[i]
		}
		dst = append(append(dst, ','), e.Phone...)
		dst = appendUTF16Hex(append(dst, ','), e.Name)
	}
	return dst
}

func (c PhoneBook) Validate() error {
	if c.Part != 1 && c.Part != 2 {
		return cmdErrorf("part", "must be 1 (entries 1-5) or 2 (entries 6-10)")
	}
	if len(c.Entries) > phoneBookPartSize {
		return cmdErrorf("entries", "holds %d entries; a part holds at most %d", len(c.Entries), phoneBookPartSize)
	}
	for i, e := range c.Entries {
		if err := e.check(cmdIndex("entries", i)); err != nil {
			return err
		}
	}
	return nil
}

// phoneBookXMax is the number of contacts with avatar the vendor documents.
const phoneBookXMax = 30

// PhoneBookX sets one contact with an avatar: PHBX,<n>,<name>,<phone>,<photo>. The vendor
// documents the fields only by name; Index is <n>, the name goes as UTF-16BE hex like every
// other name, and the photo as escaped JPEG bytes. The watch answers PHBX,1 or PHBX,0.
type PhoneBookX struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	Phone string `json:"phone"`
	Photo []byte `json:"photo,omitempty"`
}

func (PhoneBookX) Keyword() string { return "PHBX" }

func (c PhoneBookX) AppendContent(dst []byte) []byte {
	dst = strconv.AppendInt(append(dst, "PHBX,"...), int64(c.Index), 10)
	dst = appendUTF16Hex(append(dst, ','), c.Name)
	dst = append(append(dst, ','), c.Phone...)
	return AppendEscaped(append(dst, ','), c.Photo)
}

func (c PhoneBookX) Validate() error {
	if c.Index < 1 || c.Index > phoneBookXMax {
		return cmdErrorf("index", "must be between 1 and %d", phoneBookXMax)
	}
	if err := cmdCheckText("name", c.Name, phoneBookNameMax); err != nil {
		return err
	}
	if err := cmdCheckPhone("phone", c.Phone, false); err != nil {
		return err
	}
	return cmdCheckPhoto("photo", c.Photo, c)
}

// PhoneBookX2 adds one contact with an avatar: PHBX2,<sum>,<name>,<tel>,<avatar>,<type>. Sum
// and Type are passed through as the vendor names them; their meaning is undocumented (Sum looks
// like the contact count). The avatar is escaped JPEG bytes like PhoneBookX's photo.
type PhoneBookX2 struct {
	Sum    int    `json:"sum"`
	Name   string `json:"name"`
	Phone  string `json:"phone"`
	Avatar []byte `json:"avatar,omitempty"`
	Type   int    `json:"type"`
}

func (PhoneBookX2) Keyword() string { return "PHBX2" }

func (c PhoneBookX2) AppendContent(dst []byte) []byte {
	dst = strconv.AppendInt(append(dst, "PHBX2,"...), int64(c.Sum), 10)
	dst = appendUTF16Hex(append(dst, ','), c.Name)
	dst = append(append(dst, ','), c.Phone...)
	dst = AppendEscaped(append(dst, ','), c.Avatar)
	return strconv.AppendInt(append(dst, ','), int64(c.Type), 10)
}

func (c PhoneBookX2) Validate() error {
	if c.Sum < 1 || c.Sum > phoneBookXMax {
		return cmdErrorf("sum", "must be between 1 and %d", phoneBookXMax)
	}
	if err := cmdCheckText("name", c.Name, phoneBookNameMax); err != nil {
		return err
	}
	if err := cmdCheckPhone("phone", c.Phone, false); err != nil {
		return err
	}
	if c.Type < 0 || c.Type > 99 {
		return cmdErrorf("type", "must be between 0 and 99")
	}
	return cmdCheckPhoto("avatar", c.Avatar, c)
}

// DeletePhoneBookX deletes a contact with avatar: DPHBX,<n>.
type DeletePhoneBookX struct {
	Index int `json:"index"`
}

func (DeletePhoneBookX) Keyword() string { return "DPHBX" }

func (c DeletePhoneBookX) AppendContent(dst []byte) []byte {
	return strconv.AppendInt(append(dst, "DPHBX,"...), int64(c.Index), 10)
}

func (c DeletePhoneBookX) Validate() error {
	if c.Index < 1 || c.Index > phoneBookXMax {
		return cmdErrorf("index", "must be between 1 and %d", phoneBookXMax)
	}
	return nil
}

// jpegMagic opens every JPEG file (SOI marker and the first marker's 0xFF).
var jpegMagic = []byte{0xFF, 0xD8, 0xFF}

// cmdCheckPhoto accepts no photo or a JPEG, the only image format the watches show, as long as
// the whole command still fits one frame.
func cmdCheckPhoto(param string, photo []byte, c Command) error {
	if len(photo) == 0 {
		return nil
	}
	if !bytes.HasPrefix(photo, jpegMagic) {
		return cmdErrorf(param, "must be a JPEG image")
	}
	if n := len(c.AppendContent(nil)); n > commandContentMax {
		return cmdErrorf(param, "makes the command %d bytes on the wire; a frame carries at most %d", n, commandContentMax)
	}
	return nil
}

// WhiteList sets one half of the ten-number white list: Part 1 is WHITELIST1 (numbers 1–5), Part
// 2 WHITELIST2 (6–10). Missing or empty numbers clear their slot.
type WhiteList struct {
	Part   int      `json:"part"`
	Phones []string `json:"phones"`
}

func (c WhiteList) Keyword() string { return "WHITELIST" + strconv.Itoa(c.Part) }

func (c WhiteList) AppendContent(dst []byte) []byte {
	dst = append(dst, c.Keyword()...)
	for i := 0; i < phoneBookPartSize; i++ {
		dst = append(dst, ',')
		if i < len(c.Phones) {
			dst = append(dst, c.Phones[i]...)
		}
	}
	return dst
}

func (c WhiteList) Validate() error {
	if c.Part != 1 && c.Part != 2 {
		return cmdErrorf("part", "must be 1 (numbers 1-5) or 2 (numbers 6-10)")
	}
	if len(c.Phones) > phoneBookPartSize {
		return cmdErrorf("phones", "holds %d numbers; a part holds at most %d", len(c.Phones), phoneBookPartSize)
	}
	for i, p := range c.Phones {
		if err := cmdCheckPhone(cmdIndex("phones", i), p, true); err != nil {
			return err
		}
	}
	return nil
}

// AutoAnswer makes the watch pick up calls from the listed numbers by itself (ACALL,n1,n2…);
// no numbers switches auto-answer off (ACALL,0).
type AutoAnswer struct {
	Phones []string `json:"phones"`
}

const autoAnswerMax = 15

func (AutoAnswer) Keyword() string { return "ACALL" }

func (c AutoAnswer) AppendContent(dst []byte) []byte {
	dst = append(dst, "ACALL"...)
	if len(c.Phones) == 0 {
		return append(dst, ",0"...)
	}
	for _, p := range c.Phones {
		dst = append(append(dst, ','), p...)
	}
	return dst
}

func (c AutoAnswer) Validate() error {
	if len(c.Phones) > autoAnswerMax {
		return cmdErrorf("phones", "holds %d numbers; the watch takes at most %d", len(c.Phones), autoAnswerMax)
	}
	for i, p := range c.Phones {
		if err := cmdCheckPhone(cmdIndex("phones", i), p, false); err != nil {
			return err
		}
	}
	return nil
}

// RemoveFriend is PPR, which removes a watch friend (made by bumping two watches). The vendor
// documents neither parameters nor a reply.
type RemoveFriend struct{}

func (RemoveFriend) Keyword() string                 { return "PPR" }
func (RemoveFriend) AppendContent(dst []byte) []byte { return append(dst, "PPR"...) }
func (RemoveFriend) Validate() error                 { return nil }
func (RemoveFriend) NoReply() bool                   { return true }
