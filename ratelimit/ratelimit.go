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
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*window
}

type window struct {
	start time.Time
	n     int
}

// maxKeys bounds memory: when the table is full, finished windows are dropped, and if that frees
// nothing the table restarts (which forgets counts rather than refusing everyone).
const maxKeys = 100_000

// New returns a Limiter reading the time from now.
func New(now func() time.Time) *Limiter {
	return &Limiter{now: now, m: make(map[string]*window)}
}

// Allow counts an attempt for key and refuses it with ETOOMANY beyond n per period.
func (l *Limiter) Allow(key string, n int, period time.Duration) error {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.m[key]
	if w == nil || now.Sub(w.start) >= period {
		if w == nil && len(l.m) >= maxKeys {
			l.sweep(now, period)
		}
		w = &window{start: now}
		l.m[key] = w
	}
	w.n++
	if w.n > n {
		wait := w.start.Add(period).Sub(now).Round(time.Second)
		return kinwatch.Errorf(kinwatch.ETOOMANY, "too many attempts: try again in %s", wait)
	}
	return nil
}

func (l *Limiter) sweep(now time.Time, period time.Duration) {
	for k, w := range l.m {
		if now.Sub(w.start) >= period {
			delete(l.m, k)
		}
	}
	if len(l.m) >= maxKeys {
		clear(l.m)
	}
}
