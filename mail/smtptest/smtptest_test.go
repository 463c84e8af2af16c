package smtptest_test

import (
	"encoding/base64"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"kinwatch/mail/smtptest"
)

// dial opens a raw SMTP session and reads the greeting.
func dial(t *testing.T, srv *smtptest.Server) *textproto.Conn {
	t.Helper()
	c, err := textproto.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	expect(t, c, 220)
	return c
}

func expect(t *testing.T, c *textproto.Conn, code int) string {
	t.Helper()
	_, msg, err := c.ReadResponse(code)
	if err != nil {
		t.Fatalf("want %d: %v", code, err)
	}
	return msg
}

func cmd(t *testing.T, c *textproto.Conn, code int, format string, args ...any) string {
	t.Helper()
	if err := c.PrintfLine(format, args...); err != nil {
		t.Fatal(err)
	}
	return expect(t, c, code)
}

func TestSessionDotUnstuffingAndReset(t *testing.T) {
	srv := smtptest.Start(t)
	c := dial(t, srv)
	cmd(t, c, 250, "HELO test")
	cmd(t, c, 250, "MAIL FROM:<a@example.org>")
	cmd(t, c, 250, "RCPT TO:<dropped@example.org>")
	cmd(t, c, 250, "RSET")
	cmd(t, c, 503, "RCPT TO:<b@example.org>") // RSET ended the transaction
	cmd(t, c, 250, "NOOP")
	cmd(t, c, 250, "MAIL FROM:<a@example.org> SIZE=100")
	cmd(t, c, 250, "RCPT TO:<b@example.org>")
	cmd(t, c, 354, "DATA")
	c.PrintfLine("Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=")
	c.PrintfLine("")
	c.PrintfLine("..")
	c.PrintfLine("..leading dot")
	c.PrintfLine(".")
	expect(t, c, 250)
	cmd(t, c, 221, "QUIT")

	got := srv.Wait(t, "B@example.org", time.Second)
	if got.Subject != "Grüße" || got.Text != ".\n.leading dot\n" || got.From != "a@example.org" {
		t.Fatalf("got %+v", got)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages, want 1 (RSET dropped the first transaction)", n)
	}
}

func TestSessionAuth(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithAuth("user", "pass"))
	c := dial(t, srv)
	if ext := cmd(t, c, 250, "EHLO test"); !strings.Contains(ext, "AUTH PLAIN") || !strings.Contains(ext, "STARTTLS") {
		t.Fatalf("EHLO offers %q", ext)
	}
	cmd(t, c, 530, "MAIL FROM:<a@example.org>")
	cmd(t, c, 535, "AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00user\x00wrong")))
	cmd(t, c, 334, "AUTH PLAIN")
	cmd(t, c, 235, "%s", base64.StdEncoding.EncodeToString([]byte("\x00user\x00pass")))
	cmd(t, c, 250, "MAIL FROM:<a@example.org>")
}

func TestSessionLimits(t *testing.T) {
	srv := smtptest.Start(t)

	c := dial(t, srv)
	cmd(t, c, 500, "HELO %s", strings.Repeat("x", smtptest.MaxLine))
	if _, err := c.ReadLine(); err == nil {
		t.Fatal("connection still open after an overlong line")
	}

	c = dial(t, srv)
	cmd(t, c, 250, "HELO test")
	cmd(t, c, 250, "MAIL FROM:<a@example.org>")
	cmd(t, c, 250, "RCPT TO:<b@example.org>")
	cmd(t, c, 354, "DATA")
	line := strings.Repeat("y", 900)
	for n := 0; n <= smtptest.MaxMessage; n += len(line) {
		c.PrintfLine("%s", line)
	}
	c.PrintfLine(".")
	expect(t, c, 552)
	cmd(t, c, 250, "NOOP") // the session is still in step
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
}
