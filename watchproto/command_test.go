package watchproto_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"kinwatch/watchproto"
)

func cmdLang(l watchproto.Language) *watchproto.Language { return &l }

func cmdTOD(h, m int) watchproto.TimeOfDay { return watchproto.TimeOfDay{Hour: h, Minute: m} }

func cmdWindow(h1, m1, h2, m2 int) watchproto.TimeWindow {
	return watchproto.TimeWindow{Start: cmdTOD(h1, m1), End: cmdTOD(h2, m2)}
}

// amr is a valid AMR-NB file of n 12.2 kbit/s frames (20 ms each) whose speech bytes hold every
// byte that needs escaping.
func cmdAMR(n int) []byte {
	b := []byte("#!AMR\n")
	for i := 0; i < n; i++ {
		frame := make([]byte, 31)
		copy(frame, []byte{0x7D, '[', ']', ',', '*'})
		b = append(append(b, 0x3C), frame...)
	}
	return b
}

var cmdJPEG = []byte{0xFF, 0xD8, 0xFF, 0xE0, ',', 0xFF, 0xD9}

// TestCommandContent pins the exact content bytes of every command type.
func TestCommandContent(t *testing.T) {
	mondayToFriday := watchproto.Workdays
	tests := []struct {
		name    string
		cmd     watchproto.Command
		keyword string
		want    string
	}{
		{"upload", watchproto.Upload{Interval: 10 * time.Minute}, "UPLOAD", "UPLOAD,600"},
		{"upload min", watchproto.Upload{Interval: time.Minute}, "UPLOAD", "UPLOAD,60"},
		{"upload max", watchproto.Upload{Interval: 65535 * time.Second}, "UPLOAD", "UPLOAD,65535"},
		{"center", watchproto.Center{Phone: "+4915112345678"}, "CENTER", "CENTER,+4915112345678"},
		{"slave", watchproto.Slave{Phone: "015112345678"}, "SLAVE", "SLAVE,015112345678"},
		{"password", watchproto.Password{Password: "654321"}, "PW", "PW,654321"},
		{"call", watchproto.Call{Phone: "112"}, "CALL", "CALL,112"},
		{"monitor", watchproto.Monitor{Phone: "+33612345678"}, "MONITOR", "MONITOR,+33612345678"},
		{"sos number", watchproto.SOSNumber{Slot: 1, Phone: "123456789"}, "SOS1", "SOS1,123456789"},
		{"sos number 3", watchproto.SOSNumber{Slot: 3, Phone: "+4915112345678"}, "SOS3", "SOS3,+4915112345678"},
		{"sos number cleared", watchproto.SOSNumber{Slot: 2}, "SOS2", "SOS2,"},
		{"sos numbers", watchproto.SOSNumbers{Phones: [3]string{"111111", "222222", "333333"}}, "SOS", "SOS,111111,222222,333333"},
		{"sos numbers partly empty", watchproto.SOSNumbers{Phones: [3]string{"111111"}}, "SOS", "SOS,111111,,"},
		{"ip", watchproto.IP{Host: "52.28.132.157", Port: 8001}, "IP", "IP,52.28.132.157,8001"},
		{"ip host name", watchproto.IP{Host: "watch.example.org", Port: 5093}, "IP", "IP,watch.example.org,5093"},
		{"apn template", watchproto.APN{Name: "internet.telekom", Operator: "26201"}, "APN", "APN,internet.telekom,,,26201"},
		{"apn with login", watchproto.APN{Name: "web.vodafone.de", User: "vf", Password: "vf"}, "APN", "APN,web.vodafone.de,vf,vf,"},
		{"factory", watchproto.Factory{}, "FACTORY", "FACTORY"},
		{"lz no language", watchproto.SetTimeZone{Offset: time.Hour}, "LZ", "LZ,,+1"},
		{"lz half hour", watchproto.SetTimeZone{Offset: 90 * time.Minute}, "LZ", "LZ,,+1.5"},
		{"lz negative", watchproto.SetTimeZone{Offset: -time.Hour}, "LZ", "LZ,,-1"},
		{"lz negative half", watchproto.SetTimeZone{Offset: -11*time.Hour - 30*time.Minute}, "LZ", "LZ,,-11.5"},
		{"lz english nepal", watchproto.SetTimeZone{Language: cmdLang(watchproto.LanguageEnglish), Offset: 5*time.Hour + 45*time.Minute}, "LZ", "LZ,0,+5.75"},
		{"lz german", watchproto.SetTimeZone{Language: cmdLang(watchproto.LanguageGerman), Offset: 11*time.Hour + 30*time.Minute}, "LZ", "LZ,5,+11.5"},
		{"lz utc", watchproto.SetTimeZone{Language: cmdLang(watchproto.LanguageFrench)}, "LZ", "LZ,10,+0"},
		{"lz chatham", watchproto.SetTimeZone{Offset: 12*time.Hour + 45*time.Minute}, "LZ", "LZ,,+12.75"},
		{"lz newfoundland", watchproto.SetTimeZone{Offset: -3*time.Hour - 30*time.Minute}, "LZ", "LZ,,-3.5"},
		{"lz kiribati", watchproto.SetTimeZone{Offset: 14 * time.Hour}, "LZ", "LZ,,+14"},
		{"sos sms on", watchproto.SOSSMS{Enabled: true}, "SOSSMS", "SOSSMS,1"},
		{"sos sms off", watchproto.SOSSMS{}, "SOSSMS", "SOSSMS,0"},
		{"low battery", watchproto.LowBatteryAlarm{Enabled: true}, "LOWBAT", "LOWBAT,1"},
		{"remove alarm", watchproto.RemoveAlarm{Enabled: true}, "REMOVE", "REMOVE,1"},
		{"remove sms", watchproto.RemoveSMS{}, "REMOVESMS", "REMOVESMS,0"},
		{"pedometer", watchproto.Pedometer{Enabled: true}, "PEDO", "PEDO,1"},
		{"walk time", watchproto.WalkTime{Windows: []watchproto.TimeWindow{cmdWindow(7, 0, 8, 30), cmdWindow(15, 0, 18, 0)}}, "WALKTIME", "WALKTIME,07:00-08:30,15:00-18:00"},
		{"sleep time over midnight", watchproto.SleepTime{Window: cmdWindow(21, 0, 7, 0)}, "SLEEPTIME", "SLEEPTIME,21:00-07:00"},
		{"silence time as sniffed", watchproto.SilenceTime{Windows: []watchproto.TimeWindow{cmdWindow(0, 2, 6, 22), cmdWindow(22, 0, 23, 0), cmdWindow(18, 0, 19, 0), {}}}, "SILENCETIME", "SILENCETIME,00:02-06:22,22:00-23:00,18:00-19:00,00:00-00:00"},
		{"silence time weekly", watchproto.SilenceTime2{Windows: []watchproto.WeeklyWindow{
			{Start: cmdTOD(8, 0), End: cmdTOD(12, 0), Days: mondayToFriday},
			{Start: cmdTOD(14, 0), End: cmdTOD(16, 30), Days: watchproto.DaysOf(time.Saturday, time.Sunday)},
			{Start: cmdTOD(9, 5), End: cmdTOD(9, 50)},
		}}, "SILENCETIME2", "SILENCETIME2,08:00-12:00-0111110,14:00-16:30-1000001,09:05-09:50-0000000"},
		{"find", watchproto.Find{}, "FIND", "FIND"},
		{"flower", watchproto.Flower{Count: 5}, "FLOWER", "FLOWER,5"},
		{"flower none", watchproto.Flower{}, "FLOWER", "FLOWER,0"},
		{"remind", watchproto.Remind{Alarms: []watchproto.AlarmClock{
			{Time: cmdTOD(8, 10), Enabled: true, Repeat: watchproto.AlarmCustomDays, Days: mondayToFriday},
			{Time: cmdTOD(6, 30), Enabled: false, Repeat: watchproto.AlarmDaily},
			{Time: cmdTOD(17, 45), Enabled: true, Repeat: watchproto.AlarmOnce},
		}}, "REMIND", "REMIND,08:10-1-3-0111110,06:30-0-2,17:45-1-1"},
		{"voice message", watchproto.VoiceMessage{AMR: cmdAMR(1)}, "TK",
			"TK,#!AMR\n\x3C\x7D\x01\x7D\x02\x7D\x03\x7D\x04\x7D\x05" + strings.Repeat("\x00", 26)},
		{"voice message raw", watchproto.VoiceMessage{AMR: []byte{0xFF}, Raw: true}, "TK", "TK,\xFF"},
		{"message", watchproto.TextMessage{Text: "text"}, "MESSAGE", "MESSAGE,0074006500780074"},
		{"message non-ascii", watchproto.TextMessage{Text: "Grüße, 好"}, "MESSAGE", "MESSAGE,0047007200fc00df0065002c0020597d"},
		{"message surrogate pair", watchproto.TextMessage{Text: "a😀"}, "MESSAGE", "MESSAGE,0061d83dde00"},
		{"sms", watchproto.SMS{Phone: "00000000000", Text: "123ABC everybody good"}, "SMS", "SMS,00000000000,123ABC everybody good"},
		{"phone book as sniffed", watchproto.PhoneBook{Part: 1, Entries: []watchproto.PhoneBookEntry{
			{Name: "friend1", Phone: "1111111"}, {Name: "friend2", Phone: "2222222"},
		}}, "PHB", "PHB,1111111,0066007200690065006e00640031,2222222,0066007200690065006e00640032,,,,,,"},
		{"phone book part 2", watchproto.PhoneBook{Part: 2, Entries: []watchproto.PhoneBookEntry{
			{}, {Name: "Oma", Phone: "+4930123456"},
		}}, "PHB2", "PHB2,,,+4930123456,004f006d0061,,,,,,"},
		{"phone book cleared", watchproto.PhoneBook{Part: 1}, "PHB", "PHB,,,,,,,,,,"},
		{"phone book x", watchproto.PhoneBookX{Index: 3, Name: "Mum", Phone: "+4915112345678", Photo: cmdJPEG}, "PHBX",
			"PHBX,3,004d0075006d,+4915112345678,\xFF\xD8\xFF\xE0\x7D\x04\xFF\xD9"},
		{"phone book x no photo", watchproto.PhoneBookX{Index: 30, Name: "Dad", Phone: "123456"}, "PHBX", "PHBX,30,004400610064,123456,"},
		{"phone book x2", watchproto.PhoneBookX2{Sum: 2, Name: "Mum", Phone: "123456", Avatar: cmdJPEG, Type: 1}, "PHBX2",
			"PHBX2,2,004d0075006d,123456,\xFF\xD8\xFF\xE0\x7D\x04\xFF\xD9,1"},
		{"delete phone book x", watchproto.DeletePhoneBookX{Index: 7}, "DPHBX", "DPHBX,7"},
		{"white list 1", watchproto.WhiteList{Part: 1, Phones: []string{"111111", "", "333333"}}, "WHITELIST1", "WHITELIST1,111111,,333333,,"},
		{"white list 2", watchproto.WhiteList{Part: 2}, "WHITELIST2", "WHITELIST2,,,,,"},
		{"refuse unknown calls", watchproto.RefuseUnknownCalls{Enabled: true}, "DEVREFUSEPHONESWITCH", "DEVREFUSEPHONESWITCH,1"},
		{"auto answer off", watchproto.AutoAnswer{}, "ACALL", "ACALL,0"},
		{"auto answer", watchproto.AutoAnswer{Phones: []string{"111111", "+222222"}}, "ACALL", "ACALL,111111,+222222"},
		{"profile", watchproto.Profile{Mode: watchproto.ProfileSilent}, "profile", "profile,4"},
		{"version", watchproto.Version{}, "VERNO", "VERNO"},
		{"settings", watchproto.Settings{}, "TS", "TS"},
		{"reset", watchproto.Reset{}, "RESET", "RESET"},
		{"power off", watchproto.PowerOff{}, "POWEROFF", "POWEROFF"},
		{"locate now", watchproto.LocateNow{}, "CR", "CR"},
		{"work", watchproto.Work{Windows: []watchproto.HourWindow{{6, 9}, {11, 13}, {13, 15}, {17, 19}}}, "WORK", "WORK,6-9,11-13,13-15,17-19"},
		{"work whole day", watchproto.Work{Windows: []watchproto.HourWindow{{0, 24}}}, "WORK", "WORK,0-24"},
		{"work time", watchproto.WorkTime{Minutes: 5}, "WORKTIME", "WORKTIME,5"},
		{"remote capture", watchproto.RemoteCapture{}, "rcapture", "rcapture"},
		{"offline photos", watchproto.OfflinePhotos{}, "wdimgq", "wdimgq"},
		{"heart rate once", watchproto.HeartRateStart{Mode: watchproto.HeartRateOnce}, "hrtstart", "hrtstart,1"},
		{"heart rate stop", watchproto.HeartRateStart{Mode: watchproto.HeartRateStop}, "hrtstart", "hrtstart,0"},
		{"heart rate periodic", watchproto.HeartRateStart{Mode: watchproto.HeartRatePeriodic, Interval: time.Hour}, "hrtstart", "hrtstart,3600"},
		{"health auto set", watchproto.HealthAutoSet{Enabled: true, Interval: 5 * time.Minute}, "HEALTHAUTOSET", "HEALTHAUTOSET,1,1,300"},
		{"health auto set off", watchproto.HealthAutoSet{Interval: time.Hour}, "HEALTHAUTOSET", "HEALTHAUTOSET,1,0,3600"},
		{"body temperature", watchproto.BodyTemperature{Enabled: true, Interval: 4 * time.Hour}, "bodytemp", "bodytemp,1,4"},
		{"body temperature now", watchproto.BodyTemperatureNow{}, "bodytemp2", "bodytemp2"},
		{"fall detection", watchproto.FallDetection{Enabled: true, CallCenter: true}, "FALLDOWN", "FALLDOWN,1,1"},
		{"fall detection no call", watchproto.FallDetection{Enabled: true}, "FALLDOWN", "FALLDOWN,1,0"},
		{"fall sensitivity", watchproto.FallSensitivity{Level: 5, Scale: 8}, "LSSET", "LSSET,5+8"},
		{"take pills", watchproto.TakePills{Enabled: true, Number: 1, Text: "Pill"}, "TAKEPILLS", "TAKEPILLS,1,1,00500069006c006c"},
		{"take pills with audio", watchproto.TakePills{Enabled: true, Number: 2, Text: "A", Audio: cmdAMR(1)}, "TAKEPILLS",
			"TAKEPILLS,1,2,0041,#!AMR\n\x3C\x7D\x01\x7D\x02\x7D\x03\x7D\x04\x7D\x05" + strings.Repeat("\x00", 26)},
		{"remove friend", watchproto.RemoveFriend{}, "PPR", "PPR"},
		{"wifi search", watchproto.WiFiSearch{}, "WIFISEARCH", "WIFISEARCH"},
		{"wifi set", watchproto.WiFiSet{ID: "486f6d65", Password: "736563726574", SSID: "Home"}, "WIFISET", "WIFISET,486f6d65,736563726574,Home"},
		{"wifi set open network", watchproto.WiFiSet{ID: "1", SSID: "Cafe"}, "WIFISET", "WIFISET,1,,Cafe"},
		{"wifi delete", watchproto.WiFiDelete{}, "WIFIDEL", "WIFIDEL"},
		{"wifi current", watchproto.WiFiCurrent{}, "WIFICUR", "WIFICUR"},
		{"app lock gps", watchproto.AppLock{Feature: watchproto.AppLockPositioning, Enabled: true}, "APPLOCK", "APPLOCK,DW-1"},
		{"app lock night", watchproto.AppLock{Feature: watchproto.AppLockNightPowerSaving}, "APPLOCK", "APPLOCK,YJ-0"},
		{"app lock dial pad", watchproto.AppLock{Feature: watchproto.AppLockDialPad, Enabled: true}, "APPLOCK", "APPLOCK,PH-1"},
		{"custom", watchproto.Custom{Text: "WORK,6-9,11-13,13-15,17-19"}, "WORK", "WORK,6-9,11-13,13-15,17-19"},
		{"custom bare", watchproto.Custom{Text: "GPSTEST"}, "GPSTEST", "GPSTEST"},
		{"custom escaped binary", watchproto.Custom{Text: "TK,\x7D\x02\x7D\x05"}, "TK", "TK,\x7D\x02\x7D\x05"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cmd.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got := tt.cmd.Keyword(); got != tt.keyword {
				t.Errorf("Keyword = %q, want %q", got, tt.keyword)
			}
			got := tt.cmd.AppendContent(nil)
			if string(got) != tt.want {
				t.Errorf("content\n got %q\nwant %q", got, tt.want)
			}
			// AppendContent appends: what is already in dst stays.
			if again := tt.cmd.AppendContent([]byte("x")); string(again) != "x"+tt.want {
				t.Errorf("AppendContent to a non-empty slice = %q", again)
			}
			content, err := watchproto.CommandContent(tt.cmd)
			if err != nil || !bytes.Equal(content, got) {
				t.Errorf("CommandContent = %q, %v", content, err)
			}
			if !bytes.HasPrefix(got, []byte(tt.keyword)) {
				t.Errorf("content does not start with the keyword")
			}
			if bytes.ContainsAny(got, "[]*") {
				t.Errorf("content holds a raw framing byte: %q", got)
			}
		})
	}
}

