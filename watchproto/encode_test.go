package watchproto_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"kinwatch/watchproto"
)

// data is the part of a Message that AppendMessage must preserve: everything but LEN (recomputed),
// and, for command replies, the Type spelling (UPLOAD600 is re-sent as UPLOAD,600).
type data struct {
	Manufacturer, Device, Index string
	Type                        string
	Kind                        watchproto.Kind
	Present                     watchproto.Fields
	Heartbeat                   watchproto.Heartbeat
	Location                    watchproto.Location
	Health                      watchproto.Health
	Payload                     []byte
	BadEscape                   bool
	FileName                    string
	Part, Total, ImageSource    int
	ImageTime                   time.Time
	ICCID                       string
	Config                      []watchproto.KV
	Keyword, Data               string
	Fields                      []string
}

func dataOf(m *watchproto.Message) data {
	d := data{m.Manufacturer, m.Device, m.Index, m.Type, m.Kind, m.Present, m.Heartbeat, m.Location, m.Health,
		m.Payload, m.BadEscape, m.FileName, m.Part, m.Total, m.ImageSource, m.ImageTime, m.ICCID, m.Config,
		m.Keyword, m.Data, m.Fields}
	if d.Kind == watchproto.KindCommandReply {
		d.Type = ""
	}
	d.Location.Time = d.Location.Time.UTC()
	d.ImageTime = d.ImageTime.UTC()
	// Decode leaves unused slices nil or empty depending on history; both mean none.
	if len(d.Payload) == 0 {
		d.Payload = nil
	}
	if len(d.Location.Cells) == 0 {
		d.Location.Cells = nil
	}
	if len(d.Location.WiFi) == 0 {
		d.Location.WiFi = nil
	}
	if len(d.Config) == 0 {
		d.Config = nil
	}
	if len(d.Fields) == 0 {
		d.Fields = nil
	}
	return d
}

// roundTrip re-encodes a decoded message and reports how the second decoding differs, "" if it does
// not. A payload with a bad escape is the one thing that cannot come back: Decode keeps what preceded
// the bad escape, and the re-encoded payload is well-formed.
func roundTrip(m *watchproto.Message) string {
	if m.BadEscape {
		return ""
	}
	wire := watchproto.AppendMessage(nil, m)
	var back watchproto.Message
	if err := watchproto.Decode(wire, &back); err != nil {
		return "re-encoded frame " + string(wire) + " does not decode: " + err.Error()
	}
	if !back.LengthOK && len(wire) < 0xFFFF {
		return "re-encoded frame has a wrong LEN: " + string(wire)
	}
	a, b := dataOf(m), dataOf(&back)
	if !reflect.DeepEqual(a, b) {
		return "re-encoded as " + strings.ToValidUTF8(string(wire), "?") + fmt.Sprintf("\nbefore %+v\nafter  %+v", a, b)
	}
	return ""
}

// TestAppendMessageRoundTrip re-encodes every captured and reference frame.
func TestAppendMessageRoundTrip(t *testing.T) {
	var frames [][]byte
	for _, l := range readTSV(t) {
		if l.source == "FrameDecoderTest" {
			frames = append(frames, feedAll(t, watchproto.NewFramer(0), l.input, len(l.input))...)
		} else {
			frames = append(frames, l.input)
		}
	}
	frames = append(frames, referenceFrames()...)
	var m watchproto.Message
	for _, f := range frames {
		if err := watchproto.Decode(f, &m); err != nil {
			continue // the unescaped voice sample of the TSV is no wire frame
		}
		if diff := roundTrip(&m); diff != "" {
			t.Errorf("%q: %s", f, diff)
		}
	}
}

