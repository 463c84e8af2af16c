package commands_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/commands"
	"kinwatch/envelope"
	"kinwatch/inproc"
	"kinwatch/sqlite"
	"kinwatch/storetest"
	"kinwatch/watchproto"
)

type notifier struct {
	mu  sync.Mutex
	ids []string
}

func (n *notifier) NotifyCommands(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ids = append(n.ids, id)
}

func setup(t *testing.T) (*commands.Service, *sqlite.DB, *notifier, *[]kinwatch.Record) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"), envelope.NewMaster())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	bus := inproc.New(100)
	var (
		mu   sync.Mutex
		seen []kinwatch.Record
	)
	go bus.Consume(ctx, 10, time.Millisecond, func(ctx context.Context, recs []kinwatch.Record) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, recs...)
		return db.WriteBatch(ctx, recs)
	})
	t.Cleanup(func() { bus.Close() })
	n := &notifier{}
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	svc := &commands.Service{Store: db, Bus: bus, Notifier: n, TTL: time.Hour, Now: func() time.Time { return now }}
	db.WriteBatch(ctx, []kinwatch.Record{{Device: &kinwatch.DeviceUpdate{ID: "w1", Time: now}}, {Device: &kinwatch.DeviceUpdate{ID: "w2", Time: now}}})
	storetest.BoundWatches(t, db, "w1") // its command events are stored
	db.SetDeviceState(ctx, "w2", kinwatch.DeviceBlocked)
	return svc, db, n, &seen
}

func TestSendQueuesAnnouncesAndWakes(t *testing.T) {
	svc, db, n, _ := setup(t)
	ctx := context.Background()
	c, err := svc.Send(ctx, "w1", watchproto.Upload{Interval: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Command(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != kinwatch.CommandQueued || string(got.Content) != "UPLOAD,600" || got.Keyword != "UPLOAD" ||
		!got.ExpiresAt.Equal(time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)) {
		t.Fatalf("stored %+v", got)
	}
	if len(n.ids) != 1 || n.ids[0] != "w1" {
		t.Fatalf("notified %v", n.ids)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		es, _ := db.Events(ctx, kinwatch.EventFilter{DeviceID: "w1", Type: kinwatch.EventCommand, Limit: 10})
		if len(es) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no queued event")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSendRefuses(t *testing.T) {
	svc, _, n, _ := setup(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		device string
		cmd    watchproto.Command
		code   string
	}{
		{"invalid parameters", "w1", watchproto.Upload{Interval: time.Second}, kinwatch.EINVALID},
		{"no command", "w1", nil, kinwatch.EINVALID},
		{"unknown watch", "nope", watchproto.LocateNow{}, kinwatch.ENOTFOUND},
		{"blocked watch", "w2", watchproto.LocateNow{}, kinwatch.ECONFLICT},
	} {
		if _, err := svc.Send(ctx, tc.device, tc.cmd); kinwatch.ErrorCode(err) != tc.code {
			t.Errorf("%s: err %v, want code %s", tc.name, err, tc.code)
		}
	}
	if len(n.ids) != 0 {
		t.Fatalf("refused commands woke the gateway: %v", n.ids)
	}
}

// TestTransparencyNotice: when a guardian asks where the child is or calls back to listen, the
// watch first shows the child a notice; a retry of the same request shows none again; other
// commands and operators' commands show none; with the switch off, none either.
func TestTransparencyNotice(t *testing.T) {
	svc, db, _, _ := setup(t)
	ctx := context.Background()
	svc.Transparency = true
	guardian := commands.Request{AccountID: "acc1", IdempotencyKey: "k1"}
	if _, _, err := svc.SendFor(ctx, "w1", watchproto.LocateNow{}, guardian); err != nil {
		t.Fatal(err)
	}
	if _, created, err := svc.SendFor(ctx, "w1", watchproto.LocateNow{}, guardian); err != nil || created {
		t.Fatalf("retry: created %v, %v", created, err)
	}
	if _, _, err := svc.SendFor(ctx, "w1", watchproto.Monitor{Phone: "+4915112345678"}, commands.Request{AccountID: "acc1"}); err != nil {
		t.Fatal(err)
	}
	svc.SendFor(ctx, "w1", watchproto.Upload{Interval: time.Minute}, commands.Request{AccountID: "acc1"})
	svc.Send(ctx, "w1", watchproto.LocateNow{}) // an operator's, from the CLI
	svc.Transparency = false
	svc.SendFor(ctx, "w1", watchproto.LocateNow{}, commands.Request{AccountID: "acc1"})
	pending, err := db.PendingCommands(ctx, "w1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range pending {
		got = append(got, c.Keyword)
	}
	want := []string{"MESSAGE", "CR", "MESSAGE", "MONITOR", "UPLOAD", "CR", "CR"}
	if !slices.Equal(got, want) {
		t.Fatalf("queued %v, want %v", got, want)
	}
	if msg := string(pending[0].Content); msg != string(watchproto.TextMessage{Text: commands.LocateNotice}.AppendContent(nil)) {
		t.Errorf("notice %q", msg)
	}
}

// TestContactsNeedConsent: a guardian puts a phone book or whitelist on the watch only with the
// contacts consent; SOS numbers are the basic service's.
func TestContactsNeedConsent(t *testing.T) {
	svc, db, _, _ := setup(t)
	ctx := context.Background()
	d, _ := db.Device(ctx, "w1")
	members, _ := db.Members(ctx, d.FamilyID)
	guardian := commands.Request{AccountID: "acc1"}
	book := watchproto.PhoneBook{Part: 1, Entries: []watchproto.PhoneBookEntry{{Name: "Mum", Phone: "+4915112345678"}}}
	if _, _, err := svc.SendFor(ctx, "w1", book, guardian); err != nil {
		t.Fatalf("with every consent: %v", err)
	}
	if _, err := db.RecordConsents(ctx, []*kinwatch.Consent{{ID: kinwatch.NewID(), AccountID: members[0].AccountID, FamilyID: d.FamilyID, DeviceID: "w1",
		Purpose: kinwatch.PurposeContacts, Granted: false, PolicyVersion: "v1", Method: kinwatch.ConsentSettings, Time: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.SendFor(ctx, "w1", book, guardian); kinwatch.ErrorCode(err) != kinwatch.EFORBIDDEN {
		t.Fatalf("phone book without the contacts consent: %v", err)
	}
	if _, _, err := svc.SendFor(ctx, "w1", watchproto.SOSNumber{Slot: 1, Phone: "+4915112345678"}, guardian); err != nil {
		t.Fatalf("an SOS number without the contacts consent: %v", err)
	}
}
