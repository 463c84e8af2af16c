package kinwatch

import (
	"context"
	"time"
)

// Bus moves records from the gateway to the storage writer. The in-process implementation is the
// default; a NATS JetStream one can replace it so gateways and writers run in different processes.
type Bus interface {
	// Publish hands recs to the bus in order. With durable false it returns once they are queued;
	// with durable true only after the consumer committed them, or with the error that stopped it.
	// A watch is acknowledged only for what a durable publish returned nil for.
	Publish(ctx context.Context, recs []Record, durable bool) error
	// Consume delivers batches of at most maxBatch records, waiting at most maxWait for a batch to
	// fill, until ctx ends or the bus closes (then it drains what was queued first). fn returning nil
	// means committed; an error fails the durable publishers of that batch.
	Consume(ctx context.Context, maxBatch int, maxWait time.Duration, fn func(context.Context, []Record) error) error
	// Depth reports how many records are queued and not yet consumed.
	Depth() int
	// Close stops accepting records; Consume returns after draining.
	Close() error
}
