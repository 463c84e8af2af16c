// Package oidc signs guardians in through external OpenID Connect providers: the authorization code
// flow with PKCE (S256) and a nonce, and verification of the ID token the provider returns (issuer,
// audience, expiry, signature against the provider's published keys, nonce).
//
// It answers "who is this, according to that provider" and nothing more: linking an identity to an
// account, sessions and the state cookie belong to the account and httpapi packages. A provider that
// is down must never stop kinwatch from starting, so discovery happens on first use and is retried
// until it succeeds.
package oidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sync/atomic"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"kinwatch"
)

// Provider is one configured identity provider.
type Provider struct {
	Name         string // stable identifier, used in callback URLs and stored with linked identities
	DisplayName  string // shown on the sign-in button
	Issuer       string // exactly as the provider's ID tokens name it, e.g. "https://accounts.google.com"
	ClientID     string
	ClientSecret string
	// Scopes requested besides "openid" (default "email", "profile").
	Scopes []string
}

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Validate reports a configuration mistake in words an operator can act on.
func (p Provider) Validate() error {
	if !validName.MatchString(p.Name) {
		return fmt.Errorf("oidc provider %q: name must be 1-32 lower-case letters, digits, '-' or '_'", p.Name)
	}
	u, err := url.Parse(p.Issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("oidc provider %s: issuer %q is not an absolute URL", p.Name, p.Issuer)
	}
	// Plain HTTP would let anyone on the path forge sign-ins; a provider on this machine (tests,
	// a local Keycloak) is the exception.
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return fmt.Errorf("oidc provider %s: issuer %q must use https", p.Name, p.Issuer)
	}
	if p.ClientID == "" {
		return fmt.Errorf("oidc provider %s: client id is required", p.Name)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Claims is what a verified ID token says about the user. The pair (provider, Subject) identifies
// them; Email may change and is only trustworthy when EmailVerified.
type Claims struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
}

// Client runs the sign-in flow against one provider. It is safe for concurrent use.
type Client struct {
	p           Provider
	redirectURL string
	http        *http.Client

	// discovery admits one discovery at a time; callers arriving meanwhile wait for its result
	// rather than each asking the provider.
	discovery chan struct{}
	st        atomic.Pointer[discovered]
}

// discovered is what the provider's discovery document told us.
type discovered struct {
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier
}

// New returns a client for p that sends users back to redirectURL. It does not contact the
// provider. A nil httpClient means one with a 10s timeout.
func New(p Provider, redirectURL string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{p: p, redirectURL: redirectURL, http: httpClient, discovery: make(chan struct{}, 1)}
}

// Provider returns the configuration the client was made with.
func (c *Client) Provider() Provider { return c.p }

