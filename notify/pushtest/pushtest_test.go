package pushtest_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"kinwatch/notify/pushtest"
)

// subscriber is the VAPID contact. webpush-go v1.4.0 puts "mailto:" in front of anything not
// starting with "https:", so it must be given the bare address (see TestDoubleMailtoIsRefused).
const subscriber = "ops@example.invalid"

type vapidKeys struct{ pub, priv string }

func newVAPID(t testing.TB) vapidKeys {
	t.Helper()
	priv, pub, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	return vapidKeys{pub: pub, priv: priv}
}

func options(k vapidKeys) *webpush.Options {
	return &webpush.Options{Subscriber: subscriber, VAPIDPublicKey: k.pub, VAPIDPrivateKey: k.priv, TTL: 60}
}

func toWebpush(s pushtest.Subscription) *webpush.Subscription {
	return &webpush.Subscription{Endpoint: s.Endpoint, Keys: webpush.Keys{P256dh: s.P256dh, Auth: s.Auth}}
}

// send pushes payload with webpush-go and returns the response, its body read.
func send(t *testing.T, sub pushtest.Subscription, payload []byte, o *webpush.Options) (*http.Response, string) {
	t.Helper()
	resp, err := webpush.SendNotificationWithContext(t.Context(), payload, toWebpush(sub), o)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestSubscribeLooksLikeABrowserSubscription(t *testing.T) {
	srv := pushtest.New(t)
	a, b := srv.Subscribe(), srv.Subscribe()
	if a.Endpoint == b.Endpoint || a.P256dh == b.P256dh || a.Auth == b.Auth {
		t.Fatalf("two subscriptions share an endpoint or keys: %+v %+v", a, b)
	}
	if !strings.HasPrefix(a.Endpoint, srv.URL+"/") || !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Errorf("endpoint %s, server %s: want one under the other, on 127.0.0.1", a.Endpoint, srv.URL)
	}
	p256dh, err := base64.RawURLEncoding.DecodeString(a.P256dh)
	if err != nil || len(p256dh) != 65 || p256dh[0] != 4 {
		t.Errorf("p256dh %q: want an unpadded base64url uncompressed point (%v)", a.P256dh, err)
	}
	if auth, err := base64.RawURLEncoding.DecodeString(a.Auth); err != nil || len(auth) != 16 {
		t.Errorf("auth %q: want 16 bytes unpadded base64url (%v)", a.Auth, err)
	}
}

func TestPayloadRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
		urgency webpush.Urgency
		topic   string
	}{
		{"json", []byte(`{"kind":"sos","child":"Zoë","at":"2026-01-02T03:04:05Z"}`), webpush.UrgencyHigh, "sos-42"},
		{"empty", []byte{}, "", ""},
		{"binary", []byte{0, 1, 2, 0, 0}, webpush.UrgencyVeryLow, strings.Repeat("A", 32)},
		// webpush-go pads every message to a 4096-byte body: 86 bytes of header, a 16-byte tag and
		// the delimiter leave 3993 bytes of payload.
		{"largest", bytes.Repeat([]byte("x"), 3993), webpush.UrgencyNormal, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := pushtest.New(t)
			sub := srv.Subscribe()
			k := newVAPID(t)
			o := options(k)
			o.Urgency, o.Topic = tc.urgency, tc.topic
			resp, body := send(t, sub, tc.payload, o)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("status %d %s", resp.StatusCode, body)
			}
			if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, srv.URL+"/") {
				t.Errorf("Location %q, want a push message resource on the server", loc)
			}
			if ttl := resp.Header.Get("TTL"); ttl != "60" {
				t.Errorf("response TTL %q, want 60", ttl)
			}
			got := srv.Wait(t, 1, 5*time.Second)
			m := got[0]
			if len(got) != 1 || srv.Requests() != 1 || len(srv.Rejected()) != 0 {
				t.Errorf("%d messages, %d requests, refused %q: want 1, 1, none", len(got), srv.Requests(), srv.Rejected())
			}
			if !bytes.Equal(m.Payload, tc.payload) {
				t.Errorf("payload %q, want %q", m.Payload, tc.payload)
			}
			want := pushtest.Message{Endpoint: sub.Endpoint, TTL: 60, Urgency: string(tc.urgency), Topic: tc.topic,
				Subject: "mailto:" + subscriber, Key: k.pub}
			m.Payload, m.At = nil, time.Time{}
			if !reflect.DeepEqual(m, want) {
				t.Errorf("got %+v\nwant %+v", m, want)
			}
		})
	}
}