// TestCommandValidation pins the user-facing messages of invalid commands.
func TestCommandValidation(t *testing.T) {
	long := strings.Repeat("x", 101)
	tests := []struct {
		name string
		cmd  watchproto.Command
		want string
	}{
		{"upload too short", watchproto.Upload{Interval: 30 * time.Second}, "interval_seconds: must be whole seconds between 60 and 65535"},
		{"upload too long", watchproto.Upload{Interval: 65536 * time.Second}, "interval_seconds: must be whole seconds between 60 and 65535"},
		{"upload fraction", watchproto.Upload{Interval: 90*time.Second + time.Millisecond}, "interval_seconds: must be whole seconds between 60 and 65535"},
		{"center missing", watchproto.Center{}, "phone: a phone number is required"},
		{"center separators", watchproto.Center{Phone: "0151 1234567"}, "phone: must be a phone number of 3 to 20 digits, optionally starting with +, without spaces or separators"},
		{"call dashes", watchproto.Call{Phone: "030-1234"}, "phone: must be a phone number of 3 to 20 digits, optionally starting with +, without spaces or separators"},
		{"call comma", watchproto.Call{Phone: "123,RESET"}, "phone: must be a phone number of 3 to 20 digits, optionally starting with +, without spaces or separators"},
		{"call too short", watchproto.Call{Phone: "+12"}, "phone: must be a phone number of 3 to 20 digits, optionally starting with +, without spaces or separators"},
		{"call too long", watchproto.Call{Phone: "+" + strings.Repeat("1", 20)}, "phone: must be a phone number of 3 to 20 digits, optionally starting with +, without spaces or separators"},
		{"call plus inside", watchproto.Call{Phone: "49+151"}, "phone: must be a phone number of 3 to 20 digits, optionally starting with +, without spaces or separators"},
		{"slave missing", watchproto.Slave{}, "phone: a phone number is required"},
		{"monitor missing", watchproto.Monitor{}, "phone: a phone number is required"},
		{"password short", watchproto.Password{Password: "1234"}, "password: must be exactly 6 digits"},
		{"password letters", watchproto.Password{Password: "abcdef"}, "password: must be exactly 6 digits"},
		{"sos slot", watchproto.SOSNumber{Slot: 4, Phone: "123456"}, "slot: must be 1, 2 or 3"},
		{"sos slot zero", watchproto.SOSNumber{Phone: "123456"}, "slot: must be 1, 2 or 3"},
		{"sos bad phone", watchproto.SOSNumber{Slot: 1, Phone: "12#"}, "phone: must be a phone number of 3 to 20 digits, optionally starting with +, without spaces or separators"},
		{"sos numbers", watchproto.SOSNumbers{Phones: [3]string{"123456", "1 2"}}, "phones[1]: must be a phone number of 3 to 20 digits, optionally starting with +, without spaces or separators"},
		{"ip empty", watchproto.IP{Port: 80}, "host: must be an IPv4 address or a DNS name (letters, digits, - and .)"},
		{"ip v6", watchproto.IP{Host: "::1", Port: 80}, "host: must be an IPv4 address or a DNS name (letters, digits, - and .)"},
		{"ip comma", watchproto.IP{Host: "a.b,1", Port: 80}, "host: must be an IPv4 address or a DNS name (letters, digits, - and .)"},
		{"ip label dash", watchproto.IP{Host: "-a.example", Port: 80}, "host: must be an IPv4 address or a DNS name (letters, digits, - and .)"},
		{"ip empty label", watchproto.IP{Host: "a..example", Port: 80}, "host: must be an IPv4 address or a DNS name (letters, digits, - and .)"},
		{"ip bad v4", watchproto.IP{Host: "999.1.1.1", Port: 80}, "host: must be an IPv4 address or a DNS name (letters, digits, - and .)"},
		{"ip short v4", watchproto.IP{Host: "10.1.1", Port: 80}, "host: must be an IPv4 address or a DNS name (letters, digits, - and .)"},
		{"ip port", watchproto.IP{Host: "example.org", Port: 70000}, "port: must be between 1 and 65535"},
		{"ip port zero", watchproto.IP{Host: "example.org"}, "port: must be between 1 and 65535"},
		{"apn empty", watchproto.APN{}, "name: must be 1 to 63 characters"},
		{"apn space", watchproto.APN{Name: "my apn"}, "name: may hold only letters, digits, '.', '-' and '_'"},
		{"apn user comma", watchproto.APN{Name: "a", User: "x,y"}, "user: must not contain any of , [ ] * }"},
		{"apn operator", watchproto.APN{Name: "a", Operator: "262"}, "operator: must be the 5 or 6 digits of MCC and MNC, e.g. 26201"},
		{"lz too far east", watchproto.SetTimeZone{Offset: 15 * time.Hour}, "offset_hours: must be between -12 and +14 hours in steps of a quarter hour (e.g. 1, -3.5, 5.75)"},
		{"lz too far west", watchproto.SetTimeZone{Offset: -13 * time.Hour}, "offset_hours: must be between -12 and +14 hours in steps of a quarter hour (e.g. 1, -3.5, 5.75)"},
		{"lz odd minutes", watchproto.SetTimeZone{Offset: time.Hour + 20*time.Minute}, "offset_hours: must be between -12 and +14 hours in steps of a quarter hour (e.g. 1, -3.5, 5.75)"},
		{"lz language", watchproto.SetTimeZone{Language: cmdLang(100)}, "language: must be a language code between 0 and 99"},
		{"walk time none", watchproto.WalkTime{}, "windows: must hold 1 to 3 windows"},
		{"walk time four", watchproto.WalkTime{Windows: make([]watchproto.TimeWindow, 4)}, "windows: must hold 1 to 3 windows"},
		{"walk time bad hour", watchproto.WalkTime{Windows: []watchproto.TimeWindow{cmdWindow(7, 0, 24, 0)}}, "windows[0].end: must be a time between 00:00 and 23:59"},
		{"sleep time bad minute", watchproto.SleepTime{Window: cmdWindow(21, 60, 7, 0)}, "window.start: must be a time between 00:00 and 23:59"},
		{"sleep time equal", watchproto.SleepTime{Window: cmdWindow(7, 0, 7, 0)}, "window: start and end are both 07:00, which the watch cannot tell from an empty window; use 00:00-00:00 for an unused slot"},
		{"silence time five", watchproto.SilenceTime{Windows: make([]watchproto.TimeWindow, 5)}, "windows: must hold 1 to 4 windows"},
		{"silence time negative", watchproto.SilenceTime{Windows: []watchproto.TimeWindow{cmdWindow(8, 0, 12, 0), cmdWindow(-1, 0, 3, 0)}}, "windows[1].start: must be a time between 00:00 and 23:59"},
		{"silence weekly none", watchproto.SilenceTime2{}, "windows: must hold 1 to 4 windows"},
		{"silence weekly bad days", watchproto.SilenceTime2{Windows: []watchproto.WeeklyWindow{{Start: cmdTOD(8, 0), End: cmdTOD(9, 0), Days: 0x80}}}, "windows[0].days: holds bits beyond the seven days of the week"},
		{"flower", watchproto.Flower{Count: 100}, "count: must be between 0 and 99"},
		{"flower negative", watchproto.Flower{Count: -1}, "count: must be between 0 and 99"},
		{"remind none", watchproto.Remind{}, "alarms: must hold 1 to 3 alarms"},
		{"remind four", watchproto.Remind{Alarms: make([]watchproto.AlarmClock, 4)}, "alarms: must hold 1 to 3 alarms"},
		{"remind no repeat", watchproto.Remind{Alarms: []watchproto.AlarmClock{{Time: cmdTOD(7, 0)}}}, "alarms[0].repeat: must be one of once (1), daily (2), custom_days (3)"},
		{"remind custom without days", watchproto.Remind{Alarms: []watchproto.AlarmClock{{Time: cmdTOD(7, 0), Repeat: watchproto.AlarmDaily}, {Time: cmdTOD(7, 0), Repeat: watchproto.AlarmCustomDays}}}, "alarms[1].days: must name at least one day for repeat custom_days"},
		{"remind days without custom", watchproto.Remind{Alarms: []watchproto.AlarmClock{{Time: cmdTOD(7, 0), Repeat: watchproto.AlarmOnce, Days: watchproto.Weekend}}}, "alarms[0].days: apply only to repeat custom_days"},
		{"remind bad time", watchproto.Remind{Alarms: []watchproto.AlarmClock{{Time: cmdTOD(25, 0), Repeat: watchproto.AlarmOnce}}}, "alarms[0].time: must be a time between 00:00 and 23:59"},
		{"voice empty", watchproto.VoiceMessage{}, "amr: must not be empty"},
		{"voice not amr", watchproto.VoiceMessage{AMR: []byte("RIFF....WAVE")}, "amr: not AMR-NB audio: it does not start with #!AMR and a line feed"},
		{"voice amr-wb", watchproto.VoiceMessage{AMR: []byte("#!AMR-WB\n\x04")}, "amr: AMR-WB audio; the watches play only AMR-NB (#!AMR)"},
		{"voice header only", watchproto.VoiceMessage{AMR: []byte("#!AMR\n")}, "amr: AMR-NB file without audio frames"},
		{"voice truncated", watchproto.VoiceMessage{AMR: cmdAMR(2)[:40]}, "amr: truncated AMR-NB audio: the last frame is incomplete"},
		{"voice reserved frame type", watchproto.VoiceMessage{AMR: []byte("#!AMR\n\x48")}, "amr: corrupt AMR-NB audio: invalid frame header at byte 6"},
		{"voice padding bits", watchproto.VoiceMessage{AMR: append([]byte("#!AMR\n\x3D"), make([]byte, 31)...)}, "amr: corrupt AMR-NB audio: invalid frame header at byte 6"},
		{"voice too long", watchproto.VoiceMessage{AMR: cmdAMR(751)}, "amr: is 15.02 s long; the watch plays at most 15 s"},
		{"voice too big raw", watchproto.VoiceMessage{AMR: bytes.Repeat([]byte{','}, 40000), Raw: true}, "amr: makes the command 80003 bytes on the wire; a frame carries at most 65535"},
		{"message empty", watchproto.TextMessage{}, "text: must not be empty"},
		{"message long", watchproto.TextMessage{Text: long}, "text: is 101 characters long; the watch takes at most 100 (emoji and other characters outside the Basic Multilingual Plane count twice)"},
		{"message emoji count twice", watchproto.TextMessage{Text: strings.Repeat("😀", 51)}, "text: is 102 characters long; the watch takes at most 100 (emoji and other characters outside the Basic Multilingual Plane count twice)"},
		{"message newline", watchproto.TextMessage{Text: "a\nb"}, "text: must not contain control characters such as line breaks"},
		{"message bad utf8", watchproto.TextMessage{Text: "a\xffb"}, "text: is not valid UTF-8"},
		{"sms no phone", watchproto.SMS{Text: "hi"}, "phone: a phone number is required"},
		{"sms empty", watchproto.SMS{Phone: "123456"}, "text: must not be empty"},
		{"sms comma", watchproto.SMS{Phone: "123456", Text: "hi, there"}, "text: must not contain any of , [ ] * }"},
		{"sms unicode", watchproto.SMS{Phone: "123456", Text: "grüße"}, "text: must be printable ASCII"},
		{"sms long", watchproto.SMS{Phone: "123456", Text: strings.Repeat("a", 161)}, "text: is 161 characters long; at most 160 allowed"},
		{"phone book part", watchproto.PhoneBook{}, "part: must be 1 (entries 1-5) or 2 (entries 6-10)"},
		{"phone book six", watchproto.PhoneBook{Part: 1, Entries: make([]watchproto.PhoneBookEntry, 6)}, "entries: holds 6 entries; a part holds at most 5"},
		{"phone book name missing", watchproto.PhoneBook{Part: 1, Entries: []watchproto.PhoneBookEntry{{}, {Phone: "123456"}}}, "entries[1].name: must not be empty"},
		{"phone book phone missing", watchproto.PhoneBook{Part: 2, Entries: []watchproto.PhoneBookEntry{{Name: "Mum"}}}, "entries[0].phone: a phone number is required"},
		{"phone book name long", watchproto.PhoneBook{Part: 1, Entries: []watchproto.PhoneBookEntry{{Name: "Grandmother", Phone: "123456"}}}, "entries[0].name: is 11 characters long; the watch takes at most 10 (emoji and other characters outside the Basic Multilingual Plane count twice)"},
		{"phone book x index", watchproto.PhoneBookX{Index: 31, Name: "a", Phone: "123456"}, "index: must be between 1 and 30"},
		{"phone book x photo", watchproto.PhoneBookX{Index: 1, Name: "a", Phone: "123456", Photo: []byte("\x89PNG")}, "photo: must be a JPEG image"},
		{"phone book x photo big", watchproto.PhoneBookX{Index: 1, Name: "a", Phone: "123456", Photo: append([]byte{0xFF, 0xD8, 0xFF}, bytes.Repeat([]byte{'*'}, 33000)...)}, "photo: makes the command 66022 bytes on the wire; a frame carries at most 65535"},
		{"phone book x2 sum", watchproto.PhoneBookX2{Name: "a", Phone: "123456"}, "sum: must be between 1 and 30"},
		{"phone book x2 type", watchproto.PhoneBookX2{Sum: 1, Name: "a", Phone: "123456", Type: -1}, "type: must be between 0 and 99"},
		{"delete phone book x", watchproto.DeletePhoneBookX{}, "index: must be between 1 and 30"},
		{"white list part", watchproto.WhiteList{Part: 3}, "part: must be 1 (numbers 1-5) or 2 (numbers 6-10)"},
		{"white list six", watchproto.WhiteList{Part: 1, Phones: make([]string, 6)}, "phones: holds 6 numbers; a part holds at most 5"},
		{"white list bad", watchproto.WhiteList{Part: 1, Phones: []string{"12"}}, "phones[0]: must be a phone number of 3 to 20 digits, optionally starting with +, without spaces or separators"},
		{"auto answer sixteen", watchproto.AutoAnswer{Phones: make([]string, 16)}, "phones: holds 16 numbers; the watch takes at most 15"},
		{"auto answer empty entry", watchproto.AutoAnswer{Phones: []string{""}}, "phones[0]: a phone number is required"},
		{"profile", watchproto.Profile{Mode: 5}, "mode: must be one of ring_and_vibrate (1), ring (2), vibrate (3), silent (4)"},
		{"work none", watchproto.Work{}, "windows: must hold 1 to 4 windows"},
		{"work backwards", watchproto.Work{Windows: []watchproto.HourWindow{{9, 6}}}, "windows[0]: must be whole hours with 0 <= start < end <= 24, got 9-6"},
		{"work past midnight", watchproto.Work{Windows: []watchproto.HourWindow{{6, 9}, {20, 25}}}, "windows[1]: must be whole hours with 0 <= start < end <= 24, got 20-25"},
		{"work time zero", watchproto.WorkTime{}, "minutes: must be between 1 and 1440"},
		{"heart rate no mode", watchproto.HeartRateStart{}, "mode: must be one of once (1), stop (2), periodic (3)"},
		{"heart rate short", watchproto.HeartRateStart{Mode: watchproto.HeartRatePeriodic, Interval: time.Minute}, "interval_seconds: must be whole seconds between 300 and 65535"},
		{"heart rate once with interval", watchproto.HeartRateStart{Mode: watchproto.HeartRateOnce, Interval: time.Hour}, "interval_seconds: applies only to mode periodic"},
		{"health auto set", watchproto.HealthAutoSet{Enabled: true}, "interval_seconds: must be whole seconds between 300 and 65535"},
		{"body temperature zero", watchproto.BodyTemperature{Enabled: true}, "interval_hours: must be whole hours between 1 and 12"},
		{"body temperature partial", watchproto.BodyTemperature{Enabled: true, Interval: 90 * time.Minute}, "interval_hours: must be whole hours between 1 and 12"},
		{"body temperature long", watchproto.BodyTemperature{Enabled: true, Interval: 13 * time.Hour}, "interval_hours: must be whole hours between 1 and 12"},
		{"fall sensitivity scale", watchproto.FallSensitivity{Level: 1, Scale: 10}, "scale: must be between 1 and 9"},
		{"fall sensitivity level", watchproto.FallSensitivity{Level: 9, Scale: 8}, "level: must be between 1 and the scale (8)"},
		{"take pills no text", watchproto.TakePills{Number: 1}, "text: must not be empty"},
		{"take pills number", watchproto.TakePills{Number: 100, Text: "x"}, "number: must be between 0 and 99"},
		{"take pills audio", watchproto.TakePills{Number: 1, Text: "x", Audio: []byte("mp3")}, "audio: not AMR-NB audio: it does not start with #!AMR and a line feed"},
		{"wifi set no id", watchproto.WiFiSet{SSID: "x"}, "id: must not be empty"},
		{"wifi set no ssid", watchproto.WiFiSet{ID: "1"}, "ssid: must not be empty"},
		{"wifi set space", watchproto.WiFiSet{ID: "1", SSID: "my net"}, "ssid: must be printable ASCII without spaces"},
		{"wifi set bracket", watchproto.WiFiSet{ID: "1", SSID: "[LG]"}, "ssid: must not contain any of , [ ] * }"},
		{"app lock", watchproto.AppLock{Feature: "XX", Enabled: true}, "feature: must be positioning (DW), night_power_saving (YJ) or dial_pad (PH)"},
		{"custom empty", watchproto.Custom{}, "text: must not be empty"},
		{"custom no keyword", watchproto.Custom{Text: ",1"}, "text: must start with a command keyword"},
		{"custom keyword", watchproto.Custom{Text: "UP LOAD,1"}, "text: the keyword before the first comma must be letters, digits or _"},
		{"custom bracket", watchproto.Custom{Text: "MESSAGE,a]b"}, "text: contains ']' at byte 9, which breaks framing; escape binary data with 0x7D"},
		{"custom star", watchproto.Custom{Text: "X,*"}, "text: contains '*' at byte 2, which breaks framing; escape binary data with 0x7D"},
		{"custom bad escape", watchproto.Custom{Text: "TK,\x7D\x09"}, "text: contains a 0x7D byte that does not start a valid escape (0x7D followed by 0x01..0x05)"},
		{"custom trailing escape", watchproto.Custom{Text: "TK,\x7D"}, "text: contains a 0x7D byte that does not start a valid escape (0x7D followed by 0x01..0x05)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cmd.Validate()
			if err == nil {
				t.Fatalf("Validate accepted %#v", tt.cmd)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %q\nwant %q", err, tt.want)
			}
			if !errors.Is(err, watchproto.ErrInvalidCommand) {
				t.Errorf("error does not match ErrInvalidCommand")
			}
			if errors.Is(err, watchproto.ErrUnknownCommand) {
				t.Errorf("a validation error matches ErrUnknownCommand")
			}
			if _, err := watchproto.CommandContent(tt.cmd); err == nil {
				t.Errorf("CommandContent accepted an invalid command")
			}
		})
	}
}

