package watchproto_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"kinwatch/watchproto"
)

// frameOf wraps content (already escaped) in a 3G header for device 8800000015.
func frameOf(content string) []byte {
	return watchproto.AppendFrame(nil, "3G", "8800000015", "", []byte(content))
}

// TestDecodeReference covers the frames of the protocol reference that the captures lack.
func TestDecodeReference(t *testing.T) {
	jpeg := []byte{0xFF, 0xD8, 0xFF, 0xE0, '[', ']', ',', '*', 0x7D, 0xFF, 0xD9}
	amr := []byte("#!AMR\n\x3c,*[]}\x00")
	tests := []struct {
		name  string
		frame []byte
		check func(t *testing.T, m *watchproto.Message)
		reply string
	}{
		{"bphrt upper", frameOf("BPHRT,120,79,73,,,,"), func(t *testing.T, m *watchproto.Message) {
			wantHealth(t, m, watchproto.Health{Systolic: 120, Diastolic: 79, HeartRate: 73},
				watchproto.FieldBloodPressure|watchproto.FieldHeartRate)
		}, "[3G*8800000015*0005*BPHRT]"},
		{"bphrt lower", frameOf("bphrt,110,70,66,170,1,30,60"), func(t *testing.T, m *watchproto.Message) {
			wantHealth(t, m, watchproto.Health{Systolic: 110, Diastolic: 70, HeartRate: 66},
				watchproto.FieldBloodPressure|watchproto.FieldHeartRate)
		}, "[3G*8800000015*0005*bphrt]"},
		{"heart mixed case", frameOf("Heart,88"), func(t *testing.T, m *watchproto.Message) {
			wantHealth(t, m, watchproto.Health{HeartRate: 88}, watchproto.FieldHeartRate)
		}, ""},
		{"oxygen normal", frameOf("oxygen,0,97"), func(t *testing.T, m *watchproto.Message) {
			wantHealth(t, m, watchproto.Health{Mode: 0, SpO2: 97}, watchproto.FieldMode|watchproto.FieldSpO2)
		}, "[3G*8800000015*0008*oxygen,1]"},
		{"oxygen low", frameOf("oxygen,0,89"), nil, "[3G*8800000015*0008*oxygen,0]"},
		{"oxygen missing", frameOf("oxygen,0,"), func(t *testing.T, m *watchproto.Message) {
			wantHealth(t, m, watchproto.Health{}, watchproto.FieldMode)
		}, "[3G*8800000015*0008*oxygen,2]"},
		{"btemp2 forehead", frameOf("btemp2,0,36.4"), func(t *testing.T, m *watchproto.Message) {
			wantHealth(t, m, watchproto.Health{Mode: 0, Temperature: 36.4}, watchproto.FieldMode|watchproto.FieldTemperature)
		}, "[3G*8800000015*0006*btemp2]"},
		{"btemp2 wrist", frameOf("btemp2,1,35.9"), func(t *testing.T, m *watchproto.Message) {
			wantHealth(t, m, watchproto.Health{Mode: 1, Temperature: 35.9}, watchproto.FieldMode|watchproto.FieldTemperature)
		}, "[3G*8800000015*0006*btemp2]"},
		{"TEMP", frameOf("TEMP,36.5"), func(t *testing.T, m *watchproto.Message) {
			wantHealth(t, m, watchproto.Health{Temperature: 36.5}, watchproto.FieldTemperature)
		}, ""},
		{"temp lower", frameOf("temp,37"), func(t *testing.T, m *watchproto.Message) {
			wantHealth(t, m, watchproto.Health{Temperature: 37}, watchproto.FieldTemperature)
		}, ""},
		{"JXTK part", frameOf("JXTK,0,20230101.amr,1,3," + string(watchproto.AppendEscaped(nil, amr))), func(t *testing.T, m *watchproto.Message) {
			if m.Kind != watchproto.KindAudio || m.FileName != "20230101.amr" || m.Part != 1 || m.Total != 3 || !bytes.Equal(m.Payload, amr) {
				t.Errorf("got %v %q %d/%d %q", m.Kind, m.FileName, m.Part, m.Total, m.Payload)
			}
		}, "[3G*8800000015*0007*JXTKR,1]"},
		{"JXTK last", frameOf("JXTK,0,x.amr,3,3,ab"), func(t *testing.T, m *watchproto.Message) {
			if m.Part != 3 || m.Total != 3 || string(m.Payload) != "ab" {
				t.Errorf("got %d/%d %q", m.Part, m.Total, m.Payload)
			}
		}, "[3G*8800000015*0007*JXTKR,1]"},
		{"img", frameOf("img,5,230415123456," + string(watchproto.AppendEscaped(nil, jpeg))), func(t *testing.T, m *watchproto.Message) {
			want := time.Date(2023, 4, 15, 12, 34, 56, 0, time.UTC)
			if m.Kind != watchproto.KindImage || m.ImageSource != 5 || !m.ImageTime.Equal(want) || !bytes.Equal(m.Payload, jpeg) {
				t.Errorf("got %v %d %v %x", m.Kind, m.ImageSource, m.ImageTime, m.Payload)
			}
		}, ""},
		{"TK voice", frameOf("TK," + string(watchproto.AppendEscaped(nil, amr))), func(t *testing.T, m *watchproto.Message) {
			if m.Kind != watchproto.KindAudio || !bytes.Equal(m.Payload, amr) || m.BadEscape {
				t.Errorf("got %v %q %v", m.Kind, m.Payload, m.BadEscape)
			}
		}, "[3G*8800000015*0004*TK,1]"},
		{"TK2 voice", frameOf("TK2,#!AMR\n"), nil, "[3G*8800000015*0005*TK2,1]"},
		{"TK bad escape", frameOf("TK,#!AMR\x7D\x09rest"), func(t *testing.T, m *watchproto.Message) {
			if !m.BadEscape || string(m.Payload) != "#!AMR" {
				t.Errorf("got %q bad=%v", m.Payload, m.BadEscape)
			}
		}, "[3G*8800000015*0004*TK,0]"},
		{"TK ack", frameOf("TK,1"), func(t *testing.T, m *watchproto.Message) {
			wantReply(t, m, "TK", "1")
		}, ""},
		{"TK nack", frameOf("TK,0"), func(t *testing.T, m *watchproto.Message) {
			wantReply(t, m, "TK", "0")
		}, ""},
		{"TKQ2", frameOf("TKQ2"), func(t *testing.T, m *watchproto.Message) {
			if m.Kind != watchproto.KindVoiceQuery {
				t.Errorf("kind %v", m.Kind)
			}
		}, "[3G*8800000015*0004*TKQ2]"},
		{"CONFIG", frameOf("CONFIG,TY:G75,UL:600,SY:1,CM:1"), func(t *testing.T, m *watchproto.Message) {
			want := []watchproto.KV{{"TY", "G75"}, {"UL", "600"}, {"SY", "1"}, {"CM", "1"}}
			if m.Kind != watchproto.KindConfig || !reflect.DeepEqual(m.Config, want) {
				t.Errorf("got %v %v", m.Kind, m.Config)
			}
		}, "[3G*8800000015*0008*CONFIG,1]"},
		{"CCID", frameOf("CCID,89882280666025486402"), func(t *testing.T, m *watchproto.Message) {
			if m.Kind != watchproto.KindICCID || m.ICCID != "89882280666025486402" {
				t.Errorf("got %v %q", m.Kind, m.ICCID)
			}
		}, ""},
		{"ICCID", frameOf("ICCID,8931440400012345678"), func(t *testing.T, m *watchproto.Message) {
			if m.Kind != watchproto.KindICCID || m.ICCID != "8931440400012345678" {
				t.Errorf("got %v %q", m.Kind, m.ICCID)
			}
		}, ""},
		{"INIT", frameOf("INIT,13800000000,1,0"), func(t *testing.T, m *watchproto.Message) {
			if m.Kind != watchproto.KindInit || strings.Join(m.Fields, "|") != "13800000000|1|0" {
				t.Errorf("got %v %q", m.Kind, m.Fields)
			}
		}, "[3G*8800000015*0006*INIT,1]"},
		{"WIFIINFOUP", frameOf("WIFIINFOUP,0068006f006d0065,00700077,home"), func(t *testing.T, m *watchproto.Message) {
			if m.Kind != watchproto.KindWiFiInfo || len(m.Fields) != 3 || m.Fields[2] != "home" {
				t.Errorf("got %v %q", m.Kind, m.Fields)
			}
		}, "[3G*8800000015*000c*WIFIINFOUP,1]"},
		{"GS1", frameOf("GS1,2,255,460,0,9346,5223,42,9346,5214,21"), func(t *testing.T, m *watchproto.Message) {
			want := []watchproto.Cell{{460, 0, 9346, 5223, 42, true}, {460, 0, 9346, 5214, 21, true}}
			if m.Kind != watchproto.KindCellReport || !reflect.DeepEqual(m.Location.Cells, want) {
				t.Errorf("got %v %+v", m.Kind, m.Location.Cells)
			}
		}, ""},
		{"VERNO reply", frameOf("VERNO,G29_BASE_V1.00_2014.04.23_17.46.49"), func(t *testing.T, m *watchproto.Message) {
			wantReply(t, m, "VERNO", "G29_BASE_V1.00_2014.04.23_17.46.49")
		}, ""},
		{"TS reply", frameOf("TS,ver:G36_V1.0;\nID:8800000015;\nimei:358839237678820;\nurl:1.2.3.4;\nport:5093;\nupload:600S;"),
			func(t *testing.T, m *watchproto.Message) {
				wantReply(t, m, "TS", "ver:G36_V1.0;\nID:8800000015;\nimei:358839237678820;\nurl:1.2.3.4;\nport:5093;\nupload:600S;")
			}, ""},
		{"bare ack", frameOf("UPLOAD"), func(t *testing.T, m *watchproto.Message) { wantReply(t, m, "UPLOAD", "") }, ""},
		{"echoed parameters", frameOf("SOS1,13800000000"), func(t *testing.T, m *watchproto.Message) {
			wantReply(t, m, "SOS1", "13800000000")
		}, ""},
		{"glued parameters", frameOf("UPLOAD600"), func(t *testing.T, m *watchproto.Message) { wantReply(t, m, "UPLOAD", "600") }, ""},
		{"lower-case profile", frameOf("profile,1"), func(t *testing.T, m *watchproto.Message) { wantReply(t, m, "profile", "1") }, ""},
		{"upper-case profile", frameOf("PROFILE"), func(t *testing.T, m *watchproto.Message) { wantReply(t, m, "profile", "") }, ""},
		{"PHBX status", frameOf("PHBX,1"), func(t *testing.T, m *watchproto.Message) { wantReply(t, m, "PHBX", "1") }, ""},
		{"rcapture ack", frameOf("rcapture"), func(t *testing.T, m *watchproto.Message) { wantReply(t, m, "rcapture", "") }, ""},
		{"unknown type", frameOf("GETFACEOPEN,a,,b"), func(t *testing.T, m *watchproto.Message) {
			if m.Kind != watchproto.KindUnknown || m.Type != "GETFACEOPEN" || strings.Join(m.Fields, "|") != "a||b" {
				t.Errorf("got %v %q %q", m.Kind, m.Type, m.Fields)
			}
		}, ""},
		{"not a keyword prefix", frameOf("TSX,1"), func(t *testing.T, m *watchproto.Message) {
			if m.Kind != watchproto.KindUnknown {
				t.Errorf("kind %v", m.Kind)
			}
		}, ""},
		{"KA", frameOf("KA,1200,3,80"), func(t *testing.T, m *watchproto.Message) {
			if m.Kind != watchproto.KindHeartbeat || m.Heartbeat != (watchproto.Heartbeat{Steps: 1200, Rolls: 3, Battery: 80}) {
				t.Errorf("got %v %+v", m.Kind, m.Heartbeat)
			}
		}, ""},
		{"LK partial", frameOf("LK,50"), func(t *testing.T, m *watchproto.Message) {
			if m.Present != watchproto.FieldSteps || m.Heartbeat.Steps != 50 {
				t.Errorf("got %v %+v", m.Present, m.Heartbeat)
			}
		}, "[3G*8800000015*0002*LK]"},
		{"WAD", frameOf("WAD,EN,180916,025723,A,22.570733,N,113.8626083,E,0.00,249.5,0.0,6,100,60,0,0,00000010,0,0"),
			func(t *testing.T, m *watchproto.Message) {
				l := &m.Location
				if m.Kind != watchproto.KindLocation || l.Language != "EN" || !l.Valid || l.Lat != 22.570733 || l.Lon != 113.8626083 ||
					!l.Static || l.Wear != watchproto.WearOn || !m.GeoRequest() {
					t.Errorf("got %+v", l)
				}
			}, "[3G*8800000015*0009*RAD,BASE,]"},
		{"WG", frameOf("WG,180916,025723,V,0,N,0,E,0,0,0,0,100,60,0,0,00000000,1,255,460,1,9529,21809,158"),
			func(t *testing.T, m *watchproto.Message) {
				if m.Location.HasCoords || len(m.Location.Cells) != 1 || !m.GeoRequest() {
					t.Errorf("got %+v", m.Location)
				}
			}, "[3G*8800000015*000b*RG,BASE,,,,]"},
		{"PP", frameOf("PP,101010,180916,025723,A,22.5,N,113.8,E,0,0,0,6,100,60,0,0,00000000,0,0"),
			func(t *testing.T, m *watchproto.Message) {
				if m.Location.PPTime != "101010" || m.Location.Lat != 22.5 || m.Location.Battery != 60 {
					t.Errorf("got %+v", m.Location)
				}
			}, ""},
		{"4-digit status, not worn, heart alarm", frameOf("UD,220414,134652,A,22.571707,N,113.8613968,E,0.1,0.0,100,7,60,90,1000,50,0008"),
			func(t *testing.T, m *watchproto.Message) {
				l := &m.Location
				if l.Status != "0008" || l.StatusBits != 8 || l.Wear != watchproto.WearOff || l.Alarms != 0 || l.Steps != 1000 || l.Rolls != 50 {
					t.Errorf("got %+v", l)
				}
			}, ""},
		{"alarm bits", frameOf("AL_LTE,170525,214118,V,0,,0,,0,0,0,0,0,22,0,0,0078C000,0,0"),
			func(t *testing.T, m *watchproto.Message) {
				got := strings.Join(m.Location.Alarms.Names(), ",")
				if got != "geofence_enter,removed,fall,abnormal_heart_rate,power_cut" || !m.Location.AlarmReport {
					t.Errorf("alarms %q", got)
				}
			}, "[3G*8800000015*0002*AL]"},
		{"empty hemispheres, leading spaces, signs", frameOf("UD_LTE,260723,185105,A, -12.5,, 45.25,,1,2,3,4,5,6,7,8,00000000"),
			func(t *testing.T, m *watchproto.Message) {
				if !m.Location.HasCoords || m.Location.Lat != -12.5 || m.Location.Lon != 45.25 {
					t.Errorf("got %v,%v", m.Location.Lat, m.Location.Lon)
				}
			}, ""},
		{"hemisphere letters", frameOf("UD,260723,185105,A,12.5,S,45.25,W,,,,,,,,,"),
			func(t *testing.T, m *watchproto.Message) {
				if m.Location.Lat != -12.5 || m.Location.Lon != -45.25 || m.Present != 0 {
					t.Errorf("got %v,%v present %b", m.Location.Lat, m.Location.Lon, m.Present)
				}
			}, ""},
		{"missing trailing fields", frameOf("UD,260723,185105,A,12.5,N,45.25,E,3.5"),
			func(t *testing.T, m *watchproto.Message) {
				if m.Present != watchproto.FieldSpeed || m.Location.Speed != 3.5 || m.Location.Wear != watchproto.WearUnknown {
					t.Errorf("present %b %+v", m.Present, m.Location)
				}
			}, ""},
		{"invalid date", frameOf("UD,000000,000000,V,0,N,0,E,0,0,0,0,0,0,0,0,00000000,0,0"),
			func(t *testing.T, m *watchproto.Message) {
				if !m.Location.Time.IsZero() {
					t.Errorf("time %v", m.Location.Time)
				}
			}, ""},
		{"accuracy and trailers", frameOf("UD_LTE,260723,185105,V,0,N,0,E,0,0,0,0,0,0,0,0,00000000,0,1,home,aa:bb:cc:dd:ee:ff,-50,12.5,,00"),
			func(t *testing.T, m *watchproto.Message) {
				l := &m.Location
				if len(l.WiFi) != 1 || l.WiFi[0] != (watchproto.WiFi{"home", "aa:bb:cc:dd:ee:ff", -50}) || l.Accuracy != 12.5 || !m.Present.Has(watchproto.FieldAccuracy) {
					t.Errorf("got %+v", l)
				}
			}, ""},
		{"hex cells with empty rssi", frameOf("UD,260723,185105,V,0,N,0,E,0,0,0,0,0,0,0,0,00000000,2,1,234,15,55C0,3B882A2,,1234,10,99"),
			func(t *testing.T, m *watchproto.Message) {
				want := []watchproto.Cell{{234, 15, 0x55C0, 0x3B882A2, 0, false}, {234, 15, 0x1234, 0x10, 99, true}}
				if !reflect.DeepEqual(m.Location.Cells, want) {
					t.Errorf("cells %+v", m.Location.Cells)
				}
			}, ""},
		{"ALCUSTOMER1", frameOf("ALCUSTOMER1,260723,185105,V,0,N,0,E,0,0,0,0,0,0,0,0,00010000"),
			func(t *testing.T, m *watchproto.Message) {
				if m.Kind != watchproto.KindLocation || m.Location.Alarms != watchproto.AlarmSOS {
					t.Errorf("got %v %v", m.Kind, m.Location.Alarms)
				}
			}, "[3G*8800000015*0002*AL]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m watchproto.Message
			if err := watchproto.Decode(tt.frame, &m); err != nil {
				t.Fatalf("Decode(%q): %v", tt.frame, err)
			}
			if !m.LengthOK || m.Device != "8800000015" || m.Manufacturer != "3G" {
				t.Errorf("header %q %q LengthOK=%v", m.Manufacturer, m.Device, m.LengthOK)
			}
			if tt.check != nil {
				tt.check(t, &m)
			}
			if got := string(watchproto.AppendReply(nil, &m)); got != tt.reply {
				t.Errorf("reply %q, want %q", got, tt.reply)
			}
		})
	}
}

