// Package smtptest runs a small real SMTP server on loopback for tests: enough of RFC 5321 for
// net/smtp (EHLO, STARTTLS with a self-signed certificate, AUTH PLAIN, MAIL, RCPT, DATA, RSET,
// NOOP, QUIT) and it keeps what it receives in memory, decoded for assertions.
//
// It relays nothing anywhere and is not a server to run in production: it trusts every sender and
// keeps every message until the test ends.
package smtptest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"
)

// Limits on what a client may send.
const (
	MaxLine       = 1000    // bytes per line including CRLF (RFC 5321 4.5.3.1.6)
	MaxMessage    = 1 << 20 // bytes per message
	MaxRecipients = 100     // per message
	idleTimeout   = 30 * time.Second
)

// Received is one accepted message.
type Received struct {
	From    string   // envelope sender
	To      []string // envelope recipients
	Subject string   // decoded (RFC 2047 words undone)
	Text    string   // decoded body (quoted-printable or base64 undone), line breaks as "\n"
	Raw     []byte   // the message as received, dot-unstuffed
	TLS     bool     // the session was encrypted when the message came
	User    string   // the user who authenticated, "" if none
}

// Option configures a Server.
type Option func(*Server)

// WithAuth makes the server offer AUTH PLAIN and accept mail only after a client authenticated as
// user with password.
func WithAuth(user, password string) Option {
	return func(s *Server) { s.user, s.password = user, password }
}

// WithoutSTARTTLS makes the server not offer STARTTLS, like a misconfigured relay.
func WithoutSTARTTLS() Option {
	return func(s *Server) { s.noSTARTTLS = true }
}

// ImplicitTLS makes the server speak TLS from the first byte, like a submissions port (465).
func ImplicitTLS() Option {
	return func(s *Server) { s.implicitTLS = true }
}

// Server is a running SMTP server.
type Server struct {
	user, password string
	noSTARTTLS     bool
	implicitTLS    bool

	ln      net.Listener
	tlsConf *tls.Config
	roots   *x509.CertPool
	wg      sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	conns    map[net.Conn]struct{}
	messages []Received
	taken    []bool        // messages already returned by Wait
	arrived  chan struct{} // closed and replaced whenever a message arrives
}

// Start starts a server on 127.0.0.1 on a free port; it is closed when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{conns: map[net.Conn]struct{}{}, arrived: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	cert, roots, err := selfSigned()
	if err != nil {
		t.Fatal(err)
	}
	s.tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.roots = roots
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s.implicitTLS {
		ln = tls.NewListener(ln, s.tlsConf)
	}
	s.ln = ln
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// TLSConfig is the server side TLS configuration, holding its certificate. Clients trust the
// certificate through RootCAs; it is valid for 127.0.0.1, ::1 and localhost.
func (s *Server) TLSConfig() *tls.Config { return s.tlsConf.Clone() }

// RootCAs is a pool holding only the server's self-signed certificate.
func (s *Server) RootCAs() *x509.CertPool { return s.roots }

// Messages returns the messages received so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.messages...)
}

// Wait returns the oldest message to the envelope recipient to that an earlier Wait has not
// returned, waiting up to timeout for it to arrive; it fails the test when none does.
func (s *Server) Wait(t testing.TB, to string, timeout time.Duration) Received {
	t.Helper()
	return s.WaitMatch(t, to, func(Received) bool { return true }, timeout)
}

// WaitMatch is Wait for the oldest such message that match accepts: the mail a test is about
// among others to the same address (alarms, notices).
func (s *Server) WaitMatch(t testing.TB, to string, match func(Received) bool, timeout time.Duration) Received {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		for i, m := range s.messages {
			if s.taken[i] || !match(m) {
				continue
			}
			for _, rcpt := range m.To {
				if strings.EqualFold(rcpt, to) {
					s.taken[i] = true
					s.mu.Unlock()
					return m
				}
			}
		}
		arrived := s.arrived
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-timer.C:
			t.Fatalf("smtptest: no mail to %s within %v", to, timeout)
			return Received{}
		}
	}
}

