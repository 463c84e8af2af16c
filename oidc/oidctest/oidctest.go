// Package oidctest runs a mock OpenID Connect provider on loopback for tests: discovery, a JWKS,
// an authorization endpoint that "logs in" a chosen user at once, and a token endpoint that checks
// the client secret, single-use codes, the redirect URI and PKCE, and returns an RS256 ID token.
//
// It can be told to misbehave (wrong audience, expired token, bad signature …) so the relying party
// can be shown to refuse. It is for tests only: anyone who reaches it can sign in as anyone.
package oidctest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// User is who signs in at the provider next.
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
}

// Fault is a way for the provider to misbehave.
type Fault int

const (
	NoFault         Fault = iota
	WrongAudience         // ID tokens are issued for another client
	WrongIssuer           // ID tokens name another issuer
	Expired               // ID tokens expired an hour ago
	BadSignature          // ID tokens are signed with a key that is not in the JWKS (same key id)
	JWKSUnavailable       // the JWKS endpoint answers 503
)

// Provider is a running mock provider.
type Provider struct {
	clientID, clientSecret string
	srv                    *httptest.Server
	key                    *rsa.PrivateKey
	kid                    string

	mu       sync.Mutex
	user     User
	fault    Fault
	codes    map[string]grant
	foreign  *rsa.PrivateKey // signs under BadSignature
	authReqs int
}

// grant is what an authorization code stands for until it is redeemed.
type grant struct {
	redirectURI string
	challenge   string
	nonce       string
	user        User
	expires     time.Time
}

// Start starts a provider for one client on 127.0.0.1 on a free port; it stops when the test ends.
func Start(t testing.TB, clientID, clientSecret string) *Provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return StartListener(t, ln, clientID, clientSecret)
}

// StartListener is Start on a listener the test chose, e.g. an address a client was configured
// with before the provider was up.
func StartListener(t testing.TB, ln net.Listener, clientID, clientSecret string) *Provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{
		clientID: clientID, clientSecret: clientSecret, key: key, kid: rand.Text()[:8],
		user:  User{Subject: "user-1", Email: "guardian@example.org", EmailVerified: true, Name: "Test Guardian"},
		codes: map[string]grant{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewUnstartedServer(mux)
	p.srv.Listener.Close()
	p.srv.Listener = ln
	p.srv.Start()
	t.Cleanup(p.Close)
	return p
}

// Issuer is the provider's issuer URL, "http://127.0.0.1:port".
func (p *Provider) Issuer() string { return p.srv.URL }

// Close stops the provider, as if it went down.
func (p *Provider) Close() { p.srv.Close() }

// SetUser sets who signs in from now on.
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = u
}

// SetFault makes the provider misbehave from now on; NoFault heals it.
func (p *Provider) SetFault(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
}

// AuthRequests counts the authorization requests answered with a code.
func (p *Provider) AuthRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.authReqs
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	iss := p.Issuer()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/authorize",
		"token_endpoint":                        iss + "/token",
		"jwks_uri":                              iss + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256"},
		"claims_supported":                      []string{"sub", "email", "email_verified", "name", "nonce"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	fault := p.fault
	p.mu.Unlock()
	if fault == JWKSUnavailable {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	pub := p.key.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": p.kid,
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	// Errors are shown to the "user" rather than redirected: redirect_uri is not trusted yet.
	switch {
	case q.Get("client_id") != p.clientID:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	case q.Get("redirect_uri") == "":
		http.Error(w, "redirect_uri missing", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code":
		http.Error(w, "response_type must be code", http.StatusBadRequest)
		return
	case !strings.Contains(" "+q.Get("scope")+" ", " openid "):
		http.Error(w, "scope must include openid", http.StatusBadRequest)
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "PKCE with S256 is required", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() {
		http.Error(w, "redirect_uri must be absolute", http.StatusBadRequest)
		return
	}
	code := rand.Text()
	p.mu.Lock()
	p.codes[code] = grant{
		redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), nonce: q.Get("nonce"),
		user: p.user, expires: time.Now().Add(time.Minute),
	}
	p.authReqs++
	p.mu.Unlock()

	v := redirect.Query()
	v.Set("code", code)
	if s := q.Get("state"); s != "" {
		v.Set("state", s)
	}
	redirect.RawQuery = v.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	// RFC 6749 2.3.1: the id and secret in the Basic header are form-encoded first.
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.clientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.clientSecret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="oidctest"`)
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code")
		return
	}
	p.mu.Lock()
	g, ok := p.codes[r.PostForm.Get("code")]
	delete(p.codes, r.PostForm.Get("code")) // single use, whatever happens next
	fault := p.fault
	p.mu.Unlock()
	switch {
	case !ok || time.Now().After(g.expires):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
		return
	case r.PostForm.Get("redirect_uri") != g.redirectURI:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match")
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if subtle.ConstantTimeCompare([]byte(b64(sum[:])), []byte(g.challenge)) != 1 {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		return
	}

	access := rand.Text()
	now := time.Now()
	atHash := sha256.Sum256([]byte(access))
	claims := map[string]any{
		"iss": p.Issuer(), "sub": g.user.Subject, "aud": p.clientID,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"at_hash": b64(atHash[:16]),
		"email":   g.user.Email, "email_verified": g.user.EmailVerified, "name": g.user.Name,
	}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	key := p.key
	switch fault {
	case WrongAudience:
		claims["aud"] = "another-client"
	case WrongIssuer:
		claims["iss"] = "https://issuer.example.org"
	case Expired:
		claims["iat"], claims["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	case BadSignature:
		if key, ok = p.foreignKey(); !ok {
			tokenError(w, http.StatusInternalServerError, "server_error", "no key")
			return
		}
	}
	idToken, err := sign(key, p.kid, claims)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access, "token_type": "Bearer", "expires_in": 3600, "id_token": idToken,
	})
}

// foreignKey is a key the JWKS does not publish, made on first use: most tests never need it.
func (p *Provider) foreignKey() (*rsa.PrivateKey, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.foreign == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, false
		}
		p.foreign = k
	}
	return p.foreign, true
}

// sign makes a compact RS256 JWS (RFC 7515) of claims.
func sign(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + b64(sig), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
