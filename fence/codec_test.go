package fence_test

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"kinwatch/fence"
)

// storedSchool is a definition as version 1 stores it. Stored definitions are never rewritten, so
// this must decode as long as the package lives; do not change it, add a case for a new version.
const storedSchool = `{"version":1,"name":"School","polygon":[{"lat":52.52,"lon":13.405},{"lat":52.521,"lon":13.405},{"lat":52.521,"lon":13.407}],` +
	`"schedules":[{"days":["mon","tue","wed","thu","fri"],"from":"08:00","to":"15:00","time_zone":"Europe/Berlin"},` +
	`{"days":["fri"],"from":"22:00","to":"06:00","time_zone":"UTC"}]}`

func TestDecodeStoredVersion1(t *testing.T) {
	f, err := fence.Decode([]byte(storedSchool))
	if err != nil {
		t.Fatal(err)
	}
	want := fence.Fence{Name: "School", Shape: fence.Shape{Polygon: []fence.LatLon{{52.52, 13.405}, {52.521, 13.405}, {52.521, 13.407}}},
		Schedules: []fence.Schedule{
			{Days: weekdays, From: "08:00", To: "15:00", Location: berlin(t)},
			{Days: []time.Weekday{time.Friday}, From: "22:00", To: "06:00", Location: time.UTC},
		}}
	if !sameFence(f, want) {
		t.Errorf("Decode = %s, want %s", show(f), show(want))
	}
	if err := f.Validate(); err != nil {
		t.Errorf("decoded fence: %v", err)
	}
	// What Decode reads, Encode writes back byte for byte: the form is canonical.
	if b, err := fence.Encode(f); err != nil || string(b) != storedSchool {
		t.Errorf("Encode(Decode(stored)) = %s, %v\nwant %s", b, err, storedSchool)
	}
}

func TestEncodeIsCanonical(t *testing.T) {
	f := fence.Fence{ID: "not stored", Name: "Home", Shape: fence.Shape{Circle: &fence.Circle{Center: home, Radius: 150.5}},
		Schedules: []fence.Schedule{{Days: []time.Weekday{time.Saturday, time.Sunday, time.Saturday}, From: "00:00", To: "24:00", Location: berlin(t)}}}
	b, err := fence.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":1,"name":"Home","circle":{"lat":52.52,"lon":13.405,"radius_m":150.5},` +
		`"schedules":[{"days":["sun","sat"],"from":"00:00","to":"24:00","time_zone":"Europe/Berlin"}]}`
	if string(b) != want {
		t.Errorf("Encode = %s\nwant     %s", b, want)
	}
	if f.Schedules[0].Days[0] != time.Saturday {
		t.Error("Encode sorted the caller's days in place")
	}
	// No schedules: always active, and said so.
	f.Schedules = nil
	if b, _ := fence.Encode(f); !bytes.HasSuffix(b, []byte(`"schedules":[]}`)) {
		t.Errorf("Encode without schedules = %s", b)
	}
}