// Close stops the server and waits for its connections to end.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // closed; a test server has no use for retrying
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			sess := &session{srv: s, conn: c, r: bufio.NewReaderSize(c, MaxLine)}
			_, sess.tls = c.(*tls.Conn)
			sess.run()
		}()
	}
}

func (s *Server) store(m Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	s.taken = append(s.taken, false)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// session is one client connection.
type session struct {
	srv  *Server
	conn net.Conn
	r    *bufio.Reader
	tls  bool

	helo bool
	user string // authenticated as
	from string
	mail bool // a transaction is open
	to   []string
}

var errLineTooLong = errors.New("line too long")

// readLine reads one line without its line break, refusing lines longer than MaxLine.
func (c *session) readLine() (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(idleTimeout))
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", errLineTooLong
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

func (c *session) reply(format string, args ...any) bool {
	c.conn.SetWriteDeadline(time.Now().Add(idleTimeout))
	_, err := fmt.Fprintf(c.conn, format+"\r\n", args...)
	return err == nil
}

func (c *session) reset() {
	c.from, c.mail, c.to = "", false, nil
}

func (c *session) run() {
	if !c.reply("220 smtptest ESMTP ready") {
		return
	}
	for {
		line, err := c.readLine()
		if errors.Is(err, errLineTooLong) {
			c.reply("500 5.5.2 Line too long")
			return
		}
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		var ok bool
		switch verb {
		case "EHLO":
			ok = c.ehlo(arg)
		case "HELO":
			c.reset()
			c.helo = true
			ok = c.reply("250 smtptest")
		case "STARTTLS":
			if !c.starttls() {
				return
			}
			ok = true
		case "AUTH":
			ok = c.auth(arg)
		case "MAIL":
			ok = c.mailFrom(arg)
		case "RCPT":
			ok = c.rcptTo(arg)
		case "DATA":
			ok = c.data()
		case "RSET":
			c.reset()
			ok = c.reply("250 2.0.0 OK")
		case "NOOP":
			ok = c.reply("250 2.0.0 OK")
		case "QUIT":
			c.reply("221 2.0.0 Bye")
			return
		default:
			ok = c.reply("500 5.5.1 Unknown command")
		}
		if !ok {
			return
		}
	}
}

func (c *session) ehlo(arg string) bool {
	if strings.TrimSpace(arg) == "" {
		return c.reply("501 5.5.4 EHLO needs a domain")
	}
	c.reset()
	c.helo = true
	lines := []string{"smtptest", "8BITMIME", fmt.Sprintf("SIZE %d", MaxMessage)}
	if !c.tls && !c.srv.noSTARTTLS {
		lines = append(lines, "STARTTLS")
	}
	if c.srv.user != "" {
		lines = append(lines, "AUTH PLAIN")
	}
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		if !c.reply("250%s%s", sep, l) {
			return false
		}
	}
	return true
}

// starttls upgrades the connection; false ends the session.
func (c *session) starttls() bool {
	if c.tls || c.srv.noSTARTTLS {
		return c.reply("503 5.5.1 TLS not available")
	}
	if c.r.Buffered() > 0 {
		// Commands pipelined behind STARTTLS would be read as if they had come encrypted.
		c.reply("501 5.5.4 Data after STARTTLS")
		return false
	}
	if !c.reply("220 2.0.0 Ready to start TLS") {
		return false
	}
	tc := tls.Server(c.conn, c.srv.tlsConf)
	tc.SetDeadline(time.Now().Add(idleTimeout))
	if err := tc.Handshake(); err != nil {
		return false
	}
	c.conn, c.r, c.tls = tc, bufio.NewReaderSize(tc, MaxLine), true
	// RFC 3207: the client starts over with EHLO and forgets what it knew.
	c.helo, c.user = false, ""
	c.reset()
	return true
}

