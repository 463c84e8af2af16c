// Package mail sends the mail guardians get from kinwatch (address verification, password reset):
// through an SMTP relay, or into a directory of .eml files when there is no relay (development).
//
// Messages carry secret links, so nothing here puts a message body into an error or a log line, and
// errors name no recipient either. It composes plain-text mail only and owns no templates: the
// account package writes the words.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"

	"kinwatch"
)

// Message is one plain-text mail to one recipient.
type Message struct {
	To      string // an address, optionally with a display name: "Ada <ada@example.org>"
	Subject string
	Text    string
}

// Mailer sends messages. Implementations honour ctx's deadline.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// envelope is a composed message and the addresses the SMTP envelope carries.
type envelope struct {
	from, to string
	data     []byte
}

// compose validates m and renders it as an RFC 5322 message from the sender from.
func compose(from string, m Message, now time.Time) (*envelope, error) {
	sender, err := parseAddress("sender", from)
	if err != nil {
		return nil, err
	}
	rcpt, err := parseAddress("recipient", m.To)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "mail: line break in subject")
	}
	domain := sender.Address[strings.LastIndexByte(sender.Address, '@')+1:]

	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+messageID()+"@"+domain+">")
	header("From", sender.String())
	header("To", rcpt.String())
	// QEncoding leaves ASCII subjects as they are and encodes the rest as RFC 2047 words.
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	// RFC 3834: tells vacation responders not to answer.
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(m.Text)); err != nil {
		return nil, fmt.Errorf("mail: encoding body failed")
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("mail: encoding body failed")
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return &envelope{from: sender.Address, to: rcpt.Address, data: b.Bytes()}, nil
}

// parseAddress parses one address. Errors do not repeat it: recipients are personal data and
// errors end up in logs.
func parseAddress(what, s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "mail: line break in %s address", what)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "mail: invalid %s address", what)
	}
	return a, nil
}

func messageID() string {
	var r [12]byte
	rand.Read(r[:])
	return fmt.Sprintf("%d.%s", time.Now().UnixNano(), hex.EncodeToString(r[:]))
}
