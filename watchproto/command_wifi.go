package watchproto

// WiFiSearch makes an Android 4G watch scan for wifi networks; it answers with what it found.
type WiFiSearch struct{}

func (WiFiSearch) Keyword() string                 { return "WIFISEARCH" }
func (WiFiSearch) AppendContent(dst []byte) []byte { return append(dst, "WIFISEARCH"...) }
func (WiFiSearch) Validate() error                 { return nil }

// WiFiDelete makes the watch forget its wifi network.
type WiFiDelete struct{}

func (WiFiDelete) Keyword() string                 { return "WIFIDEL" }
func (WiFiDelete) AppendContent(dst []byte) []byte { return append(dst, "WIFIDEL"...) }
func (WiFiDelete) Validate() error                 { return nil }

// WiFiCurrent asks which wifi network the watch is on.
type WiFiCurrent struct{}

func (WiFiCurrent) Keyword() string                 { return "WIFICUR" }
func (WiFiCurrent) AppendContent(dst []byte) []byte { return append(dst, "WIFICUR"...) }
func (WiFiCurrent) Validate() error                 { return nil }

// WiFiSet joins a wifi network: WIFISET,<id>,<pw>,<ssid>. The vendor names the fields without
// saying how they are encoded (the watch's own WIFIINFOUP report sends name and password as hex),
// so the values go through verbatim and must already be in the form the firmware expects; they
// are only checked not to break the frame.
type WiFiSet struct {
	ID       string `json:"id"`
	Password string `json:"password"`
	SSID     string `json:"ssid"`
}

func (WiFiSet) Keyword() string { return "WIFISET" }

func (c WiFiSet) AppendContent(dst []byte) []byte {
	dst = append(append(dst, "WIFISET,"...), c.ID...)
	dst = append(append(dst, ','), c.Password...)
	return append(append(dst, ','), c.SSID...)
}

// Validate bounds each field by what a hex-encoded maximum needs: 32-byte SSIDs and 63-character
// WPA passphrases, doubled, with room to spare.
func (c WiFiSet) Validate() error {
	if c.ID == "" {
		return cmdErrorf("id", "must not be empty")
	}
	if err := cmdCheckToken("id", c.ID, 128, false); err != nil {
		return err
	}
	if err := cmdCheckToken("password", c.Password, 256, false); err != nil {
		return err
	}
	if c.SSID == "" {
		return cmdErrorf("ssid", "must not be empty")
	}
	return cmdCheckToken("ssid", c.SSID, 128, false)
}