// referenceFrames are hand-written frames of every type, also used as fuzz seeds and benchmarks.
func referenceFrames() [][]byte {
	amr := watchproto.AppendEscaped([]byte("TK,"), []byte("#!AMR\n[],*}\x00\xff"))
	jpeg := watchproto.AppendEscaped([]byte("img,5,230415123456,"), []byte{0xFF, 0xD8, ',', ']', 0xFF, 0xD9})
	out := [][]byte{frameOf(string(amr)), frameOf(string(jpeg))}
	for _, s := range []string{
		"LK", "LK,50,100,100", "KA,1,2,3", "TKQ", "TKQ2", "TK,1", "TK2,0", "JXTK,0,a.amr,2,5,xyz",
		"BPHRT,120,79,73,,,,", "bphrt,110,70", "heart,71", "PULSE,72", "BLOOD,109,68", "oxygen,0,97", "btemp2,0,36.4",
		"btemp2,1,35.9", "TEMP,36.5", "temp,37", "INIT,13800000000,1,0", "CCID,89882280666025486402",
		"ICCID,8931440400012345678", "CONFIG,TY:G75,UL:600,SY:1,CM:1", "WIFIINFOUP,0068,0070,home",
		"GS1,2,255,460,0,9346,5223,42,9346,5214,21", "VERNO,G29_BASE_V1.00_2014.04.23_17.46.49", "UPLOAD",
		"UPLOAD600", "SOS1,13800000000", "profile,1", "TS,ver:1;\nID:2;", "GETFACEOPEN,a,,b", "PING",
		"WAD,EN,180916,025723,A,22.570733,N,113.8626083,E,0.00,249.5,0.0,6,100,60,0,0,00000010,0,0",
		"WG,180916,025723,V,0,N,0,E,0,0,0,0,100,60,0,0,00000000,1,255,460,1,9529,21809,158",
		"PP,101010,180916,025723,A,22.5,N,113.8,E,0,0,0,6,100,60,0,0,00000000,0,0",
		"UD,220414,134652,A,22.571707,N,113.8613968,E,0.1,0.0,100,7,60,90,1000,50,0008",
		"AL_LTE,170525,214118,V,0,,0,,0,0,0,0,0,22,0,0,0078C000,0,0",
		"UD_LTE,260723,185105,A, -12.5,, 45.25,,1,2,3,4,5,6,7,8,00000000",
		"UD_LTE,260723,185105,V,0,N,0,E,0,0,0,0,0,0,0,0,00000000,0,1,home,aa:bb:cc:dd:ee:ff,-50,12.5,,00",
		"UD,260723,185105,V,0,N,0,E,0,0,0,0,0,0,0,0,00000000,2,1,234,15,55C0,3B882A2,,1234,10,99",
		"ALCUSTOMER1,260723,185105,V,0,N,0,E,0,0,0,0,0,0,0,0,00010000",
	} {
		out = append(out, frameOf(s))
	}
	return append(out, []byte("[ZJ*689466020014198*0003*0002*AL]"), []byte("[ZJ*014111001350304*0034*0009*LK,0,0,19]"))
}

func TestAppendMessageBuilt(t *testing.T) {
	m := watchproto.Message{Manufacturer: "3G", Device: "8800000015", Type: "UD_LTE", Kind: watchproto.KindLocation,
		Present: watchproto.FieldSpeed | watchproto.FieldBattery | watchproto.FieldStatus | watchproto.FieldAccuracy,
		Location: watchproto.Location{
			Time: time.Date(2024, 2, 29, 23, 59, 58, 0, time.UTC), Valid: true, Lat: -33.480366, Lon: -70.7630692,
			HasCoords: true, Speed: 12.5, Battery: 80, StatusBits: watchproto.StatusSOS,
			Cells:    []watchproto.Cell{{MCC: 730, MNC: 2, LAC: 29731, CID: 54315, RSSI: 167, HasRSSI: true}},
			WiFi:     []watchproto.WiFi{{SSID: "[LG_Wall-Mount A/C]e725", MAC: "66:a1:ed:e1:e7:25", RSSI: -82}},
			Accuracy: 15,
		}}
	want := "[3G*8800000015*0095*UD_LTE,290224,235958,A,33.480366,S,70.7630692,W,12.5,,,,,80,,,00010000," +
		"1,255,730,2,29731,54315,167,1,[LG_Wall-Mount A/C]e725,66:a1:ed:e1:e7:25,-82,15]"
	got := watchproto.AppendMessage(nil, &m)
	if string(got) != want {
		t.Fatalf("AppendMessage\n got %s\nwant %s", got, want)
	}
	var back watchproto.Message
	if err := watchproto.Decode(got, &back); err != nil {
		t.Fatal(err)
	}
	if back.Location.Alarms != watchproto.AlarmSOS || back.Location.Lat != m.Location.Lat || back.Location.WiFi[0] != m.Location.WiFi[0] {
		t.Errorf("decoded back %+v", back.Location)
	}
	// The simulator streams frames: the bracketed SSID must not end the frame early.
	if frames := feedAll(t, watchproto.NewFramer(0), got, 3); len(frames) != 1 || !bytes.Equal(frames[0], got) {
		t.Errorf("framed as %q", frames)
	}
}

func equalData(a, b data) bool { return reflect.DeepEqual(a, b) }
