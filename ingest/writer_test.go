package ingest_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/envelope"
	"kinwatch/fileblob"
	"kinwatch/ingest"
	"kinwatch/inproc"
	"kinwatch/metrics"
	"kinwatch/sqlite"
	"kinwatch/storetest"
)

func setup(t *testing.T) (*sqlite.DB, *inproc.Bus, *ingest.Writer, chan error) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"), envelope.NewMaster())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	bus := inproc.New(1000)
	m := metrics.New(func() float64 { return float64(bus.Depth()) })
	w := &ingest.Writer{Store: db, Bus: bus, Metrics: m, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxBatch: 100, MaxWait: time.Millisecond, Retries: 2}
	done := make(chan error, 1)
	return db, bus, w, done
}

// bind binds watches into a family with consent to every purpose: the store keeps only bound
// watches' data, and only with consent.
func bind(t *testing.T, db *sqlite.DB, ids ...string) {
	t.Helper()
	storetest.BoundWatches(t, db, ids...)
}

func TestCommitsAndCallsOnCommit(t *testing.T) {
	db, bus, w, done := setup(t)
	bind(t, db, "1")
	var seen atomic.Int64
	w.OnCommit = func(recs []kinwatch.Record) { seen.Add(int64(len(recs))) }
	go func() { done <- w.Run(context.Background()) }()
	now := time.Now()
	recs := []kinwatch.Record{
		{Device: &kinwatch.DeviceUpdate{ID: "1", Time: now}},
		{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: "1", Time: now, Received: now, Lat: 1, Lon: 2, HasCoords: true}},
	}
	if err := bus.Publish(context.Background(), recs, true); err != nil {
		t.Fatal(err)
	}
	if seen.Load() != 2 {
		t.Fatalf("OnCommit saw %d records", seen.Load())
	}
	if p, err := db.LatestPosition(context.Background(), "1"); err != nil || p.Lat != 1 {
		t.Fatalf("%v %v", p, err)
	}
	bus.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestInvalidBatchFailsDurablePublisherWithoutRetry(t *testing.T) {
	_, bus, w, done := setup(t)
	var calls atomic.Int64
	w.OnCommit = func([]kinwatch.Record) { calls.Add(1) }
	go func() { done <- w.Run(context.Background()) }()
	start := time.Now()
	// A position without a time can never be stored: retrying would only delay the answer.
	err := bus.Publish(context.Background(), []kinwatch.Record{{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: "1"}}}, true)
	if kinwatch.ErrorCode(err) != kinwatch.EINVALID {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 40*time.Millisecond {
		t.Fatalf("invalid batch was retried (%v)", time.Since(start))
	}
	if calls.Load() != 0 {
		t.Fatal("OnCommit called for a failed batch")
	}
	bus.Close()
	<-done
}

func TestUnavailableStoreIsRetriedThenReported(t *testing.T) {
	db, bus, w, done := setup(t)
	go func() { done <- w.Run(context.Background()) }()
	db.Close() // every write now fails
	now := time.Now()
	err := bus.Publish(context.Background(), []kinwatch.Record{{Device: &kinwatch.DeviceUpdate{ID: "1", Time: now}}}, true)
	if err == nil {
		t.Fatal("durable publish succeeded against a closed database")
	}
	bus.Close()
	<-done
}

// lostAnswer commits the first batch for real and then reports a failure, as a database whose
// connection drops between COMMIT and its acknowledgement does.
type lostAnswer struct {
	kinwatch.Store
	calls int
}

func (s *lostAnswer) WriteBatch(ctx context.Context, recs []kinwatch.Record) error {
	err := s.Store.WriteBatch(ctx, recs)
	if s.calls++; s.calls == 1 && err == nil {
		return errors.New("connection reset after commit")
	}
	return err
}

func TestRetryAfterALostCommitAnswerSucceeds(t *testing.T) {
	db, bus, w, done := setup(t)
	bind(t, db, "1")
	w.Store = &lostAnswer{Store: db}
	go func() { done <- w.Run(context.Background()) }()
	now := time.Now()
	err := bus.Publish(context.Background(), []kinwatch.Record{
		{Position: &kinwatch.Position{ID: kinwatch.NewTimeID(now), DeviceID: "1", Time: now, Received: now}},
	}, true)
	if err != nil {
		t.Fatalf("durable publish failed although the batch was committed: %v", err)
	}
	ps, _ := db.Positions(context.Background(), kinwatch.PositionFilter{DeviceID: "1", Limit: 10})
	if len(ps) != 1 {
		t.Fatalf("%d positions stored, want exactly 1", len(ps))
	}
	bus.Close()
	<-done
}

