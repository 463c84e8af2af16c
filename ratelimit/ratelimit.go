// Package ratelimit counts attempts per key in fixed windows, for abuse resistance on sign-in,
// password reset, verification and binding. It is in-process: a cluster multiplies the limits by
// its size, which the per-account lockout in the store does not.
package ratelimit

import (
	"sync"
	"time"

	"kinwatch"
)

// Limiter counts attempts per key in fixed windows.
type Limiter struct {
	now     func() time.Time
	mu      sync.Mutex
	m       map[string]*window
	maxKeys int
}

type window struct {
	start  time.Time
	period time.Duration
	n      int
}

// MaxKeys bounds memory. When the table is full, finished windows are dropped first; if that is
// not enough, the windows with the fewest attempts are. Someone spraying one attempt each at many
// keys therefore pushes out their own entries, not the count of a key under attack, which a table
// that simply restarted would forget.
const MaxKeys = 100_000

// New returns a Limiter reading the time from now.
func New(now func() time.Time) *Limiter {
	return NewSize(now, MaxKeys)
}

// NewSize returns a Limiter that holds at most maxKeys keys (for tests).
func NewSize(now func() time.Time, maxKeys int) *Limiter {
	return &Limiter{now: now, m: make(map[string]*window), maxKeys: max(maxKeys, 10)}
}

// Allow counts an attempt for key and refuses it with ETOOMANY beyond n per period.
func (l *Limiter) Allow(key string, n int, period time.Duration) error {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.m[key]
	if w == nil || now.Sub(w.start) >= w.period {
		if w == nil && len(l.m) >= l.maxKeys {
			l.evict(now)
		}
		w = &window{start: now, period: period}
		l.m[key] = w
	}
	w.n++
	if w.n > n {
		wait := w.start.Add(w.period).Sub(now).Round(time.Second)
		return kinwatch.Errorf(kinwatch.ETOOMANY, "too many attempts: try again in %s", wait)
	}
	return nil
}

// evict frees at least a tenth of the table: finished windows, then those with the fewest
// attempts.
func (l *Limiter) evict(now time.Time) {
	for k, w := range l.m {
		if now.Sub(w.start) >= w.period {
			delete(l.m, k)
		}
	}
	target := l.maxKeys - l.maxKeys/10
	for least := 1; len(l.m) > target; least *= 2 {
		for k, w := range l.m {
			if w.n <= least {
				delete(l.m, k)
				if len(l.m) <= target {
					return
				}
			}
		}
	}
}

// Len is how many keys the limiter holds.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
