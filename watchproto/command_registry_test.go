package watchproto_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"kinwatch/watchproto"
)

var updateCommands = flag.Bool("update-commands", false, "rewrite testdata/commands golden files")

// TestCommandCatalog checks that every registered command builds from its documented example, is
// named consistently in both directions, survives a JSON round trip, and uses a keyword the reply
// matcher knows. The examples' contents are pinned in a golden file that doubles as documentation.
func TestCommandCatalog(t *testing.T) {
	var golden bytes.Buffer
	seenTypes := map[reflect.Type]string{}
	for _, info := range watchproto.CommandCatalog() {
		t.Run(info.Name, func(t *testing.T) {
			c, err := watchproto.ParseCommand(info.Name, []byte(info.Example))
			if err != nil {
				t.Fatalf("example %s: %v", info.Example, err)
			}
			if prev, ok := seenTypes[reflect.TypeOf(c)]; ok {
				t.Errorf("type %T registered as %s and %s", c, prev, info.Name)
			}
			seenTypes[reflect.TypeOf(c)] = info.Name
			if name, ok := watchproto.CommandName(c); !ok || name != info.Name {
				t.Errorf("CommandName = %q, %v", name, ok)
			}
			if got, ok := watchproto.DescribeCommand(info.Name); !ok || got != info {
				t.Errorf("DescribeCommand = %+v, %v", got, ok)
			}
			if info.Summary == "" {
				t.Errorf("no summary")
			}
			kw := c.Keyword()
			if info.Name != "custom" {
				if !slices.Contains(strings.Split(info.Keyword, "|"), kw) {
					t.Errorf("Keyword %q is not among the documented %q", kw, info.Keyword)
				}
				if !watchproto.IsCommandKeyword(kw) {
					t.Errorf("keyword %q is unknown to the reply matcher (IsCommandKeyword)", kw)
				}
			}
			content, err := watchproto.CommandContent(c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(content, []byte(kw)) {
				t.Errorf("content %q does not start with %q", content, kw)
			}

			// Round trip: what the API would echo back parses to the same command.
			js, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			again, err := watchproto.ParseCommand(info.Name, js)
			if err != nil {
				t.Fatalf("re-parsing %s: %v", js, err)
			}
			if !reflect.DeepEqual(again, c) {
				t.Errorf("round trip through %s\n got %#v\nwant %#v", js, again, c)
			}
			fmt.Fprintf(&golden, "%s\t%s\t%q\n", info.Name, kw, content)
		})
	}
	checkCommandGolden(t, "catalog.golden", golden.Bytes())
}

func checkCommandGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "commands", name)
	if *updateCommands {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Command -update-commands to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the commands produce (rerun with -update-commands if intended):\n%s", path, got)
	}
}