func TestCommandErrorsOmitPersonalData(t *testing.T) {
	secret := "+4915112345678"
	cmds := []watchproto.Command{
		watchproto.Call{Phone: secret + "x"},
		watchproto.SMS{Phone: "123456", Text: secret + ",x"},
		watchproto.TextMessage{Text: secret + strings.Repeat("y", 100)},
		watchproto.PhoneBook{Part: 1, Entries: []watchproto.PhoneBookEntry{{Name: secret, Phone: secret}}},
	}
	for _, c := range cmds {
		if err := c.Validate(); err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("%T: error %v", c, err)
		}
	}
}

func TestCommandExpectsReply(t *testing.T) {
	noReply := []watchproto.Command{
		watchproto.IP{Host: "example.org", Port: 5093},
		watchproto.RemoveFriend{},
		watchproto.Custom{Text: "IP,example.org,5093"},
		watchproto.Custom{Text: "PPR"},
	}
	for _, c := range noReply {
		if watchproto.ExpectsReply(c) {
			t.Errorf("ExpectsReply(%#v) = true", c)
		}
	}
	for _, c := range []watchproto.Command{watchproto.Reset{}, watchproto.Custom{Text: "IPX"}, watchproto.Upload{Interval: time.Minute}} {
		if !watchproto.ExpectsReply(c) {
			t.Errorf("ExpectsReply(%#v) = false", c)
		}
	}
}

