// Package pushtest runs a Web Push service on loopback for tests. It takes push messages the way a
// browser vendor's push service does (RFC 8030), checks the sender's VAPID identification (RFC
// 8292) as strictly as the strictest real services, and then plays the browser as well: it decrypts
// each payload (RFC 8291 over RFC 8188 aes128gcm) with the subscription's private key, so a test
// sees the exact bytes a service worker would get, or learns why a real service would refuse.
//
// It delivers nothing anywhere and keeps every message in memory until the test ends; it is not a
// push service to run in production.
package pushtest

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
	"net/http/httptest"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Limits real services enforce.
const (
	// MaxBody is the largest encrypted body accepted. RFC 8030 section 7.2 obliges services to take
	// 4096 bytes, and the big ones take no more, so a sender that fits here fits everywhere.
	MaxBody = 4096
	// MaxVAPIDLifetime bounds how far ahead a VAPID token may expire (RFC 8292 section 2).
	MaxVAPIDLifetime = 24 * time.Hour
)

// Subscription is what a browser hands the application from PushSubscription.toJSON(): the
// endpoint to POST to and the keys to encrypt for, base64url without padding.
type Subscription struct {
	Endpoint string
	P256dh   string // the subscription's public key, an uncompressed P-256 point
	Auth     string // the 16-byte authentication secret
}

// Message is one accepted push message, decrypted.
type Message struct {
	Endpoint string
	Payload  []byte // the plaintext a service worker would receive, padding removed
	TTL      int
	Urgency  string // as sent; "" means the default, normal
	Topic    string
	Subject  string // the VAPID "sub" claim, the sender's contact
	Key      string // the VAPID "k" parameter, the application server's public key
	At       time.Time
}

// Server is a running push service. Its methods are safe for concurrent use.
type Server struct {
	// URL is the service's origin, http://127.0.0.1:port; VAPID tokens must name it as "aud".
	URL string

	http *httptest.Server

	mu                sync.Mutex
	subs              map[string]*subscription // by the last endpoint path segment
	pin               []byte
	failN, failStatus int
	failRetryAfter    time.Duration
	requests          int
	messages          []Message
	rejected          []string
	arrived           chan struct{} // closed and replaced whenever a message is accepted
}

// subscription is the browser's side of a Subscription: the private half it decrypts with.
type subscription struct {
	endpoint string
	priv     *ecdh.PrivateKey
	auth     []byte
	expired  bool
}

// refusal is a request the service turns away, with the status a real service would answer.
type refusal struct {
	status int
	reason string
}

func refuse(status int, format string, args ...any) *refusal {
	return &refusal{status: status, reason: fmt.Sprintf(format, args...)}
}

// New starts a service on 127.0.0.1 on a free port; it is closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{subs: map[string]*subscription{}, arrived: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/push/{id}", s.push)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.answer(w, r, refuse(http.StatusNotFound, "not a push endpoint"))
	})
	s.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	s.URL = s.http.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the service; later pushes fail to connect, as to a service that is down.
func (s *Server) Close() { s.http.Close() }

// Subscribe creates a subscription as a browser's pushManager.subscribe() would: a fresh key pair
// and authentication secret, and an endpoint on this service.
func (s *Server) Subscribe() Subscription {
	priv, _ := ecdh.P256().GenerateKey(rand.Reader) // crypto/rand does not fail
	auth := make([]byte, 16)
	rand.Read(auth)
	id := rand.Text()
	sub := &subscription{endpoint: s.URL + "/push/" + id, priv: priv, auth: auth}
	s.mu.Lock()
	s.subs[id] = sub
	s.mu.Unlock()
	return Subscription{
		Endpoint: sub.endpoint,
		P256dh:   base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes()),
		Auth:     base64.RawURLEncoding.EncodeToString(auth),
	}
}

// Pin restricts every subscription to one application server, as passing applicationServerKey to
// subscribe() does: pushes whose VAPID key differs are refused with 403. The key is base64url, as
// given to the browser. Pin panics on a key that does not decode, a mistake in the test itself.
func (s *Server) Pin(appServerKey string) {
	key, err := decodeBase64URL(appServerKey)
	if err != nil {
		panic("pushtest: Pin: " + err.Error())
	}
	s.mu.Lock()
	s.pin = key
	s.mu.Unlock()
}

