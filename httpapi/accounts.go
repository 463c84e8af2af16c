package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"kinwatch"
	"kinwatch/account"
)

type accountJSON struct {
	ID            string          `json:"id"`
	Email         string          `json:"email,omitempty"`
	EmailVerified bool            `json:"email_verified"`
	Phone         string          `json:"phone,omitempty"`
	Nickname      string          `json:"nickname"`
	Gender        string          `json:"gender"`
	Birthday      string          `json:"birthday"`
	Region        string          `json:"region"`
	Bio           string          `json:"bio"`
	Preferences   preferencesJSON `json:"preferences"`
	Policy        policyAccepted  `json:"policy"`
	HasPassword   bool            `json:"has_password"`
	Operator      bool            `json:"operator"`
	CreatedAt     *string         `json:"created_at"`
	AvatarURL     string          `json:"avatar_url,omitempty"`
	CSRFToken     string          `json:"csrf_token,omitempty"`
}

type preferencesJSON struct {
	Language string `json:"language"`
	Units    string `json:"units"`
	TimeZone string `json:"time_zone"`
	MapStyle string `json:"map_style"`
}

type policyAccepted struct {
	Version    string  `json:"version"`
	AcceptedAt *string `json:"accepted_at"`
}

func toAccount(a *kinwatch.Account) accountJSON {
	return accountJSON{
		ID: a.ID, Email: a.Email, EmailVerified: !a.EmailVerifiedAt.IsZero(), Phone: a.Phone,
		Nickname: a.Profile.Nickname, Gender: a.Profile.Gender, Birthday: a.Profile.Birthday,
		Region: a.Profile.Region, Bio: a.Profile.Bio,
		Preferences: preferencesJSON{a.Preferences.Language, a.Preferences.Units, a.Preferences.TimeZone, a.Preferences.MapStyle},
		Policy:      policyAccepted{a.PolicyVersion, rfc3339(a.PolicyAccepted)},
		HasPassword: a.PasswordHash != "", Operator: a.Operator, CreatedAt: rfc3339(a.CreatedAt),
	}
}

type profileIn struct {
	Nickname    *string `json:"nickname"`
	Gender      *string `json:"gender"`
	Birthday    *string `json:"birthday"`
	Region      *string `json:"region"`
	Bio         *string `json:"bio"`
	Preferences *struct {
		Language *string `json:"language"`
		Units    *string `json:"units"`
		TimeZone *string `json:"time_zone"`
		MapStyle *string `json:"map_style"`
	} `json:"preferences"`
}

func (p profileIn) patch() account.ProfilePatch {
	out := account.ProfilePatch{Nickname: p.Nickname, Gender: p.Gender, Birthday: p.Birthday, Region: p.Region, Bio: p.Bio}
	if pr := p.Preferences; pr != nil {
		out.Language, out.Units, out.TimeZone, out.MapStyle = pr.Language, pr.Units, pr.TimeZone, pr.MapStyle
	}
	return out
}

func (s *Server) policy(w http.ResponseWriter, r *http.Request, c *caller) {
	p := s.Accounts.Policy
	writeJSON(w, http.StatusOK, map[string]any{"version": p.Version, "url": p.URL, "text": p.Text, "min_age": p.MinAge})
}

// policyPage serves the policy's text to people (the default --policy-url).
func (s *Server) policyPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.Header().Set("Policy-Version", s.Accounts.Policy.Version)
	io.WriteString(w, s.Accounts.Policy.Text)
}

func (s *Server) signUp(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		profileIn
		Email        string `json:"email"`
		Phone        string `json:"phone"`
		Password     string `json:"password"`
		AcceptPolicy string `json:"accept_policy"`
		AgeConfirmed bool   `json:"age_confirmed"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	err := s.Accounts.SignUp(ctx(r), account.SignUp{Email: in.Email, Phone: in.Phone, Password: in.Password,
		AcceptPolicy: in.AcceptPolicy, AgeConfirmed: in.AgeConfirmed, Profile: in.patch()}, c.client)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "verification_sent",
		"message": "If the address can be used, a verification link is on its way. Sign in once you have it."})
}

func (s *Server) verifyEmail(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Token string `json:"token"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.Accounts.VerifyEmail(ctx(r), in.Token, c.client); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "verified"})
}

func (s *Server) resendVerification(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Login string `json:"login"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Accounts.ResendVerification(ctx(r), in.Login, c.client); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "verification_sent"})
}

type sessionJSON struct {
	ID         string  `json:"id"`
	Kind       string  `json:"kind"`
	UserAgent  string  `json:"user_agent"`
	IP         string  `json:"ip"`
	CreatedAt  *string `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
	ExpiresAt  *string `json:"expires_at"`
	Current    bool    `json:"current"`
}

