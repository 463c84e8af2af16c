package oidc_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/oidc"
	"kinwatch/oidc/oidctest"
)

const (
	clientID     = "kinwatch"
	clientSecret = "client-secret"
	redirectURL  = "https://kinwatch.example.org/auth/oidc/mock/callback"
)

func provider(issuer string) oidc.Provider {
	return oidc.Provider{Name: "mock", DisplayName: "Mock", Issuer: issuer, ClientID: clientID, ClientSecret: clientSecret}
}

// flow is one sign-in's secrets, as the web app would keep them in a cookie.
type flow struct{ state, nonce, verifier string }

func newFlow() flow { return flow{oidc.NewState(), oidc.NewState(), oidc.NewVerifier()} }

// login plays the browser: it opens the authorization URL and returns the code the provider sends
// back, checking the redirect carries the state unchanged.
func login(t *testing.T, c *oidc.Client, f flow) string {
	t.Helper()
	ctx := context.Background()
	u, err := c.AuthURL(ctx, f.state, f.nonce, f.verifier)
	if err != nil {
		t.Fatal(err)
	}
	if q := mustParse(t, u).Query(); q.Get("code_challenge_method") != "S256" || q.Get("nonce") != f.nonce ||
		q.Get("code_challenge") == "" || strings.Contains(u, f.verifier) {
		t.Fatalf("authorization URL %s: want an S256 challenge and the nonce, never the verifier", u)
	}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %s", resp.Status)
	}
	back := mustParse(t, resp.Header.Get("Location"))
	if got := back.Scheme + "://" + back.Host + back.Path; got != redirectURL {
		t.Fatalf("sent back to %s, want %s", got, redirectURL)
	}
	if back.Query().Get("state") != f.state || back.Query().Get("code") == "" {
		t.Fatalf("redirect %s: want the state and a code", back)
	}
	return back.Query().Get("code")
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSignIn(t *testing.T) {
	p := oidctest.Start(t, clientID, clientSecret)
	c := oidc.New(provider(p.Issuer()), redirectURL, nil)
	ctx := context.Background()

	for _, u := range []oidctest.User{
		{Subject: "248289761001", Email: "jane@example.org", EmailVerified: true, Name: "Jane Müller"},
		{Subject: "90342", Email: "unverified@example.org", EmailVerified: false, Name: ""},
	} {
		p.SetUser(u)
		f := newFlow()
		code := login(t, c, f)
		claims, err := c.Exchange(ctx, code, f.verifier, f.nonce)
		if err != nil {
			t.Fatal(err)
		}
		want := oidc.Claims{Subject: u.Subject, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name}
		if *claims != want {
			t.Errorf("claims %+v, want %+v", *claims, want)
		}
		// A code is good for one sign-in only.
		if _, err := c.Exchange(ctx, code, f.verifier, f.nonce); kinwatch.ErrorCode(err) != kinwatch.EUNAUTHORIZED {
			t.Errorf("code redeemed twice: err %v", err)
		}
	}
}

func TestSignInRefused(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fault    oidctest.Fault
		exchange func(c *oidc.Client, code string, f flow) (*oidc.Claims, error)
		want     string
		why      string // in the logged error: refused for the reason the case is about
	}{
		{name: "nonce mismatch", exchange: func(c *oidc.Client, code string, f flow) (*oidc.Claims, error) {
			return c.Exchange(context.Background(), code, f.verifier, oidc.NewState())
		}, want: kinwatch.EUNAUTHORIZED, why: "nonce"},
		{name: "PKCE verifier mismatch", exchange: func(c *oidc.Client, code string, f flow) (*oidc.Claims, error) {
			return c.Exchange(context.Background(), code, oidc.NewVerifier(), f.nonce)
		}, want: kinwatch.EUNAUTHORIZED, why: "PKCE"},
		{name: "unknown code", exchange: func(c *oidc.Client, code string, f flow) (*oidc.Claims, error) {
			return c.Exchange(context.Background(), "forged", f.verifier, f.nonce)
		}, want: kinwatch.EUNAUTHORIZED, why: "invalid_grant"},
		{name: "missing code", exchange: func(c *oidc.Client, code string, f flow) (*oidc.Claims, error) {
			return c.Exchange(context.Background(), "", f.verifier, f.nonce)
		}, want: kinwatch.EINVALID, why: "not completed"},
		{name: "wrong audience", fault: oidctest.WrongAudience, want: kinwatch.EUNAUTHORIZED, why: "audience"},
		{name: "wrong issuer", fault: oidctest.WrongIssuer, want: kinwatch.EUNAUTHORIZED, why: "different provider"},
		{name: "expired", fault: oidctest.Expired, want: kinwatch.EUNAUTHORIZED, why: "expired"},
		{name: "bad signature", fault: oidctest.BadSignature, want: kinwatch.EUNAUTHORIZED, why: "signature"},
		{name: "keys unreachable", fault: oidctest.JWKSUnavailable, want: kinwatch.EUNAVAILABLE, why: "503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := oidctest.Start(t, clientID, clientSecret)
			c := oidc.New(provider(p.Issuer()), redirectURL, nil)
			f := newFlow()
			code := login(t, c, f)
			p.SetFault(tc.fault)
			exchange := tc.exchange
			if exchange == nil {
				exchange = func(c *oidc.Client, code string, f flow) (*oidc.Claims, error) {
					return c.Exchange(context.Background(), code, f.verifier, f.nonce)
				}
			}
			claims, err := exchange(c, code, f)
			if kinwatch.ErrorCode(err) != tc.want || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("claims %+v, err %v; want %s for %q", claims, err, tc.want, tc.why)
			}
		})
	}
}