func (c *session) auth(arg string) bool {
	switch {
	case c.srv.user == "":
		return c.reply("503 5.5.1 AUTH not available")
	case !c.helo:
		return c.reply("503 5.5.1 EHLO first")
	case c.user != "":
		return c.reply("503 5.5.1 Already authenticated")
	case c.mail:
		return c.reply("503 5.5.1 AUTH not allowed during a transaction")
	}
	mech, resp, _ := strings.Cut(arg, " ")
	if !strings.EqualFold(mech, "PLAIN") {
		return c.reply("504 5.5.4 Unrecognized authentication type")
	}
	if resp == "" {
		if !c.reply("334 ") {
			return false
		}
		line, err := c.readLine()
		if err != nil {
			return false
		}
		resp = line
	}
	if resp == "*" {
		return c.reply("501 5.0.0 Authentication cancelled")
	}
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return c.reply("501 5.5.2 Cannot decode response")
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 || parts[1] != c.srv.user || parts[2] != c.srv.password {
		return c.reply("535 5.7.8 Authentication credentials invalid")
	}
	c.user = parts[1]
	return c.reply("235 2.7.0 Authentication successful")
}

// path returns the address in "FROM:<addr> params" or "TO:<addr> params" after prefix.
func path(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if !strings.HasPrefix(rest, "<") {
		return "", false
	}
	addr, _, ok := strings.Cut(rest[1:], ">")
	return addr, ok
}

func (c *session) mailFrom(arg string) bool {
	switch {
	case !c.helo:
		return c.reply("503 5.5.1 EHLO first")
	case c.srv.user != "" && c.user == "":
		return c.reply("530 5.7.0 Authentication required")
	case c.mail:
		return c.reply("503 5.5.1 Nested MAIL command")
	}
	addr, ok := path(arg, "FROM:")
	if !ok {
		return c.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
	}
	c.from, c.mail = addr, true
	return c.reply("250 2.1.0 OK")
}

func (c *session) rcptTo(arg string) bool {
	if !c.mail {
		return c.reply("503 5.5.1 MAIL first")
	}
	addr, ok := path(arg, "TO:")
	if !ok || addr == "" {
		return c.reply("501 5.5.4 Syntax: RCPT TO:<address>")
	}
	if len(c.to) >= MaxRecipients {
		return c.reply("452 4.5.3 Too many recipients")
	}
	c.to = append(c.to, addr)
	return c.reply("250 2.1.5 OK")
}

func (c *session) data() bool {
	if !c.mail || len(c.to) == 0 {
		return c.reply("503 5.5.1 RCPT first")
	}
	if !c.reply("354 End data with <CR><LF>.<CR><LF>") {
		return false
	}
	var raw bytes.Buffer
	tooBig := false
	for {
		line, err := c.readLine()
		if errors.Is(err, errLineTooLong) {
			c.reply("500 5.5.2 Line too long")
			return false
		}
		if err != nil {
			return false
		}
		if line == "." {
			break
		}
		line = strings.TrimPrefix(line, ".") // dot-unstuffing (RFC 5321 4.5.2)
		if raw.Len()+len(line)+2 > MaxMessage {
			tooBig = true // keep reading to the end so the session stays in step
			continue
		}
		raw.WriteString(line)
		raw.WriteString("\r\n")
	}
	from, to := c.from, c.to
	c.reset()
	if tooBig {
		return c.reply("552 5.3.4 Message too big")
	}
	m := Received{From: from, To: to, Raw: raw.Bytes(), TLS: c.tls, User: c.user}
	decode(&m)
	c.srv.store(m)
	return c.reply("250 2.0.0 OK queued")
}

// decode fills Subject and Text from Raw; a message it cannot parse keeps only Raw.
func decode(m *Received) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return
	}
	var dec mime.WordDecoder
	if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		m.Subject = subj
	} else {
		m.Subject = msg.Header.Get("Subject")
	}
	var body io.Reader = msg.Body
	switch strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // skips line breaks itself
	}
	text, err := io.ReadAll(body)
	if err != nil {
		return
	}
	m.Text = strings.ReplaceAll(string(text), "\r\n", "\n")
}

// selfSigned makes a certificate for the loopback names and a pool that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool, nil
}
