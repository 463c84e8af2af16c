package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"kinwatch/app"
	"kinwatch/config"
	"kinwatch/mail"
	"kinwatch/mail/smtptest"
)

// startAPI starts the whole app on SQLite with a test SMTP server.
func startAPI(t *testing.T) (*app.App, *client, *smtptest.Server, config.Config) {
	t.Helper()
	return startAPIWith(t, testConfig(t))
}

// startAPIWith starts the whole app with cfg and a test SMTP server.
func startAPIWith(t *testing.T, cfg config.Config) (*app.App, *client, *smtptest.Server, config.Config) {
	t.Helper()
	smtp := smtptest.Start(t)
	a := app.New(cfg, logger())
	a.Argon2 = fastArgon2
	a.Mailer = &mail.SMTP{Addr: smtp.Addr(), From: "kinwatch@example.org", TLS: "none"}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	return a, &client{t: t, base: "http://" + a.HTTPAddr().String()}, smtp, cfg
}

// rawStream is a live-stream connection that reports how it ended.
type rawStream struct {
	msgs chan liveMessage
	end  chan error
}

func (c *client) rawStream(token, query string) *rawStream {
	c.t.Helper()
	conn, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(c.base, "http")+"/api/v1/stream"+query,
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { conn.CloseNow() })
	s := &rawStream{msgs: make(chan liveMessage, 1000), end: make(chan error, 1)}
	go func() {
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				s.end <- err
				return
			}
			var m liveMessage
			if json.Unmarshal(b, &m) == nil {
				s.msgs <- m
			}
		}
	}()
	return s
}

// closedAs waits for the server to close the stream and returns the close code.
func (s *rawStream) closedAs(t *testing.T) websocket.StatusCode {
	t.Helper()
	select {
	case err := <-s.end:
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("stream ended without a close frame: %v", err)
		}
		return ce.Code
	case <-time.After(10 * time.Second):
		t.Fatal("stream still open 10 s after its session ended")
	}
	return 0
}

