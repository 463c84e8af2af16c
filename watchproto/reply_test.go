package watchproto_test

import (
	"bytes"
	"strings"
	"testing"

	"kinwatch/watchproto"
)

func decoded(t *testing.T, frame string) *watchproto.Message {
	t.Helper()
	var m watchproto.Message
	if err := watchproto.Decode([]byte(frame), &m); err != nil {
		t.Fatalf("Decode(%q): %v", frame, err)
	}
	return &m
}

func TestAppendLocationReply(t *testing.T) {
	wg := decoded(t, "[ZJ*689466020014198*0003*0000*WG,180916,025723,V,0,N,0,E,0,0,0,0,100,60,0,0,00000000,0,0]")
	wad := decoded(t, "[3G*8800000015*0000*WAD,EN,180916,025723,V,0,N,0,E,0,0,0,0,100,60,0,0,00000000,0,0]")
	tests := []struct {
		name string
		m    *watchproto.Message
		a    watchproto.GeoAnswer
		want string
	}{
		{"wg base", wg, watchproto.GeoAnswer{Found: true, Lat: -33.4803664, Lon: -70.763069}, "[ZJ*689466020014198*0003*001f*RG,BASE,33.480366,S,70.763069,W]"},
		{"wg gps", wg, watchproto.GeoAnswer{Found: true, FromGPS: true, Lat: 22.570733, Lon: 113.8626083}, "[ZJ*689466020014198*0003*001f*RG,GPS,22.570733,N,113.862608,E]"},
		{"wg not found", wg, watchproto.GeoAnswer{FromGPS: true, Lat: 1, Lon: 2}, "[ZJ*689466020014198*0003*000b*RG,BASE,,,,]"},
		{"wad", wad, watchproto.GeoAnswer{Found: true, Address: "1 Main St [rear], Springfield"}, "[3G*8800000015*0026*RAD,BASE,1 Main St (rear), Springfield]"},
		{"wad gps", wad, watchproto.GeoAnswer{Found: true, FromGPS: true, Address: "Dam 1"}, "[3G*8800000015*000d*RAD,GPS,Dam 1]"},
		{"wad not found", wad, watchproto.GeoAnswer{Address: "ignored"}, "[3G*8800000015*0009*RAD,BASE,]"},
		{"not a request", decoded(t, "[3G*1*0002*LK]"), watchproto.GeoAnswer{Found: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := watchproto.AppendLocationReply([]byte("prefix"), tt.m, tt.a)
			if string(got) != "prefix"+tt.want {
				t.Errorf("got %q, want %q", got, "prefix"+tt.want)
			}
		})
	}
}

func TestAppendReplyEchoesHeader(t *testing.T) {
	for frame, want := range map[string]string{
		"[ZJ*014111001350304*0034*0009*LK,0,0,19]": "[ZJ*014111001350304*0034*0002*LK]",
		"[SG*9081000548*0009*LK,0,100]":            "[SG*9081000548*0002*LK]",
		"[3G*1*0004*TKQ2]":                         "[3G*1*0004*TKQ2]",
		"[3G*1*0008*UPLOAD]":                       "",
		"[3G*1*0008*CCID,898]":                     "",
		"[3G*1*0008*UD_LTE,010120,025946,A]":       "",
		"[3G*1*0008*JXTK,0,a,1,1,\x7D\x09]":        "[3G*1*0007*JXTKR,0]",
		"[3G*1*0008*TK]":                           "[3G*1*0004*TK,0]",
		"[3G*1*0008*Bphrt,1,2,3]":                  "[3G*1*0005*Bphrt]",
		"[3G*1*0008*OXYGEN,0,100]":                 "[3G*1*0008*oxygen,1]",
		"[3G*1*0008*BTEMP2,1,36.6]":                "[3G*1*0006*BTEMP2]",
	} {
		got := watchproto.AppendReply([]byte("x"), decoded(t, frame))
		if string(got) != "x"+want {
			t.Errorf("%q: reply %q, want %q", frame, got, "x"+want)
		}
	}
}

func TestAppendFrame(t *testing.T) {
	if got := string(watchproto.AppendFrame(nil, "ZJ", "689466020014198", "0003", []byte("AL"))); got != "[ZJ*689466020014198*0003*0002*AL]" {
		t.Errorf("got %q", got)
	}
	big := bytes.Repeat([]byte("a"), 0x10000)
	got := watchproto.AppendFrame(nil, "3G", "1", "", big)
	if !strings.HasPrefix(string(got), "[3G*1*ffff*aaa") || len(got) != len("[3G*1*ffff*]")+len(big) {
		t.Errorf("oversized content: %q…", got[:20])
	}
	if got := string(watchproto.AppendFrame(nil, "3G", "1", "", bytes.Repeat([]byte("b"), 0xABC))[:12]); got != "[3G*1*0abc*b" {
		t.Errorf("LEN %q, want lower-case hex", got)
	}
}