func toSession(ss *kinwatch.Session, current string) sessionJSON {
	return sessionJSON{ID: ss.ID, Kind: ss.Kind, UserAgent: ss.UserAgent, IP: ss.IP, CreatedAt: rfc3339(ss.CreatedAt),
		LastUsedAt: rfc3339(ss.LastUsedAt), ExpiresAt: rfc3339(ss.ExpiresAt), Current: ss.ID == current}
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Login    string `json:"login"`
		Password string `json:"password"`
		Session  string `json:"session"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.Session == "" {
		in.Session = kinwatch.SessionBearer
	}
	ss, token, err := s.Accounts.Login(ctx(r), in.Login, in.Password, in.Session, c.client)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.issue(w, ss, token)
}

// issue hands a new session to the client: a bearer token in the body, or an HttpOnly cookie
// and the CSRF token the browser must echo.
func (s *Server) issue(w http.ResponseWriter, ss *kinwatch.Session, token string) {
	out := map[string]any{"session": toSession(ss, ss.ID)}
	if ss.Kind == kinwatch.SessionBearer {
		out["token"] = token
	} else {
		s.setSessionCookie(w, token, ss.ExpiresAt)
		out["csrf_token"] = account.CSRFToken(token)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) setSessionCookie(w http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", Expires: expires,
		HttpOnly: true, Secure: !s.InsecureCookies, SameSite: http.SameSiteLaxMode})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.Accounts.Revoke(ctx(r), c.account.ID, c.session.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.setSessionCookie(w, "", time.Unix(1, 0))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) requestReset(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Login string `json:"login"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Accounts.RequestPasswordReset(ctx(r), in.Login, c.client); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "reset_sent",
		"message": "If an account uses this address, a reset link is on its way."})
}

func (s *Server) confirmReset(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Accounts.ResetPassword(ctx(r), in.Token, in.Password, c.client); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "password_changed"})
}

// myAccount is the caller's own account as /me shows it.
func myAccount(a *kinwatch.Account) accountJSON {
	out := toAccount(a)
	if a.Profile.Avatar != "" {
		out.AvatarURL = "/api/v1/me/avatar"
	}
	return out
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, c *caller) {
	out := myAccount(c.account)
	if c.session.Kind == kinwatch.SessionCookie {
		out.CSRFToken = account.CSRFToken(c.token)
	}
	writeJSON(w, http.StatusOK, out)
}

// notHere says why a field of the account is not changed by PATCH /me, and where it is.
var notHere = map[string]string{
	"id":       "an account's id never changes: families, the consent ledger and the access log name the account by it",
	"email":    "the sign-in address changes through POST /me/email, which mails a confirmation link to the new address, so nobody can take an account over by typing another address",
	"phone":    "the sign-in phone number cannot be changed yet: kinwatch cannot send a text message to confirm a new one; sign in with your email address or ask the operator",
	"password": "the password changes through PUT /me/password, with the current one",
	"avatar":   "the picture is uploaded with PUT /me/avatar and removed with DELETE /me/avatar",
}

func (s *Server) updateMe(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		profileIn
		ID       json.RawMessage `json:"id"`
		Email    json.RawMessage `json:"email"`
		Phone    json.RawMessage `json:"phone"`
		Password json.RawMessage `json:"password"`
		Avatar   json.RawMessage `json:"avatar"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	for name, v := range map[string]json.RawMessage{"id": in.ID, "email": in.Email, "phone": in.Phone, "password": in.Password, "avatar": in.Avatar} {
		if v != nil {
			s.writeError(w, r, kinwatch.Errorf(kinwatch.EINVALID, "%s: %s", name, notHere[name]))
			return
		}
	}
	a, err := s.Accounts.UpdateProfile(ctx(r), c.account.ID, in.profileIn.patch())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := myAccount(a)
	if c.session.Kind == kinwatch.SessionCookie {
		out.CSRFToken = account.CSRFToken(c.token) // the same shape as GET /me
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Accounts.ChangePassword(ctx(r), c.account.ID, c.session.ID, in.Current, in.New); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) changeEmail(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Password string `json:"password"`
		Email    string `json:"email"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Accounts.RequestEmailChange(ctx(r), c.account.ID, in.Password, in.Email); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "verification_sent",
		"message": "Open the link sent to the new address; until then the current address stays."})
}

func (s *Server) sessions(w http.ResponseWriter, r *http.Request, c *caller) {
	ss, err := s.Accounts.Sessions(ctx(r), c.account.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]sessionJSON, len(ss))
	for i, x := range ss {
		out[i] = toSession(x, c.session.ID)
	}
	writeJSON(w, http.StatusOK, list(out))
}

func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.Accounts.Revoke(ctx(r), c.account.ID, r.PathValue("session")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// revokeAllSessions logs out everywhere, this session included (?keep_current=true spares it).
func (s *Server) revokeAllSessions(w http.ResponseWriter, r *http.Request, c *caller) {
	keep := ""
	if r.URL.Query().Get("keep_current") == "true" {
		keep = c.session.ID
	}
	n, err := s.Accounts.RevokeOthers(ctx(r), c.account.ID, keep)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
}
