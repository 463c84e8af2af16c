package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"time"
)

// TLS modes of the SMTP mailer.
const (
	TLSStartTLS = "starttls" // plain connect, then STARTTLS; refuses a relay that does not offer it
	TLSImplicit = "tls"      // TLS from the first byte (submissions, port 465)
	TLSNone     = "none"     // no encryption; only to a relay on this machine
)

// SMTP sends mail through a relay. The zero TLS mode is TLSStartTLS.
type SMTP struct {
	Addr     string // host:port of the relay
	From     string // sender, optionally with a display name: "Kinwatch <noreply@example.org>"
	Username string // empty: no AUTH
	Password string
	TLS      string
	// RootCAs verifies the relay's certificate; nil means the system roots.
	RootCAs *x509.CertPool
	// Hello is the name sent with EHLO (default "localhost").
	Hello string
	// Timeout bounds one Send whose context has no deadline (default 30s).
	Timeout time.Duration
}

// Send delivers m to the relay. It gives up when ctx is done, even in the middle of a reply.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	env, err := compose(s.From, m, time.Now())
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("mail: smtp address %q: %w", s.Addr, err)
	}
	mode := s.TLS
	if mode == "" {
		mode = TLSStartTLS
	}
	switch mode {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if !isLoopback(host) {
			return fmt.Errorf("mail: smtp TLS mode %q is only allowed to a loopback relay, not %q", TLSNone, host)
		}
	default:
		return fmt.Errorf("mail: unknown smtp TLS mode %q", mode)
	}
	if _, ok := ctx.Deadline(); !ok {
		timeout := s.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return s.fail(ctx, "connect", err)
	}
	defer conn.Close()
	// net/smtp knows no contexts: the deadline bounds every read and write, and a cancellation
	// moves it into the past so a blocked call returns at once.
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	tlsConf := &tls.Config{ServerName: host, RootCAs: s.RootCAs, MinVersion: tls.VersionTLS12}
	if mode == TLSImplicit {
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return s.fail(ctx, "TLS handshake", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return s.fail(ctx, "greeting", err)
	}
	defer c.Close()
	hello := s.Hello
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return s.fail(ctx, "EHLO", err)
	}
	if mode == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("mail: smtp relay %s does not offer STARTTLS (TLS mode %q)", s.Addr, mode)
		}
		if err := c.StartTLS(tlsConf); err != nil {
			return s.fail(ctx, "STARTTLS", err)
		}
	}
	if s.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("mail: smtp relay %s does not offer AUTH", s.Addr)
		}
		// PlainAuth itself refuses to send the password unencrypted to anything but localhost.
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return s.fail(ctx, "AUTH", err)
		}
	}
	if err := c.Mail(env.from); err != nil {
		return s.fail(ctx, "MAIL FROM", err)
	}
	if err := c.Rcpt(env.to); err != nil {
		// A refusal's text usually repeats the address; keep only the code.
		var te *textproto.Error
		if errors.As(err, &te) {
			err = &textproto.Error{Code: te.Code, Msg: "recipient refused"}
		}
		return s.fail(ctx, "RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return s.fail(ctx, "DATA", err)
	}
	if _, err := w.Write(env.data); err != nil {
		return s.fail(ctx, "DATA", err)
	}
	if err := w.Close(); err != nil {
		return s.fail(ctx, "DATA", err)
	}
	// The relay has taken the message: a failing QUIT loses nothing.
	c.Quit()
	return nil
}

// fail wraps an error of one protocol step; when ctx ended, that is the cause worth reporting.
func (s *SMTP) fail(ctx context.Context, step string, err error) error {
	cause := ctx.Err()
	// The connection's deadline is ctx's, and may pass a moment before ctx's own timer fires.
	var ne net.Error
	if deadline, _ := ctx.Deadline(); cause == nil && errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(deadline) {
		cause = context.DeadlineExceeded
	}
	if cause != nil {
		return fmt.Errorf("mail: smtp %s %s: %w (%v)", s.Addr, step, cause, err)
	}
	return fmt.Errorf("mail: smtp %s %s: %w", s.Addr, step, err)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var _ Mailer = (*SMTP)(nil)
