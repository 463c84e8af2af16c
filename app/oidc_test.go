package app_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"kinwatch/oidc/oidctest"
)

// TestOIDCSignIn drives external sign-in the way a browser does, against a mock provider on
// loopback: sign up through the provider, refusals (policy not accepted, a token for another
// client, a flow not started in this browser, an email that belongs to a password account), and
// linking and unlinking a provider on a password account.
func TestOIDCSignIn(t *testing.T) {
	provider := oidctest.Start(t, "kinwatch-test", "s3cret")

	// The callback URL is part of the configuration, so the HTTP port is chosen before starting.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := testConfig(t)
	cfg.HTTPAddr = addr
	cfg.PublicURL = "http://" + addr
	cfg.OIDCProviders = "name=mock,display_name=Mock ID,issuer=" + provider.Issuer() + ",client_id=kinwatch-test,client_secret=s3cret"
	_, api, smtp, _ := startAPIWith(t, cfg)

	var providers struct {
		Items []struct {
			Name        string `json:"name"`
			DisplayName string `json:"display_name"`
		} `json:"items"`
	}
	if code := api.call("", "GET", "/api/v1/auth/providers", nil, &providers); code != 200 || len(providers.Items) != 1 || providers.Items[0].Name != "mock" {
		t.Fatalf("providers: %d %+v", code, providers)
	}

	// A new guardian signs up through the provider; the first attempt forgets the policy.
	provider.SetUser(oidctest.User{Subject: "sub-anna", Email: "anna@example.org", EmailVerified: true, Name: "Anna"})
	b := newBrowser(t, cfg.PublicURL)
	if to := b.flow("/api/v1/auth/oidc/mock/start"); !strings.HasPrefix(to, "/#oidc_error=invalid") {
		t.Fatalf("sign-up without accepting the policy went to %q", to)
	}
	if to := b.flow("/api/v1/auth/oidc/mock/start?age_confirmed=true&accept_policy=" + url.QueryEscape(cfg.PolicyVersion)); to != "/" {
		t.Fatalf("sign-up went to %q", to)
	}
	var me struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	}
	if code := b.getJSON("/api/v1/me", &me); code != 200 || me.Email != "anna@example.org" {
		t.Fatalf("me after external sign-up: %d %+v", code, me)
	}
	// Signing in again reaches the same account, policy or not.
	b2 := newBrowser(t, cfg.PublicURL)
	if to := b2.flow("/api/v1/auth/oidc/mock/start"); to != "/" {
		t.Fatalf("second sign-in went to %q", to)
	}
	var again struct {
		ID string `json:"id"`
	}
	if b2.getJSON("/api/v1/me", &again); again.ID != me.ID {
		t.Fatalf("second sign-in reached account %q, want %q", again.ID, me.ID)
	}

	// Refusals.
	provider.SetFault(oidctest.WrongAudience)
	if to := newBrowser(t, cfg.PublicURL).flow("/api/v1/auth/oidc/mock/start"); !strings.HasPrefix(to, "/#oidc_error=unauthorized") {
		t.Fatalf("a token for another client went to %q", to)
	}
	provider.SetFault(oidctest.NoFault)
	// The callback with a code but without the browser's flow cookie (a forged or replayed link).
	stranger := newBrowser(t, cfg.PublicURL)
	if to := stranger.get("/api/v1/auth/oidc/mock/callback?code=x&state=y"); !strings.HasPrefix(to, "/#oidc_error=unauthorized") {
		t.Fatalf("a callback not started in this browser went to %q", to)
	}
	if code := stranger.getJSON("/api/v1/me", nil); code != 401 {
		t.Fatalf("the stranger is signed in: %d", code)
	}

	// A password account's address at the provider is not taken over by signing in there.
	bearer := api.signUp(smtp, "ben@example.org", "Ben", cfg.PolicyVersion)
	provider.SetUser(oidctest.User{Subject: "sub-ben", Email: "ben@example.org", EmailVerified: true, Name: "Ben"})
	if to := newBrowser(t, cfg.PublicURL).flow("/api/v1/auth/oidc/mock/start?age_confirmed=true&accept_policy=" + url.QueryEscape(cfg.PolicyVersion)); !strings.HasPrefix(to, "/#oidc_error=conflict") {
		t.Fatalf("sign-in with a password account's email went to %q", to)
	}

	// Ben links the provider from a browser session, then signs in with it.
	ben := newBrowser(t, cfg.PublicURL)
	ben.login("ben@example.org", "correct horse battery")
	if to := ben.flow("/api/v1/auth/oidc/mock/start?mode=link"); to != "/#linked=mock" {
		t.Fatalf("link went to %q", to)
	}
	var ids struct {
		Items []struct {
			Provider string `json:"provider"`
			Email    string `json:"email"`
		} `json:"items"`
	}
	if code := api.call(bearer, "GET", "/api/v1/me/identities", nil, &ids); code != 200 || len(ids.Items) != 1 || ids.Items[0].Provider != "mock" {
		t.Fatalf("identities after linking: %d %+v", code, ids)
	}
	viaProvider := newBrowser(t, cfg.PublicURL)
	if to := viaProvider.flow("/api/v1/auth/oidc/mock/start"); to != "/" {
		t.Fatalf("sign-in with the linked provider went to %q", to)
	}
	var benMe struct {
		Email string `json:"email"`
	}
	if viaProvider.getJSON("/api/v1/me", &benMe); benMe.Email != "ben@example.org" {
		t.Fatalf("the linked provider signed in as %+v", benMe)
	}
	// Anna signed up through the provider and has no password: unlinking would lock her out.
	if code := b.delete("/api/v1/me/identities/mock"); code != 409 {
		t.Fatalf("unlinking Anna's only sign-in: %d, want 409", code)
	}
	// Ben can unlink, once.
	if code := api.call(bearer, "DELETE", "/api/v1/me/identities/mock", nil, nil); code != 204 {
		t.Fatalf("unlink: %d", code)
	}
	if code := api.call(bearer, "DELETE", "/api/v1/me/identities/mock", nil, nil); code != 404 {
		t.Fatalf("unlink again: %d, want 404", code)
	}
	if to := newBrowser(t, cfg.PublicURL).flow("/api/v1/auth/oidc/mock/start?age_confirmed=true&accept_policy=" + url.QueryEscape(cfg.PolicyVersion)); !strings.HasPrefix(to, "/#oidc_error=conflict") {
		t.Fatalf("after unlinking, the provider still signs in as Ben: %q", to)
	}
}

