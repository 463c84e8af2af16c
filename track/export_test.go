package track_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"kinwatch/track"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update to accept):\n%s", file, got)
	}
}

// morning is ten minutes at home, a 750 m walk and ten minutes at school.
func morning() []track.Point {
	var ne [][2]float64
	for i := range 11 {
		ne = append(ne, [2]float64{float64(i%3) * 3, float64(i%2) * 3})
	}
	ne = append(ne, line(10, 75, 0, 75, 0, 1)...)
	for i := range 11 {
		ne = append(ne, [2]float64{float64(i%3) * 3, 825 + float64(i%2)*3})
	}
	pts := path(ne...)
	pts[12].Source, pts[12].Accuracy = "wifi", 40
	for i := range pts { // the golden files must not depend on the last bit of math.Cos
		pts[i].Lat, pts[i].Lon = math.Round(pts[i].Lat*1e7)/1e7, math.Round(pts[i].Lon*1e7)/1e7
	}
	return pts
}

type gpxDoc struct {
	XMLName xml.Name `xml:"http://www.topografix.com/GPX/1/1 gpx"`
	Version string   `xml:"version,attr"`
	Creator string   `xml:"creator,attr"`
	Trk     []struct {
		Name   string `xml:"name"`
		Trkseg []struct {
			Trkpt []struct {
				Lat  float64    `xml:"lat,attr"`
				Lon  float64    `xml:"lon,attr"`
				Time *time.Time `xml:"time"`
				Src  string     `xml:"src"`
			} `xml:"trkpt"`
		} `xml:"trkseg"`
	} `xml:"trk"`
}

func TestWriteGPX(t *testing.T) {
	pts := morning()
	// Berlin time, sub-second: written as UTC, without loss.
	pts[3].Time = pts[3].Time.In(berlin(t)).Add(250 * time.Millisecond)
	name := `Mia's <morning> & "school"` + "\x00\xff"
	var buf bytes.Buffer
	if err := track.WriteGPX(&buf, name, pts); err != nil {
		t.Fatal(err)
	}
	golden(t, "morning.gpx", buf.Bytes())

	var doc gpxDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("GPX does not parse: %v", err)
	}
	if doc.Version != "1.1" || doc.Creator == "" || len(doc.Trk) != 1 || len(doc.Trk[0].Trkseg) != 1 {
		t.Fatalf("want GPX 1.1 with a creator and one trk of one trkseg, got %+v", doc)
	}
	if want := `Mia's <morning> & "school"` + "\uFFFD\uFFFD"; doc.Trk[0].Name != want {
		t.Errorf("name %q, want %q", doc.Trk[0].Name, want)
	}
	got := doc.Trk[0].Trkseg[0].Trkpt
	if len(got) != len(pts) {
		t.Fatalf("%d trkpt, want %d", len(got), len(pts))
	}
	for i, p := range got {
		if p.Time == nil || !p.Time.Equal(pts[i].Time) || p.Time.Location() != time.UTC {
			t.Errorf("trkpt %d: time %v, want %v in UTC", i, p.Time, pts[i].Time)
		}
		if p.Lat != pts[i].Lat || p.Lon != pts[i].Lon || p.Src != pts[i].Source {
			t.Errorf("trkpt %d: %v,%v %q, want %v,%v %q", i, p.Lat, p.Lon, p.Src, pts[i].Lat, pts[i].Lon, pts[i].Source)
		}
	}
}

