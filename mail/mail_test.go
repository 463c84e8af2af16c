package mail_test

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/mail"
	"kinwatch/mail/smtptest"
)

const (
	subject = "Bestätigen Sie Ihre E-Mail"
	// A body that exercises the encodings: non-ASCII, a line longer than quoted-printable's 76,
	// '=' signs, a line that is only a dot (SMTP's end of data) and one starting with a dot.
	text = "Hallo Jürgen,\n\nbitte bestätigen Sie Ihre Adresse:\n" +
		"https://kinwatch.example.org/verify?token=c2VjcmV0LXRva2VuLXRoYXQtaXMtbG9uZ2VyLXRoYW4tc2V2ZW50eS1zaXgtY2hhcmFjdGVycw==\n" +
		".\n.hidden\nGrüße, Ihr Kinwatch\n"
	secret = "c2VjcmV0LXRva2Vu"
)

func TestSMTPDeliversDecodedMessage(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []smtptest.Option
		mailer   func(srv *smtptest.Server) *mail.SMTP
		wantTLS  bool
		wantUser string
	}{
		{
			name: "none, no auth",
			mailer: func(srv *smtptest.Server) *mail.SMTP {
				return &mail.SMTP{Addr: srv.Addr(), From: "Kinwatch <noreply@kinwatch.example.org>", TLS: mail.TLSNone}
			},
		},
		{
			name: "starttls with auth",
			opts: []smtptest.Option{smtptest.WithAuth("relay", "s3cret")},
			mailer: func(srv *smtptest.Server) *mail.SMTP {
				return &mail.SMTP{Addr: srv.Addr(), From: "Kinwatch <noreply@kinwatch.example.org>",
					Username: "relay", Password: "s3cret", RootCAs: srv.RootCAs()}
			},
			wantTLS: true, wantUser: "relay",
		},
		{
			name: "implicit tls with auth",
			opts: []smtptest.Option{smtptest.ImplicitTLS(), smtptest.WithAuth("relay", "s3cret")},
			mailer: func(srv *smtptest.Server) *mail.SMTP {
				return &mail.SMTP{Addr: srv.Addr(), From: "Kinwatch <noreply@kinwatch.example.org>", TLS: mail.TLSImplicit,
					Username: "relay", Password: "s3cret", RootCAs: srv.RootCAs()}
			},
			wantTLS: true, wantUser: "relay",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, tc.opts...)
			m := tc.mailer(srv)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := m.Send(ctx, mail.Message{To: "Jürgen Müller <juergen@example.org>", Subject: subject, Text: text}); err != nil {
				t.Fatal(err)
			}
			got := srv.Wait(t, "juergen@example.org", 5*time.Second)
			if got.From != "noreply@kinwatch.example.org" || len(got.To) != 1 {
				t.Errorf("envelope from %q to %q", got.From, got.To)
			}
			if got.Subject != subject {
				t.Errorf("subject %q, want %q", got.Subject, subject)
			}
			if got.Text != text {
				t.Errorf("text\n%q\nwant\n%q", got.Text, text)
			}
			if got.TLS != tc.wantTLS || got.User != tc.wantUser {
				t.Errorf("tls %v user %q, want %v %q", got.TLS, got.User, tc.wantTLS, tc.wantUser)
			}
			checkHeaders(t, got.Raw)
		})
	}
}

// checkHeaders checks what a strict receiver looks at: 7-bit clean, encoded words, the MIME headers.
func checkHeaders(t *testing.T, raw []byte) {
	t.Helper()
	for i, b := range raw {
		if b >= 0x80 {
			t.Fatalf("raw message has a non-ASCII byte at %d", i)
		}
	}
	msg, err := netmail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	if _, err := h.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@kinwatch.example.org>") {
		t.Errorf("Message-ID %q", id)
	}
	if !strings.HasPrefix(h.Get("Subject"), "=?utf-8?q?") {
		t.Errorf("Subject not RFC 2047 encoded: %q", h.Get("Subject"))
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Jürgen Müller" || to[0].Address != "juergen@example.org" {
		t.Errorf("To %v, %v", to, err)
	}
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Kinwatch" {
		t.Errorf("From %v, %v", from, err)
	}
	for k, want := range map[string]string{
		"MIME-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
}

