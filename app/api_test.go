package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/coder/websocket"

	"kinwatch/account"
	"kinwatch/commands"
	"kinwatch/config"
	"kinwatch/mail/smtptest"
	"kinwatch/postgres/pgtest"
	"kinwatch/watchproto"
)

// TestAPIEndToEnd drives only the public surfaces: two guardians sign up and verify their email
// through a real SMTP server, the first binds a watch (a raw TCP client speaking the watch protocol)
// with the code shown on its screen and invites the second as a viewer; both see the watch move on
// the live stream, the viewer's command is refused, and the admin's "locate now" is acknowledged
// by the watch and brings a position to the stream.
func TestAPIEndToEnd(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { apiEndToEnd(t, testConfig(t)) })
	t.Run("postgres", func(t *testing.T) {
		c := testConfig(t)
		c.DatabaseURL = pgtest.URL(t)
		apiEndToEnd(t, c)
	})
}

// fastArgon2 keeps tests quick; production uses account.DefaultArgon2.
var fastArgon2 = account.Argon2Params{Memory: 64, Time: 1, Parallelism: 1}

func apiEndToEnd(t *testing.T, cfg config.Config) {
	a, api, smtp, _ := startAPIWith(t, cfg)

	// Two guardians sign up and verify their addresses.
	admin := api.signUp(smtp, "mum@example.org", "Mum", cfg.PolicyVersion)
	viewer := api.signUp(smtp, "grandpa@example.org", "Grandpa", cfg.PolicyVersion)

	// Every profile field is editable; what is not says why and where it changes.
	for field, where := range map[string]string{"email": "POST /me/email", "password": "PUT /me/password", "id": "never changes", "phone": "text message"} {
		code, body, _ := api.raw(admin, "PATCH", "/api/v1/me", "application/json", []byte(`{"`+field+`":"x"}`))
		if code != 400 || !strings.Contains(string(body), where) {
			t.Errorf("PATCH /me %s: %d %s", field, code, body)
		}
	}

	// The watch connects; it is pending until bound.
	w := dialWatch(t, a.WatchAddr().String(), "8800000001")
	w.send("LK")
	w.expect("LK")
	var none struct {
		Items []any `json:"items"`
	}
	if code := api.call(admin, "GET", "/api/v1/watches", nil, &none); code != 200 || len(none.Items) != 0 {
		t.Fatalf("watches before binding: %d %v", code, none.Items)
	}

	// Binding: the code goes to the watch's screen; a wrong code is refused, the right one binds.
	var start struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	var code int
	waitFor(t, "binding started", func() bool {
		code = api.call(admin, "POST", "/api/v1/bindings", map[string]any{"code": "8800000001"}, &start)
		return code == 201
	})
	msg := w.expect("MESSAGE")
	w.send("MESSAGE")
	shown := decodeUTF16Hex(t, strings.TrimPrefix(msg, "MESSAGE,"))
	pin := regexp.MustCompile(`\d{6}`).FindString(shown)
	if pin == "" {
		t.Fatalf("no code on the watch screen: %q", shown)
	}
	if code := api.call(admin, "POST", "/api/v1/bindings/"+start.ID+"/confirm", map[string]any{"code": "000000x"}, nil); code != 400 {
		t.Fatalf("wrong code: status %d, want 400", code)
	}
	var bound struct {
		ID       string `json:"id"`
		FamilyID string `json:"family_id"`
		Role     string `json:"role"`
	}
	if code := api.call(admin, "POST", "/api/v1/bindings/"+start.ID+"/confirm", map[string]any{"code": pin, "family_name": "The Smiths"}, &bound); code != 200 || bound.Role != "admin" {
		t.Fatalf("confirm: status %d %+v", code, bound)
	}

	// The admin invites the second guardian as a viewer.
	var inv struct {
		Code string `json:"code"`
	}
	if code := api.call(admin, "POST", "/api/v1/families/"+bound.FamilyID+"/invitations", map[string]any{"role": "viewer"}, &inv); code != 201 {
		t.Fatalf("invite: %d", code)
	}
	if code := api.call(viewer, "POST", "/api/v1/invitations/accept", map[string]any{"code": inv.Code, "relation": "grandpa"}, nil); code != 200 {
		t.Fatalf("accept: %d", code)
	}

	// Bound but without consent, nothing of the child is collected: a position sent now is not
	// stored (the LK round trip makes sure the gateway handled it before consent is given).
	w.send(udFrame(time.Now().Add(-time.Minute), 40.1, 10.1))
	w.send("LK")
	w.expect("LK")
	// Consent for the child: only a guardian, only with the password again, the statement and
	// the policy version in force.
	var state struct {
		PolicyVersion string          `json:"policy_version"`
		Statement     string          `json:"statement"`
		Purposes      map[string]bool `json:"purposes"`
	}
	if code := api.call(viewer, "GET", "/api/v1/watches/8800000001/consent", nil, &state); code != 200 || state.Purposes["location"] || !strings.Contains(state.Statement, "legal guardian") {
		t.Fatalf("consent before any: %d %+v", code, state)
	}
	give := func(token string, body map[string]any) int {
		full := map[string]any{"grant": []string{"service", "location"}, "policy_version": state.PolicyVersion, "password": "correct horse battery", "statement_confirmed": true}
		maps.Copy(full, body)
		return api.call(token, "PUT", "/api/v1/watches/8800000001/consent", full, nil)
	}
	for _, tc := range []struct {
		name  string
		token string
		body  map[string]any
		want  int
	}{
		{"a viewer", viewer, nil, 403},
		{"without the password", admin, map[string]any{"password": ""}, 403},
		{"with a wrong password", admin, map[string]any{"password": "wrong horse battery"}, 403},
		{"without the statement", admin, map[string]any{"statement_confirmed": false}, 400},
		{"under an old policy", admin, map[string]any{"policy_version": "1999-01"}, 409},
		{"location without the service", admin, map[string]any{"grant": []string{"location"}}, 400},
		{"a purpose accounts give", admin, map[string]any{"grant": []string{"service", "marketing"}}, 400},
	} {
		if code := give(tc.token, tc.body); code != tc.want {
			t.Errorf("consent by %s: status %d, want %d", tc.name, code, tc.want)
		}
	}
	if code := give(admin, nil); code != 200 {
		t.Fatalf("consent: status %d", code)
	}

	// Both open the live stream; the watch reports a position; both see it.
	adminStream := api.stream(admin)
	viewerStream := api.stream(viewer)
	w.send(udFrame(time.Now(), 52.520008, 13.404954)) // UD has no reply in the protocol
	for _, s := range []*liveStream{adminStream, viewerStream} {
		m := s.next(t, "position")
		if !strings.Contains(string(m.Data), `"lat":52.520008`) || m.WatchID != "8800000001" {
			t.Fatalf("position message: %+v %s", m, m.Data)
		}
	}

	// A viewer cannot send commands; the admin can, and the watch acknowledges.
	if code := api.call(viewer, "POST", "/api/v1/watches/8800000001/commands", map[string]any{"type": "locate_now"}, nil); code != 403 {
		t.Fatalf("viewer command: status %d, want 403", code)
	}
	var cmd struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	hdr := http.Header{"Idempotency-Key": {"locate-1"}}
	if code := api.callH(admin, "POST", "/api/v1/watches/8800000001/commands", hdr, map[string]any{"type": "locate_now"}, &cmd); code != 202 {
		t.Fatalf("admin command: status %d", code)
	}
	var again struct {
		ID string `json:"id"`
	}
	if code := api.callH(admin, "POST", "/api/v1/watches/8800000001/commands", hdr, map[string]any{"type": "locate_now"}, &again); code != 200 || again.ID != cmd.ID {
		t.Fatalf("idempotent retry: status %d, id %q want %q", code, again.ID, cmd.ID)
	}
	// The child is told first (once, despite the retry), then the watch is asked.
	if shown := decodeUTF16Hex(t, strings.TrimPrefix(w.expect("MESSAGE"), "MESSAGE,")); shown != commands.LocateNotice {
		t.Fatalf("the watch showed %q before locating", shown)
	}
	w.send("MESSAGE")
	w.expect("CR")
	w.send("CR")
	w.send(udFrame(time.Now().Add(time.Second), 52.521, 13.405))
	for {
		m := adminStream.next(t, "command", "position")
		if m.Type == "command" && strings.Contains(string(m.Data), `"acknowledged"`) && strings.Contains(string(m.Data), cmd.ID) {
			break
		}
	}
	adminStream.next(t, "position")
	var got struct {
		State string `json:"state"`
	}
	api.call(admin, "GET", "/api/v1/watches/8800000001/commands/"+cmd.ID, nil, &got)
	if got.State != "acknowledged" {
		t.Fatalf("command state %q", got.State)
	}

	// The command list pages newest first: the locate request, then the binding code's message.
	var types []string
	path := "/api/v1/watches/8800000001/commands?limit=1"
	for pages := 0; ; pages++ {
		var page struct {
			Items []struct {
				Type string `json:"type"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		if code := api.call(viewer, "GET", path, nil, &page); code != 200 || pages > 3 {
			t.Fatalf("commands page %d: status %d", pages, code)
		}
		for _, it := range page.Items {
			types = append(types, it.Type)
		}
		if page.NextCursor == nil {
			break
		}
		path = "/api/v1/watches/8800000001/commands?limit=1&cursor=" + *page.NextCursor
	}
	if strings.Join(types, ",") != "locate_now,message,message" {
		t.Fatalf("commands paged as %v", types)
	}
	if code := api.call(viewer, "GET", "/api/v1/watches/8800000001/commands?cursor=bogus", nil, nil); code != 400 {
		t.Fatalf("a made-up cursor: status %d, want 400", code)
	}

	// Only what came after the consent was stored.
	positions := func() (lats []float64) {
		var page struct {
			Items []struct {
				Lat float64 `json:"lat"`
			} `json:"items"`
		}
		if code := api.call(viewer, "GET", "/api/v1/watches/8800000001/positions", nil, &page); code != 200 {
			t.Fatalf("positions: %d", code)
		}
		for _, p := range page.Items {
			lats = append(lats, p.Lat)
		}
		return lats
	}
	if got := positions(); !slices.Equal(got, []float64{52.521, 52.520008}) {
		t.Fatalf("stored positions %v, want the two sent after consent", got)
	}
	// The history for a map, and as GPX. The two positions are 111 m and one second apart: a
	// jump (faster than anyone walks), so no distance is counted.
	var tr struct {
		Points []struct {
			Lat    float64 `json:"lat"`
			Source string  `json:"source"`
		} `json:"points"`
		Distance float64 `json:"distance_m"`
	}
	if code := api.call(viewer, "GET", "/api/v1/watches/8800000001/track", nil, &tr); code != 200 || len(tr.Points) != 2 ||
		tr.Points[0].Lat != 52.520008 || tr.Points[0].Source != "gps" || tr.Distance != 0 {
		t.Fatalf("track: %d %+v", code, tr)
	}
	var days struct {
		Items []struct {
			Date   string `json:"date"`
			Points int    `json:"points"`
		} `json:"items"`
	}
	today := time.Now().UTC()
	dayPath := "/api/v1/watches/8800000001/days?tz=UTC&from=" + today.Add(-48*time.Hour).Format(time.RFC3339) + "&to=" + today.Add(time.Hour).Format(time.RFC3339)
	if code := api.call(viewer, "GET", dayPath, nil, &days); code != 200 || len(days.Items) == 0 || days.Items[len(days.Items)-1].Points < 1 {
		t.Fatalf("days: %d %+v", code, days)
	}
	if code := api.call(viewer, "GET", "/api/v1/watches/8800000001/days", nil, nil); code != 400 {
		t.Fatalf("days without a range: %d, want 400", code)
	}
	if code, body, h := api.raw(viewer, "GET", "/api/v1/watches/8800000001/track?format=gpx", "", nil); code != 200 ||
		strings.Count(string(body), "<trkpt") != 2 || h.Get("Content-Type") != "application/gpx+xml" {
		t.Fatalf("GPX: %d %s", code, body)
	}
	// Withdrawing takes one request, no password, and stops collection at once.
	if code := api.call(admin, "PUT", "/api/v1/watches/8800000001/consent", map[string]any{"withdraw": []string{"location"}}, &state); code != 200 || state.Purposes["location"] || !state.Purposes["service"] {
		t.Fatalf("withdraw: %d %v", code, state.Purposes)
	}
	w.send(udFrame(time.Now().Add(2*time.Second), 53.0, 13.0))
	w.send("LK")
	w.expect("LK")
	var history struct {
		Items []struct {
			Purpose string `json:"purpose"`
			Granted bool   `json:"granted"`
			By      string `json:"by"`
			Method  string `json:"method"`
		} `json:"items"`
	}
	if code := api.call(viewer, "GET", "/api/v1/watches/8800000001/consent/history", nil, &history); code != 200 || len(history.Items) != 3 ||
		history.Items[0].Purpose != "location" || history.Items[0].Granted || history.Items[2].Method != "reauthenticated" {
		t.Fatalf("consent history: %d %+v", code, history.Items)
	}
	time.Sleep(100 * time.Millisecond) // the writer's batch wait
	if got := positions(); len(got) != 2 {
		t.Fatalf("a position was stored after location consent was withdrawn: %v", got)
	}
}

type client struct {
	t    testing.TB
	base string
}

func (c *client) call(token, method, path string, body, out any) int {
	return c.callH(token, method, path, nil, body, out)
}

func (c *client) callH(token, method, path string, h http.Header, body, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	for k, v := range h {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	if testing.Verbose() && resp.StatusCode >= 300 {
		c.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

var tokenInMail = regexp.MustCompile(`token=([A-Za-z0-9_-]+)`)

// signUp creates a verified account through the API and returns a bearer token.
func (c *client) signUp(smtp *smtptest.Server, email, nick, policy string) string {
	c.t.Helper()
	if code := c.call("", "POST", "/api/v1/auth/signup", map[string]any{"email": email, "password": "correct horse battery", "nickname": nick, "accept_policy": policy, "age_confirmed": true}, nil); code != 202 {
		c.t.Fatalf("signup %s: %d", email, code)
	}
	m := smtp.Wait(c.t, email, 10*time.Second)
	tok := tokenInMail.FindStringSubmatch(m.Text)
	if tok == nil {
		c.t.Fatalf("no link in the verification mail: %q", m.Text)
	}
	if code := c.call("", "POST", "/api/v1/auth/verify-email", map[string]any{"token": tok[1]}, nil); code != 200 {
		c.t.Fatalf("verify %s: %d", email, code)
	}
	var login struct {
		Token string `json:"token"`
	}
	if code := c.call("", "POST", "/api/v1/auth/login", map[string]any{"login": email, "password": "correct horse battery", "session": "bearer"}, &login); code != 200 {
		c.t.Fatalf("login %s: %d", email, code)
	}
	return login.Token
}

type liveMessage struct {
	Seq     int64           `json:"seq"`
	Type    string          `json:"type"`
	WatchID string          `json:"watch_id"`
	Data    json.RawMessage `json:"data"`
}

type liveStream struct {
	ch chan liveMessage
}

func (c *client) stream(token string) *liveStream {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c.t.Cleanup(cancel)
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.base, "http")+"/api/v1/stream",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { conn.CloseNow() })
	s := &liveStream{ch: make(chan liveMessage, 1000)}
	go func() {
		defer close(s.ch)
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var m liveMessage
			if json.Unmarshal(b, &m) == nil {
				s.ch <- m
			}
		}
	}()
	return s
}

// next returns the next message of one of the types, skipping others.
func (s *liveStream) next(t *testing.T, types ...string) liveMessage {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-s.ch:
			if !ok {
				t.Fatalf("stream closed waiting for %v", types)
			}
			for _, typ := range types {
				if m.Type == typ {
					return m
				}
			}
		case <-timeout:
			t.Fatalf("no %v message on the stream", types)
		}
	}
}

func waitFor(t testing.TB, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// rawWatch is a watch reduced to its wire protocol, driven step by step by the test.
type rawWatch struct {
	t    testing.TB
	id   string
	conn net.Conn
	mu   sync.Mutex
	in   chan string // contents of frames from the server
}

func dialWatch(t testing.TB, addr, id string) *rawWatch {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	w := &rawWatch{t: t, id: id, conn: conn, in: make(chan string, 100)}
	go func() {
		defer close(w.in)
		f := watchproto.NewFramer(1 << 16)
		r := bufio.NewReader(conn)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			if err != nil {
				return
			}
			f.Feed(buf[:n], func(frame []byte) error {
				// [SG*id*LEN*content]: this watch sends no index, so neither does the server.
				inner := strings.TrimSuffix(strings.TrimPrefix(string(frame), "["), "]")
				if parts := strings.SplitN(inner, "*", 4); len(parts) == 4 {
					w.in <- parts[3]
				}
				return nil
			})
		}
	}()
	return w
}

func (w *rawWatch) send(content string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.conn.Write(watchproto.AppendFrame(nil, "SG", w.id, "", []byte(content))); err != nil {
		w.t.Fatal(err)
	}
}

// expect returns the next frame from the server whose content starts with keyword, skipping others.
func (w *rawWatch) expect(keyword string) string {
	w.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case c, ok := <-w.in:
			if !ok {
				w.t.Fatalf("connection closed waiting for %s", keyword)
			}
			if c == keyword || strings.HasPrefix(c, keyword+",") {
				return c
			}
		case <-timeout:
			w.t.Fatalf("no %s frame from the server", keyword)
		}
	}
}

func udFrame(at time.Time, lat, lon float64) string {
	at = at.UTC()
	return fmt.Sprintf("UD,%s,%s,A,%.6f,N,%.6f,E,0.00,0.0,0.0,9,100,80,120,0,00000000,0,0,262,1,,,00",
		at.Format("020106"), at.Format("150405"), lat, lon)
}

func decodeUTF16Hex(t testing.TB, s string) string {
	b, err := hex.DecodeString(s)
	if err != nil || len(b)%2 != 0 {
		t.Fatalf("not UTF-16 hex: %q", s)
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return string(utf16.Decode(u))
}
