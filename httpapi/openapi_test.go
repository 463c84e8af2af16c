package httpapi_test

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"kinwatch/httpapi"
)

type operation struct {
	OperationID string            `json:"operationId"`
	Summary     string            `json:"summary"`
	Security    *[]map[string]any `json:"security"`
	Parameters  []struct {
		Ref      string `json:"$ref"`
		Name     string `json:"name"`
		In       string `json:"in"`
		Required bool   `json:"required"`
	} `json:"parameters"`
	Responses map[string]json.RawMessage `json:"responses"`
}

// TestOpenAPIMatchesRoutes fails when a route is undocumented or a documented route does not exist,
// and checks what each documented operation promises: an id, a summary, its path parameters,
// responses, and public routes marked as needing no session (and no others).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                          `json:"openapi"`
		Paths   map[string]map[string]operation `json:"paths"`
	}
	if err := json.Unmarshal(httpapi.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	routes := map[string]httpapi.Route{}
	for _, rt := range (&httpapi.Server{}).Routes() {
		routes[rt.Method+" "+rt.Path] = rt
	}
	documented := map[string]operation{}
	for path, item := range doc.Paths {
		for method, op := range item {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = op
		}
	}
	var missing, extra []string
	for k := range routes {
		if _, ok := documented[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if _, ok := routes[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, k := range missing {
		t.Errorf("route %s is not in the OpenAPI document", k)
	}
	for _, k := range extra {
		t.Errorf("the OpenAPI document lists %s, which is not a route", k)
	}
	ids := map[string]string{}
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	for k, op := range documented {
		rt, ok := routes[k]
		if !ok {
			continue
		}
		if op.OperationID == "" || op.Summary == "" {
			t.Errorf("%s: operationId and summary are required", k)
		}
		if prev, dup := ids[op.OperationID]; dup {
			t.Errorf("%s and %s share operationId %q", k, prev, op.OperationID)
		}
		ids[op.OperationID] = k
		if len(op.Responses) == 0 {
			t.Errorf("%s: no responses documented", k)
		}
		public := op.Security != nil && len(*op.Security) == 0
		if public != rt.Public {
			t.Errorf("%s: documented public=%v, route public=%v", k, public, rt.Public)
		}
		if !rt.Public {
			if _, ok := op.Responses["401"]; !ok {
				t.Errorf("%s: needs a session but does not document 401", k)
			}
		}
		for _, m := range param.FindAllStringSubmatch(rt.Path, -1) {
			found := false
			for _, p := range op.Parameters {
				found = found || p.In == "path" && p.Name == m[1] && p.Required
			}
			if !found {
				t.Errorf("%s: path parameter %q is not documented as a required path parameter", k, m[1])
			}
		}
	}
}
