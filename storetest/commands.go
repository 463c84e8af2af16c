package storetest

import (
	"testing"
	"time"

	"kinwatch"
)

func enqueue(t *testing.T, s kinwatch.Store, c *kinwatch.Command) *kinwatch.Command {
	t.Helper()
	if err := s.EnqueueCommand(t.Context(), c); err != nil {
		t.Fatalf("EnqueueCommand: %v", err)
	}
	return c
}

func mustCommand(t *testing.T, s kinwatch.Store, id string) *kinwatch.Command {
	t.Helper()
	c, err := s.Command(t.Context(), id)
	if err != nil {
		t.Fatalf("Command(%s): %v", id, err)
	}
	return c
}

func commandIDs(cs []*kinwatch.Command) []string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

func testCommandLifecycle(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const dev = "3004010030"
	write(t, s, update(kinwatch.DeviceUpdate{ID: dev, Time: t0}))

	// The content goes on the wire as it is: any byte, including escapes and NUL, must survive.
	c := enqueue(t, s, &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: dev, Keyword: "VERNO",
		Content: []byte("VERNO\x00\x7d\x01\xff"), ExpiresAt: t0.Add(time.Hour)})
	if c.Seq <= 0 || c.State != kinwatch.CommandQueued || c.CreatedAt.IsZero() {
		t.Fatalf("enqueued command has Seq %d, State %q, CreatedAt %v; want a positive Seq, queued, a creation time", c.Seq, c.State, c.CreatedAt)
	}
	same(t, "queued command", mustCommand(t, s, c.ID), c)

	pending, err := s.PendingCommands(ctx, dev)
	if err != nil {
		t.Fatalf("PendingCommands: %v", err)
	}
	same(t, "pending after enqueue", pending, []*kinwatch.Command{c})

	sentAt := t0.Add(time.Minute)
	if err := s.MarkCommandSent(ctx, c.ID, sentAt); err != nil {
		t.Fatalf("MarkCommandSent: %v", err)
	}
	want := *c
	want.State, want.SentAt, want.Attempts = kinwatch.CommandSent, sentAt, 1
	same(t, "sent command", mustCommand(t, s, c.ID), &want)

	// A resend after reconnecting counts as another attempt; the command stays pending.
	if err := s.MarkCommandSent(ctx, c.ID, sentAt.Add(time.Minute)); err != nil {
		t.Fatalf("MarkCommandSent again: %v", err)
	}
	want.SentAt, want.Attempts = sentAt.Add(time.Minute), 2
	same(t, "resent command", mustCommand(t, s, c.ID), &want)
	pending, err = s.PendingCommands(ctx, dev)
	if err != nil {
		t.Fatalf("PendingCommands: %v", err)
	}
	same(t, "pending after sending", pending, []*kinwatch.Command{&want})

	doneAt := t0.Add(3 * time.Minute)
	if err := s.FinishCommand(ctx, c.ID, kinwatch.CommandAcknowledged, "G36_V1.0_2024.01.01", "", doneAt); err != nil {
		t.Fatalf("FinishCommand: %v", err)
	}
	want.State, want.DoneAt, want.Reply = kinwatch.CommandAcknowledged, doneAt, "G36_V1.0_2024.01.01"
	same(t, "acknowledged command", mustCommand(t, s, c.ID), &want)

	pending, err = s.PendingCommands(ctx, dev)
	if err != nil || len(pending) != 0 {
		t.Errorf("pending after acknowledgement = %v, %v; want none", commandIDs(pending), err)
	}
	wantCode(t, "FinishCommand twice", s.FinishCommand(ctx, c.ID, kinwatch.CommandFailed, "", "late", doneAt), kinwatch.ECONFLICT)
	wantCode(t, "MarkCommandSent after finish", s.MarkCommandSent(ctx, c.ID, doneAt), kinwatch.ECONFLICT)
	same(t, "command after refused transitions", mustCommand(t, s, c.ID), &want)
}

