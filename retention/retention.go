// Package retention is the job that deletes personal data once it outlived its retention: the
// operator's period per data class (kinwatch.Retention), or the shorter one a family chose. It
// deletes in small transactions with pauses between them, so the storage writer keeps the
// database for ingest, and removes the content of deleted media from the blob store.
//
// It decides what is old; the stores decide how to find and delete it (kinwatch.RetentionStore).
package retention

import (
	"context"
	"log/slog"
	"time"

	"kinwatch"
)

// Job deletes what outlived its retention.
type Job struct {
	Store  kinwatch.Store
	Blobs  kinwatch.BlobStore
	Policy kinwatch.Retention
	Log    *slog.Logger
	// Now is the clock (tests control it); nil is time.Now.
	Now func() time.Time
	// Batch is the most records one transaction deletes (default 500); Pause the wait between
	// two (default 20 ms); Interval the wait between runs (default 1 hour).
	Batch    int
	Pause    time.Duration
	Interval time.Duration
	// Deleted, if set, counts deleted records by class.
	Deleted func(class kinwatch.RetentionClass, n int)
}

func (j *Job) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

// Run runs the job every Interval until ctx ends.
func (j *Job) Run(ctx context.Context) {
	interval := j.Interval
	if interval <= 0 {
		interval = time.Hour
	}
	for {
		if _, err := j.RunOnce(ctx); err != nil && ctx.Err() == nil {
			j.log().Error("retention run failed; trying again next time", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func (j *Job) log() *slog.Logger {
	if j.Log != nil {
		return j.Log
	}
	return slog.New(slog.DiscardHandler)
}

// RunOnce deletes everything that outlived its retention at Now and returns how many records of
// each class it deleted.
func (j *Job) RunOnce(ctx context.Context) (map[kinwatch.RetentionClass]int, error) {
	now := j.now()
	// Sessions, tokens and binding codes that no longer work hold devices, addresses and IPs
	// for nothing.
	if err := j.Store.DeleteExpired(ctx, now); err != nil {
		return nil, err
	}
	chosen, err := j.Store.FamilyRetentions(ctx)
	if err != nil {
		return nil, err
	}
	done := map[kinwatch.RetentionClass]int{}
	for _, class := range kinwatch.RetentionClasses {
		keep, ok := j.Policy[class]
		if !ok || keep <= 0 {
			continue // the operator keeps this class as long as its owner exists
		}
		n, err := j.purge(ctx, class, "", now.Add(-keep))
		done[class] += n
		if err != nil {
			return done, err
		}
		for family, days := range chosen {
			d := time.Duration(days[class]) * 24 * time.Hour
			if d <= 0 || d >= keep {
				continue
			}
			n, err := j.purge(ctx, class, family, now.Add(-d))
			done[class] += n
			if err != nil {
				return done, err
			}
		}
		if done[class] > 0 {
			j.log().Info("retention: deleted records", "class", class, "records", done[class])
		}
	}
	return done, nil
}

// purge deletes in batches until a batch comes back short.
func (j *Job) purge(ctx context.Context, class kinwatch.RetentionClass, family string, before time.Time) (int, error) {
	batch, pause := j.Batch, j.Pause
	if batch <= 0 {
		batch = 500
	}
	if pause <= 0 {
		pause = 20 * time.Millisecond
	}
	total := 0
	for {
		n, keys, err := j.Store.Purge(ctx, class, family, before, batch)
		total += n
		j.deleteContent(ctx, keys)
		if n > 0 && j.Deleted != nil {
			j.Deleted(class, n)
		}
		if err != nil || n < batch {
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(pause):
		}
	}
}

// deleteContent removes the content of deleted media; a failure is logged with the key (ids
// only) for the operator: the rows are gone, and the content is sealed with its family's key.
func (j *Job) deleteContent(ctx context.Context, keys []string) {
	for _, k := range keys {
		if j.Blobs == nil {
			return
		}
		// The rows are gone: their content goes too, even while the job is being stopped.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err := j.Blobs.Delete(dctx, k)
		cancel()
		if err != nil && kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
			j.log().Warn("retention: deleting media content failed", "key", k, "err", err)
		}
	}
}
