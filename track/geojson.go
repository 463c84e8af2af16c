package track

import (
	"encoding/json"
	"io"
	"math"
	"time"
)

// WriteGeoJSON writes t as a GeoJSON FeatureCollection (RFC 7946): first a LineString of the points
// with properties {kind: "track", distance_m}, then one Point per stop with properties {kind:
// "stop", arrive, leave, radius_m, points}. Positions are [lon, lat], rounded to 1e-7° (about a
// centimetre). A track of no points has a null geometry; one of a single point repeats it, as a
// LineString needs two.
func WriteGeoJSON(w io.Writer, t Track) error {
	type geometry struct {
		Type        string `json:"type"`
		Coordinates any    `json:"coordinates"`
	}
	type feature struct {
		Type       string    `json:"type"`
		Geometry   *geometry `json:"geometry"`
		Properties any       `json:"properties"`
	}
	type lineProps struct {
		Kind      string  `json:"kind"`
		DistanceM float64 `json:"distance_m"`
	}
	type stopProps struct {
		Kind    string  `json:"kind"`
		Arrive  string  `json:"arrive"`
		Leave   string  `json:"leave"`
		RadiusM float64 `json:"radius_m"`
		Points  int     `json:"points"`
	}

	line := feature{Type: "Feature", Properties: lineProps{"track", round(t.Distance, 1)}}
	if len(t.Points) > 0 {
		coords := make([][2]float64, len(t.Points), max(len(t.Points), 2))
		for i, p := range t.Points {
			coords[i] = position(p.Lat, p.Lon)
		}
		if len(coords) == 1 {
			coords = append(coords, coords[0])
		}
		line.Geometry = &geometry{"LineString", coords}
	}
	features := []feature{line}
	for _, s := range t.Stops {
		features = append(features, feature{
			Type:     "Feature",
			Geometry: &geometry{"Point", position(s.Lat, s.Lon)},
			Properties: stopProps{
				Kind:    "stop",
				Arrive:  s.Arrive.UTC().Format(time.RFC3339),
				Leave:   s.Leave.UTC().Format(time.RFC3339),
				RadiusM: round(s.Radius, 1),
				Points:  s.Points,
			},
		})
	}
	return json.NewEncoder(w).Encode(struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
	}{"FeatureCollection", features})
}

// position is a GeoJSON position: longitude first.
func position(lat, lon float64) [2]float64 { return [2]float64{round(lon, 7), round(lat, 7)} }

func round(x float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(x*p) / p
}