func TestDoubleMailtoIsRefused(t *testing.T) {
	srv := pushtest.New(t)
	o := options(newVAPID(t))
	o.Subscriber = "mailto:" + subscriber // v1.4.0 sends "mailto:mailto:…", which Apple refuses
	if resp, body := send(t, srv.Subscribe(), []byte("hi"), o); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d %s, want 403", resp.StatusCode, body)
	}
	if r := srv.Rejected(); len(r) != 1 || !strings.Contains(r[0], "mailto:mailto:") {
		t.Errorf("refused %q, want the sub claim named", r)
	}
}

func TestPinRefusesOtherApplicationServers(t *testing.T) {
	srv := pushtest.New(t)
	sub := srv.Subscribe()
	ours, theirs := newVAPID(t), newVAPID(t)
	srv.Pin(ours.pub)
	if resp, body := send(t, sub, []byte("hi"), options(theirs)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("other key: status %d %s, want 403", resp.StatusCode, body)
	}
	if resp, body := send(t, sub, []byte("hi"), options(ours)); resp.StatusCode != http.StatusCreated {
		t.Errorf("pinned key: status %d %s, want 201", resp.StatusCode, body)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages accepted, want 1", n)
	}
}

func TestWrongAuthSecretDoesNotDecrypt(t *testing.T) {
	srv := pushtest.New(t)
	a, b := srv.Subscribe(), srv.Subscribe()
	k := newVAPID(t)
	for name, sub := range map[string]pushtest.Subscription{
		"auth of another subscription":   {Endpoint: a.Endpoint, P256dh: a.P256dh, Auth: b.Auth},
		"p256dh of another subscription": {Endpoint: a.Endpoint, P256dh: b.P256dh, Auth: a.Auth},
	} {
		if resp, body := send(t, sub, []byte("secret"), options(k)); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d %s, want 400", name, resp.StatusCode, body)
		}
	}
	if resp, body := send(t, a, []byte("secret"), options(k)); resp.StatusCode != http.StatusCreated {
		t.Errorf("matching keys: status %d %s, want 201", resp.StatusCode, body)
	}
	if n := len(srv.Messages()); n != 1 || srv.Requests() != 3 {
		t.Errorf("%d accepted of %d requests, want 1 of 3", n, srv.Requests())
	}
}

func TestExpiredSubscriptionIsGone(t *testing.T) {
	srv := pushtest.New(t)
	gone, kept := srv.Subscribe(), srv.Subscribe()
	srv.Expire(gone)
	k := newVAPID(t)
	if resp, body := send(t, gone, []byte("hi"), options(k)); resp.StatusCode != http.StatusGone {
		t.Errorf("expired: status %d %s, want 410", resp.StatusCode, body)
	}
	if resp, body := send(t, kept, []byte("hi"), options(k)); resp.StatusCode != http.StatusCreated {
		t.Errorf("other subscription: status %d %s, want 201", resp.StatusCode, body)
	}
}

func TestFailNext(t *testing.T) {
	srv := pushtest.New(t)
	sub := srv.Subscribe()
	o := options(newVAPID(t))
	srv.FailNext(2, http.StatusServiceUnavailable, 0)
	for i, want := range []int{503, 503, 201} {
		if resp, body := send(t, sub, []byte("retry me"), o); resp.StatusCode != want {
			t.Fatalf("attempt %d: status %d %s, want %d", i+1, resp.StatusCode, body, want)
		}
	}
	srv.FailNext(1, http.StatusTooManyRequests, 1500*time.Millisecond)
	resp, _ := send(t, sub, []byte("slow down"), o)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("status %d, Retry-After %q: want 429, 2", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got := srv.Messages(); srv.Requests() != 4 || len(got) != 1 || string(got[0].Payload) != "retry me" {
		t.Errorf("%d requests, accepted %+v: want 4 requests and the one retried message", srv.Requests(), got)
	}
}

func TestConcurrentPushesAreAllKept(t *testing.T) {
	srv := pushtest.New(t)
	o := options(newVAPID(t))
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		sub := srv.Subscribe()
		wg.Go(func() {
			resp, err := webpush.SendNotificationWithContext(t.Context(), fmt.Appendf(nil, "m%d", i), toWebpush(sub), o)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		})
	}
	got := srv.Wait(t, n, 10*time.Second)
	wg.Wait()
	seen := map[string]bool{}
	for _, m := range got {
		seen[string(m.Payload)] = true
	}
	if len(seen) != n || srv.Requests() != n {
		t.Errorf("%d distinct payloads from %d requests, want %d", len(seen), srv.Requests(), n)
	}
}

// fatalRecorder stands in for a test to see Wait fail it.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }

func TestWaitFailsWithTheRefusals(t *testing.T) {
	srv := pushtest.New(t)
	srv.Pin(newVAPID(t).pub)
	send(t, srv.Subscribe(), []byte("hi"), options(newVAPID(t))) // refused: not the pinned key
	rec := &fatalRecorder{TB: t}
	if got := srv.Wait(rec, 1, 50*time.Millisecond); got != nil || !strings.Contains(rec.msg, "0 of 1") || !strings.Contains(rec.msg, "403") {
		t.Errorf("Wait returned %v and failed with %q; want nil and a message listing the 403", got, rec.msg)
	}
}

// request is a push request captured from webpush-go, to be altered and replayed.
type request struct {
	method, url string
	header      http.Header
	body        []byte
}

// capture records the request webpush-go would send, without sending it.
type capture struct{ req *request }

func (c *capture) Do(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	c.req = &request{method: r.Method, url: r.URL.String(), header: r.Header.Clone(), body: body}
	return &http.Response{StatusCode: http.StatusCreated, Body: http.NoBody}, err
}

func (r *request) send(t *testing.T) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), r.method, r.url, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = r.header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// token is a hand-made VAPID JWT, to make the mistakes webpush-go does not.
type token struct {
	header string
	claims map[string]any
	der    bool   // an ASN.1 signature, as crypto/ecdsa.SignASN1 makes, instead of JWS r||s
	key    string // signing key if not the VAPID key named in k
}