// Expire makes sub's endpoint answer 410 Gone from now on, as after the user revoked permission;
// senders are expected to drop the subscription. It panics on a subscription from elsewhere.
func (s *Server) Expire(sub Subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := strings.LastIndexByte(sub.Endpoint, '/')
	own, ok := s.subs[sub.Endpoint[i+1:]]
	if !ok || own.endpoint != sub.Endpoint {
		panic("pushtest: Expire: not a subscription of this server: " + sub.Endpoint)
	}
	own.expired = true
}

// FailNext makes the next n requests fail with status before anything is checked, as an overloaded
// or rate-limiting service does, to test retries. A positive retryAfter is sent as Retry-After,
// rounded up to whole seconds.
func (s *Server) FailNext(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	s.failN, s.failStatus, s.failRetryAfter = n, status, retryAfter
	s.mu.Unlock()
}

// Messages returns the accepted messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Requests counts every request received, accepted or not, so a test can tell "sent once" from
// "sent, refused and retried".
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Rejected says, for each refused request in order, what was wrong with it: material for test
// failure messages.
func (s *Server) Rejected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejected...)
}

// Wait returns the accepted messages once there are at least n, waiting up to timeout; it fails
// the test, listing the refusals, when there are not. Call it from the test's goroutine.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.messages) >= n {
			defer s.mu.Unlock()
			return append([]Message(nil), s.messages...)
		}
		arrived, got := s.arrived, len(s.messages)
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-timer.C:
			t.Fatalf("pushtest: %d of %d push messages within %v; refused: %q", got, n, timeout, s.Rejected())
			return nil
		}
	}
}

func (s *Server) push(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.failN > 0 {
		s.failN--
		status, after := s.failStatus, s.failRetryAfter
		s.mu.Unlock()
		if after > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((after+time.Second-1)/time.Second)))
		}
		s.answer(w, r, refuse(status, "failure injected by FailNext"))
		return
	}
	s.mu.Unlock()

	m, no := s.receive(r)
	if no != nil {
		s.answer(w, r, no)
		return
	}
	s.mu.Lock()
	s.messages = append(s.messages, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
	s.mu.Unlock()
	// RFC 8030 section 5: the Location is the push message resource; TTL echoes the value used.
	w.Header().Set("Location", s.URL+"/message/"+rand.Text())
	w.Header().Set("TTL", strconv.Itoa(m.TTL))
	w.WriteHeader(http.StatusCreated)
}

// answer records a refusal before sending it, so a test can say why a push failed even when the
// sender under test swallowed the response.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, f *refusal) {
	s.mu.Lock()
	s.rejected = append(s.rejected, fmt.Sprintf("%s %s: %d %s", r.Method, r.URL.Path, f.status, f.reason))
	s.mu.Unlock()
	switch f.status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", "vapid") // RFC 9110 requires a challenge with 401
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodPost)
	}
	http.Error(w, f.reason, f.status)
}