// browser is a cookie-keeping HTTP client that follows redirects until they lead back to the web
// app ("/" with or without a fragment), which it reports instead of fetching.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, base: base}
	b.client = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/" && strings.HasPrefix(req.URL.String(), base) {
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// flow follows a redirect chain from path and returns where it sends the browser in the web app.
func (b *browser) flow(path string) string {
	b.t.Helper()
	return b.get(path)
}

func (b *browser) get(path string) string {
	b.t.Helper()
	resp, err := b.client.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("GET %s ended with %d, not a redirect into the app: %s", path, resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

func (b *browser) getJSON(path string, out any) int {
	b.t.Helper()
	resp, err := b.client.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			b.t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// delete sends a DELETE with the session cookie and the CSRF token GET /api/v1/me hands out.
func (b *browser) delete(path string) int {
	b.t.Helper()
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	if code := b.getJSON("/api/v1/me", &me); code != 200 || me.CSRF == "" {
		b.t.Fatalf("no CSRF token from /me: %d", code)
	}
	req, _ := http.NewRequest("DELETE", b.base+path, nil)
	req.Header.Set("X-CSRF-Token", me.CSRF)
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (b *browser) login(login, password string) {
	b.t.Helper()
	body, _ := json.Marshal(map[string]string{"login": login, "password": password, "session": "cookie"})
	resp, err := b.client.Post(b.base+"/api/v1/auth/login", "application/json", strings.NewReader(string(body)))
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b.t.Fatalf("cookie login: %d", resp.StatusCode)
	}
}