func (tk token) authorization(t *testing.T, k vapidKeys) string {
	t.Helper()
	if tk.key == "" {
		tk.key = k.priv
	}
	d, _ := base64.RawURLEncoding.DecodeString(tk.key)
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := json.Marshal(tk.claims)
	input := b64(tk.header) + "." + b64(string(claims))
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	if tk.der {
		sig, err = ecdsa.SignASN1(rand.Reader, priv, digest[:])
	} else {
		var r, s *big.Int
		if r, s, err = ecdsa.Sign(rand.Reader, priv, digest[:]); err == nil {
			sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return "vapid t=" + input + "." + b64(string(sig)) + ", k=" + k.pub
}

// seal encrypts plaintext, padding delimiter and padding included, for sub as RFC 8291 says, so a
// test can send what webpush-go never would.
func seal(t *testing.T, sub pushtest.Subscription, plaintext []byte, rs uint32) []byte {
	t.Helper()
	uaPub, _ := base64.RawURLEncoding.DecodeString(sub.P256dh)
	auth, _ := base64.RawURLEncoding.DecodeString(sub.Auth)
	ua, err := ecdh.P256().NewPublicKey(uaPub)
	if err != nil {
		t.Fatal(err)
	}
	as, _ := ecdh.P256().GenerateKey(rand.Reader)
	secret, _ := as.ECDH(ua)
	ikm, _ := hkdf.Key(sha256.New, secret, auth, "WebPush: info\x00"+string(uaPub)+string(as.PublicKey().Bytes()), 32)
	salt := make([]byte, 16)
	rand.Read(salt)
	cek, _ := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16)
	nonce, _ := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12)
	block, _ := aes.NewCipher(cek)
	gcm, _ := cipher.NewGCM(block)
	header := append(binary.BigEndian.AppendUint32(salt, rs), 65)
	return gcm.Seal(append(header, as.PublicKey().Bytes()...), nonce, plaintext, nil)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestRefusals(t *testing.T) {
	const es256 = `{"typ":"JWT","alg":"ES256"}`
	// claims is what webpush-go signs, changed by kv pairs; a nil value drops the claim.
	claims := func(aud string, kv ...any) map[string]any {
		c := map[string]any{"aud": aud, "exp": time.Now().Add(12 * time.Hour).Unix(), "sub": "mailto:" + subscriber}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	type env struct {
		origin string
		k      vapidKeys
		sub    pushtest.Subscription
	}
	withToken := func(tk func(e env) token) func(*testing.T, *request, env) {
		return func(t *testing.T, r *request, e env) { r.header.Set("Authorization", tk(e).authorization(t, e.k)) }
	}
	sealed := func(plaintext string, rs uint32) func(*testing.T, *request, env) {
		return func(t *testing.T, r *request, e env) { r.body = seal(t, e.sub, []byte(plaintext), rs) }
	}
	setHeader := func(name, value string) func(*testing.T, *request, env) {
		return func(_ *testing.T, r *request, _ env) { r.header.Set(name, value) }
	}
	for _, tc := range []struct {
		name   string
		alter  func(*testing.T, *request, env)
		status int
		reason string // part of the recorded refusal, so a test fails if refused for another cause
	}{
		{"as webpush-go sends it", nil, 201, ""},
		{"hand-made token like webpush-go's", withToken(func(e env) token { return token{header: es256, claims: claims(e.origin)} }), 201, ""},
		{"token without typ", withToken(func(e env) token { return token{header: `{"alg":"ES256"}`, claims: claims(e.origin)} }), 201, ""},
		{"quoted auth-params", func(t *testing.T, r *request, e env) {
			t1, k, _ := strings.Cut(strings.TrimPrefix(r.header.Get("Authorization"), "vapid t="), ", k=")
			r.header.Set("Authorization", `vapid t="`+t1+`", k="`+k+`"`)
		}, 201, ""},

		{"no Authorization", func(_ *testing.T, r *request, _ env) { r.header.Del("Authorization") }, 401, "vapid credentials"},
		{"Bearer scheme", func(_ *testing.T, r *request, _ env) {
			r.header.Set("Authorization", strings.Replace(r.header.Get("Authorization"), "vapid", "Bearer", 1))
		}, 401, "vapid credentials"},
		{"draft WebPush scheme", func(_ *testing.T, r *request, _ env) {
			tk, _, _ := strings.Cut(strings.TrimPrefix(r.header.Get("Authorization"), "vapid t="), ",")
			r.header.Set("Authorization", "WebPush "+tk)
		}, 401, "vapid credentials"},
		{"no k", func(_ *testing.T, r *request, _ env) {
			tk, _, _ := strings.Cut(r.header.Get("Authorization"), ",")
			r.header.Set("Authorization", tk)
		}, 401, "vapid credentials"},
		{"k not a point", func(_ *testing.T, r *request, e env) {
			r.header.Set("Authorization", strings.Replace(r.header.Get("Authorization"), e.k.pub, b64("\x04"+strings.Repeat("\x00", 64)), 1))
		}, 403, "P-256"},
		{"expired token", withToken(func(e env) token {
			return token{header: es256, claims: claims(e.origin, "exp", time.Now().Add(-time.Minute).Unix())}
		}), 403, "expired"},
		{"token valid for 25 h", withToken(func(e env) token {
			return token{header: es256, claims: claims(e.origin, "exp", time.Now().Add(25*time.Hour).Unix())}
		}), 403, "ahead"},
		{"token without exp", withToken(func(e env) token { return token{header: es256, claims: claims(e.origin, "exp", nil)} }), 403, "no exp"},
		{"token for another push service", withToken(func(e env) token {
			return token{header: es256, claims: claims("https://fcm.googleapis.com")}
		}), 403, "aud"},
		{"aud with a path", withToken(func(e env) token { return token{header: es256, claims: claims(e.origin + "/")} }), 403, "aud"},
		{"token without sub", withToken(func(e env) token { return token{header: es256, claims: claims(e.origin, "sub", nil)} }), 403, "sub"},
		{"sub a bare address", withToken(func(e env) token {
			return token{header: es256, claims: claims(e.origin, "sub", subscriber)}
		}), 403, "sub"},
		{"sub an http URL", withToken(func(e env) token {
			return token{header: es256, claims: claims(e.origin, "sub", "http://example.invalid/")}
		}), 403, "sub"},
		{"sub an https URL without host", withToken(func(e env) token {
			return token{header: es256, claims: claims(e.origin, "sub", "https:ops")}
		}), 403, "sub"},
		{"alg HS256", withToken(func(e env) token { return token{header: `{"typ":"JWT","alg":"HS256"}`, claims: claims(e.origin)} }), 403, "want ES256"},
		{"typ JWE", withToken(func(e env) token { return token{header: `{"typ":"JWE","alg":"ES256"}`, claims: claims(e.origin)} }), 403, "want ES256, JWT"},
		{"DER signature", withToken(func(e env) token { return token{header: es256, claims: claims(e.origin), der: true} }), 403, "64 bytes"},
		{"signed with another key", func(t *testing.T, r *request, e env) {
			other := newVAPID(t)
			r.header.Set("Authorization", token{header: es256, claims: claims(e.origin), key: other.priv}.authorization(t, e.k))
		}, 403, "does not verify"},

		{"no TTL", func(_ *testing.T, r *request, _ env) { r.header.Del("TTL") }, 400, "TTL header missing"},
		{"negative TTL", setHeader("TTL", "-1"), 400, "TTL"},
		{"TTL not a number", setHeader("TTL", "1m"), 400, "TTL"},
		{"TTL zero", setHeader("TTL", "0"), 201, ""},
		{"Urgency urgent", setHeader("Urgency", "urgent"), 400, "Urgency"},
		{"Topic of 33 characters", setHeader("Topic", strings.Repeat("a", 33)), 400, "Topic"},
		{"Topic outside base64url", setHeader("Topic", "fence+42"), 400, "Topic"},
		{"draft aesgcm encoding", setHeader("Content-Encoding", "aesgcm"), 415, "aes128gcm"},
		{"no Content-Encoding", func(_ *testing.T, r *request, _ env) { r.header.Del("Content-Encoding") }, 415, "aes128gcm"},

		{"body over 4096 bytes", func(_ *testing.T, r *request, _ env) { r.body = append(r.body, 0) }, 413, "4096"},
		{"ciphertext altered", func(_ *testing.T, r *request, _ env) { r.body[len(r.body)-1] ^= 1 }, 400, "does not decrypt"},
		{"salt altered", func(_ *testing.T, r *request, _ env) { r.body[0] ^= 1 }, 400, "does not decrypt"},
		{"keyid of 64 bytes", func(_ *testing.T, r *request, _ env) { r.body[20] = 64 }, 400, "keyid"},
		{"keyid not a point", func(_ *testing.T, r *request, _ env) { r.body[21] = 3 }, 400, "keyid"},
		{"two records", func(_ *testing.T, r *request, _ env) { r.body[16], r.body[17], r.body[18], r.body[19] = 0, 0, 8, 0 }, 400, "more than one record"},
		{"header only", func(_ *testing.T, r *request, _ env) { r.body = r.body[:86] }, 400, "too short"},
		{"empty body", func(_ *testing.T, r *request, _ env) { r.body = nil }, 400, "shorter than"},

		{"own encryption", sealed("hi\x02\x00\x00", 4096), 201, ""},
		{"own encryption, rs exactly the record", sealed("hi\x02", 16+3), 201, ""},
		{"padding delimiter 1 (not the last record)", sealed("hi\x01\x00\x00", 4096), 400, "delimiter"},
		{"no padding delimiter", sealed("\x00\x00\x00", 4096), 400, "delimiter"},
		{"rs under 18", sealed("\x02", 17), 400, "minimum 18"},

		{"GET", func(_ *testing.T, r *request, _ env) { r.method = http.MethodGet }, 405, "POST"},
		{"unknown subscription", func(_ *testing.T, r *request, _ env) { r.url += "X" }, 404, "no such subscription"},
		{"not a push URL", func(_ *testing.T, r *request, _ env) { r.url += "/more" }, 404, "not a push endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := pushtest.New(t)
			k := newVAPID(t)
			c := &capture{}
			o := options(k)
			o.HTTPClient = c
			sub := srv.Subscribe()
			if _, err := webpush.SendNotificationWithContext(t.Context(), []byte("payload"), toWebpush(sub), o); err != nil {
				t.Fatal(err)
			}
			if tc.alter != nil {
				tc.alter(t, c.req, env{origin: srv.URL, k: k, sub: sub})
			}
			status, body := c.req.send(t)
			rejected := srv.Rejected()
			if status != tc.status {
				t.Fatalf("status %d %s, want %d", status, body, tc.status)
			}
			accepted := len(srv.Messages())
			switch {
			case srv.Requests() != 1:
				t.Errorf("%d requests counted, want 1", srv.Requests())
			case tc.status == 201 && (accepted != 1 || len(rejected) != 0):
				t.Errorf("accepted %d, refused %q: want the message kept", accepted, rejected)
			case tc.status != 201 && (accepted != 0 || len(rejected) != 1 || !strings.Contains(rejected[0], tc.reason)):
				t.Errorf("accepted %d, refused %q: want it refused for %q", accepted, rejected, tc.reason)
			}
		})
	}
}

// FuzzBody feeds arbitrary bodies under valid headers: the service must answer each with
// acceptance or a client error, never crash or blame itself.
func FuzzBody(f *testing.F) {
	srv := pushtest.New(f)
	c := &capture{}
	o := options(newVAPID(f))
	o.HTTPClient = c
	if _, err := webpush.SendNotificationWithContext(f.Context(), []byte("seed"), toWebpush(srv.Subscribe()), o); err != nil {
		f.Fatal(err)
	}
	valid := c.req.body
	f.Add(valid)
	f.Add(valid[:86])
	f.Add(valid[:103])
	f.Add(append(valid[:16:16], 0, 0, 0, 18, 65))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := *c.req
		r.body = body
		switch status, text := r.send(t); status {
		case http.StatusCreated, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Errorf("status %d %s", status, text)
		}
	})
}
