package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"kinwatch"
	"kinwatch/account"
	"kinwatch/app"
	"kinwatch/config"
	"kinwatch/fence"
	"kinwatch/httpapi"
	"kinwatch/mail"
	"kinwatch/postgres/pgtest"
)

// world is two families with everything a family can own, built straight in the store, and the
// API of a whole kinwatch process in front of it.
type world struct {
	t    *testing.T
	app  *app.App
	base string

	// Family A's objects; family B's admin tries to reach each of them.
	aWatch, aFamily, aCommand, aMedia, aInvitation, aRequest, aChallenge, aSession, aExport, aNotice, aPosition, aEvent string
	aAdmin, aViewer, aGuardian, outsider                                                                                *kinwatch.Account
	bWatch, bFamily                                                                                                     string
	bAdmin                                                                                                              *kinwatch.Account
	tokens                                                                                                              map[string]string // account id → bearer token

	aFence string // family A's safe zone
	// A's admin's browser subscription and A's webhook.
	aSubscription, aWebhook string
}

func startWorld(t *testing.T, databaseURL string) *world {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.WatchAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DatabaseURL = databaseURL
	cfg.LogLevel = "warn"
	a := app.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a.Argon2 = account.Argon2Params{Memory: 64, Time: 1, Parallelism: 1}
	a.Mailer = discardMailer{}
	a.NotifyClient = noNetwork()
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	w := &world{t: t, app: a, base: "http://" + a.HTTPAddr().String(), tokens: map[string]string{}}
	ctx := context.Background()
	st := a.Store
	now := time.Now().UTC().Truncate(time.Microsecond)

	w.aAdmin, w.aViewer, w.aGuardian = w.account("a-admin"), w.account("a-viewer"), w.account("a-guardian")
	w.outsider, w.bAdmin = w.account("outsider"), w.account("b-admin")
	w.aWatch, w.bWatch = "8800000101", "8800000202"
	w.aFamily, w.bFamily = w.family(w.aAdmin, w.aWatch), w.family(w.bAdmin, w.bWatch)
	for _, m := range []*kinwatch.Member{
		{FamilyID: w.aFamily, AccountID: w.aViewer.ID, Role: kinwatch.RoleViewer, JoinedAt: now},
		{FamilyID: w.aFamily, AccountID: w.aGuardian.ID, Role: kinwatch.RoleGuardian, JoinedAt: now},
	} {
		if err := st.AddMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// What family A's watch has: a position, an event, a photo, a command, a child profile.
	w.aMedia, w.aPosition, w.aEvent = kinwatch.NewID(), kinwatch.NewTimeID(now), kinwatch.NewTimeID(now)
	must(a.Blobs.Put(ctx, "test/"+w.aMedia, []byte("\xff\xd8photo")))
	must(st.WriteBatch(ctx, []kinwatch.Record{
		{Position: &kinwatch.Position{ID: w.aPosition, DeviceID: w.aWatch, Type: "UD", Time: now, Received: now, Valid: true,
			Source: kinwatch.SourceGPS, Lat: 52.5, Lon: 13.4, HasCoords: true}},
		{Event: &kinwatch.Event{ID: w.aEvent, DeviceID: w.aWatch, Time: now, Type: kinwatch.EventAlarm, Alarm: "sos"}},
		{Media: &kinwatch.Media{ID: w.aMedia, DeviceID: w.aWatch, Kind: kinwatch.MediaImage, ContentType: "image/jpeg",
			Key: "test/" + w.aMedia, Size: 7, Time: now}},
	}))
	cmd := &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: w.aWatch, Keyword: "CR", Content: []byte("CR"), ExpiresAt: now.Add(time.Hour)}
	must(st.EnqueueCommand(ctx, cmd))
	w.aCommand = cmd.ID
	must(st.PutChildProfile(ctx, w.aFamily, &kinwatch.ChildProfile{DeviceID: w.aWatch, Name: "Mia", UpdatedAt: now}))
	// Pictures: the child's and a member's, so a 404 to family B is not just "there is none".
	if _, err := a.Families.SetChildAvatar(ctx, w.aAdmin.ID, w.aWatch, testPNG(t), "image/png"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Accounts.SetAvatar(ctx, w.aViewer.ID, testPNG(t), "image/png"); err != nil {
		t.Fatal(err)
	}
	inv := &kinwatch.Invitation{ID: kinwatch.NewID(), FamilyID: w.aFamily, CodeHash: []byte("0123456789abcdef0123456789abcdef"),
		Role: kinwatch.RoleGuardian, CreatedBy: w.aAdmin.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour), UsesLeft: 1}
	must(st.CreateInvitation(ctx, inv))
	w.aInvitation = inv.ID
	jr := &kinwatch.JoinRequest{ID: kinwatch.NewID(), FamilyID: w.aFamily, AccountID: w.outsider.ID, DeviceID: w.aWatch, CreatedAt: now}
	must(st.CreateJoinRequest(ctx, jr))
	w.aRequest = jr.ID
	// A binding in progress by A's admin, of a pending watch.
	must(st.WriteBatch(ctx, []kinwatch.Record{{Device: &kinwatch.DeviceUpdate{ID: "8800000303", Time: now}}}))
	ch := &kinwatch.BindChallenge{ID: kinwatch.NewID(), DeviceID: "8800000303", AccountID: w.aAdmin.ID, CodeHash: make([]byte, 32),
		CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	must(st.CreateBindChallenge(ctx, ch))
	w.aChallenge = ch.ID
	// A ready export of A's admin, whose link B does not hold.
	exp := &kinwatch.ExportJob{ID: kinwatch.NewID(), AccountID: w.aAdmin.ID, State: kinwatch.ExportReady, TokenHash: make([]byte, 32),
		BlobKey: "exports/" + w.aAdmin.ID + "/x.zip", CreatedAt: now, FinishedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(st.CreateExportJob(ctx, exp))
	w.aExport = exp.ID
	// An incident notice addressed to A's admin only.
	n := &kinwatch.Notice{ID: kinwatch.NewID(), Kind: kinwatch.NoticeIncident, Title: "Incident for A", Body: "What happened: only A's admin is told.",
		CreatedAt: now, CreatedBy: "test"}
	must(st.CreateNotice(ctx, n, []string{w.aAdmin.ID}))
	w.aNotice = n.ID
	// A safe zone around the child's school.
	def, err := fence.Encode(fence.Fence{Name: "Mia's school", Shape: fence.Shape{Circle: &fence.Circle{Center: fence.LatLon{Lat: 52.5, Lon: 13.4}, Radius: 100}}})
	must(err)
	w.aFence = kinwatch.NewID()
	must(st.PutFence(ctx, w.aFamily, &kinwatch.GeoFence{ID: w.aFence, DeviceID: w.aWatch, Definition: def, CreatedAt: now}))
	// Notifications: a browser of A's admin and a webhook of A's family.
	sub := &kinwatch.PushSubscription{ID: kinwatch.NewID(), AccountID: w.aAdmin.ID, Endpoint: "https://push.example.org/a",
		P256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM", Auth: "tBHItJI5svbpez7KI4CCXg"}
	must(st.AddPushSubscription(ctx, sub))
	w.aSubscription = sub.ID
	hook := &kinwatch.Webhook{ID: kinwatch.NewID(), FamilyID: w.aFamily, Name: "A's Home Assistant", URL: "https://ha.example.org/a", Secret: "s", CreatedAt: now}
	must(st.AddWebhook(ctx, hook))
	w.aWebhook = hook.ID

	for _, acc := range []*kinwatch.Account{w.aAdmin, w.aViewer, w.aGuardian, w.outsider, w.bAdmin} {
		var out struct {
			Token   string `json:"token"`
			Session struct {
				ID string `json:"id"`
			} `json:"session"`
		}
		if code, body := w.do(nil, "POST", "/api/v1/auth/login", map[string]any{"login": acc.Email, "password": "correct horse battery"}, &out); code != 200 {
			t.Fatalf("login %s: %d %s", acc.Email, code, body)
		}
		w.tokens[acc.ID] = out.Token
		if acc == w.aAdmin {
			w.aSession = out.Session.ID
		}
	}
	return w
}

// noNetwork is an HTTP client for the notifications that reaches nothing: the world's browser
// and webhook addresses are not on loopback, and tests never leave the machine.
func noNetwork() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("no network in tests")
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type discardMailer struct{}

func (discardMailer) Send(context.Context, mail.Message) error { return nil }

func (w *world) account(name string) *kinwatch.Account {
	w.t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	hash, err := account.HashPassword("correct horse battery", account.Argon2Params{Memory: 64, Time: 1, Parallelism: 1})
	if err != nil {
		w.t.Fatal(err)
	}
	a := &kinwatch.Account{ID: kinwatch.NewID(), Email: name + "@example.org", EmailVerifiedAt: now, PasswordHash: hash,
		Profile: kinwatch.Profile{Nickname: name}, Preferences: account.DefaultPreferences, CreatedAt: now, UpdatedAt: now}
	if err := w.app.Store.CreateAccount(context.Background(), a); err != nil {
		w.t.Fatal(err)
	}
	return a
}

func (w *world) family(admin *kinwatch.Account, watch string) string {
	w.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := w.app.Store.WriteBatch(ctx, []kinwatch.Record{{Device: &kinwatch.DeviceUpdate{ID: watch, Time: now}}}); err != nil {
		w.t.Fatal(err)
	}
	id := kinwatch.NewID()
	err := w.app.Store.Bind(ctx, &kinwatch.Binding{DeviceID: watch, FamilyID: id, At: now,
		NewFamily: &kinwatch.Family{ID: id, Name: admin.Profile.Nickname + " family", CreatedAt: now},
		Admin:     &kinwatch.Member{FamilyID: id, AccountID: admin.ID, Role: kinwatch.RoleAdmin, JoinedAt: now}})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := app.SeedConsent(ctx, w.app.Store, id, admin.ID, watch, "test"); err != nil {
		w.t.Fatal(err)
	}
	return id
}

// do calls the API as acc (nil: anonymous) and returns the status and body.
func (w *world) do(acc *kinwatch.Account, method, path string, body, out any) (int, string) {
	w.t.Helper()
	var rd io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte: // a picture
		rd, contentType = bytes.NewReader(b), "image/png"
	default:
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, w.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if acc != nil {
		req.Header.Set("Authorization", "Bearer "+w.tokens[acc.ID])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		json.Unmarshal(b, out)
	}
	return resp.StatusCode, string(b)
}

// fill substitutes family A's objects into a documented path.
func (w *world) fill(path string) string {
	return strings.NewReplacer(
		"{watch}", w.aWatch, "{family}", w.aFamily, "{command}", w.aCommand, "{media}", w.aMedia, "{position}", w.aPosition, "{event}", w.aEvent,
		"{invitation}", w.aInvitation, "{request}", w.aRequest, "{binding}", w.aChallenge,
		"{session}", w.aSession, "{account}", w.aViewer.ID, "{provider}", "mock", "{export}", w.aExport,
		"{notice}", w.aNotice,
		"{fence}", w.aFence, "{subscription}", w.aSubscription, "{webhook}", w.aWebhook,
	).Replace(path)
}

// documented lists the operations of the OpenAPI document as "METHOD path".
func documented(t *testing.T) []string {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(httpapi.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for p, item := range doc.Paths {
		for m := range item {
			switch m {
			case "get", "put", "post", "delete", "patch", "head", "options":
				ops = append(ops, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(ops)
	return ops
}

// authzCase says how one route is proven safe across families.
type authzCase struct {
	body any
	// scoped routes name one of family A's objects: family B's admin must get 403 or 404.
	// Unscoped routes act on the caller's own things: they must answer without any of A's ids.
	scoped bool
	// public routes need no session; nothing of A's may show either.
	public bool
}

// cases covers every documented operation; a route missing here fails the test, so a new route
// cannot ship without its cross-family check.
func (w *world) cases() map[string]authzCase {
	name := "x"
	// A valid safe zone: only the access check stands between family B and family A's watch.
	fenceBody := map[string]any{"name": name, "circle": map[string]any{"lat": 48.1, "lon": 11.5, "radius_m": 100}}
	return map[string]authzCase{
		"GET /api/v1/openapi.json":                                       {public: true},
		"GET /api/v1/policy":                                             {public: true},
		"POST /api/v1/auth/signup":                                       {public: true, body: map[string]any{"email": "new@example.org", "password": "correct horse battery", "nickname": "N", "accept_policy": "wrong"}},
		"POST /api/v1/auth/verify-email":                                 {public: true, body: map[string]any{"token": "nope"}},
		"POST /api/v1/auth/verify-email/resend":                          {public: true, body: map[string]any{"login": w.aAdmin.Email}},
		"POST /api/v1/auth/login":                                        {public: true, body: map[string]any{"login": w.aAdmin.Email, "password": "wrong password"}},
		"POST /api/v1/auth/password-reset":                               {public: true, body: map[string]any{"login": w.aAdmin.Email}},
		"POST /api/v1/auth/password-reset/confirm":                       {public: true, body: map[string]any{"token": "nope", "password": "correct horse battery"}},
		"GET /api/v1/auth/providers":                                     {public: true},
		"GET /api/v1/auth/oidc/{provider}/start":                         {public: true},
		"GET /api/v1/auth/oidc/{provider}/callback":                      {public: true},
		"POST /api/v1/auth/logout":                                       {},
		"GET /api/v1/me":                                                 {},
		"PATCH /api/v1/me":                                               {body: map[string]any{"bio": "hello"}},
		"PUT /api/v1/me/password":                                        {body: map[string]any{"current_password": "correct horse battery", "new_password": "another long passphrase"}},
		"POST /api/v1/me/email":                                          {body: map[string]any{"password": "wrong password", "email": w.aAdmin.Email}},
		"GET /api/v1/me/avatar":                                          {},
		"PUT /api/v1/me/avatar":                                          {body: testPNG(w.t)},
		"DELETE /api/v1/me/avatar":                                       {},
		"GET /api/v1/families/{family}/members/{account}/avatar":         {scoped: true},
		"GET /api/v1/me/sessions":                                        {},
		"DELETE /api/v1/me/sessions":                                     {},
		"DELETE /api/v1/me/sessions/{session}":                           {scoped: true},
		"POST /api/v1/me/exports":                                        {},
		"GET /api/v1/me/exports":                                         {},
		"GET /api/v1/me/exports/{export}":                                {scoped: true},
		"POST /api/v1/me/exports/{export}/link":                          {scoped: true},
		"GET /api/v1/exports/{export}/download":                          {public: true},
		"GET /api/v1/me/cancellation":                                    {},
		"POST /api/v1/me/cancellation":                                   {body: map[string]any{"password": "wrong password", "confirm": "delete my account"}},
		"GET /api/v1/me/consent":                                         {},
		"PUT /api/v1/me/consent":                                         {body: map[string]any{"withdraw": []string{"marketing"}}},
		"GET /api/v1/me/consent/history":                                 {},
		"GET /api/v1/me/notices":                                         {},
		"POST /api/v1/me/notices/{notice}/read":                          {scoped: true},
		"GET /api/v1/me/identities":                                      {},
		"DELETE /api/v1/me/identities/{provider}":                        {scoped: true},
		"GET /api/v1/families":                                           {},
		"GET /api/v1/families/{family}":                                  {scoped: true},
		"PATCH /api/v1/families/{family}":                                {scoped: true, body: map[string]any{"name": name}},
		"GET /api/v1/families/{family}/members":                          {scoped: true},
		"GET /api/v1/families/{family}/retention":                        {scoped: true},
		"PUT /api/v1/families/{family}/retention":                        {scoped: true, body: map[string]any{"location_history": 1}},
		"PATCH /api/v1/families/{family}/members/{account}":              {scoped: true, body: map[string]any{"relation": name}},
		"DELETE /api/v1/families/{family}/members/{account}":             {scoped: true},
		"POST /api/v1/families/{family}/admin":                           {scoped: true, body: map[string]any{"account_id": w.bAdmin.ID}},
		"GET /api/v1/families/{family}/invitations":                      {scoped: true},
		"POST /api/v1/families/{family}/invitations":                     {scoped: true, body: map[string]any{"role": "viewer"}},
		"DELETE /api/v1/families/{family}/invitations/{invitation}":      {scoped: true},
		"GET /api/v1/families/{family}/join-requests":                    {scoped: true},
		"POST /api/v1/families/{family}/join-requests/{request}/approve": {scoped: true, body: map[string]any{"role": "guardian"}},
		"DELETE /api/v1/families/{family}/join-requests/{request}":       {scoped: true},
		"POST /api/v1/invitations/accept":                                {body: map[string]any{"code": "AAAA-BBBB-CCCC-DDDD"}},
		"POST /api/v1/bindings":                                          {scoped: true, body: map[string]any{"code": "8800000303", "family_id": w.aFamily}},
		"POST /api/v1/bindings/{binding}/confirm":                        {scoped: true, body: map[string]any{"code": "123456"}},
		"GET /api/v1/watches":                                            {},
		"GET /api/v1/watches/{watch}":                                    {scoped: true},
		"DELETE /api/v1/watches/{watch}":                                 {scoped: true},
		"GET /api/v1/watches/{watch}/child":                              {scoped: true},
		"PATCH /api/v1/watches/{watch}/child":                            {scoped: true, body: map[string]any{"name": name}},
		"GET /api/v1/watches/{watch}/child/avatar":                       {scoped: true},
		"PUT /api/v1/watches/{watch}/child/avatar":                       {scoped: true, body: testPNG(w.t)},
		"DELETE /api/v1/watches/{watch}/child/avatar":                    {scoped: true},
		"GET /api/v1/watches/{watch}/consent":                            {scoped: true},
		"PUT /api/v1/watches/{watch}/consent":                            {scoped: true, body: map[string]any{"withdraw": []string{"location"}}},
		"GET /api/v1/watches/{watch}/consent/history":                    {scoped: true},
		"GET /api/v1/push/key":                                           {public: true},
		"POST /api/v1/notifications/block":                               {public: true, body: map[string]any{"token": "nope"}},
		"GET /api/v1/watches/{watch}/events/{event}/deliveries":          {scoped: true},
		"GET /api/v1/me/push-subscriptions":                              {},
		"POST /api/v1/me/push-subscriptions":                             {body: map[string]any{"endpoint": "https://push.example.org/b", "keys": map[string]any{"p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM", "auth": "tBHItJI5svbpez7KI4CCXg"}}},
		"DELETE /api/v1/me/push-subscriptions/{subscription}":            {scoped: true},
		"POST /api/v1/me/push-subscriptions/{subscription}/test":         {scoped: true},
		"GET /api/v1/me/notification-preferences":                        {},
		"PUT /api/v1/me/notification-preferences":                        {body: map[string]any{"channels": map[string]any{"fall": []string{"email"}}}},
		"GET /api/v1/families/{family}/webhooks":                         {scoped: true},
		"POST /api/v1/families/{family}/webhooks":                        {scoped: true, body: map[string]any{"name": "x", "url": "https://example.org/hook"}},
		"DELETE /api/v1/families/{family}/webhooks/{webhook}":            {scoped: true},
		"POST /api/v1/families/{family}/webhooks/{webhook}/test":         {scoped: true},
		"GET /api/v1/watches/{watch}/fences":                             {scoped: true},
		"POST /api/v1/watches/{watch}/fences":                            {scoped: true, body: fenceBody},
		"GET /api/v1/watches/{watch}/fences/{fence}":                     {scoped: true},
		"PUT /api/v1/watches/{watch}/fences/{fence}":                     {scoped: true, body: fenceBody},
		"DELETE /api/v1/watches/{watch}/fences/{fence}":                  {scoped: true},
		"GET /api/v1/positions/latest":                                   {},
		"GET /api/v1/watches/{watch}/positions":                          {scoped: true},
		"GET /api/v1/watches/{watch}/positions/latest":                   {scoped: true},
		"GET /api/v1/watches/{watch}/track":                              {scoped: true},
		"GET /api/v1/watches/{watch}/days":                               {scoped: true},
		"GET /api/v1/watches/{watch}/events":                             {scoped: true},
		"GET /api/v1/watches/{watch}/health":                             {scoped: true},
		"GET /api/v1/watches/{watch}/commands":                           {scoped: true},
		"POST /api/v1/watches/{watch}/commands":                          {scoped: true, body: map[string]any{"type": "locate_now"}},
		"GET /api/v1/watches/{watch}/commands/{command}":                 {scoped: true},
		"GET /api/v1/watches/{watch}/media":                              {scoped: true},
		"GET /api/v1/watches/{watch}/media/{media}":                      {scoped: true},
		"DELETE /api/v1/watches/{watch}/media/{media}":                   {scoped: true},
		"DELETE /api/v1/watches/{watch}/positions":                       {scoped: true},
		"DELETE /api/v1/watches/{watch}/positions/{position}":            {scoped: true},
		"DELETE /api/v1/watches/{watch}/events":                          {scoped: true},
		"DELETE /api/v1/watches/{watch}/events/{event}":                  {scoped: true},
		"DELETE /api/v1/watches/{watch}/health":                          {scoped: true},
		"GET /api/v1/families/{family}/access-log":                       {scoped: true},
		"GET /api/v1/watches/{watch}/media/{media}/content":              {scoped: true},
		"GET /api/v1/stream":                                             {},
		"GET /api/v1/admin/accounts":                                     {scoped: true},
		"GET /api/v1/admin/watches":                                      {scoped: true},
		"GET /api/v1/admin/watches/{watch}/qrcode":                       {scoped: true},
	}
}

func TestTwoFamilies(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { twoFamilies(t, "") })
	t.Run("postgres", func(t *testing.T) { twoFamilies(t, pgtest.URL(t)) })
}

func twoFamilies(t *testing.T, databaseURL string) {
	w := startWorld(t, databaseURL)
	cases := w.cases()
	ops := documented(t)
	if len(ops) == 0 {
		t.Fatal("the OpenAPI document lists no operations")
	}
	secrets := []string{w.aWatch, w.aFamily, w.aCommand, w.aMedia, w.aInvitation, w.aRequest, w.aChallenge, w.aSession,
		w.aAdmin.ID, w.aAdmin.Email, w.aViewer.ID, "Mia", "52.5", w.aNotice, "Incident for A"}
	for _, op := range ops {
		tc, ok := cases[op]
		if !ok {
			t.Errorf("%s: no cross-family case; add one to cases()", op)
			continue
		}
		delete(cases, op)
		method, path, _ := strings.Cut(op, " ")
		if path == "/api/v1/stream" || strings.HasSuffix(path, "/logout") || path == "/api/v1/me/sessions" && method == "DELETE" {
			continue // checked below: the stream over WebSocket, logouts last
		}
		caller := w.bAdmin
		if tc.public {
			caller = nil
		}
		code, body := w.do(caller, method, w.fill(path), tc.body, nil)
		switch {
		case tc.scoped && code != 403 && code != 404:
			t.Errorf("%s as family B: status %d, want 403 or 404: %.200s", op, code, body)
		case code >= 500:
			t.Errorf("%s: status %d: %.200s", op, code, body)
		}
		if op == "GET /api/v1/openapi.json" {
			continue
		}
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("%s as family B: the response shows family A's %q: %.300s", op, s, body)
			}
		}
	}
	for op := range cases {
		t.Errorf("case %s is not a documented operation", op)
	}
	w.checkFamilyAIntact()
	w.checkStream()
	w.checkRoles()
	// Logging out everywhere ends family B's sessions only.
	if code, _ := w.do(w.bAdmin, "DELETE", "/api/v1/me/sessions", nil, nil); code != 200 {
		t.Errorf("log out everywhere: %d", code)
	}
	if code, _ := w.do(w.bAdmin, "GET", "/api/v1/me", nil, nil); code != 401 {
		t.Errorf("after logging out everywhere: %d, want 401", code)
	}
	if code, _ := w.do(w.aAdmin, "POST", "/api/v1/auth/logout", nil, nil); code != 204 {
		t.Errorf("logout: %d", code)
	}
	if code, _ := w.do(w.aViewer, "GET", "/api/v1/me", nil, nil); code != 200 {
		t.Errorf("another account's logout ended this session: %d", code)
	}
}

// checkFamilyAIntact: nothing family B tried changed family A.
func (w *world) checkFamilyAIntact() {
	t := w.t
	ctx := context.Background()
	st := w.app.Store
	if acc, err := st.WatchAccess(ctx, w.aAdmin.ID, w.aWatch); err != nil || acc.Role != kinwatch.RoleAdmin {
		t.Errorf("A's admin lost the watch: %+v %v", acc, err)
	}
	if m, err := st.Member(ctx, w.aFamily, w.aViewer.ID); err != nil || m.Role != kinwatch.RoleViewer || m.Relation != "" {
		t.Errorf("A's viewer changed: %+v %v", m, err)
	}
	if f, err := st.Family(ctx, w.aFamily); err != nil || f.Name == "x" {
		t.Errorf("A's family renamed: %+v %v", f, err)
	}
	if invs, err := st.Invitations(ctx, w.aFamily); err != nil || len(invs) != 1 {
		t.Errorf("A's invitations: %d %v", len(invs), err)
	}
	if rs, err := st.JoinRequests(ctx, w.aFamily); err != nil || len(rs) != 1 {
		t.Errorf("A's join requests: %d %v", len(rs), err)
	}
	if ps, err := st.Positions(ctx, kinwatch.PositionFilter{DeviceID: w.aWatch}); err != nil || len(ps) != 1 {
		t.Errorf("A's positions: %d %v", len(ps), err)
	}
	if es, err := st.Events(ctx, kinwatch.EventFilter{DeviceID: w.aWatch, Type: kinwatch.EventAlarm}); err != nil || len(es) != 1 {
		t.Errorf("A's alarms: %d %v", len(es), err)
	}
	if ms, err := st.MediaList(ctx, w.aWatch, kinwatch.Page{}); err != nil || len(ms) != 1 {
		t.Errorf("A's media: %d %v", len(ms), err)
	}
	if d, err := st.Device(ctx, w.aWatch); err != nil || !slices.Equal(d.Consent.List(), kinwatch.ChildPurposes) {
		t.Errorf("A's consent changed: %+v %v", d, err)
	}
	if p, err := st.ChildProfile(ctx, w.aWatch); err != nil || p.Name != "Mia" || p.Avatar == "" {
		t.Errorf("A's child profile: %+v %v", p, err)
	}
	if a, err := st.Account(ctx, w.aViewer.ID); err != nil || a.Profile.Avatar == "" {
		t.Errorf("A's viewer's picture: %+v %v", a, err)
	}
	if cs, err := st.Commands(ctx, w.aWatch, 0, 10); err != nil || len(cs) != 1 {
		t.Errorf("A's commands: %d %v", len(cs), err)
	}
	if ns, err := st.AccountNotices(ctx, w.aAdmin.ID, 10); err != nil || len(ns) != 1 || !ns[0].ReadAt.IsZero() {
		t.Errorf("A's notice was marked read by family B: %+v %v", ns, err)
	}
	if code, _ := w.do(w.aAdmin, "GET", "/api/v1/me", nil, nil); code != 200 {
		t.Errorf("A's admin session was revoked by family B: %d", code)
	}
	if fs, err := st.Fences(ctx, w.aWatch); err != nil || len(fs) != 1 || fs[0].ID != w.aFence || !strings.Contains(string(fs[0].Definition), "Mia's school") {
		t.Errorf("A's safe zones: %d %v", len(fs), err)
	}
	if subs, err := st.PushSubscriptions(ctx, w.aAdmin.ID); err != nil || len(subs) != 1 || subs[0].ID != w.aSubscription {
		t.Errorf("A's push subscriptions: %d %v", len(subs), err)
	}
	if hooks, err := st.Webhooks(ctx, w.aFamily); err != nil || len(hooks) != 1 || hooks[0].ID != w.aWebhook {
		t.Errorf("A's webhooks: %d %v", len(hooks), err)
	}
	if p, err := st.NotificationPrefs(ctx, w.aAdmin.ID); err != nil || len(p.Channels) != 0 {
		t.Errorf("A's notification preferences changed: %+v %v", p, err)
	}
}

// checkStream: family B's live stream carries nothing of family A's watch.
func (w *world) checkStream() {
	t := w.t
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func(acc *kinwatch.Account) *websocket.Conn {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(w.base, "http")+"/api/v1/stream",
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + w.tokens[acc.ID]}}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := dial(w.aViewer), dial(w.bAdmin)
	defer a.CloseNow()
	defer b.CloseNow()
	// Anonymous: refused before any upgrade.
	if _, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(w.base, "http")+"/api/v1/stream", nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("anonymous stream: %v", err)
	}
	now := time.Now().UTC()
	for _, dev := range []string{w.aWatch, w.bWatch} {
		w.app.Bus.Publish(ctx, []kinwatch.Record{{Position: &kinwatch.Position{ID: kinwatch.NewTimeID(now), DeviceID: dev, Type: "UD",
			Time: now, Received: now, Valid: true, Source: kinwatch.SourceGPS, Lat: 48.1, Lon: 11.5, HasCoords: true}}}, true)
	}
	read := func(c *websocket.Conn, want string) {
		for {
			_, msg, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("waiting for %s's position: %v", want, err)
			}
			var m struct {
				Type    string `json:"type"`
				WatchID string `json:"watch_id"`
			}
			json.Unmarshal(msg, &m)
			if m.WatchID != "" && m.WatchID != want {
				t.Fatalf("stream of %s's family carried %s: %s", want, m.WatchID, msg)
			}
			if m.Type == "position" {
				return
			}
		}
	}
	read(a, w.aWatch)
	read(b, w.bWatch)
}

// checkRoles: within family A, a viewer only looks and a guardian does not administer.
func (w *world) checkRoles() {
	t := w.t
	for _, tc := range []struct {
		who          *kinwatch.Account
		method, path string
		body         any
		want         int
	}{
		{w.aViewer, "POST", "/api/v1/watches/{watch}/commands", map[string]any{"type": "locate_now"}, 403},
		{w.aViewer, "PATCH", "/api/v1/watches/{watch}/child", map[string]any{"name": "x"}, 403},
		{w.aViewer, "PUT", "/api/v1/watches/{watch}/child/avatar", testPNG(w.t), 403},
		{w.aViewer, "DELETE", "/api/v1/watches/{watch}/child/avatar", nil, 403},
		{w.aViewer, "DELETE", "/api/v1/watches/{watch}/positions/{position}", nil, 403},
		{w.aViewer, "DELETE", "/api/v1/watches/{watch}/media/{media}", nil, 403},
		{w.aViewer, "GET", "/api/v1/families/{family}/access-log", nil, 200},
		{w.aViewer, "PUT", "/api/v1/watches/{watch}/consent", map[string]any{"withdraw": []string{"location"}}, 403},
		{w.aViewer, "GET", "/api/v1/watches/{watch}/consent/history", nil, 200},
		{w.aViewer, "GET", "/api/v1/watches/{watch}/child/avatar", nil, 200},
		{w.aGuardian, "GET", "/api/v1/families/{family}/members/{account}/avatar", nil, 200}, // {account} is the viewer
		{w.aViewer, "DELETE", "/api/v1/watches/{watch}", nil, 403},
		{w.aViewer, "POST", "/api/v1/families/{family}/invitations", map[string]any{"role": "viewer"}, 403},
		{w.aGuardian, "DELETE", "/api/v1/watches/{watch}", nil, 403},
		{w.aGuardian, "GET", "/api/v1/families/{family}/join-requests", nil, 403},
		{w.aGuardian, "PUT", "/api/v1/families/{family}/retention", map[string]any{"location_history": 1}, 403},
		{w.aViewer, "GET", "/api/v1/families/{family}/retention", nil, 200},
		{w.aGuardian, "PATCH", "/api/v1/families/{family}/members/{account}", map[string]any{"role": "guardian"}, 403},
		{w.aGuardian, "GET", "/api/v1/admin/accounts", nil, 403},
		{w.aViewer, "GET", "/api/v1/watches/{watch}/positions/latest", nil, 200},
		{w.aViewer, "GET", "/api/v1/families/{family}/members", nil, 200},
		{w.aGuardian, "POST", "/api/v1/watches/{watch}/commands", map[string]any{"type": "locate_now"}, 202},
		{w.aViewer, "GET", "/api/v1/watches/{watch}/fences", nil, 200},
		{w.aViewer, "GET", "/api/v1/watches/{watch}/fences/{fence}", nil, 200},
		{w.aViewer, "POST", "/api/v1/watches/{watch}/fences", map[string]any{"name": "x", "circle": map[string]any{"lat": 48.1, "lon": 11.5, "radius_m": 100}}, 403},
		{w.aViewer, "PUT", "/api/v1/watches/{watch}/fences/{fence}", map[string]any{"name": "x", "circle": map[string]any{"lat": 48.1, "lon": 11.5, "radius_m": 100}}, 403},
		{w.aViewer, "PUT", "/api/v1/watches/{watch}/fences/{fence}", map[string]any{"bogus": true}, 403}, // access before the body
		{w.aViewer, "DELETE", "/api/v1/watches/{watch}/fences/{fence}", nil, 403},
		{w.aGuardian, "PUT", "/api/v1/watches/{watch}/fences/{fence}", map[string]any{"name": "School", "circle": map[string]any{"lat": 48.1, "lon": 11.5, "radius_m": 100}}, 200},
		// Family B's own watch with family A's safe zone's id: not found, and not created under B's
		// watch by the PUT.
		{w.bAdmin, "PUT", "/api/v1/watches/" + w.bWatch + "/fences/{fence}", map[string]any{"name": "x", "circle": map[string]any{"lat": 48.1, "lon": 11.5, "radius_m": 100}}, 404},
		{w.bAdmin, "GET", "/api/v1/watches/" + w.bWatch + "/fences/{fence}", nil, 404},
		{w.bAdmin, "DELETE", "/api/v1/watches/" + w.bWatch + "/fences/{fence}", nil, 404},
	} {
		if code, body := w.do(tc.who, tc.method, w.fill(tc.path), tc.body, nil); code != tc.want {
			t.Errorf("%s %s %s: status %d, want %d: %.200s", tc.who.Profile.Nickname, tc.method, tc.path, code, tc.want, body)
		}
	}
}

// testPNG is a small valid picture.
func testPNG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 32, 32))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
