package geo

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"
)

// Chain asks its providers in order, each under Timeout, and the first fix wins; a provider that
// fails or times out is skipped like one that does not know the place, so a slow remote service
// costs at most Timeout and never the position.
//
// Answers are cached by what the watch heard (cells and access points, signals ignored): a child
// sitting in a classroom reports the same networks all morning, and a remote service bills per
// request. Fixes are kept for TTL, "not found" for the shorter NotFoundTTL so that a place the
// self-learning map learns soon after is found soon after; failures are never cached. Identical
// queries arriving together are resolved once. At most MaxEntries answers are kept, the least
// recently used going first.
//
// The zero values mean the defaults. A Chain is safe for concurrent use and must not be copied
// after its first Locate.
type Chain struct {
	Providers   []Provider
	Timeout     time.Duration    // per provider; default 2 s
	TTL         time.Duration    // default 24 h; negative disables the cache
	NotFoundTTL time.Duration    // default 10 min; negative: "not found" is not cached
	MaxEntries  int              // default 100000
	Now         func() time.Time // default time.Now; tests move the clock

	mu       sync.Mutex
	entries  map[cacheKey]*list.Element // of *cacheEntry
	lru      list.List                  // most recently used first
	inflight map[cacheKey]*call
}

// Defaults of Chain.
const (
	DefaultTimeout     = 2 * time.Second
	DefaultTTL         = 24 * time.Hour
	DefaultNotFoundTTL = 10 * time.Minute
	DefaultMaxEntries  = 100000
)

type cacheKey = [sha256.Size]byte

type cacheEntry struct {
	key     cacheKey
	fix     Fix
	found   bool
	expires time.Time
}

// call is a resolution in progress that identical queries wait for.
type call struct {
	done      chan struct{}
	fix       Fix
	err       error
	abandoned bool // the caller that resolved it gave up: waiters must try themselves
}

// Locate returns the position of what q heard, ErrNotFound when no provider can place it (nothing
// usable heard counts as that), or the providers' errors joined when none placed it and at least
// one failed.
func (c *Chain) Locate(ctx context.Context, q Query) (Fix, error) {
	h := prepare(q)
	if h.empty() {
		return Fix{}, ErrNotFound
	}
	key := h.cacheKey()
	for {
		c.mu.Lock()
		if c.entries == nil {
			c.entries = make(map[cacheKey]*list.Element)
			c.inflight = make(map[cacheKey]*call)
		}
		if el, ok := c.entries[key]; ok {
			e := el.Value.(*cacheEntry)
			if c.now().Before(e.expires) {
				c.lru.MoveToFront(el)
				c.mu.Unlock()
				if !e.found {
					return Fix{}, ErrNotFound
				}
				return e.fix, nil
			}
			c.lru.Remove(el)
			delete(c.entries, key)
		}
		if cl, ok := c.inflight[key]; ok {
			c.mu.Unlock()
			select {
			case <-cl.done:
				if cl.abandoned {
					continue
				}
				return cl.fix, cl.err
			case <-ctx.Done():
				return Fix{}, ctx.Err()
			}
		}
		cl := &call{done: make(chan struct{})}
		c.inflight[key] = cl
		c.mu.Unlock()

		fix, err := c.resolve(ctx, q)

		c.mu.Lock()
		delete(c.inflight, key)
		switch {
		case ctx.Err() != nil:
			cl.abandoned = true
		case err == nil:
			c.store(key, fix, true, c.ttl())
		case errors.Is(err, ErrNotFound):
			c.store(key, Fix{}, false, min(c.notFoundTTL(), c.ttl()))
		}
		c.mu.Unlock()
		cl.fix, cl.err = fix, err
		close(cl.done)
		return fix, err
	}
}

// CacheLen returns how many answers the cache holds, expired ones not yet evicted included.
func (c *Chain) CacheLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// resolve asks the providers in order.
func (c *Chain) resolve(ctx context.Context, q Query) (Fix, error) {
	var errs []error
	for _, p := range c.Providers {
		if err := ctx.Err(); err != nil {
			return Fix{}, err
		}
		pctx, cancel := context.WithTimeout(ctx, c.timeout())
		fix, err := p.Locate(pctx, q)
		cancel()
		switch {
		case err == nil && validFix(fix):
			if fix.Provider == "" {
				fix.Provider = p.Name()
			}
			fix.Accuracy = max(fix.Accuracy, floorFor(fix.Source))
			return fix, nil
		case err == nil:
			errs = append(errs, errors.New("geo: provider "+p.Name()+" answered an impossible fix"))
		case errors.Is(err, ErrNotFound):
		default:
			errs = append(errs, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return Fix{}, err
	}
	if len(errs) > 0 {
		return Fix{}, errors.Join(errs...)
	}
	return Fix{}, ErrNotFound
}

// store caches an answer for ttl; c.mu is held.
func (c *Chain) store(key cacheKey, fix Fix, found bool, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	if el, ok := c.entries[key]; ok {
		c.lru.Remove(el)
	}
	c.entries[key] = c.lru.PushFront(&cacheEntry{key: key, fix: fix, found: found, expires: c.now().Add(ttl)})
	for c.lru.Len() > c.maxEntries() {
		el := c.lru.Back()
		c.lru.Remove(el)
		delete(c.entries, el.Value.(*cacheEntry).key)
	}
}

func (c *Chain) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Chain) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c *Chain) ttl() time.Duration {
	if c.TTL == 0 {
		return DefaultTTL
	}
	return c.TTL
}

func (c *Chain) notFoundTTL() time.Duration {
	if c.NotFoundTTL == 0 {
		return DefaultNotFoundTTL
	}
	return c.NotFoundTTL
}

func (c *Chain) maxEntries() int {
	if c.MaxEntries > 0 {
		return c.MaxEntries
	}
	return DefaultMaxEntries
}