// discover fetches the provider's metadata once; after a failure the next call tries again.
func (c *Client) discover(ctx context.Context) (*discovered, error) {
	if st := c.st.Load(); st != nil {
		return st, nil
	}
	select {
	case c.discovery <- struct{}{}:
	case <-ctx.Done():
		return nil, c.unavailable("discovery", ctx.Err())
	}
	defer func() { <-c.discovery }()
	if st := c.st.Load(); st != nil {
		return st, nil
	}

	provider, err := gooidc.NewProvider(gooidc.ClientContext(ctx, c.http), c.p.Issuer)
	if err != nil {
		return nil, c.unavailable("discovery", err)
	}
	var meta struct {
		JWKSURL     string   `json:"jwks_uri"`
		Algs        []string `json:"id_token_signing_alg_values_supported"`
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := provider.Claims(&meta); err != nil || meta.JWKSURL == "" {
		return nil, c.unavailable("discovery", fmt.Errorf("no jwks_uri in the discovery document (%v)", err))
	}
	// Only asymmetric algorithms: "none" or HS256 would let a token vouch for itself.
	var algs []string
	for _, a := range meta.Algs {
		if slices.Contains(signingAlgs, a) {
			algs = append(algs, a)
		}
	}
	// The key set outlives this request: it is fetched again whenever a token names an unknown
	// key, with the client's HTTP client but never this request's cancellation.
	keys := gooidc.NewRemoteKeySet(gooidc.ClientContext(context.Background(), c.http), meta.JWKSURL)
	scopes := []string{gooidc.ScopeOpenID}
	for _, s := range c.p.Scopes {
		if s != gooidc.ScopeOpenID && !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	if len(c.p.Scopes) == 0 {
		scopes = append(scopes, "email", "profile")
	}
	// Say how the client authenticates rather than let oauth2 guess: its guess retries a refused
	// exchange the other way, with a code the first attempt already used up.
	endpoint := provider.Endpoint()
	endpoint.AuthStyle = oauth2.AuthStyleInHeader // client_secret_basic, the default (OIDC Discovery 1.0)
	if len(meta.AuthMethods) > 0 && !slices.Contains(meta.AuthMethods, "client_secret_basic") &&
		slices.Contains(meta.AuthMethods, "client_secret_post") {
		endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	st := &discovered{
		oauth: oauth2.Config{
			ClientID:     c.p.ClientID,
			ClientSecret: c.p.ClientSecret,
			Endpoint:     endpoint,
			RedirectURL:  c.redirectURL,
			Scopes:       scopes,
		},
		verifier: gooidc.NewVerifier(c.p.Issuer, keySet{keys}, &gooidc.Config{ClientID: c.p.ClientID, SupportedSigningAlgs: algs}),
	}
	c.st.Store(st)
	return st, nil
}

var signingAlgs = []string{
	gooidc.RS256, gooidc.RS384, gooidc.RS512, gooidc.ES256, gooidc.ES384, gooidc.ES512,
	gooidc.PS256, gooidc.PS384, gooidc.PS512, gooidc.EdDSA,
}

// AuthURL returns where to send the user's browser. The caller keeps state, nonce and verifier
// (e.g. in a short-lived cookie) and hands them back to Exchange; only the verifier's S256
// challenge leaves kinwatch.
func (c *Client) AuthURL(ctx context.Context, state, nonce, verifier string) (string, error) {
	if state == "" || nonce == "" || verifier == "" {
		return "", kinwatch.Errorf(kinwatch.EINVALID, "sign-in needs a state, a nonce and a verifier")
	}
	st, err := c.discover(ctx)
	if err != nil {
		return "", err
	}
	return st.oauth.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), nil
}

// Exchange redeems the code the provider sent the user back with and verifies the ID token it
// returns. Refusals are EUNAUTHORIZED, a malformed request EINVALID, a provider that cannot be
// reached or answers nonsense EUNAVAILABLE.
func (c *Client) Exchange(ctx context.Context, code, verifier, nonce string) (*Claims, error) {
	if code == "" || verifier == "" || nonce == "" {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "sign-in was not completed")
	}
	st, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := st.oauth.Exchange(gooidc.ClientContext(ctx, c.http), code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		switch {
		case !errors.As(err, &re) || re.Response == nil || re.Response.StatusCode >= 500:
			return nil, c.unavailable("token", err)
		case re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client":
			// Our client id or secret is wrong: the operator's mistake, not the user's.
			return nil, fmt.Errorf("oidc %s: token: %w", c.p.Name, err)
		default:
			return nil, c.unauthorized("the sign-in provider refused the sign-in", err)
		}
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return nil, c.unauthorized("the sign-in provider sent no ID token", nil)
	}

	var fetch fetchResult
	idt, err := st.verifier.Verify(context.WithValue(ctx, fetchKey{}, &fetch), raw)
	if err != nil {
		if fetch.err != nil {
			return nil, c.unavailable("keys", fetch.err)
		}
		return nil, c.unauthorized("invalid ID token", err)
	}
	// The nonce ties the token to the browser that started this sign-in: a token captured
	// elsewhere cannot be replayed into another session.
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, c.unauthorized("invalid ID token", errors.New("nonce mismatch"))
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, c.unauthorized("invalid ID token", err)
		}
	}
	var cl struct {
		Email         string          `json:"email"`
		EmailVerified json.RawMessage `json:"email_verified"`
		Name          string          `json:"name"`
	}
	if err := idt.Claims(&cl); err != nil {
		return nil, c.unauthorized("invalid ID token", err)
	}
	if idt.Subject == "" {
		return nil, c.unauthorized("invalid ID token", errors.New("no subject"))
	}
	return &Claims{
		Subject: idt.Subject,
		Email:   cl.Email,
		// Some providers send the boolean as a string.
		EmailVerified: string(cl.EmailVerified) == "true" || string(cl.EmailVerified) == `"true"`,
		Name:          cl.Name,
	}, nil
}

func (c *Client) unavailable(step string, err error) error {
	return &kinwatch.Error{Code: kinwatch.EUNAVAILABLE, Message: "the sign-in provider is not reachable",
		Err: fmt.Errorf("oidc %s: %s: %w", c.p.Name, step, err)}
}

func (c *Client) unauthorized(msg string, err error) error {
	if err != nil {
		err = fmt.Errorf("oidc %s: %w", c.p.Name, err)
	}
	return &kinwatch.Error{Code: kinwatch.EUNAUTHORIZED, Message: msg, Err: err}
}

// keySet tells "the signature is wrong" from "the keys could not be fetched": the verifier turns
// both into flat text, so the key set records a failed fetch where Exchange can see it.
type keySet struct{ remote *gooidc.RemoteKeySet }

type (
	fetchKey    struct{}
	fetchResult struct{ err error }
)

func (k keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.remote.VerifySignature(ctx, jwt)
	// The remote key set wraps the cause when fetching failed; a signature that matches no key
	// is an error of its own with nothing beneath.
	if err != nil && errors.Unwrap(err) != nil {
		if r, ok := ctx.Value(fetchKey{}).(*fetchResult); ok {
			r.err = err
		}
	}
	return payload, err
}

// NewState returns a random value for the state parameter (and as good for a nonce).
func NewState() string { return rand.Text() }

// NewVerifier returns a random PKCE code verifier (RFC 7636: 43 characters from 32 random bytes).
func NewVerifier() string { return oauth2.GenerateVerifier() }