func TestOneUnstorableRecordDoesNotTakeTheBatchDown(t *testing.T) {
	db, bus, w, done := setup(t)
	now := time.Now()
	// Queue everything before the writer runs, so it all lands in one batch.
	var good []kinwatch.Record
	for i := 0; i < 9; i++ {
		id := "w" + string(rune('0'+i))
		bind(t, db, id)
		good = append(good, kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewTimeID(now), DeviceID: id, Time: now, Received: now}})
	}
	bus.Publish(context.Background(), good[:5], false)
	badDone := make(chan error, 1)
	go func() {
		// No time: the store can never hold it.
		badDone <- bus.Publish(context.Background(), []kinwatch.Record{{Position: &kinwatch.Position{ID: kinwatch.NewTimeID(now), DeviceID: "bad"}}}, true)
	}()
	time.Sleep(20 * time.Millisecond)
	bus.Publish(context.Background(), good[5:], false)
	go func() { done <- w.Run(context.Background()) }()
	if err := <-badDone; kinwatch.ErrorCode(err) != kinwatch.EINVALID {
		t.Fatalf("publisher of the bad record told %v", err)
	}
	bus.Close()
	<-done
	for i := 0; i < 9; i++ {
		id := "w" + string(rune('0'+i))
		if ps, _ := db.Positions(context.Background(), kinwatch.PositionFilter{DeviceID: id, Limit: 1}); len(ps) != 1 {
			t.Errorf("position of %s lost with the bad record", id)
		}
	}
}

// TestDroppedRecordsAreNotPassedOn: what a guardian's unbinding made the store drop (the gateway
// had it queued) reaches neither OnCommit (the live stream) nor the blob store: a voice message's
// content is deleted with its dropped record. What the store kept is passed on as usual.
func TestDroppedRecordsAreNotPassedOn(t *testing.T) {
	db, bus, w, done := setup(t)
	bind(t, db, "1", "2")
	ctx := context.Background()
	if _, err := db.Unbind(ctx, "1"); err != nil { // the guardian unbinds "1"...
		t.Fatal(err)
	}
	blobs, err := fileblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w.Blobs = blobs
	var published []kinwatch.Record
	w.OnCommit = func(recs []kinwatch.Record) { published = append(published, recs...) }
	go func() { done <- w.Run(ctx) }()
	// ...while the gateway still had its child's position and voice message queued.
	now := time.Now()
	var recs []kinwatch.Record
	for _, dev := range []string{"1", "2"} {
		key := dev + "/voice.amr"
		if err := blobs.Put(ctx, key, []byte("#!AMR\n")); err != nil {
			t.Fatal(err)
		}
		recs = append(recs,
			kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: dev, Time: now, Received: now, Lat: 1, Lon: 2, HasCoords: true}},
			kinwatch.Record{Media: &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: dev, Kind: kinwatch.MediaAudio, ContentType: "audio/amr", Key: key, Size: 6, Time: now}})
	}
	if err := bus.Publish(ctx, recs, true); err != nil {
		t.Fatal(err)
	}
	bus.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := db.LatestPosition(ctx, "1"); kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		t.Fatalf("the unbound watch's position was stored: %v", err)
	}
	var kept []string
	for _, r := range published {
		switch {
		case r.Position != nil:
			kept = append(kept, "position "+r.Position.DeviceID)
		case r.Media != nil:
			kept = append(kept, "media "+r.Media.DeviceID)
		}
	}
	if strings.Join(kept, ", ") != "position 2, media 2" {
		t.Fatalf("passed on to the live stream: %v, want only the bound watch's", kept)
	}
	if _, err := blobs.Get(ctx, "1/voice.amr"); kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		t.Fatalf("the dropped voice message's content is still stored: %v", err)
	}
	if _, err := blobs.Get(ctx, "2/voice.amr"); err != nil {
		t.Fatalf("the stored voice message's content: %v", err)
	}
}