func TestHeaderInjectionRefused(t *testing.T) {
	srv := smtptest.Start(t)
	mailers := map[string]mail.Mailer{
		"smtp": &mail.SMTP{Addr: srv.Addr(), From: "noreply@example.org", TLS: mail.TLSNone},
		"dir":  &mail.Dir{Path: t.TempDir()},
	}
	for _, m := range []mail.Message{
		{To: "a@example.org\r\nBcc: victim@example.org", Subject: "Hi", Text: text},
		{To: "a@example.org\nBcc: victim@example.org", Subject: "Hi", Text: text},
		{To: "a@example.org", Subject: "Hi\r\nBcc: victim@example.org", Text: text},
		{To: "a@example.org", Subject: "Hi\nContent-Type: text/html", Text: text},
		{To: "not an address", Subject: "Hi", Text: text},
	} {
		for name, mailer := range mailers {
			err := mailer.Send(context.Background(), m)
			if kinwatch.ErrorCode(err) != kinwatch.EINVALID {
				t.Errorf("%s: %q / %q: err %v, want %s", name, m.To, m.Subject, err, kinwatch.EINVALID)
			}
			if err != nil && (strings.Contains(err.Error(), "victim") || strings.Contains(err.Error(), secret)) {
				t.Errorf("%s: error repeats the input: %v", name, err)
			}
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("server got %d messages", n)
	}
}

func TestSMTPWrongPassword(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithAuth("relay", "s3cret"))
	m := &mail.SMTP{Addr: srv.Addr(), From: "noreply@example.org", Username: "relay", Password: "wrong", RootCAs: srv.RootCAs()}
	err := m.Send(context.Background(), mail.Message{To: "a@example.org", Subject: "Reset", Text: text})
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code != 535 {
		t.Fatalf("err %v, want a 535 reply", err)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("error reveals the body or the password: %v", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("server got %d messages", n)
	}
}

// TestSMTPTLSIsVerified: "starttls" means encrypted to the right server, so it fails rather than
// send in the clear or to a certificate nobody vouches for.
func TestSMTPTLSIsVerified(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []smtptest.Option
		trust bool
	}{
		{"relay without STARTTLS", []smtptest.Option{smtptest.WithoutSTARTTLS()}, true},
		{"untrusted certificate", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, tc.opts...)
			m := &mail.SMTP{Addr: srv.Addr(), From: "noreply@example.org", TLS: mail.TLSStartTLS}
			if tc.trust {
				m.RootCAs = srv.RootCAs()
			}
			if err := m.Send(context.Background(), mail.Message{To: "a@example.org", Subject: "Hi", Text: text}); err == nil {
				t.Fatal("sent")
			}
			if n := len(srv.Messages()); n != 0 {
				t.Fatalf("server got %d messages", n)
			}
		})
	}
}

func TestSMTPConfigurationRefused(t *testing.T) {
	for _, m := range []*mail.SMTP{
		// Plain text leaves the machine: refused before dialling, so no network is needed here.
		{Addr: "mail.example.org:25", From: "noreply@example.org", TLS: mail.TLSNone},
		{Addr: "192.0.2.1:25", From: "noreply@example.org", TLS: mail.TLSNone},
		{Addr: "127.0.0.1:25", From: "noreply@example.org", TLS: "ssl"},
		{Addr: "127.0.0.1", From: "noreply@example.org", TLS: mail.TLSNone},
		{Addr: "127.0.0.1:25", From: "", TLS: mail.TLSNone},
	} {
		if err := m.Send(context.Background(), mail.Message{To: "a@example.org", Subject: "Hi", Text: text}); err == nil {
			t.Errorf("%+v: sent", m)
		}
	}
}

// TestSMTPGivesUpAtDeadline: a relay that accepts the connection and then says nothing must not
// hold a sender past its context.
func TestSMTPGivesUpAtDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()

	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		m    *mail.SMTP
	}{
		{"context deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, &mail.SMTP{Addr: ln.Addr().String(), From: "noreply@example.org", TLS: mail.TLSNone}},
		{"implicit tls handshake", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, &mail.SMTP{Addr: ln.Addr().String(), From: "noreply@example.org", TLS: mail.TLSImplicit}},
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			return ctx, cancel
		}, &mail.SMTP{Addr: ln.Addr().String(), From: "noreply@example.org", TLS: mail.TLSNone}},
		{"own timeout without a deadline", func() (context.Context, context.CancelFunc) {
			return context.Background(), func() {}
		}, &mail.SMTP{Addr: ln.Addr().String(), From: "noreply@example.org", TLS: mail.TLSNone, Timeout: 200 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			err := tc.m.Send(ctx, mail.Message{To: "a@example.org", Subject: "Hi", Text: text})
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v, want the context's", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("returned after %v", d)
			}
		})
	}
}

func TestDirWritesReadableMessages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail")
	d := &mail.Dir{Path: dir}
	for _, to := range []string{"ada@example.org", "bob@example.org"} {
		if err := d.Send(context.Background(), mail.Message{To: to, Subject: subject, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 {
		t.Fatalf("files %v, want two .eml and nothing else", ents)
	}
	for i, e := range ents {
		if !strings.HasSuffix(e.Name(), ".eml") {
			t.Fatalf("file %q", e.Name())
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		msg, err := netmail.ReadMessage(f)
		if err != nil {
			t.Fatal(err)
		}
		var dec mime.WordDecoder
		if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err != nil || subj != subject {
			t.Errorf("subject %q, %v", subj, err)
		}
		// Files sort oldest first.
		if want := []string{"ada@example.org", "bob@example.org"}[i]; !strings.Contains(msg.Header.Get("To"), want) {
			t.Errorf("file %d is to %q, want %s", i, msg.Header.Get("To"), want)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.ReplaceAll(string(body), "\r\n", "\n"); got != text {
			t.Errorf("body\n%q\nwant\n%q", got, text)
		}
	}
}