// TestWrongClientSecretIsInternal: a wrong secret is the operator's mistake; the user is not told
// their sign-in was refused.
func TestWrongClientSecretIsInternal(t *testing.T) {
	p := oidctest.Start(t, clientID, clientSecret)
	cfg := provider(p.Issuer())
	cfg.ClientSecret = "stale"
	c := oidc.New(cfg, redirectURL, nil)
	f := newFlow()
	_, err := c.Exchange(context.Background(), login(t, c, f), f.verifier, f.nonce)
	if err == nil || kinwatch.ErrorCode(err) != kinwatch.EINTERNAL {
		t.Fatalf("err %v, want an internal error", err)
	}
}

// TestProviderDownAtStart: kinwatch starts while a provider is down, sign-in says "unavailable",
// and works once the provider is back, without a restart.
func TestProviderDownAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused

	c := oidc.New(provider("http://"+addr), redirectURL, &http.Client{Timeout: 2 * time.Second})
	f := newFlow()
	if _, err := c.AuthURL(context.Background(), f.state, f.nonce, f.verifier); kinwatch.ErrorCode(err) != kinwatch.EUNAVAILABLE {
		t.Fatalf("provider down: err %v, want %s", err, kinwatch.EUNAVAILABLE)
	}
	if _, err := c.Exchange(context.Background(), "code", f.verifier, f.nonce); kinwatch.ErrorCode(err) != kinwatch.EUNAVAILABLE {
		t.Fatalf("provider down: err %v, want %s", err, kinwatch.EUNAVAILABLE)
	}

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	p := oidctest.StartListener(t, ln, clientID, clientSecret)
	claims, err := c.Exchange(context.Background(), login(t, c, f), f.verifier, f.nonce)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "user-1" {
		t.Fatalf("claims %+v", claims)
	}

	// Discovery is kept: the authorization URL needs no provider round trip any more.
	p.Close()
	if _, err := c.AuthURL(context.Background(), f.state, f.nonce, f.verifier); err != nil {
		t.Fatalf("after discovery, provider down: %v", err)
	}
	if _, err := c.Exchange(context.Background(), "code", f.verifier, f.nonce); kinwatch.ErrorCode(err) != kinwatch.EUNAVAILABLE {
		t.Fatalf("token endpoint down: err %v, want %s", err, kinwatch.EUNAVAILABLE)
	}
}

// TestUnansweredDiscoveryEndsWithTheContext: a provider that accepts connections and never
// answers holds a sign-in no longer than its request.
func TestUnansweredDiscoveryEndsWithTheContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	c := oidc.New(provider("http://"+ln.Addr().String()), redirectURL, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	f := newFlow()
	if _, err := c.AuthURL(ctx, f.state, f.nonce, f.verifier); kinwatch.ErrorCode(err) != kinwatch.EUNAVAILABLE {
		t.Fatalf("err %v, want %s", err, kinwatch.EUNAVAILABLE)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("returned after %v", d)
	}
}

func TestProviderValidate(t *testing.T) {
	ok := oidc.Provider{Name: "google", Issuer: "https://accounts.google.com", ClientID: "id"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	local := oidc.Provider{Name: "keycloak", Issuer: "http://127.0.0.1:8080/realms/kinwatch", ClientID: "id"}
	if err := local.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []oidc.Provider{
		{Name: "", Issuer: "https://accounts.google.com", ClientID: "id"},
		{Name: "Google Accounts", Issuer: "https://accounts.google.com", ClientID: "id"},
		{Name: "google", Issuer: "http://accounts.google.com", ClientID: "id"},
		{Name: "google", Issuer: "accounts.google.com", ClientID: "id"},
		{Name: "google", Issuer: "https://accounts.google.com"},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%+v: valid", p)
		}
	}
}
