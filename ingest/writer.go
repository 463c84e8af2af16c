// Package ingest is the batching storage writer: it consumes the bus in batches, commits each batch
// in one transaction, retries transient failures, and tells durable publishers the outcome through
// the bus. It is the only writer of positions, events, health readings and device state, which keeps
// SQLite fast and a device's records in order.
package ingest

import (
	"context"
	"log/slog"
	"time"

	"kinwatch"
	"kinwatch/metrics"
)

// Writer moves records from a Bus into a Store.
type Writer struct {
	Store    kinwatch.Store
	Bus      kinwatch.Bus
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	MaxBatch int
	MaxWait  time.Duration
	// Retries is how many times a failed batch is retried (with back-off, at most 5 s apart)
	// before its publishers are told it failed; negative retries until Run's context ends. A
	// server retries without limit: records that were never acknowledged to a watch (UD) would
	// otherwise be lost while the database is away, and the bus pushes back on the watches.
	Retries int
	// OnCommit, if set, is called after each committed batch (live fan-out hooks in here). It must
	// not keep recs. Records the store dropped (data of a watch no longer bound) are zero Records.
	OnCommit func(recs []kinwatch.Record)
	// Blobs, if set, is where media records' content lives: the content of a media record the
	// store dropped is deleted from it, so a voice message or photo of a watch unbound while it was
	// on its way is not left behind.
	Blobs kinwatch.BlobStore

	purposes []kinwatch.Purpose // the batch's records' purposes, to count what the store dropped
}

// Run consumes until ctx ends or the bus is closed and drained.
func (w *Writer) Run(ctx context.Context) error {
	return w.Bus.Consume(ctx, w.MaxBatch, w.MaxWait, w.write)
}

func (w *Writer) write(ctx context.Context, recs []kinwatch.Record) error {
	start := time.Now()
	media := w.mediaKeys(recs)
	defer w.dropContent(ctx, recs, media)
	if w.Metrics != nil {
		w.purposes = w.purposes[:0]
		for i := range recs {
			w.purposes = append(w.purposes, recs[i].Purpose())
		}
		defer w.countDropped(recs)
	}
	err := w.commit(ctx, recs)
	if kinwatch.ErrorCode(err) == kinwatch.EINVALID && len(recs) > 1 {
		// One watch's unstorable record must not take every other watch's records in the batch
		// down with it: store what can be stored, half by half, and drop only the bad records.
		stored, dropped := w.isolate(ctx, recs, nil)
		w.Log.Error("storage batch had unstorable records; the rest were stored", "records", len(recs), "dropped", dropped, "err", err)
		if w.Metrics != nil {
			w.Metrics.BatchErrors.Inc()
		}
		w.committed(stored, start)
		// Publishers of this batch are told it failed, stored records included: a resend makes
		// a duplicate at worst, while a false "stored" would lose an acknowledged alarm.
		return err
	}
	if err != nil {
		if w.Metrics != nil {
			w.Metrics.BatchErrors.Inc()
		}
		w.Log.Error("storage batch lost", "records", len(recs), "err", err)
		return err
	}
	w.committed(recs, start)
	return nil
}

// mediaKeys lists the blob keys of recs' media records by index; nil when there are none (the
// common case costs one pass and no allocation).
func (w *Writer) mediaKeys(recs []kinwatch.Record) map[int]string {
	if w.Blobs == nil {
		return nil
	}
	var keys map[int]string
	for i := range recs {
		if m := recs[i].Media; m != nil && m.Key != "" {
			if keys == nil {
				keys = make(map[int]string)
			}
			keys[i] = m.Key
		}
	}
	return keys
}

// dropContent deletes the content of the media records the store dropped (their entries are zero
// after a commit).
func (w *Writer) dropContent(ctx context.Context, recs []kinwatch.Record, keys map[int]string) {
	for i, key := range keys {
		if recs[i].Media != nil {
			continue // stored, or the batch failed and its publisher was told
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := w.Blobs.Delete(dctx, key); err != nil && kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
			w.Log.Warn("deleting the content of a dropped media record failed", "err", err)
		}
		cancel()
	}
}

// countDropped counts the records the store did not keep (their entries are zero after a commit)
// by the purpose they needed consent for.
func (w *Writer) countDropped(recs []kinwatch.Record) {
	for i := range recs {
		if p := w.purposes[i]; p != "" && recs[i] == (kinwatch.Record{}) {
			w.Metrics.NotCollected.WithLabelValues(string(p)).Inc()
		}
	}
}

// isolate commits recs in halves until the records the store refuses are alone; it returns the
// committed records (appended to stored) and how many were dropped.
func (w *Writer) isolate(ctx context.Context, recs, stored []kinwatch.Record) ([]kinwatch.Record, int) {
	err := w.commit(ctx, recs)
	switch {
	case err == nil:
		return append(stored, recs...), 0
	case kinwatch.ErrorCode(err) != kinwatch.EINVALID || len(recs) == 1:
		return stored, len(recs)
	}
	h := len(recs) / 2
	stored, a := w.isolate(ctx, recs[:h], stored)
	stored, b := w.isolate(ctx, recs[h:], stored)
	return stored, a + b
}

// commit writes one batch, retrying what may pass later.
func (w *Writer) commit(ctx context.Context, recs []kinwatch.Record) error {
	var err error
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		// The store gets a context of its own: a batch already taken from the queue is committed
		// even while the process is shutting down.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err = w.Store.WriteBatch(wctx, recs)
		cancel()
		if attempt > 0 && kinwatch.ErrorCode(err) == kinwatch.ECONFLICT {
			// The records' ids are random: a retry that finds them already stored means the
			// failed attempt did commit and only its answer was lost.
			err = nil
		}
		if err == nil || (w.Retries >= 0 && attempt >= w.Retries) || kinwatch.ErrorCode(err) == kinwatch.EINVALID || ctx.Err() != nil {
			return err
		}
		if w.Metrics != nil {
			w.Metrics.BatchErrors.Inc()
		}
		w.Log.Warn("storage batch failed; retrying", "records", len(recs), "attempt", attempt+1, "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// committed records the metrics of stored records and tells OnCommit.
func (w *Writer) committed(recs []kinwatch.Record, start time.Time) {
	if len(recs) == 0 {
		return
	}
	if w.Metrics != nil {
		w.Metrics.BatchSize.Observe(float64(len(recs)))
		w.Metrics.BatchLatency.Observe(time.Since(start).Seconds())
		var p, e, h, d, m int
		for i := range recs {
			switch r := &recs[i]; {
			case r.Position != nil:
				p++
			case r.Event != nil:
				e++
			case r.Health != nil:
				h++
			case r.Device != nil:
				d++
			case r.Media != nil:
				m++
			}
		}
		for _, kc := range [...]struct {
			kind string
			n    int
		}{{"position", p}, {"event", e}, {"health", h}, {"device", d}, {"media", m}} {
			if kc.n > 0 {
				w.Metrics.RecordsStored.WithLabelValues(kc.kind).Add(float64(kc.n))
			}
		}
	}
	if w.OnCommit != nil {
		w.OnCommit(recs)
	}
}
