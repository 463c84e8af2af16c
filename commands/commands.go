// Package commands queues server→watch commands: it validates a typed watchproto.Command, stores it
// in the device's persistent queue, announces it, and wakes the gateway holding the watch. Delivery,
// acknowledgement matching and retries belong to the gateway; this package never touches a socket.
package commands

import (
	"bytes"
	"context"
	"log/slog"
	"time"

	"kinwatch"
	"kinwatch/watchproto"
)

// Service queues commands.
type Service struct {
	Store    kinwatch.Store
	Bus      kinwatch.Bus
	Notifier kinwatch.CommandNotifier
	TTL      time.Duration // a command not delivered by then expires
	Now      func() time.Time
	Log      *slog.Logger
	// Transparency shows the child a notice on the watch when a guardian asks where it is (locate
	// now) or calls it back to listen (monitor): the child is told, not watched in secret.
	Transparency bool
}

// Notices the watch shows the child (short: watch screens are small).
const (
	LocateNotice  = "Your family asked where you are."
	MonitorNotice = "Your family is calling back to listen."
)

// carriesContacts reports whether cmd puts contacts (names and numbers of the child's phone book
// or whitelist) on the watch: that needs the contacts consent. SOS and center numbers are the
// basic service's.
func carriesContacts(cmd watchproto.Command) bool {
	switch cmd.(type) {
	case watchproto.PhoneBook, *watchproto.PhoneBook, watchproto.PhoneBookX, *watchproto.PhoneBookX,
		watchproto.PhoneBookX2, *watchproto.PhoneBookX2, watchproto.WhiteList, *watchproto.WhiteList:
		return true
	}
	return false
}

// notice is what the child is shown when a guardian queues cmd, "" for nothing.
func (s *Service) notice(cmd watchproto.Command, req Request) string {
	if !s.Transparency || req.AccountID == "" {
		return ""
	}
	switch cmd.(type) {
	case watchproto.LocateNow, *watchproto.LocateNow:
		return LocateNotice
	case watchproto.Monitor, *watchproto.Monitor:
		return MonitorNotice
	}
	return ""
}

// Request says who queues a command. With an IdempotencyKey, a retry of the same request (a client
// that lost the response) finds the command queued the first time instead of queueing another.
type Request struct {
	AccountID      string
	IdempotencyKey string
}

// Send queues cmd for the device. The returned command is in state queued; its later states arrive
// as command events.
func (s *Service) Send(ctx context.Context, deviceID string, cmd watchproto.Command) (*kinwatch.Command, error) {
	c, _, err := s.SendFor(ctx, deviceID, cmd, Request{})
	return c, err
}

// SendFor queues cmd on behalf of req.AccountID. created is false when req's idempotency key found
// the command of an earlier identical request; a key reused for a different command is ECONFLICT.
// Once the command is stored it is reported queued even if announcing it fails: the gateway finds
// stored commands on the watch's next heartbeat.
func (s *Service) SendFor(ctx context.Context, deviceID string, cmd watchproto.Command, req Request) (c *kinwatch.Command, created bool, err error) {
	if cmd == nil {
		return nil, false, kinwatch.Errorf(kinwatch.EINVALID, "no command given")
	}
	if err := cmd.Validate(); err != nil {
		return nil, false, &kinwatch.Error{Code: kinwatch.EINVALID, Message: err.Error(), Err: err}
	}
	if len(req.IdempotencyKey) > 200 {
		return nil, false, kinwatch.Errorf(kinwatch.EINVALID, "Idempotency-Key: at most 200 characters")
	}
	d, err := s.Store.Device(ctx, deviceID)
	if err != nil {
		return nil, false, err
	}
	if d.State == kinwatch.DeviceBlocked {
		return nil, false, kinwatch.Errorf(kinwatch.ECONFLICT, "the watch is blocked")
	}
	if carriesContacts(cmd) && req.AccountID != "" && !d.Consent.Child(kinwatch.PurposeContacts) {
		return nil, false, kinwatch.Errorf(kinwatch.EFORBIDDEN, "the child's phone book needs the consent to %q first (PUT /watches/{watch}/consent)", kinwatch.PurposeContacts)
	}
	if text := s.notice(cmd, req); text != "" {
		// The notice goes first, so the watch shows it before it acts, and without it the command
		// is not sent at all. A retry of a request already queued shows no second notice.
		if req.IdempotencyKey != "" {
			if prev, err := s.Store.CommandByIdempotencyKey(ctx, deviceID, req.AccountID, req.IdempotencyKey); err == nil {
				if prev.Keyword != cmd.Keyword() || !bytes.Equal(prev.Content, cmd.AppendContent(nil)) {
					return nil, false, kinwatch.Errorf(kinwatch.ECONFLICT, "this Idempotency-Key was used for a different command")
				}
				return prev, false, nil
			}
		}
		if _, _, err := s.SendFor(ctx, deviceID, watchproto.TextMessage{Text: text}, Request{}); err != nil {
			return nil, false, err
		}
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	noReply := false
	if nr, ok := cmd.(interface{ NoReply() bool }); ok {
		noReply = nr.NoReply()
	}
	c = &kinwatch.Command{
		ID:        kinwatch.NewID(),
		DeviceID:  deviceID,
		Keyword:   cmd.Keyword(),
		Content:   cmd.AppendContent(nil),
		NoReply:   noReply,
		State:     kinwatch.CommandQueued,
		CreatedAt: now,
		ExpiresAt: now.Add(s.TTL),

		RequestedBy:    req.AccountID,
		IdempotencyKey: req.IdempotencyKey,
	}
	if err := s.Store.EnqueueCommand(ctx, c); err != nil {
		if req.IdempotencyKey == "" || kinwatch.ErrorCode(err) != kinwatch.ECONFLICT {
			return nil, false, err
		}
		prev, perr := s.Store.CommandByIdempotencyKey(ctx, deviceID, req.AccountID, req.IdempotencyKey)
		if perr != nil {
			return nil, false, perr
		}
		if prev.Keyword != c.Keyword || !bytes.Equal(prev.Content, c.Content) {
			return nil, false, kinwatch.Errorf(kinwatch.ECONFLICT, "this Idempotency-Key was used for a different command")
		}
		return prev, false, nil
	}
	if err := s.Bus.Publish(ctx, []kinwatch.Record{{Event: kinwatch.CommandEvent(c, kinwatch.CommandQueued, now)}}, false); err != nil && s.Log != nil {
		s.Log.Warn("announcing a queued command failed", "device", deviceID, "command", c.ID, "err", err)
	}
	if s.Notifier != nil {
		s.Notifier.NotifyCommands(deviceID)
	}
	return c, true, nil
}