// receive checks a push request from the outside in (the subscription, who sends, the headers, the
// body) and decrypts it. The subscription comes first so that a 404 or 410, on which the sender
// must drop the subscription, is never hidden behind another mistake.
func (s *Server) receive(r *http.Request) (Message, *refusal) {
	if r.Method != http.MethodPost {
		return Message{}, refuse(http.StatusMethodNotAllowed, "push messages are POSTed")
	}
	s.mu.Lock()
	sub, ok := s.subs[r.PathValue("id")]
	expired, pin := ok && sub.expired, s.pin
	s.mu.Unlock()
	switch {
	case !ok:
		return Message{}, refuse(http.StatusNotFound, "no such subscription")
	case expired:
		return Message{}, refuse(http.StatusGone, "subscription expired")
	}
	m := Message{Endpoint: sub.endpoint, At: time.Now()}
	var no *refusal
	if m.Subject, m.Key, no = verifyVAPID(r.Header.Get("Authorization"), s.URL, pin, m.At); no != nil {
		return Message{}, no
	}

	ttl := r.Header.Values("TTL")
	m.TTL = -1
	if len(ttl) == 1 && strings.Trim(ttl[0], "0123456789") == "" {
		if n, err := strconv.Atoi(ttl[0]); err == nil { // fails on "" and on too many digits
			m.TTL = n
		}
	}
	m.Urgency, m.Topic = r.Header.Get("Urgency"), r.Header.Get("Topic")
	switch ce := r.Header.Values("Content-Encoding"); {
	case len(ttl) == 0:
		return Message{}, refuse(http.StatusBadRequest, "TTL header missing (RFC 8030 section 5.2)")
	case m.TTL < 0:
		return Message{}, refuse(http.StatusBadRequest, "TTL %q is not a number of seconds", ttl)
	case !slices.Contains([]string{"", "very-low", "low", "normal", "high"}, m.Urgency):
		return Message{}, refuse(http.StatusBadRequest, "Urgency %q is none of very-low, low, normal, high", m.Urgency)
	case len(m.Topic) > 32 || strings.Trim(m.Topic, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "":
		return Message{}, refuse(http.StatusBadRequest, "Topic %q is not up to 32 base64url characters (RFC 8030 section 5.4)", m.Topic)
	case len(ce) != 1 || !strings.EqualFold(ce[0], "aes128gcm"):
		return Message{}, refuse(http.StatusUnsupportedMediaType, "Content-Encoding %q is not aes128gcm (RFC 8291)", ce)
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	switch {
	case err != nil:
		return Message{}, refuse(http.StatusBadRequest, "reading body: %v", err)
	case len(body) > MaxBody:
		return Message{}, refuse(http.StatusRequestEntityTooLarge, "body over %d bytes", MaxBody)
	}
	if m.Payload, no = sub.decrypt(body); no != nil {
		return Message{}, no
	}
	return m, nil
}

// verifyVAPID checks an Authorization header of the "vapid" scheme (RFC 8292 section 3) and returns
// the token's subject and the key. Missing credentials are 401, bad ones 403 (section 4.2).
func verifyVAPID(header, audience string, pin []byte, now time.Time) (subject, key string, no *refusal) {
	scheme, params, _ := strings.Cut(header, " ")
	var token string
	for p := range strings.SplitSeq(params, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		if unq, err := strconv.Unquote(value); err == nil {
			value = unq // auth-params may be quoted strings (RFC 9110 section 11.2)
		}
		switch strings.ToLower(name) {
		case "t":
			token = value
		case "k":
			key = value
		}
	}
	if !strings.EqualFold(scheme, "vapid") || token == "" || key == "" {
		return "", "", refuse(http.StatusUnauthorized, "no vapid credentials with t and k in Authorization (RFC 8292)")
	}
	bad := func(format string, args ...any) (string, string, *refusal) {
		return "", "", refuse(http.StatusForbidden, format, args...)
	}
	raw, err := decodeBase64URL(key)
	var pub *ecdsa.PublicKey
	if err == nil {
		pub, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	}
	switch {
	case err != nil:
		return bad("vapid k is not a base64url uncompressed P-256 point: %v", err)
	case pin != nil && !bytes.Equal(raw, pin):
		return bad("vapid k is not the applicationServerKey the subscription was created with")
	}

	// typ is optional in a JWT (RFC 7519 section 5.1) and RFC 8292 does not ask for it. JWS ES256
	// signatures are r||s, 32 bytes each (RFC 7518 section 3.4): an ASN.1 DER signature, a frequent
	// sender bug, is refused here as by real services.
	var head struct{ Alg, Typ string }
	var claims struct {
		Aud, Sub string
		Exp      float64 // a NumericDate may have a fraction; a float cannot overflow either
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || decodeJSON(parts[0], &head) != nil || decodeJSON(parts[1], &claims) != nil {
		return bad("vapid t is not a JWT (three base64url parts, header and claims JSON objects)")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	ahead := claims.Exp - float64(now.UnixNano())/1e9
	switch {
	case head.Alg != "ES256" || (head.Typ != "" && head.Typ != "JWT"):
		return bad("JWT header alg %q, typ %q: want ES256, JWT", head.Alg, head.Typ)
	case err != nil || len(sig) != 64:
		return bad("JWT signature is not 64 bytes of base64url r||s")
	case !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])):
		return bad("JWT signature does not verify under k")
	case claims.Aud != audience:
		return bad("JWT aud %q is not the endpoint's origin %s", claims.Aud, audience)
	case claims.Exp == 0:
		return bad("JWT has no exp")
	case ahead <= 0:
		return bad("JWT expired %.0fs ago", -ahead)
	case ahead > MaxVAPIDLifetime.Seconds():
		return bad("JWT exp is %.0fs ahead, over %v", ahead, MaxVAPIDLifetime)
	case !validContact(claims.Sub):
		return bad("JWT sub %q is not a mailto: address or https: URL", claims.Sub)
	}
	return claims.Sub, key, nil
}

// validContact is as strict as Apple's service, which refuses "mailto:mailto:ops@…" (a prefix some
// libraries double) with 403 BadJwtToken where others let it through.
func validContact(sub string) bool {
	u, err := url.Parse(sub)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "mailto":
		a, err := mail.ParseAddress(u.Opaque)
		return err == nil && a.Address == u.Opaque
	case "https":
		return u.Host != ""
	}
	return false
}

