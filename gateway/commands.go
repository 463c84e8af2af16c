package gateway

import (
	"context"
	"strings"
	"time"

	"kinwatch"
	"kinwatch/watchproto"
)

// maxAttempts is how often an unacknowledged command is written before it fails.
const maxAttempts = 2

// deliverCommands sends the device's queued commands in order. At most one command that expects an
// acknowledgement is in flight per watch: acks carry only a keyword, so two outstanding commands
// with the same keyword could not be told apart, and firmwares handle one at a time best.
func (c *conn) deliverCommands() {
	if !c.handshaken || c.inflight != nil || c.device == "" || c.writeFailed || c.draining {
		return
	}
	ctx, cancel := c.ctx()
	defer cancel()
	cmds, err := c.s.Store.PendingCommands(ctx, c.device)
	if err != nil {
		c.s.Log.Warn("loading queued commands failed", "device", c.device, "err", err)
		return
	}
	now := c.s.now()
	for _, cmd := range cmds {
		if !cmd.ExpiresAt.IsZero() && cmd.ExpiresAt.Before(now) {
			continue // the maintenance loop expires it and tells the guardian
		}
		if cmd.State == kinwatch.CommandSent && cmd.Attempts >= maxAttempts {
			// Written twice across connections without an answer: writing it again on every
			// reconnect could loop a watch that reboots on RESET before it acknowledges.
			if !c.finish(cmd, kinwatch.CommandFailed, "", "no acknowledgement from the watch", now) {
				return
			}
			continue
		}
		if !c.send(cmd, now) {
			return
		}
		if !cmd.NoReply {
			return
		}
	}
}

// send writes cmd to the watch and records the attempt; false means the connection failed.
func (c *conn) send(cmd *kinwatch.Command, now time.Time) bool {
	ctx, cancel := c.ctx()
	defer cancel()
	mfr := c.mfr
	if c.s.Opts.DownlinkPrefix != "" {
		mfr = c.s.Opts.DownlinkPrefix
	}
	index := ""
	if c.hasIndex {
		index = "0001"
	}
	frame := watchproto.AppendFrame(c.outBuf(), mfr, c.device, index, cmd.Content)
	if err := c.write(frame, "command"); err != nil {
		return false // still queued (or sent, from an earlier attempt): the next connection delivers it
	}
	c.s.Metrics.CommandsSent.Inc()
	if err := c.s.Store.MarkCommandSent(ctx, cmd.ID, now); err != nil {
		c.s.Log.Warn("recording a command as sent failed", "device", c.device, "command", cmd.ID, "err", err)
	}
	cmd.Attempts++
	cmd.State = kinwatch.CommandSent
	c.commandEvent(cmd, kinwatch.CommandSent, now)
	if cmd.NoReply {
		// The watch never answers this one (IP makes it reconnect elsewhere): written is done.
		c.finish(cmd, kinwatch.CommandAcknowledged, "", "", now)
		return true
	}
	c.inflight, c.inflightDue = cmd, now.Add(c.s.Opts.CommandAckTimeout)
	return true
}

// commandReply matches a watch's answer with the command in flight. keyword is the decoder's
// canonical keyword (longest match, so REMOVESMS is not taken for REMOVE), or for a custom command
// the frame's type; data is what follows it.
func (c *conn) commandReply(keyword, data string, now time.Time) {
	data = clean(data, 1024)
	if keyword == "VERNO" && data != "" {
		c.recs = append(c.recs, kinwatch.Record{Device: &kinwatch.DeviceUpdate{ID: c.device, Time: now, Firmware: clean(data, 128)}})
	}
	cmd := c.inflight
	if cmd == nil || !strings.EqualFold(keyword, cmd.Keyword) {
		return // a late or unsolicited answer: nothing waits for it
	}
	state := kinwatch.CommandAcknowledged
	errText := ""
	if data == "0" && refusable[strings.ToUpper(cmd.Keyword)] {
		state, errText = kinwatch.CommandFailed, "the watch refused the command"
	}
	if !c.finish(cmd, state, data, errText, now) {
		// Answered but not recorded (the database is unreachable): keep it in flight so it is not
		// written to the watch again, and try recording the answer again shortly.
		c.unrecorded = &answer{state, data, errText}
		c.inflightDue = now.Add(5 * time.Second)
		return
	}
	c.inflight = nil
	c.deliverCommands()
}

// answer is a watch's answer to the command in flight that could not be recorded yet.
type answer struct {
	state          kinwatch.CommandState
	reply, errText string
}

// refusable are the commands whose answer carries a status: ",0" means the watch refused them.
var refusable = map[string]bool{"TK": true, "PHBX": true, "TAKEPILLS": true}

// commandTimedOut resends the command in flight once, then fails it and moves on.
func (c *conn) commandTimedOut() {
	cmd := c.inflight
	now := c.s.now()
	if a := c.unrecorded; a != nil {
		if !c.finish(cmd, a.state, a.reply, a.errText, now) {
			c.inflightDue = now.Add(5 * time.Second)
			return
		}
		c.inflight, c.unrecorded = nil, nil
		c.deliverCommands()
		return
	}
	c.inflight = nil
	expired := !cmd.ExpiresAt.IsZero() && cmd.ExpiresAt.Before(now)
	if cmd.Attempts < maxAttempts && !expired {
		c.send(cmd, now)
		return
	}
	if !expired { // an expired one is the maintenance loop's to record
		c.finish(cmd, kinwatch.CommandFailed, "", "no acknowledgement from the watch", now)
	}
	if err := c.flush(false); err != nil {
		c.err = err
	}
	c.deliverCommands()
}

// finish records a command's final state; false means it could not be recorded (the database is
// unreachable) and the command is still open.
func (c *conn) finish(cmd *kinwatch.Command, state kinwatch.CommandState, reply, errText string, now time.Time) bool {
	ctx, cancel := c.ctx()
	defer cancel()
	if err := c.s.Store.FinishCommand(ctx, cmd.ID, state, reply, errText, now); err != nil {
		// ECONFLICT: it was already final (expired meanwhile); the expiry told everyone.
		if kinwatch.ErrorCode(err) == kinwatch.ECONFLICT {
			return true
		}
		c.s.Log.Warn("recording a command result failed", "device", c.device, "command", cmd.ID, "err", err)
		return false
	}
	cmd.State, cmd.Reply, cmd.Error = state, reply, errText
	c.s.Metrics.CommandResults.WithLabelValues(string(state)).Inc()
	c.commandEvent(cmd, state, now)
	return true
}

// RunMaintenance expires commands whose time ran out, every interval until ctx ends.
func (s *Server) RunMaintenance(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.expireCommands(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) expireCommands(ctx context.Context) {
	now := s.now()
	cmds, err := s.Store.ExpireCommands(ctx, now)
	if err != nil {
		if ctx.Err() == nil {
			s.Log.Warn("expiring commands failed", "err", err)
		}
		return
	}
	if len(cmds) == 0 {
		return
	}
	recs := make([]kinwatch.Record, len(cmds))
	for i, cmd := range cmds {
		s.Metrics.CommandResults.WithLabelValues(string(kinwatch.CommandExpired)).Inc()
		recs[i] = kinwatch.Record{Event: kinwatch.CommandEvent(cmd, kinwatch.CommandExpired, now)}
	}
	if err := s.Bus.Publish(ctx, recs, false); err != nil {
		s.Log.Warn("announcing expired commands failed", "err", err)
	}
}