func wantHealth(t *testing.T, m *watchproto.Message, h watchproto.Health, present watchproto.Fields) {
	t.Helper()
	if m.Kind != watchproto.KindHealth || m.Health != h || m.Present != present {
		t.Errorf("got %v %+v present %b; want %+v present %b", m.Kind, m.Health, m.Present, h, present)
	}
}

func wantReply(t *testing.T, m *watchproto.Message, keyword, data string) {
	t.Helper()
	if m.Kind != watchproto.KindCommandReply || m.Keyword != keyword || m.Data != data {
		t.Errorf("got %v %q %q; want command reply %q %q", m.Kind, m.Keyword, m.Data, keyword, data)
	}
	if !watchproto.IsCommandKeyword(keyword) && keyword != "TK2" {
		t.Errorf("%q is not a command keyword", keyword)
	}
}

func TestDecodeHeader(t *testing.T) {
	tests := []struct {
		frame, mfr, dev, idx string
		length               int
		ok                   bool
	}{
		{"[ZJ*014111001350304*0034*0009*LK,0,0,19]", "ZJ", "014111001350304", "0034", 9, true},
		{"[3G*1234*0002*LK]", "3G", "1234", "", 2, true},
		{"[SG*9081000548*0009*LK,0,100]", "SG", "9081000548", "", 9, false},
		{"[3G*1*000A*LK,0,0,100]", "3G", "1", "", 10, true},
		{"[3G*1*0003*ABCD*LK]", "3G", "1", "0003", 0xABCD, false},
	}
	for _, tt := range tests {
		var m watchproto.Message
		if err := watchproto.Decode([]byte(tt.frame), &m); err != nil {
			t.Errorf("Decode(%q): %v", tt.frame, err)
			continue
		}
		if m.Manufacturer != tt.mfr || m.Device != tt.dev || m.Index != tt.idx || m.Length != tt.length || m.LengthOK != tt.ok {
			t.Errorf("Decode(%q) = %q %q %q %d %v", tt.frame, m.Manufacturer, m.Device, m.Index, m.Length, m.LengthOK)
		}
	}
	for _, bad := range []string{"", "[", "[]", "3G*1*0002*LK", "[3G*1*0002*LK", "[3G1*0002*LK]", "[3G**0002*LK]",
		"[3G*1*LK]", "[3G*1*002*LK]", "[3G*1*00G2*LK]", "[ABC*1*0002*LK]", "[3G*1*0002]"} {
		var m watchproto.Message
		if err := watchproto.Decode([]byte(bad), &m); !errors.Is(err, watchproto.ErrMalformed) {
			t.Errorf("Decode(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

// TestDecodeReuse: a Message reused across frames carries nothing over from the previous one.
func TestDecodeReuse(t *testing.T) {
	var m watchproto.Message
	ud := []byte("[3G*1*0000*UD,010120,025946,A,1.5,N,2.5,E,22.0,0,-1,0,100,98,0,0,00010000,1,255,460,0,1,2,3,1,x,aa:bb,-5,7.5]")
	if err := watchproto.Decode(ud, &m); err != nil {
		t.Fatal(err)
	}
	if err := watchproto.Decode([]byte("[3G*1*0000*UD,010120,025946,V]"), &m); err != nil {
		t.Fatal(err)
	}
	l := m.Location
	if l.HasCoords || len(l.Cells) != 0 || len(l.WiFi) != 0 || l.Alarms != 0 || m.Present != 0 || l.Status != "" || l.Valid {
		t.Errorf("leftovers: %+v present %b", l, m.Present)
	}
	var fresh watchproto.Message
	watchproto.Decode([]byte("[3G*1*0000*LK,1,2,3]"), &m)
	watchproto.Decode([]byte("[3G*1*0000*LK,1,2,3]"), &fresh)
	if m.Heartbeat != fresh.Heartbeat || m.Present != fresh.Present || m.Kind != fresh.Kind {
		t.Errorf("reused %+v, fresh %+v", m.Heartbeat, fresh.Heartbeat)
	}
}

func TestCommandKeywords(t *testing.T) {
	for _, k := range watchproto.CommandKeywords() {
		if !watchproto.IsCommandKeyword(k) || !watchproto.IsCommandKeyword(strings.ToUpper(k)) {
			t.Errorf("IsCommandKeyword(%q) = false", k)
		}
		var m watchproto.Message
		if err := watchproto.Decode(frameOf(k), &m); err != nil || (m.Kind != watchproto.KindCommandReply && k != "TK") {
			t.Errorf("the bare keyword %q decodes to %v, %v", k, m.Kind, err)
		}
	}
	for _, s := range []string{"LK", "UD", "TKQ", "", "UPLOADX"} {
		if watchproto.IsCommandKeyword(s) {
			t.Errorf("IsCommandKeyword(%q) = true", s)
		}
	}
}
