package app_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kinwatch/app"
)

// TestPolicyIsServed: sign-up can show the policy it asks to accept: the built-in template until
// the operator configures their own text, over the API and as a page at the default policy URL.
func TestPolicyIsServed(t *testing.T) {
	get := func(url string) (int, string, http.Header) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	for _, tc := range []struct {
		name, file, want string
	}{
		{"built-in", "", "## 9. Children"},
		{"operator's", "Our policy, version 7: we keep nothing.\n", "we keep nothing"},
	} {
		cfg := testConfig(t)
		if tc.file != "" {
			cfg.PolicyFile = filepath.Join(t.TempDir(), "policy.md")
			if err := os.WriteFile(cfg.PolicyFile, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		a := app.New(cfg, logger())
		if err := a.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		base := "http://" + a.HTTPAddr().String()
		var p struct {
			Version, URL, Text string
		}
		api := &client{t: t, base: base}
		if code := api.call("", "GET", "/api/v1/policy", nil, &p); code != 200 || p.Version != cfg.PolicyVersion || !strings.Contains(p.Text, tc.want) {
			t.Fatalf("%s: GET /api/v1/policy: %d %+v", tc.name, code, p)
		}
		code, body, h := get(base + p.URL)
		if code != 200 || body != p.Text || !strings.HasPrefix(h.Get("Content-Type"), "text/markdown") {
			t.Fatalf("%s: GET %s: %d %q %v", tc.name, p.URL, code, body, h)
		}
		a.Shutdown(context.Background())
	}
}