func TestCommandAMRDuration(t *testing.T) {
	for _, n := range []int{1, 50, 750} {
		d, err := watchproto.AMRDuration(cmdAMR(n))
		if err != nil || d != time.Duration(n)*20*time.Millisecond {
			t.Errorf("AMRDuration(%d frames) = %v, %v", n, d, err)
		}
	}
	// Every frame type of AMR-NB, NO_DATA included.
	file := []byte("#!AMR\n")
	for ft, size := range []int{12, 13, 15, 17, 19, 20, 26, 31, 5} {
		file = append(append(file, byte(ft<<3|0x04)), make([]byte, size)...)
	}
	file = append(file, 15<<3)
	if d, err := watchproto.AMRDuration(file); err != nil || d != 200*time.Millisecond {
		t.Errorf("AMRDuration(all frame types) = %v, %v", d, err)
	}
}

func TestCommandTimeOfDay(t *testing.T) {
	for _, s := range []string{"00:00", "07:05", "23:59"} {
		v, err := watchproto.ParseTimeOfDay(s)
		if err != nil || v.String() != s {
			t.Errorf("ParseTimeOfDay(%q) = %v, %v", s, v, err)
		}
	}
	for _, s := range []string{"", "7:05", "24:00", "12:60", "12-30", "12:3a", "+1:00", "07:050"} {
		if _, err := watchproto.ParseTimeOfDay(s); err == nil {
			t.Errorf("ParseTimeOfDay(%q) accepted", s)
		}
	}
}

func TestCommandWeekdays(t *testing.T) {
	w := watchproto.DaysOf(time.Monday, time.Friday, time.Sunday, time.Weekday(9))
	if got := w.String(); got != "1100010" {
		t.Errorf("String = %q", got)
	}
	if !w.Has(time.Friday) || w.Has(time.Saturday) || w.Has(time.Weekday(-1)) {
		t.Errorf("Has is wrong for %v", w)
	}
	if got := watchproto.EveryDay.String(); got != "1111111" {
		t.Errorf("EveryDay = %q", got)
	}
	if got := watchproto.Workdays.Days(); len(got) != 5 || got[0] != time.Monday || got[4] != time.Friday {
		t.Errorf("Workdays.Days = %v", got)
	}
}