func TestCommandNames(t *testing.T) {
	names := watchproto.CommandNames()
	if len(names) != len(watchproto.CommandCatalog()) {
		t.Fatalf("%d names for %d catalog entries", len(names), len(watchproto.CommandCatalog()))
	}
	if !slices.IsSorted(names) {
		t.Errorf("CommandNames is not sorted")
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	for i, n := range names {
		if !snake.MatchString(n) {
			t.Errorf("%q is not snake_case", n)
		}
		if i > 0 && names[i-1] == n {
			t.Errorf("%q registered twice", n)
		}
	}
	if _, ok := watchproto.DescribeCommand("nope"); ok {
		t.Errorf("DescribeCommand found an unknown name")
	}
	if _, ok := watchproto.CommandName(&watchproto.Reset{}); ok {
		t.Errorf("CommandName named a pointer type")
	}
}

func TestParseCommand(t *testing.T) {
	german := watchproto.LanguageGerman
	portuguese := watchproto.LanguagePortuguese
	tests := []struct {
		name   string
		params string
		want   watchproto.Command
	}{
		{"find", "", watchproto.Find{}},
		{"find", " \n", watchproto.Find{}},
		{"find", "{}", watchproto.Find{}},
		{"upload", `{"interval_seconds":60}`, watchproto.Upload{Interval: time.Minute}},
		{"set_time_zone", `{"offset_hours":-11.5}`, watchproto.SetTimeZone{Offset: -11*time.Hour - 30*time.Minute}},
		{"set_time_zone", `{"language":null,"offset_hours":5.75}`, watchproto.SetTimeZone{Offset: 5*time.Hour + 45*time.Minute}},
		{"set_time_zone", `{"language":5,"offset_hours":0}`, watchproto.SetTimeZone{Language: &german}},
		{"set_time_zone", `{"language":"portuguese","offset_hours":-3}`, watchproto.SetTimeZone{Language: &portuguese, Offset: -3 * time.Hour}},
		{"sos_number", `{"slot":2,"phone":""}`, watchproto.SOSNumber{Slot: 2}},
		{"sos_numbers", `{"phones":["123456"]}`, watchproto.SOSNumbers{Phones: [3]string{"123456"}}},
		{"profile", `{"mode":4}`, watchproto.Profile{Mode: watchproto.ProfileSilent}},
		{"silence_time_weekly", `{"windows":[{"start":"08:00","end":"12:00","days":"0111110"}]}`,
			watchproto.SilenceTime2{Windows: []watchproto.WeeklyWindow{{Start: cmdTOD(8, 0), End: cmdTOD(12, 0), Days: watchproto.Workdays}}}},
		{"silence_time_weekly", `{"windows":[{"start":"08:00","end":"12:00","days":["Saturday","sunday"]}]}`,
			watchproto.SilenceTime2{Windows: []watchproto.WeeklyWindow{{Start: cmdTOD(8, 0), End: cmdTOD(12, 0), Days: watchproto.Weekend}}}},
		{"remind", `{"alarms":[{"time":"06:45","enabled":false,"repeat":2}]}`,
			watchproto.Remind{Alarms: []watchproto.AlarmClock{{Time: cmdTOD(6, 45), Repeat: watchproto.AlarmDaily}}}},
		{"app_lock", `{"feature":"YJ","enabled":false}`, watchproto.AppLock{Feature: watchproto.AppLockNightPowerSaving}},
		{"heart_rate", `{"mode":"once"}`, watchproto.HeartRateStart{Mode: watchproto.HeartRateOnce}},
		{"auto_answer", `{"phones":[]}`, watchproto.AutoAnswer{Phones: []string{}}},
		{"voice_message", `{"amr":"IyFBTVIKeA=="}`, watchproto.VoiceMessage{AMR: []byte("#!AMR\n\x78")}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.params, func(t *testing.T) {
			got, err := watchproto.ParseCommand(tt.name, []byte(tt.params))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParseCommandRejects(t *testing.T) {
	const phoneRule = "must be a phone number of 3 to 20 digits, optionally starting with +, without spaces or separators"
	tests := []struct {
		name, params string
		// want is the exact message; one ending in … is a prefix.
		want    string
		unknown bool
	}{
		{"nope", `{}`, `unknown command "nope"`, true},
		{"Upload", `{"interval_seconds":600}`, `unknown command "Upload"`, true},
		{"", ``, `unknown command ""`, true},
		{"upload", `{"interval_seconds":600,"extra":1}`, `unknown parameter "extra"`, false},
		{"upload", `{"interval":600}`, `unknown parameter "interval"`, false},
		{"upload", `{"interval_seconds":"600"}`, `interval_seconds: must be an integer, not string`, false},
		{"upload", `{"interval_seconds":600.5}`, `interval_seconds: must be an integer, not number 600.5`, false},
		{"upload", `{}`, `interval_seconds: is required`, false},
		{"upload", ``, `interval_seconds: is required`, false},
		{"upload", `{"interval_seconds":null}`, `interval_seconds: is required`, false},
		{"upload", `{"interval_seconds":30}`, `interval_seconds: must be whole seconds between 60 and 65535`, false},
		{"upload", `{"interval_seconds":9223372036854775807}`, `interval_seconds: must be whole seconds between 60 and 65535`, false},
		{"upload", `{"interval_seconds":-9223372036854775807}`, `interval_seconds: must be whole seconds between 60 and 65535`, false},
		{"upload", `[600]`, `params must be a JSON object`, false},
		{"upload", `null`, `params must be a JSON object`, false},
		{"upload", `{"interval_seconds":600} {}`, `params must be a single JSON object`, false},
		{"upload", `{"interval_seconds":`, `params are not valid JSON: unexpected end of input`, false},
		{"upload", `{"interval_seconds":600,}`, `params are not valid JSON: invalid character '}' looking for beginning of object key string`, false},
		{"find", `{"x":1}`, `unknown parameter "x"`, false},
		{"reboot", `{"now":true}`, `unknown parameter "now"`, false},
		{"sos_number", `{"slot":1}`, `phone: is required`, false},
		{"sos_number", `{"slot":"1","phone":""}`, `slot: must be an integer, not string`, false},
		{"sos_number", `{"slot":1,"phone":"0151-123"}`, `phone: ` + phoneRule, false},
		{"sos_numbers", `{"phones":["1234","5678","9012","3456"]}`, `phones: holds 4 numbers; the watch has 3 SOS slots`, false},
		{"sos_numbers", `{"phones":["1234"],"slot":1}`, `unknown parameter "slot"`, false},
		{"sos_numbers", `{"phones":"1234"}`, `phones: must be a list, not string`, false},
		{"set_time_zone", `{"language":1}`, `offset_hours: is required`, false},
		{"set_time_zone", `{"offset_hours":1.1}`, `offset_hours: must be between -12 and +14 hours in steps of a quarter hour (e.g. 1, -3.5, 5.75)`, false},
		{"set_time_zone", `{"offset_hours":1e300}`, `offset_hours: must be between -12 and +14 hours in steps of a quarter hour (e.g. 1, -3.5, 5.75)`, false},
		{"set_time_zone", `{"offset_hours":1.3333333}`, `offset_hours: must be between -12 and +14 hours in steps of a quarter hour (e.g. 1, -3.5, 5.75)`, false},
		{"set_time_zone", `{"language":"klingon","offset_hours":1}`, `unknown language "klingon"; known: english (0), chinese_simplified (1), …`, false},
		{"set_time_zone", `{"language":true,"offset_hours":1}`, `language must be a name or a number; known: english (0), …`, false},
		{"set_time_zone", `{"language":-1,"offset_hours":1}`, `language: must be a language code between 0 and 99`, false},
		{"set_time_zone", `{"timezone":"Europe/Berlin"}`, `unknown parameter "timezone"`, false},
		{"remind", `{"alarms":[{"time":"7:00","enabled":true,"repeat":"once"}]}`, `invalid time "7:00": want hh:mm, e.g. 07:30`, false},
		{"remind", `{"alarms":[{"time":"24:00","enabled":true,"repeat":"once"}]}`, `invalid time "24:00": must be between 00:00 and 23:59`, false},
		{"remind", `{"alarms":[{"time":"07:00","enabled":true,"repeat":"weekly"}]}`, `unknown repeat "weekly"; known: once (1), daily (2), custom_days (3)`, false},
		{"remind", `{"alarms":[{"time":"07:00","repeat":"once","snooze":true}]}`, `unknown parameter "snooze"`, false},
		{"remind", `{"alarms":[]}`, `alarms: must hold 1 to 3 alarms`, false},
		{"silence_time_weekly", `{"windows":[{"start":"08:00","end":"12:00","days":"01111"}]}`, `invalid days "01111": want seven 0/1 flags, Sunday first, e.g. 0111110`, false},
		{"silence_time_weekly", `{"windows":[{"start":"08:00","end":"12:00","days":["funday"]}]}`, `unknown day "funday": use sunday, monday, tuesday, wednesday, thursday, friday or saturday`, false},
		{"silence_time_weekly", `{"windows":[{"start":"08:00","end":"12:00","days":5}]}`, `days must be a list of day names such as ["monday","friday"] or seven 0/1 flags such as "0111110"`, false},
		{"voice_message", `{"amr":"not base64!"}`, `binary data must be standard base64 (bad input at byte 3)`, false},
		{"voice_message", `{"amr":"SGVsbG8="}`, `amr: not AMR-NB audio: it does not start with #!AMR and a line feed`, false},
		{"voice_message", `{"amr":"IyFBTVIKeA==","raw":true}`, `unknown parameter "raw"`, false},
		{"voice_message", `{"amr":""}`, `amr: must not be empty`, false},
		{"message", `{"text":""}`, `text: must not be empty`, false},
		{"message", `{"text":42}`, `text: must be a string, not number`, false},
		{"app_lock", `{"feature":"camera","enabled":true}`, `unknown feature "camera": use positioning, night_power_saving or dial_pad`, false},
		{"app_lock", `{"feature":"DW"}`, `enabled: is required`, false},
		{"heart_rate", `{"mode":"periodic"}`, `interval_seconds: must be whole seconds between 300 and 65535`, false},
		{"heart_rate", `{"interval_seconds":600}`, `mode: is required`, false},
		{"profile", `{"mode":7}`, `mode: must be one of ring_and_vibrate (1), ring (2), vibrate (3), silent (4)`, false},
		{"profile", `{"mode":"loud"}`, `unknown profile mode "loud"; known: ring_and_vibrate (1), ring (2), vibrate (3), silent (4)`, false},
		{"phone_book", `{"part":1,"entries":[{"name":"Mum","phone":"1234567","photo":"x"}]}`, `unknown parameter "photo"`, false},
		{"phone_book", `{"entries":[]}`, `part: is required`, false},
		{"custom", `{"text":"[3G*1*0002*LK]"}`, `text: the keyword before the first comma must be letters, digits or _`, false},
		{"work", `{"windows":[{"start":6}]}`, `windows[0]: must be whole hours with 0 <= start < end <= 24, got 6-0`, false},
		{"body_temperature", `{"enabled":false}`, `interval_hours: is required`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.params, func(t *testing.T) {
			c, err := watchproto.ParseCommand(tt.name, []byte(tt.params))
			if err == nil {
				t.Fatalf("accepted: %#v", c)
			}
			if prefix, ok := strings.CutSuffix(tt.want, "…"); ok {
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("error\n got %q\nwant %q", err, tt.want)
				}
			} else if err.Error() != tt.want {
				t.Errorf("error\n got %q\nwant %q", err, tt.want)
			}
			if !errors.Is(err, watchproto.ErrInvalidCommand) {
				t.Errorf("error does not match ErrInvalidCommand")
			}
			if errors.Is(err, watchproto.ErrUnknownCommand) != tt.unknown {
				t.Errorf("errors.Is(err, ErrUnknownCommand) = %v", !tt.unknown)
			}
		})
	}
}

// Errors quote what the client sent, but never much of it: they are logged.
func TestParseCommandQuotesShort(t *testing.T) {
	_, err := watchproto.ParseCommand(strings.Repeat("a", 30), nil)
	if want := `unknown command "aaaaaaaaaaaaaaaaaaaaaaaa"…`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	_, err = watchproto.ParseCommand("remind", []byte(`{"alarms":[{"time":"`+strings.Repeat("9", 1000)+`"}]}`))
	if want := `invalid time "999999999999999999999999"…: want hh:mm, e.g. 07:30`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// FuzzParseCommand feeds arbitrary JSON to every command: nothing may panic, every error must be
// a CommandError, and whatever is accepted must encode to content that cannot break a frame.
func FuzzParseCommand(f *testing.F) {
	names := watchproto.CommandNames()
	for i, info := range watchproto.CommandCatalog() {
		f.Add(uint8(i), []byte(info.Example))
	}
	f.Add(uint8(0), []byte(`{"interval_seconds":1e400}`))
	f.Add(uint8(0), []byte(`{"text":"A,\u005b"}`))
	f.Fuzz(func(t *testing.T, pick uint8, params []byte) {
		name := names[int(pick)%len(names)]
		c, err := watchproto.ParseCommand(name, params)
		if err != nil {
			var ce *watchproto.CommandError
			if !errors.As(err, &ce) || !errors.Is(err, watchproto.ErrInvalidCommand) {
				t.Fatalf("%s %q: error of type %T: %v", name, params, err, err)
			}
			return
		}
		content, err := watchproto.CommandContent(c)
		if err != nil {
			t.Fatalf("%s %q: validated but does not encode: %v", name, params, err)
		}
		if len(content) > 0xFFFF {
			t.Fatalf("%s: content of %d bytes", name, len(content))
		}
		if bytes.ContainsAny(content, "[]*") {
			t.Fatalf("%s %q: raw framing byte in %q", name, params, content)
		}
		if _, err := watchproto.AppendUnescaped(nil, content); err != nil {
			t.Fatalf("%s %q: content %q has a broken escape", name, params, content)
		}
		if !bytes.HasPrefix(content, []byte(c.Keyword())) || c.Keyword() == "" {
			t.Fatalf("%s: content %q does not start with keyword %q", name, content, c.Keyword())
		}
	})
}

// TestCommandNameOfKeyword: every typed command built from its example is found again by the
// keyword it goes out with, which is what the API shows for a stored command.
func TestCommandNameOfKeyword(t *testing.T) {
	for _, info := range watchproto.CommandCatalog() {
		if info.Name == "custom" {
			continue // its keyword is whatever its text starts with
		}
		c, err := watchproto.ParseCommand(info.Name, []byte(info.Example))
		if err != nil {
			t.Fatalf("%s: %v", info.Name, err)
		}
		kw := c.Keyword()
		if name, ok := watchproto.CommandNameOfKeyword(kw); !ok || name != info.Name {
			t.Errorf("keyword %q of %s maps to %q, %v", kw, info.Name, name, ok)
		}
	}
	if name, ok := watchproto.CommandNameOfKeyword("NOPE"); ok {
		t.Errorf("unknown keyword maps to %q", name)
	}
}