func TestRoundTrip(t *testing.T) {
	loc := berlin(t)
	for name, f := range map[string]fence.Fence{
		"circle, always": {Name: "Park", Shape: fence.Shape{Circle: &fence.Circle{Center: fence.LatLon{Lat: -33.8688, Lon: 151.2093}, Radius: fence.MinRadius}}},
		"polygon, scheduled": {Name: "Schule am Teich – Hof", Shape: fence.Shape{Polygon: polygon(home, [2]float64{0, 0}, [2]float64{120, 0}, [2]float64{120, 80}, [2]float64{0, 80})},
			Schedules: []fence.Schedule{
				{Days: weekdays, From: "07:45", To: "13:30", Location: loc},
				{Days: []time.Weekday{time.Sunday}, From: "23:00", To: "01:00", Location: time.UTC},
			}},
		"across the antimeridian": {Name: "Taveuni", Shape: fence.Shape{Polygon: []fence.LatLon{{-16.8, 179.99}, {-16.8, -179.99}, {-16.81, -179.99}, {-16.81, 179.99}}}},
	} {
		b, err := fence.Encode(f)
		if err != nil {
			t.Errorf("%s: Encode: %v", name, err)
			continue
		}
		got, err := fence.Decode(b)
		if err != nil {
			t.Errorf("%s: Decode(%s): %v", name, b, err)
			continue
		}
		if got.ID != "" {
			t.Errorf("%s: Decode set ID %q; the store keeps it", name, got.ID)
		}
		if !sameFence(got, f) {
			t.Errorf("%s: round trip\n got %s\nwant %s", name, show(got), show(f))
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	ok := func() fence.Fence {
		return fence.Fence{Name: "Home", Shape: fence.Shape{Circle: &fence.Circle{Center: home, Radius: 100}},
			Schedules: []fence.Schedule{{Days: weekdays, From: "08:00", To: "15:00", Location: time.UTC}}}
	}
	for _, tc := range []struct {
		name string
		edit func(*fence.Fence)
		want string
	}{
		{"invalid: Validate's message", func(f *fence.Fence) { f.Shape.Circle.Radius = 5 }, "fence: circle radius: must be 20 to 50000 metres"},
		{"no name", func(f *fence.Fence) { f.Name = " " }, "fence: name: required"},
		{"the server's zone", func(f *fence.Fence) { f.Schedules[0].Location = time.Local }, `fence: schedule 1: time zone: "Local" is not an IANA`},
		{"a zone without a name to load", func(f *fence.Fence) { f.Schedules[0].Location = time.FixedZone("UTC+1", 3600) }, `"UTC+1" is not an IANA`},
	} {
		f := ok()
		tc.edit(&f)
		if b, err := fence.Encode(f); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Encode = %s, %v; want an error with %q", tc.name, b, err, tc.want)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct{ def, want string }{
		{``, "decode"},
		{`[]`, "decode"},
		{`{"name":"x"}`, "version 0"},
		{`{"version":2,"name":"x"}`, "version 2"},
		{`{"version":1,"name":"x","colour":"red"}`, `unknown field "colour"`},
		{`{"version":1,"name":"x"} {}`, "after top-level value"},
		{`{"version":1,"name":"x","schedules":[{"days":["someday"],"from":"08:00","to":"09:00","time_zone":"UTC"}]}`, `"someday" is not a day`},
		{`{"version":1,"name":"x","schedules":[{"days":["mon"],"from":"08:00","to":"09:00","time_zone":"Mars/Olympus"}]}`, `"Mars/Olympus" is not an IANA`},
		{`{"version":1,"name":"x","schedules":[{"days":["mon"],"from":"08:00","to":"09:00","time_zone":"Local"}]}`, `"Local" is not an IANA`},
		{`{"version":1,"name":"x","schedules":[{"days":["mon"],"from":"08:00","to":"09:00","time_zone":""}]}`, `"" is not an IANA`},
	} {
		if f, err := fence.Decode([]byte(tc.def)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%s) = %s, %v; want an error with %q", tc.def, show(f), err, tc.want)
		}
	}
}

func TestParseDay(t *testing.T) {
	for in, want := range map[string]time.Weekday{"sun": time.Sunday, "Mon": time.Monday, "TUESDAY": time.Tuesday, "wednesday": time.Wednesday,
		"thu": time.Thursday, "Friday": time.Friday, "sat": time.Saturday} {
		if d, ok := fence.ParseDay(in); !ok || d != want {
			t.Errorf("ParseDay(%q) = %v, %v; want %v", in, d, ok, want)
		}
		if fence.DayName(want) != strings.ToLower(want.String()[:3]) {
			t.Errorf("DayName(%v) = %q", want, fence.DayName(want))
		}
	}
	for _, in := range []string{"", "mo", "monday ", "1", "Montag", "thurs"} {
		if d, ok := fence.ParseDay(in); ok {
			t.Errorf("ParseDay(%q) = %v, want not a day", in, d)
		}
	}
}

func TestLoadZone(t *testing.T) {
	a, err := fence.LoadZone("America/New_York")
	if err != nil || a.String() != "America/New_York" {
		t.Fatalf("LoadZone = %v, %v", a, err)
	}
	if b, _ := fence.LoadZone("America/New_York"); b != a {
		t.Error("a zone loaded twice was read twice")
	}
	for _, name := range []string{"", "Local", "../../etc/passwd", "Europe/Nowhere"} {
		if _, err := fence.LoadZone(name); err == nil {
			t.Errorf("LoadZone(%q) succeeded", name)
		}
	}
}

// FuzzDecode: Decode never panics, and a definition that decodes to a valid fence is written back
// canonically: encoding it again and decoding that gives the same fence and the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(storedSchool))
	f.Add([]byte(`{"version":1,"name":"Home","circle":{"lat":52.52,"lon":13.405,"radius_m":150.5},"schedules":[{"days":["sat","sun","sat"],"from":"00:00","to":"24:00","time_zone":"Europe/Berlin"}]}`))
	f.Add([]byte(`{"version":1,"name":"x","circle":{"lat":1e400,"lon":-0,"radius_m":20}}`))
	f.Add([]byte(`{"version":1,"name":"x","circle":null,"polygon":null,"schedules":null}`))
	f.Fuzz(func(t *testing.T, def []byte) {
		d, err := fence.Decode(def)
		if err != nil || d.Validate() != nil {
			return
		}
		b, err := fence.Encode(d)
		if err != nil {
			t.Fatalf("a valid decoded fence does not encode: %v (%s)", err, def)
		}
		again, err := fence.Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode) = %v (%s)", err, b)
		}
		if !sameFence(again, d) {
			t.Fatalf("round trip changed the fence\n got %s\nwant %s", show(again), show(d))
		}
		if b2, _ := fence.Encode(again); !bytes.Equal(b2, b) {
			t.Fatalf("not canonical: %s then %s", b, b2)
		}
	})
}

// sameFence compares definitions (not IDs) as a stored fence means them: days as a set, zones by
// name.
func sameFence(a, b fence.Fence) bool {
	if a.Name != b.Name || !reflect.DeepEqual(a.Shape, b.Shape) || len(a.Schedules) != len(b.Schedules) {
		return false
	}
	for i := range a.Schedules {
		x, y := a.Schedules[i], b.Schedules[i]
		if x.From != y.From || x.To != y.To || x.Location.String() != y.Location.String() || !slices.Equal(daySet(x.Days), daySet(y.Days)) {
			return false
		}
	}
	return true
}

func daySet(days []time.Weekday) []time.Weekday {
	s := slices.Clone(days)
	slices.Sort(s)
	return slices.Compact(s)
}

func show(f fence.Fence) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q", f.Name)
	if c := f.Shape.Circle; c != nil {
		fmt.Fprintf(&b, " circle %+v", *c)
	}
	if len(f.Shape.Polygon) > 0 {
		fmt.Fprintf(&b, " polygon %v", f.Shape.Polygon)
	}
	for _, s := range f.Schedules {
		fmt.Fprintf(&b, " [%v %s-%s %v]", s.Days, s.From, s.To, s.Location)
	}
	return b.String()
}
