package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"kinwatch/config"
	"kinwatch/fence"
	"kinwatch/postgres/pgtest"
)

type fenceOut struct {
	ID      string `json:"id"`
	WatchID string `json:"watch_id"`
	Name    string `json:"name"`
	Circle  *struct {
		Lat    float64 `json:"lat"`
		Lon    float64 `json:"lon"`
		Radius float64 `json:"radius_m"`
	} `json:"circle"`
	Polygon   []struct{ Lat, Lon float64 } `json:"polygon"`
	Schedules []struct {
		Days     []string `json:"days"`
		From     string   `json:"from"`
		To       string   `json:"to"`
		TimeZone string   `json:"time_zone"`
	} `json:"schedules"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

// TestFencesAPI: a guardian draws a watch's safe zones over the API: creates one (days in any
// spelling, the time zone from their preferences), lists, reads, replaces and deletes it; what
// is stored decodes with fence.Decode for the evaluator; bad input is refused with a message that
// says what is wrong; the 51st safe zone is a conflict; reading them is not in the access log.
func TestFencesAPI(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { fencesAPI(t, testConfig(t)) })
	t.Run("postgres", func(t *testing.T) {
		c := testConfig(t)
		c.DatabaseURL = pgtest.URL(t)
		fencesAPI(t, c)
	})
}

func fencesAPI(t *testing.T, cfg config.Config) {
	a, api, smtp, _ := startAPIWith(t, cfg)
	mum := api.signUp(smtp, "mum@example.org", "Mum", cfg.PolicyVersion)
	if code := api.call(mum, "PATCH", "/api/v1/me", map[string]any{"preferences": map[string]any{"time_zone": "Europe/Berlin"}}, nil); code != 200 {
		t.Fatalf("PATCH /me: %d", code)
	}
	w := dialWatch(t, a.WatchAddr().String(), "8800000055")
	w.send("LK")
	w.expect("LK")
	familyID := api.bindWatch(mum, w, "The Smiths")
	fences := "/api/v1/watches/" + w.id + "/fences"

	var page struct {
		Items      []fenceOut `json:"items"`
		NextCursor *string    `json:"next_cursor"`
	}
	if code := api.call(mum, "GET", fences, nil, &page); code != 200 || page.Items == nil || len(page.Items) != 0 {
		t.Fatalf("no safe zones yet: %d %+v", code, page)
	}

	// Create: a circle, school days in any spelling, the time zone left to the preference.
	school := map[string]any{"name": "School", "circle": map[string]any{"lat": 52.52, "lon": 13.405, "radius_m": 150},
		"schedules": []any{map[string]any{"days": []string{"Friday", "mon", "TUE", "monday"}, "from": "08:00", "to": "15:00"}}}
	code, body, h := api.raw(mum, "POST", fences, "application/json", jsonBody(school))
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	var created fenceOut
	json.Unmarshal(body, &created)
	if created.ID == "" || created.WatchID != w.id || created.Name != "School" || created.Circle == nil || created.Circle.Radius != 150 ||
		created.Polygon != nil || len(created.Schedules) != 1 || created.CreatedAt == "" || created.CreatedAt != created.UpdatedAt {
		t.Fatalf("created: %s", body)
	}
	if s := created.Schedules[0]; !slices.Equal(s.Days, []string{"mon", "tue", "fri"}) || s.TimeZone != "Europe/Berlin" || s.From != "08:00" || s.To != "15:00" {
		t.Errorf("schedule as stored: %+v", s)
	}
	if !strings.Contains(string(body), `"polygon":null`) {
		t.Errorf("the shape not drawn is not null: %s", body)
	}
	one := fences + "/" + created.ID
	if loc := h.Get("Location"); loc != one {
		t.Errorf("Location %q, want %q", loc, one)
	}
	var got fenceOut
	if code := api.call(mum, "GET", one, nil, &got); code != 200 || !reflect.DeepEqual(got, created) {
		t.Errorf("GET one: %d %+v, want %+v", code, got, created)
	}
	if code := api.call(mum, "GET", fences, nil, &page); code != 200 || len(page.Items) != 1 || !reflect.DeepEqual(page.Items[0], created) || page.NextCursor != nil {
		t.Errorf("list: %d %+v", code, page)
	}

	// What is stored is the canonical definition the evaluator decodes.
	stored, err := a.Store.Fences(context.Background(), w.id)
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored: %v %v", stored, err)
	}
	def, err := fence.Decode(stored[0].Definition)
	if err != nil || def.Name != "School" || def.Shape.Circle == nil || def.Shape.Circle.Center.Lat != 52.52 ||
		len(def.Schedules) != 1 || def.Schedules[0].Location.String() != "Europe/Berlin" || def.Validate() != nil {
		t.Errorf("fence.Decode(stored) = %+v, %v", def, err)
	}

	// Replace: the whole definition; what is left out is gone, the id and created_at stay. What a
	// GET returned can be sent back: its read-only fields are ignored.
	yard := map[string]any{"id": created.ID, "created_at": "2000-01-01T00:00:00Z", "name": "School yard",
		"polygon": []any{
			map[string]any{"lat": 52.5200, "lon": 13.4050}, map[string]any{"lat": 52.5210, "lon": 13.4050},
			map[string]any{"lat": 52.5210, "lon": 13.4070}, map[string]any{"lat": 52.5200, "lon": 13.4070}}}
	var replaced fenceOut
	if code := api.call(mum, "PUT", one, yard, &replaced); code != 200 || replaced.ID != created.ID || replaced.Name != "School yard" ||
		replaced.Circle != nil || len(replaced.Polygon) != 4 || replaced.Schedules == nil || len(replaced.Schedules) != 0 ||
		replaced.CreatedAt != created.CreatedAt || replaced.UpdatedAt < created.UpdatedAt {
		t.Errorf("replace: %d %+v", code, replaced)
	}
	if code := api.call(mum, "GET", one, nil, &got); code != 200 || !reflect.DeepEqual(got, replaced) {
		t.Errorf("after replacing: %d %+v", code, got)
	}
	if code := api.call(mum, "PUT", fences+"/nosuchfence", yard, nil); code != 404 {
		t.Errorf("replace a missing safe zone: %d, want 404", code)
	}

	// Bad input: 400 with a message that names the problem, nothing stored.
	circle := map[string]any{"lat": 52.52, "lon": 13.405, "radius_m": 150}
	square := yard["polygon"]
	for _, tc := range []struct {
		name string
		body string
		want string
	}{
		{"circle and polygon", mustJSON(map[string]any{"name": "x", "circle": circle, "polygon": square}), "either a circle or a polygon, not both"},
		{"no shape", `{"name":"x"}`, "a circle or a polygon is required"},
		{"no name", mustJSON(map[string]any{"circle": circle}), "name: required"},
		{"bad day", mustJSON(map[string]any{"name": "x", "circle": circle, "schedules": []any{map[string]any{"days": []string{"mon", "funday"}, "from": "08:00", "to": "15:00"}}}),
			`schedule 1: days: \"funday\" is not a day of the week`},
		{"no days", mustJSON(map[string]any{"name": "x", "circle": circle, "schedules": []any{map[string]any{"days": []string{}, "from": "08:00", "to": "15:00"}}}),
			"schedule 1: days: at least one day is required"},
		{"bad time zone", mustJSON(map[string]any{"name": "x", "circle": circle, "schedules": []any{map[string]any{"days": []string{"sat"}, "from": "08:00", "to": "15:00", "time_zone": "Mars/Olympus"}}}),
			`schedule 1: time zone: \"Mars/Olympus\" is not an IANA time zone`},
		{"the server's time zone", mustJSON(map[string]any{"name": "x", "circle": circle, "schedules": []any{map[string]any{"days": []string{"sat"}, "from": "08:00", "to": "15:00", "time_zone": "Local"}}}),
			`\"Local\" is not an IANA time zone`},
		{"bad time", mustJSON(map[string]any{"name": "x", "circle": circle, "schedules": []any{map[string]any{"days": []string{"sat"}, "from": "8:00", "to": "15:00"}}}),
			`from: \"8:00\" is not a time of day`},
		{"radius too small", mustJSON(map[string]any{"name": "x", "circle": map[string]any{"lat": 52.52, "lon": 13.405, "radius_m": 5}}),
			"circle radius: must be 20 to 50000 metres"},
		{"circle without its centre", `{"name":"x","circle":{"radius_m":100}}`, "circle: lat, lon and radius_m are required"},
		{"closed polygon", `{"name":"x","polygon":[{"lat":52.52,"lon":13.405},{"lat":52.521,"lon":13.405},{"lat":52.521,"lon":13.407},{"lat":52.52,"lon":13.405}]}`,
			"the last vertex repeats the first"},
		{"unknown field", mustJSON(map[string]any{"name": "x", "circle": circle, "colour": "red"}), `unknown field \"colour\"`},
		{"a string for a number", `{"name":"x","circle":{"lat":"52.52","lon":13.405,"radius_m":100}}`, "circle.lat: must be a JSON"},
	} {
		code, body, _ := api.raw(mum, "POST", fences, "application/json", []byte(tc.body))
		if code != 400 || !strings.Contains(string(body), `"code":"invalid"`) || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d %s, want 400 with %q", tc.name, code, body, tc.want)
		}
		if code, body, _ := api.raw(mum, "PUT", one, "application/json", []byte(tc.body)); code != 400 || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s (PUT): %d %s, want 400 with %q", tc.name, code, body, tc.want)
		}
	}
	if code := api.call(mum, "GET", fences, nil, &page); code != 200 || len(page.Items) != 1 || page.Items[0].Name != "School yard" {
		t.Errorf("bad input changed the safe zones: %+v", page.Items)
	}

	// Delete.
	if code := api.call(mum, "DELETE", one, nil, nil); code != 204 {
		t.Errorf("delete: %d", code)
	}
	if code := api.call(mum, "GET", one, nil, nil); code != 404 {
		t.Errorf("GET deleted: %d, want 404", code)
	}
	if code := api.call(mum, "DELETE", one, nil, nil); code != 404 {
		t.Errorf("delete again: %d, want 404", code)
	}

	// At most 50 a watch: the 51st is a conflict that says so; replacing one at the limit is fine.
	var last fenceOut
	for i := range 50 {
		body := map[string]any{"name": fmt.Sprintf("Place %d", i+1), "circle": map[string]any{"lat": 52.52 + float64(i)/1000, "lon": 13.405, "radius_m": 50}}
		if code := api.call(mum, "POST", fences, body, &last); code != 201 {
			t.Fatalf("safe zone %d: %d", i+1, code)
		}
	}
	code, body, _ = api.raw(mum, "POST", fences, "application/json", jsonBody(school))
	if code != 409 || !strings.Contains(string(body), `"code":"conflict"`) || !strings.Contains(string(body), "at most 50 safe zones") {
		t.Errorf("51st safe zone: %d %s, want 409", code, body)
	}
	if code := api.call(mum, "PUT", fences+"/"+last.ID, school, nil); code != 200 {
		t.Errorf("replace at the limit: %d", code)
	}
	if code := api.call(mum, "GET", fences, nil, &page); code != 200 || len(page.Items) != 50 || page.Items[0].Name != "Place 1" || page.Items[49].Name != "School" {
		t.Errorf("50 safe zones, oldest first: %d, %d items", code, len(page.Items))
	}

	// Reading safe zones is not recorded as a read of the child's data (see httpapi/fences.go).
	var log struct {
		Items []struct {
			What string `json:"what"`
		} `json:"items"`
	}
	if code := api.call(mum, "GET", "/api/v1/families/"+familyID+"/access-log", nil, &log); code != 200 || len(log.Items) != 0 {
		t.Errorf("access log after reading safe zones: %d %+v", code, log.Items)
	}
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func mustJSON(v any) string { return string(jsonBody(v)) }