func testCommandFinishStates(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const dev = "3004010031"
	write(t, s, update(kinwatch.DeviceUpdate{ID: dev, Time: t0}))

	// A queued command can fail without ever being sent (the watch was blocked, the operator
	// cancelled it); empty content is allowed.
	failed := enqueue(t, s, &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: dev, Keyword: "CR"})
	if err := s.FinishCommand(ctx, failed.ID, kinwatch.CommandFailed, "", "watch rejected it", t0.Add(time.Minute)); err != nil {
		t.Fatalf("FinishCommand(failed): %v", err)
	}
	got := mustCommand(t, s, failed.ID)
	if got.State != kinwatch.CommandFailed || got.Error != "watch rejected it" || !got.DoneAt.Equal(t0.Add(time.Minute)) ||
		!got.SentAt.IsZero() || len(got.Content) != 0 {
		t.Errorf("failed command = %+v", got)
	}

	noReply := enqueue(t, s, &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: dev, Keyword: "IP", Content: []byte("IP,1.2.3.4,8001"), NoReply: true})
	if !mustCommand(t, s, noReply.ID).NoReply {
		t.Errorf("NoReply lost")
	}
	if err := s.FinishCommand(ctx, noReply.ID, kinwatch.CommandExpired, "", "", t0); err != nil {
		t.Errorf("FinishCommand(expired): %v", err)
	}

	queued := enqueue(t, s, &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: dev, Keyword: "CR"})
	wantCode(t, "FinishCommand to a non-final state", s.FinishCommand(ctx, queued.ID, kinwatch.CommandSent, "", "", t0), kinwatch.EINVALID)
	if st := mustCommand(t, s, queued.ID).State; st != kinwatch.CommandQueued {
		t.Errorf("state after refused finish = %s, want queued", st)
	}

	unknown := kinwatch.NewID()
	_, err := s.Command(ctx, unknown)
	wantCode(t, "Command(unknown)", err, kinwatch.ENOTFOUND)
	wantCode(t, "MarkCommandSent(unknown)", s.MarkCommandSent(ctx, unknown, t0), kinwatch.ENOTFOUND)
	wantCode(t, "FinishCommand(unknown)", s.FinishCommand(ctx, unknown, kinwatch.CommandAcknowledged, "", "", t0), kinwatch.ENOTFOUND)
	wantCode(t, "EnqueueCommand(unknown device)",
		s.EnqueueCommand(ctx, &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: "3004019999", Keyword: "CR"}), kinwatch.ENOTFOUND)
	wantCode(t, "EnqueueCommand(duplicate id)",
		s.EnqueueCommand(ctx, &kinwatch.Command{ID: queued.ID, DeviceID: dev, Keyword: "CR"}), kinwatch.ECONFLICT)
}

func testCommandOrdering(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const a, b = "3004010032", "3004010033"
	write(t, s, update(kinwatch.DeviceUpdate{ID: a, Time: t0}), update(kinwatch.DeviceUpdate{ID: b, Time: t0}))

	created := t0.Add(-time.Hour)
	var all []*kinwatch.Command
	for i, dev := range []string{a, b, a, a, b, a} {
		c := &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: dev, Keyword: "CR", Content: []byte{byte(i)}}
		if i == 0 {
			c.CreatedAt = created // a caller's creation time is kept
		}
		all = append(all, enqueue(t, s, c))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Fatalf("Seq not increasing: %d after %d", all[i].Seq, all[i-1].Seq)
		}
	}
	if got := mustCommand(t, s, all[0].ID).CreatedAt; !got.Equal(created) {
		t.Errorf("CreatedAt = %v, want the caller's %v", got, created)
	}

	// The first command of a is in flight: still pending, still first.
	if err := s.MarkCommandSent(ctx, all[0].ID, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishCommand(ctx, all[2].ID, kinwatch.CommandAcknowledged, "", "", t0); err != nil {
		t.Fatal(err)
	}
	pending, err := s.PendingCommands(ctx, a)
	if err != nil {
		t.Fatalf("PendingCommands: %v", err)
	}
	same(t, "pending of a, in Seq order", commandIDs(pending), []string{all[0].ID, all[3].ID, all[5].ID})
	pending, err = s.PendingCommands(ctx, b)
	if err != nil {
		t.Fatalf("PendingCommands: %v", err)
	}
	same(t, "pending of b", commandIDs(pending), []string{all[1].ID, all[4].ID})

	list, err := s.Commands(ctx, a, 0, 0)
	if err != nil {
		t.Fatalf("Commands: %v", err)
	}
	same(t, "commands of a, newest first", commandIDs(list), []string{all[5].ID, all[3].ID, all[2].ID, all[0].ID})
	list, err = s.Commands(ctx, a, 0, 2)
	if err != nil {
		t.Fatalf("Commands: %v", err)
	}
	same(t, "commands of a, limit 2", commandIDs(list), []string{all[5].ID, all[3].ID})
	list, err = s.Commands(ctx, "3004019999", 0, 0)
	if err != nil || len(list) != 0 {
		t.Errorf("Commands(unknown device) = %v, %v; want none", commandIDs(list), err)
	}
}

