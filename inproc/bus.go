// Package inproc is the in-process kinwatch.Bus: a bounded queue between the gateway's connection
// goroutines and the single storage writer, with batching on the consumer side and durable
// publishes that return only once the writer committed. It is the default for one process; a NATS
// JetStream bus replaces it when gateways and writers run apart.
package inproc

import (
	"context"
	"sync"
	"time"

	"kinwatch"
)

// ErrClosed is returned by Publish after Close.
var ErrClosed = kinwatch.Errorf(kinwatch.EUNAVAILABLE, "the ingest bus is closed")

// waiter collects the outcome of one durable Publish that may span several batches.
type waiter struct {
	mu        sync.Mutex
	remaining int
	err       error
	done      chan struct{}
}

func (w *waiter) finish(err error) {
	w.mu.Lock()
	if err != nil && w.err == nil {
		w.err = err
	}
	w.remaining--
	last := w.remaining == 0
	w.mu.Unlock()
	if last {
		close(w.done)
	}
}

type item struct {
	rec kinwatch.Record
	w   *waiter // nil for a fire-and-forget publish
}

// Bus is a bounded in-process queue. Publishers block while it is full: back-pressure reaches the
// watch connections (TCP flow control) instead of memory growing without bound.
type Bus struct {
	capacity int

	mu     sync.Mutex
	space  *sync.Cond
	queue  []item
	closed bool
	wake   chan struct{} // capacity 1: "something was queued or the bus closed"
}

// New returns a bus holding at most capacity records.
func New(capacity int) *Bus {
	if capacity < 1 {
		capacity = 1
	}
	b := &Bus{capacity: capacity, wake: make(chan struct{}, 1)}
	b.space = sync.NewCond(&b.mu)
	return b
}

func (b *Bus) poke() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Publish implements kinwatch.Bus.
func (b *Bus) Publish(ctx context.Context, recs []kinwatch.Record, durable bool) error {
	if len(recs) == 0 {
		return nil
	}
	var w *waiter
	if durable {
		w = &waiter{remaining: len(recs), done: make(chan struct{})}
	}
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	b.mu.Lock()
	for _, r := range recs {
		for len(b.queue) >= b.capacity && !b.closed && ctx.Err() == nil {
			if stop == nil {
				// A publisher waiting for space must still honour its context (a stopping server,
				// a hung database): wake every waiter when it ends so each can look at its own.
				// Armed only when waiting, so the common path allocates nothing.
				stop = context.AfterFunc(ctx, func() {
					b.mu.Lock()
					b.space.Broadcast()
					b.mu.Unlock()
				})
			}
			b.space.Wait()
		}
		if b.closed || ctx.Err() != nil {
			b.mu.Unlock()
			// Records already queued by this call will still be committed; the caller is told the
			// whole publish failed, which errs on the side of a resend.
			if b.closed {
				return ErrClosed
			}
			return ctx.Err()
		}
		b.queue = append(b.queue, item{rec: r, w: w})
	}
	b.mu.Unlock()
	b.poke()
	if w == nil {
		return nil
	}
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Depth implements kinwatch.Bus.
func (b *Bus) Depth() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// Close implements kinwatch.Bus.
func (b *Bus) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.space.Broadcast()
	b.poke()
	return nil
}

// Consume implements kinwatch.Bus. Only one consumer may run at a time: the single writer is what
// makes SQLite fast and keeps a device's records in order.
func (b *Bus) Consume(ctx context.Context, maxBatch int, maxWait time.Duration, fn func(context.Context, []kinwatch.Record) error) error {
	if maxBatch < 1 {
		maxBatch = 1
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var (
		items []item
		recs  []kinwatch.Record
	)
	for {
		b.mu.Lock()
		n, closed := len(b.queue), b.closed
		b.mu.Unlock()
		if n == 0 {
			if closed {
				return nil
			}
			select {
			case <-b.wake:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if n < maxBatch && !closed {
			// Let the batch fill for up to maxWait: one transaction for many records is what makes
			// the writer fast, and the wait bounds the added latency.
			timer.Reset(maxWait)
		fill:
			for {
				select {
				case <-b.wake:
					b.mu.Lock()
					full := len(b.queue) >= maxBatch || b.closed
					b.mu.Unlock()
					if full {
						timer.Stop()
						break fill
					}
				case <-timer.C:
					break fill
				case <-ctx.Done():
					timer.Stop()
					return ctx.Err()
				}
			}
		}
		b.mu.Lock()
		n = min(len(b.queue), maxBatch)
		items = append(items[:0], b.queue[:n]...)
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		if rest > 0 {
			b.poke()
		}
		b.mu.Unlock()
		b.space.Broadcast()

		recs = recs[:0]
		for _, it := range items {
			recs = append(recs, it.rec)
		}
		err := fn(ctx, recs)
		for i := range items {
			if items[i].w != nil {
				items[i].w.finish(err)
			}
		}
		clear(items)
		clear(recs)
	}
}

var _ kinwatch.Bus = (*Bus)(nil)
