package notify

import (
	"context"
	"errors"
	"fmt"

	"kinwatch/mail"
)

// Email sends alarms to the guardian's verified address. The text says what happened and
// links to the app; it carries no coordinates, since mail passes through relays that keep it.
type Email struct {
	Mailer interface {
		Send(ctx context.Context, m mail.Message) error
	}
}

// Send mails one alarm.
func (e *Email) Send(ctx context.Context, m *Message) Result {
	if m.Account == nil || m.Account.Email == "" || m.Account.EmailVerifiedAt.IsZero() {
		return Result{Err: errors.New("the guardian has no verified email address"), Permanent: true}
	}
	text := fmt.Sprintf("%s\n\nSee it in kinwatch: %s\n", m.Body, m.Link)
	if m.Blockable {
		text += fmt.Sprintf("\nTo stop these emails, change your notification settings: %s\n", m.Settings)
	}
	err := e.Mailer.Send(ctx, mail.Message{To: m.Account.Email, Subject: m.Title, Text: text})
	if err != nil {
		// The mailer's errors can name the address; the attempt log says only that it failed.
		return Result{Err: errors.New("the mail server did not take the message; will retry")}
	}
	return Result{Status: 250}
}