func decodeJSON(part string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// decodeBase64URL accepts base64url with or without padding: browsers and libraries differ, and
// real services take both for keys.
func decodeBase64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// decrypt undoes RFC 8291 message encryption as the browser does. Senders must use one record
// (RFC 8291 section 4), so anything else is refused rather than half supported.
func (sub *subscription) decrypt(body []byte) ([]byte, *refusal) {
	// RFC 8188 section 2.1 header: salt(16) | rs(4) | idlen(1) | keyid(idlen).
	const fixed = 16 + 4 + 1
	if len(body) < fixed || len(body) < fixed+int(body[20]) {
		return nil, refuse(http.StatusBadRequest, "body of %d bytes is shorter than its aes128gcm header", len(body))
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	senderPub, err := ecdh.P256().NewPublicKey(body[fixed : fixed+idlen])
	if err != nil { // RFC 8291 section 4: keyid is exactly the sender's 65-byte public key
		return nil, refuse(http.StatusBadRequest, "keyid is not an uncompressed P-256 point: %v", err)
	}
	record := body[fixed+idlen:]
	switch {
	case rs < 18:
		return nil, refuse(http.StatusBadRequest, "record size %d under the minimum 18", rs)
	case uint64(len(record)) > uint64(rs):
		return nil, refuse(http.StatusBadRequest, "%d bytes of records with rs %d: more than one record", len(record), rs)
	case len(record) < 17: // tag and delimiter
		return nil, refuse(http.StatusBadRequest, "record of %d bytes is too short", len(record))
	}

	// None of these fail with the keys and lengths at hand: NewPublicKey has vetted the point, and
	// HKDF only refuses keys over 255 hashes long.
	secret, _ := sub.priv.ECDH(senderPub)
	info := "WebPush: info\x00" + string(sub.priv.PublicKey().Bytes()) + string(senderPub.Bytes())
	ikm, _ := hkdf.Key(sha256.New, secret, sub.auth, info, 32)
	cek, _ := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16)
	nonce, _ := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12)
	block, _ := aes.NewCipher(cek)
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, nonce, record, nil) // the first record's nonce is NONCE xor 0
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "payload does not decrypt: encrypted for other keys, or altered")
	}
	// The padding is zeros after a delimiter, which is 2 in the last (here the only) record.
	end := len(bytes.TrimRight(plain, "\x00")) - 1
	if end < 0 || plain[end] != 2 {
		return nil, refuse(http.StatusBadRequest, "plaintext lacks the last-record padding delimiter 2")
	}
	return plain[:end], nil
}