func testExpireCommands(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const a, b = "3004010034", "3004010035"
	write(t, s, update(kinwatch.DeviceUpdate{ID: a, Time: t0}), update(kinwatch.DeviceUpdate{ID: b, Time: t0}))
	now := t0.Add(time.Hour)
	newCmd := func(dev string, expires time.Time) *kinwatch.Command {
		return enqueue(t, s, &kinwatch.Command{ID: kinwatch.NewID(), DeviceID: dev, Keyword: "CR", ExpiresAt: expires})
	}
	queuedOld := newCmd(a, now.Add(-time.Minute))
	sentOld := newCmd(b, now.Add(-time.Second))
	never := newCmd(a, time.Time{})
	future := newCmd(a, now.Add(time.Minute))
	exactlyNow := newCmd(b, now) // expires before now: not yet
	doneOld := newCmd(a, now.Add(-time.Hour))
	if err := s.MarkCommandSent(ctx, sentOld.ID, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishCommand(ctx, doneOld.ID, kinwatch.CommandAcknowledged, "ok", "", t0); err != nil {
		t.Fatal(err)
	}

	expired, err := s.ExpireCommands(ctx, now)
	if err != nil {
		t.Fatalf("ExpireCommands: %v", err)
	}
	same(t, "expired commands", commandIDs(expired), []string{queuedOld.ID, sentOld.ID})
	for _, c := range expired {
		if c.State != kinwatch.CommandExpired || !c.DoneAt.Equal(now) {
			t.Errorf("returned command %s is %s done at %v; want expired at %v", c.ID, c.State, c.DoneAt, now)
		}
		if got := mustCommand(t, s, c.ID); got.State != kinwatch.CommandExpired {
			t.Errorf("stored command %s is %s, want expired", c.ID, got.State)
		}
	}
	if len(expired) == 2 && (expired[1].Attempts != 1 || expired[1].DeviceID != b) {
		t.Errorf("expired commands lost their other fields: %+v", expired[1])
	}
	for _, c := range []*kinwatch.Command{never, future, exactlyNow} {
		if st := mustCommand(t, s, c.ID).State; st != kinwatch.CommandQueued {
			t.Errorf("command expiring at %v is %s, want queued", c.ExpiresAt, st)
		}
	}
	if got := mustCommand(t, s, doneOld.ID); got.State != kinwatch.CommandAcknowledged || got.Reply != "ok" {
		t.Errorf("a finished command was expired: %+v", got)
	}

	again, err := s.ExpireCommands(ctx, now)
	if err != nil || len(again) != 0 {
		t.Errorf("second ExpireCommands = %v, %v; want none", commandIDs(again), err)
	}
	pending, err := s.PendingCommands(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "pending after expiry", commandIDs(pending), []string{never.ID, future.ID})
	wantCode(t, "FinishCommand after expiry", s.FinishCommand(ctx, queuedOld.ID, kinwatch.CommandAcknowledged, "", "", now), kinwatch.ECONFLICT)
}

// testCommandPaging pages through a device's commands newest first by Seq, each exactly once, and
// leaves other devices' commands out.
func testCommandPaging(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	const dev, other = "3004010030", "3004010031"
	write(t, s, update(kinwatch.DeviceUpdate{ID: dev, Time: t0}), update(kinwatch.DeviceUpdate{ID: other, Time: t0}))
	var want []string
	for range 7 {
		c := enqueue(t, s, &kinwatch.Command{DeviceID: dev, Keyword: "CR", CreatedAt: t0})
		enqueue(t, s, &kinwatch.Command{DeviceID: other, Keyword: "FIND", CreatedAt: t0})
		want = append([]string{c.ID}, want...)
	}
	var got []string
	var before int64
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		cs, err := s.Commands(ctx, dev, before, 3)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, commandIDs(cs)...)
		if len(cs) < 3 {
			break
		}
		before = cs[len(cs)-1].Seq
	}
	same(t, "commands paged newest first", got, want)
}
