// Package commands queues server→watch commands: it validates a typed watchproto.Command, stores it
// in the device's persistent queue, announces it, and wakes the gateway holding the watch. Delivery,
// acknowledgement matching and retries belong to the gateway; this package never touches a socket.
package commands

import (
	"context"
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
}

// Send queues cmd for the device. The returned command is in state queued; its later states arrive
// as command events.
func (s *Service) Send(ctx context.Context, deviceID string, cmd watchproto.Command) (*kinwatch.Command, error) {
	if cmd == nil {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "no command given")
	}
	if err := cmd.Validate(); err != nil {
		return nil, &kinwatch.Error{Code: kinwatch.EINVALID, Message: err.Error(), Err: err}
	}
	d, err := s.Store.Device(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	if d.State == kinwatch.DeviceBlocked {
		return nil, kinwatch.Errorf(kinwatch.ECONFLICT, "the watch is blocked")
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	noReply := false
	if nr, ok := cmd.(interface{ NoReply() bool }); ok {
		noReply = nr.NoReply()
	}
	c := &kinwatch.Command{
		ID:        kinwatch.NewID(),
		DeviceID:  deviceID,
		Keyword:   cmd.Keyword(),
		Content:   cmd.AppendContent(nil),
		NoReply:   noReply,
		State:     kinwatch.CommandQueued,
		CreatedAt: now,
		ExpiresAt: now.Add(s.TTL),
	}
	if err := s.Store.EnqueueCommand(ctx, c); err != nil {
		return nil, err
	}
	if err := s.Bus.Publish(ctx, []kinwatch.Record{{Event: kinwatch.CommandEvent(c, kinwatch.CommandQueued, now)}}, false); err != nil {
		return nil, err
	}
	if s.Notifier != nil {
		s.Notifier.NotifyCommands(deviceID)
	}
	return c, nil
}