func (s *rawStream) open(t *testing.T) {
	t.Helper()
	select {
	case err := <-s.end:
		t.Fatalf("stream ended: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
}

func (c *client) login(email, password string) (token, sessionID string) {
	c.t.Helper()
	var out struct {
		Token   string `json:"token"`
		Session struct {
			ID string `json:"id"`
		} `json:"session"`
	}
	if code := c.call("", "POST", "/api/v1/auth/login", map[string]any{"login": email, "password": password, "session": "bearer"}, &out); code != 200 {
		c.t.Fatalf("login %s: %d", email, code)
	}
	return out.Token, out.Session.ID
}

// TestStreamEndsWithTheSession: signing out, revoking a session, signing out everywhere and
// changing the password close the live streams of the sessions that ended, at once, and only
// those.
func TestStreamEndsWithTheSession(t *testing.T) {
	_, api, smtp, cfg := startAPI(t)
	first := api.signUp(smtp, "mum@example.org", "Mum", cfg.PolicyVersion)
	second, secondID := api.login("mum@example.org", "correct horse battery")
	third, _ := api.login("mum@example.org", "correct horse battery")
	fourth, _ := api.login("mum@example.org", "correct horse battery")

	s1, s2, s3, s4 := api.rawStream(first, ""), api.rawStream(second, ""), api.rawStream(third, ""), api.rawStream(fourth, "")
	// Sign out: that session's stream ends, the others stay.
	if code := api.call(first, "POST", "/api/v1/auth/logout", nil, nil); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	if code := s1.closedAs(t); code != websocket.StatusPolicyViolation {
		t.Fatalf("signed-out stream closed with %v", code)
	}
	s2.open(t)
	// Revoke one session from another.
	if code := api.call(third, "DELETE", "/api/v1/me/sessions/"+secondID, nil, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	if code := s2.closedAs(t); code != websocket.StatusPolicyViolation {
		t.Fatalf("revoked stream closed with %v", code)
	}
	// Change the password: the other sessions end, this one stays.
	if code := api.call(third, "PUT", "/api/v1/me/password", map[string]any{"current_password": "correct horse battery", "new_password": "a much newer passphrase"}, nil); code != 204 {
		t.Fatalf("change password: %d", code)
	}
	if code := s4.closedAs(t); code != websocket.StatusPolicyViolation {
		t.Fatalf("other session's stream after a password change closed with %v", code)
	}
	s3.open(t)
	// Everywhere, this one included.
	if code := api.call(third, "DELETE", "/api/v1/me/sessions", nil, nil); code != 200 {
		t.Fatalf("log out everywhere: %d", code)
	}
	if code := s3.closedAs(t); code != websocket.StatusPolicyViolation {
		t.Fatalf("stream after logging out everywhere closed with %v", code)
	}
	if code := api.call(third, "GET", "/api/v1/me", nil, nil); code != 401 {
		t.Fatalf("session after logging out everywhere: %d", code)
	}
}

// bindWatch binds the connected raw watch for token's account with the code shown on its screen
// and returns the new family's id.
func (c *client) bindWatch(token string, w *rawWatch, familyName string) string {
	c.t.Helper()
	var start struct {
		ID string `json:"id"`
	}
	waitFor(c.t, "binding started", func() bool {
		return c.call(token, "POST", "/api/v1/bindings", map[string]any{"code": w.id}, &start) == 201
	})
	msg := w.expect("MESSAGE")
	w.send("MESSAGE")
	pin := regexp.MustCompile(`\d{6}`).FindString(decodeUTF16Hex(c.t, strings.TrimPrefix(msg, "MESSAGE,")))
	var bound struct {
		FamilyID string `json:"family_id"`
	}
	if code := c.call(token, "POST", "/api/v1/bindings/"+start.ID+"/confirm", map[string]any{"code": pin, "family_name": familyName}, &bound); code != 200 {
		c.t.Fatalf("confirm: %d", code)
	}
	c.consent(token, w.id, "service", "location", "health", "microphone", "camera", "contacts")
	return bound.FamilyID
}

// consent gives consent for the child wearing watch to purposes, as the guardian with token,
// re-entering the password and confirming the statement as the app does.
func (c *client) consent(token, watch string, purposes ...string) {
	c.t.Helper()
	var state struct {
		PolicyVersion string          `json:"policy_version"`
		Purposes      map[string]bool `json:"purposes"`
	}
	if code := c.call(token, "GET", "/api/v1/watches/"+watch+"/consent", nil, &state); code != 200 {
		c.t.Fatalf("GET consent: %d", code)
	}
	if code := c.call(token, "PUT", "/api/v1/watches/"+watch+"/consent", map[string]any{"grant": purposes, "policy_version": state.PolicyVersion,
		"password": "correct horse battery", "statement_confirmed": true}, &state); code != 200 {
		c.t.Fatalf("PUT consent: %d", code)
	}
	for _, p := range purposes {
		if !state.Purposes[p] {
			c.t.Fatalf("consent to %s not recorded: %v", p, state.Purposes)
		}
	}
}

// TestResumeAfterTheWatchChangedHands: a family that binds a watch another family unbound
// cannot resume the stream from before and receive what the watch reported for the other one.
func TestResumeAfterTheWatchChangedHands(t *testing.T) {
	a, api, smtp, cfg := startAPI(t)
	anna := api.signUp(smtp, "anna@example.org", "Anna", cfg.PolicyVersion)
	bert := api.signUp(smtp, "bert@example.org", "Bert", cfg.PolicyVersion)

	// Bert has a stream open before anything happens and keeps its seq.
	before := api.rawStream(bert, "")
	hello := <-before.msgs

	w := dialWatch(t, a.WatchAddr().String(), "8800000077")
	w.send("LK")
	w.expect("LK")
	api.bindWatch(anna, w, "Anna's")
	annaStream := api.stream(anna)
	w.send(udFrame(time.Now(), 48.1, 11.5))
	if m := annaStream.next(t, "position"); !strings.Contains(string(m.Data), `"lat":48.1`) {
		t.Fatalf("anna's position: %s", m.Data)
	}
	if code := api.call(anna, "DELETE", "/api/v1/watches/"+w.id, nil, nil); code != 204 {
		t.Fatalf("unbind: %d", code)
	}
	api.bindWatch(bert, w, "Bert's")

	// Resuming from before: nothing of Anna's time with the watch.
	resumed := api.rawStream(bert, fmt.Sprintf("?since=%d", hello.Seq))
	if m := <-resumed.msgs; m.Type != "hello" {
		t.Fatalf("first message %+v", m)
	}
	w.send(udFrame(time.Now(), 50.2, 8.6))
	for {
		select {
		case m := <-resumed.msgs:
			if strings.Contains(string(m.Data), "48.1") {
				t.Fatalf("the previous family's position was replayed: %s", m.Data)
			}
			if m.Type == "position" && strings.Contains(string(m.Data), `"lat":50.2`) {
				return
			}
		case err := <-resumed.end:
			t.Fatalf("stream ended: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("bert's own position did not arrive")
		}
	}
}

// TestLoginCSRF: a cross-site form can post text/plain that parses as JSON; sign-in refuses a body
// that is not declared as JSON, so such a form cannot sign the browser in to another account.
func TestLoginCSRF(t *testing.T) {
	_, api, smtp, cfg := startAPI(t)
	api.signUp(smtp, "mum@example.org", "Mum", cfg.PolicyVersion)
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		req, _ := http.NewRequest("POST", api.base+"/api/v1/auth/login",
			strings.NewReader(`{"login":"mum@example.org","password":"correct horse battery","session":"cookie"}`))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 || len(resp.Cookies()) != 0 {
			t.Fatalf("login posted as %q: %d, cookies %v", ct, resp.StatusCode, resp.Cookies())
		}
	}
}
