package inproc_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/inproc"
)

func pos(id string) kinwatch.Record { return kinwatch.Record{Position: &kinwatch.Position{ID: id}} }

func TestDurablePublishReturnsAfterCommit(t *testing.T) {
	b := inproc.New(100)
	var committed atomic.Int64
	go b.Consume(context.Background(), 10, time.Millisecond, func(_ context.Context, recs []kinwatch.Record) error {
		time.Sleep(5 * time.Millisecond)
		committed.Add(int64(len(recs)))
		return nil
	})
	if err := b.Publish(context.Background(), []kinwatch.Record{pos("a"), pos("b")}, true); err != nil {
		t.Fatal(err)
	}
	if got := committed.Load(); got != 2 {
		t.Fatalf("durable publish returned with %d of 2 committed", got)
	}
}

func TestDurablePublishSeesCommitError(t *testing.T) {
	b := inproc.New(100)
	boom := errors.New("disk full")
	go b.Consume(context.Background(), 1, time.Millisecond, func(_ context.Context, recs []kinwatch.Record) error {
		if recs[0].Position.ID == "bad" {
			return boom
		}
		return nil
	})
	// The publish spans two batches (maxBatch 1); the second one fails.
	if err := b.Publish(context.Background(), []kinwatch.Record{pos("ok"), pos("bad")}, true); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

func TestBatchesAreBoundedAndOrdered(t *testing.T) {
	b := inproc.New(10000)
	var (
		mu   sync.Mutex
		seen []string
		max  int
	)
	done := make(chan error)
	go func() {
		done <- b.Consume(context.Background(), 64, 50*time.Millisecond, func(_ context.Context, recs []kinwatch.Record) error {
			mu.Lock()
			defer mu.Unlock()
			max = maxInt(max, len(recs))
			for _, r := range recs {
				seen = append(seen, r.Position.ID)
			}
			return nil
		})
	}()
	for i := 0; i < 1000; i++ {
		b.Publish(context.Background(), []kinwatch.Record{pos(string(rune('a' + i%26)))}, false)
	}
	b.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1000 {
		t.Fatalf("consumed %d of 1000 records (close must drain)", len(seen))
	}
	if max > 64 {
		t.Fatalf("batch of %d exceeds 64", max)
	}
	for i, id := range seen {
		if id != string(rune('a'+i%26)) {
			t.Fatalf("record %d out of order", i)
		}
	}
}

func TestBackPressureBlocksPublishers(t *testing.T) {
	b := inproc.New(2)
	b.Publish(context.Background(), []kinwatch.Record{pos("1"), pos("2")}, false)
	published := make(chan struct{})
	go func() {
		b.Publish(context.Background(), []kinwatch.Record{pos("3")}, false)
		close(published)
	}()
	select {
	case <-published:
		t.Fatal("publish into a full bus did not block")
	case <-time.After(50 * time.Millisecond):
	}
	go b.Consume(context.Background(), 10, time.Millisecond, func(context.Context, []kinwatch.Record) error { return nil })
	select {
	case <-published:
	case <-time.After(2 * time.Second):
		t.Fatal("publisher not released after the consumer drained")
	}
	if d := b.Depth(); d > 2 {
		t.Fatalf("depth %d", d)
	}
}

func TestPublishAfterCloseFails(t *testing.T) {
	b := inproc.New(10)
	b.Close()
	err := b.Publish(context.Background(), []kinwatch.Record{pos("x")}, false)
	if kinwatch.ErrorCode(err) != kinwatch.EUNAVAILABLE {
		t.Fatalf("err = %v", err)
	}
}

func TestDurablePublishHonoursContext(t *testing.T) {
	b := inproc.New(10) // no consumer: nothing ever commits
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := b.Publish(ctx, []kinwatch.Record{pos("x")}, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func BenchmarkPublishConsume(b *testing.B) {
	bus := inproc.New(8192)
	done := make(chan struct{})
	go func() {
		bus.Consume(context.Background(), 1000, time.Millisecond, func(context.Context, []kinwatch.Record) error { return nil })
		close(done)
	}()
	recs := []kinwatch.Record{pos("x")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bus.Publish(context.Background(), recs, false)
	}
	bus.Close()
	<-done
}

func TestPublishIntoAFullBusHonoursContext(t *testing.T) {
	b := inproc.New(1) // no consumer: the bus stays full
	b.Publish(context.Background(), []kinwatch.Record{pos("1")}, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := b.Publish(ctx, []kinwatch.Record{pos("2")}, false); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("publisher waited past its context")
	}
}