func TestWriteGPXSkipsInvalidCoordinates(t *testing.T) {
	pts := morning()[:4]
	pts[1].Lat = math.NaN()
	pts[2].Lon = 200
	pts[3].Time = time.Time{}
	var buf bytes.Buffer
	if err := track.WriteGPX(&buf, "", pts); err != nil {
		t.Fatal(err)
	}
	var doc gpxDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("GPX does not parse: %v\n%s", err, buf.Bytes())
	}
	got := doc.Trk[0].Trkseg[0].Trkpt
	if len(got) != 2 || got[1].Time != nil {
		t.Errorf("trkpt %+v, want 2, the second without a time", got)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestExportsReturnWriteErrors(t *testing.T) {
	if err := track.WriteGPX(failingWriter{}, "x", morning()); err == nil {
		t.Error("WriteGPX: no error from a failing writer")
	}
	if err := track.WriteGeoJSON(failingWriter{}, track.Build(morning(), track.Options{})); err == nil {
		t.Error("WriteGeoJSON: no error from a failing writer")
	}
}

type geoJSON struct {
	Type     string `json:"type"`
	Features []struct {
		Type     string `json:"type"`
		Geometry *struct {
			Type        string          `json:"type"`
			Coordinates json.RawMessage `json:"coordinates"`
		} `json:"geometry"`
		Properties map[string]any `json:"properties"`
	} `json:"features"`
}

func TestWriteGeoJSON(t *testing.T) {
	pts := morning()
	tr := track.Build(pts, track.Options{})
	if len(tr.Stops) != 2 {
		t.Fatalf("want the morning's two stops, got %+v", tr.Stops)
	}
	var buf bytes.Buffer
	if err := track.WriteGeoJSON(&buf, tr); err != nil {
		t.Fatal(err)
	}
	golden(t, "morning.geojson", buf.Bytes())

	var doc geoJSON
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("GeoJSON does not parse: %v", err)
	}
	if doc.Type != "FeatureCollection" || len(doc.Features) != 1+len(tr.Stops) {
		t.Fatalf("want a FeatureCollection of the track and %d stops, got %s", len(tr.Stops), buf.Bytes())
	}
	line := doc.Features[0]
	var coords [][2]float64
	if line.Geometry == nil || line.Geometry.Type != "LineString" || json.Unmarshal(line.Geometry.Coordinates, &coords) != nil {
		t.Fatalf("first feature %+v, want a LineString", line)
	}
	if len(coords) != len(tr.Points) {
		t.Fatalf("%d positions, want %d", len(coords), len(tr.Points))
	}
	for i, c := range coords {
		// Berlin: longitude about 13, latitude about 52. [lon, lat], never [lat, lon].
		if math.Abs(c[0]-tr.Points[i].Lon) > 1e-7 || math.Abs(c[1]-tr.Points[i].Lat) > 1e-7 {
			t.Errorf("position %d = %v, want [%v, %v] (lon, lat)", i, c, tr.Points[i].Lon, tr.Points[i].Lat)
		}
	}
	if d, _ := line.Properties["distance_m"].(float64); math.Abs(d-tr.Distance) > 0.1 {
		t.Errorf("distance_m = %v, want %v", line.Properties["distance_m"], tr.Distance)
	}
	for i, s := range tr.Stops {
		f := doc.Features[1+i]
		var c [2]float64
		if f.Geometry == nil || f.Geometry.Type != "Point" || json.Unmarshal(f.Geometry.Coordinates, &c) != nil {
			t.Fatalf("stop feature %+v, want a Point", f)
		}
		if math.Abs(c[0]-s.Lon) > 1e-7 || math.Abs(c[1]-s.Lat) > 1e-7 {
			t.Errorf("stop %d at %v, want [%v, %v] (lon, lat)", i, c, s.Lon, s.Lat)
		}
		arrive, err1 := time.Parse(time.RFC3339, f.Properties["arrive"].(string))
		leave, err2 := time.Parse(time.RFC3339, f.Properties["leave"].(string))
		if err1 != nil || err2 != nil || !arrive.Equal(s.Arrive) || !leave.Equal(s.Leave) {
			t.Errorf("stop %d: arrive %v leave %v, want %v and %v", i, f.Properties["arrive"], f.Properties["leave"], s.Arrive, s.Leave)
		}
		if r, _ := f.Properties["radius_m"].(float64); math.Abs(r-s.Radius) > 0.05 {
			t.Errorf("stop %d: radius_m %v, want %v", i, f.Properties["radius_m"], s.Radius)
		}
	}
}

func TestWriteGeoJSONShortTracks(t *testing.T) {
	one := morning()[:1]
	tests := []struct {
		name string
		t    track.Track
		want string // the track feature's geometry
	}{
		{"no points", track.Track{}, "null"},
		{"one point, repeated to make a line", track.Track{Points: one},
			`{"type":"LineString","coordinates":[[13.405,52.52],[13.405,52.52]]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := track.WriteGeoJSON(&buf, tt.t); err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Features []struct {
					Geometry json.RawMessage `json:"geometry"`
				} `json:"features"`
			}
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || len(doc.Features) != 1 {
				t.Fatalf("%s: %v", buf.Bytes(), err)
			}
			if got := string(doc.Features[0].Geometry); got != tt.want {
				t.Errorf("geometry %s, want %s", got, tt.want)
			}
		})
	}
}
