package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"kinwatch"
	"kinwatch/account"
	"kinwatch/oidc"
	"kinwatch/stream"
)

// Provider is a configured OpenID Connect provider.
type Provider struct {
	Name        string
	DisplayName string
	Client      *oidc.Client
}

func (s *Server) provider(name string) *Provider {
	for i := range s.Providers {
		if s.Providers[i].Name == name {
			return &s.Providers[i]
		}
	}
	return nil
}

func (s *Server) providers(w http.ResponseWriter, r *http.Request, c *caller) {
	type providerJSON struct {
		Name        string `json:"name"`
		DisplayName string `json:"display_name"`
		StartURL    string `json:"start_url"`
	}
	out := make([]providerJSON, len(s.Providers))
	for i, p := range s.Providers {
		out[i] = providerJSON{p.Name, p.DisplayName, "/api/v1/auth/oidc/" + p.Name + "/start"}
	}
	writeJSON(w, http.StatusOK, list(out))
}

const oidcCookie = "kw_oidc"

func randomString() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// oidcStart redirects the browser to the provider. ?mode=link attaches the provider to the
// signed-in account; otherwise it signs in (and signs up when ?accept_policy names the current
// policy version). The flow's secrets wait in a short-lived HttpOnly cookie bound to this browser.
func (s *Server) oidcStart(w http.ResponseWriter, r *http.Request, c *caller) {
	p := s.provider(r.PathValue("provider"))
	if p == nil {
		s.writeError(w, r, kinwatch.Errorf(kinwatch.ENOTFOUND, "no such sign-in provider"))
		return
	}
	q := r.URL.Query()
	mode := q.Get("mode")
	switch mode {
	case "", "login":
		mode = "login"
	case "link":
		if err := s.authenticate(r, c); err != nil {
			s.writeError(w, r, err)
			return
		}
	default:
		s.writeError(w, r, kinwatch.Errorf(kinwatch.EINVALID, "mode: login or link"))
		return
	}
	policy := q.Get("accept_policy")
	if strings.ContainsAny(policy, "|;, +") || len(policy) > 40 {
		s.writeError(w, r, kinwatch.Errorf(kinwatch.EINVALID, "accept_policy: a policy version"))
		return
	}
	if q.Get("age_confirmed") == "true" {
		policy += "+age" // travels with the policy through the provider's redirect
	}
	state, nonce, verifier := randomString(), randomString(), oidc.NewVerifier()
	u, err := p.Client.AuthURL(ctx(r), state, nonce, verifier)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: strings.Join([]string{p.Name, state, nonce, verifier, mode, policy}, "|"),
		Path: "/api/v1/auth/oidc/", MaxAge: 600, HttpOnly: true, Secure: !s.InsecureCookies, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, u, http.StatusFound)
}

// oidcCallback finishes a sign-in or link the provider sent the browser back from. It is a page
// navigation, not an API call: success and failure both redirect to the web app, failures as
// /#oidc_error=<code>&message=<text> so the app can show what went wrong.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request, c *caller) {
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Path: "/api/v1/auth/oidc/", MaxAge: -1, HttpOnly: true, Secure: !s.InsecureCookies})
	to, err := s.finishOIDC(w, r, c)
	if err != nil {
		code := kinwatch.ErrorCode(err)
		msg := kinwatch.ErrorMessage(err)
		if status, ok := statusOf[code]; !ok || status >= 500 {
			s.Log.Error("external sign-in failed", "provider", r.PathValue("provider"), "code", code, "err", err)
		}
		to = "/#oidc_error=" + url.QueryEscape(code) + "&message=" + url.QueryEscape(msg)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (s *Server) finishOIDC(w http.ResponseWriter, r *http.Request, c *caller) (string, error) {
	p := s.provider(r.PathValue("provider"))
	if p == nil {
		return "", kinwatch.Errorf(kinwatch.ENOTFOUND, "no such sign-in provider")
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return "", kinwatch.Errorf(kinwatch.EUNAUTHORIZED, "the provider refused the sign-in: %s", truncate(e, 60))
	}
	ck, err := r.Cookie(oidcCookie)
	var parts []string
	if err == nil {
		parts = strings.Split(ck.Value, "|")
	}
	if len(parts) != 6 || parts[0] != p.Name || subtle.ConstantTimeCompare([]byte(parts[1]), []byte(q.Get("state"))) != 1 {
		return "", kinwatch.Errorf(kinwatch.EUNAUTHORIZED, "this sign-in was not started in this browser or took too long: start again")
	}
	nonce, verifier, mode, policy := parts[2], parts[3], parts[4], parts[5]
	claims, err := p.Client.Exchange(ctx(r), q.Get("code"), verifier, nonce)
	if err != nil {
		return "", err
	}
	ext := account.External{Provider: p.Name, Subject: claims.Subject, Email: claims.Email, EmailVerified: claims.EmailVerified, Name: claims.Name}
	if mode == "link" {
		if err := s.authenticate(r, c); err != nil {
			return "", err
		}
		if err := s.Accounts.Link(ctx(r), c.account.ID, ext); err != nil {
			return "", err
		}
		return "/#linked=" + url.QueryEscape(p.Name), nil
	}
	version, age := strings.CutSuffix(policy, "+age")
	ss, token, err := s.Accounts.SignInExternal(ctx(r), ext, account.Acceptance{Policy: version, AgeConfirmed: age}, kinwatch.SessionCookie, c.client)
	if err != nil {
		return "", err
	}
	s.setSessionCookie(w, token, ss.ExpiresAt)
	return "/", nil
}

func (s *Server) identities(w http.ResponseWriter, r *http.Request, c *caller) {
	ids, err := s.Accounts.Identities(ctx(r), c.account.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	type identityJSON struct {
		Provider string  `json:"provider"`
		Email    string  `json:"email"`
		LinkedAt *string `json:"linked_at"`
	}
	out := make([]identityJSON, len(ids))
	for i, id := range ids {
		out[i] = identityJSON{id.Provider, id.Email, rfc3339(id.CreatedAt)}
	}
	writeJSON(w, http.StatusOK, list(out))
}

func (s *Server) unlinkIdentity(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.Accounts.Unlink(ctx(r), c.account.ID, r.PathValue("provider")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// stream upgrades to the live WebSocket of the caller's watches.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, c *caller) {
	if s.Stream == nil {
		s.writeError(w, r, kinwatch.Errorf(kinwatch.EUNAVAILABLE, "the live stream is not running"))
		return
	}
	token := c.token
	s.Stream.ServeWebSocket(w, r, stream.Subscriber{
		Account: c.account.ID, Session: c.session.ID, Expires: c.session.ExpiresAt,
		// Catches what the hub is not told of in this process: an operator disabling the account
		// from the command line, or a session revoked through another server of a cluster.
		Check: func(ctx context.Context) error {
			err := s.Accounts.StillValid(ctx, token)
			if kinwatch.ErrorCode(err) == kinwatch.EUNAUTHORIZED {
				return fmt.Errorf("%w: %w", stream.ErrSignedOut, err)
			}
			return err
		},
	})
}
