package deident

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// MinSecret is the shortest secret NewPseudonymizer accepts: the full strength of HMAC-SHA256.
	MinSecret = 32
	// MinPeriod is the shortest rotation period NewPseudonymizer accepts; shorter periods would
	// leave too little data per pseudonym for analysis to be worth doing.
	MinPeriod = time.Hour

	epochLabel = "kinwatch pseudonym epoch\x00"
	// pseudonymBytes of the HMAC are kept: 128 bits, so collisions over any realistic number of
	// ids are negligible.
	pseudonymBytes = 16
	// PseudonymLen is the length of every pseudonym: unpadded base32 of pseudonymBytes.
	PseudonymLen = (pseudonymBytes*8 + 4) / 5
)

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Pseudonymizer derives pseudonyms from a server secret. It is safe for concurrent use.
type Pseudonymizer struct {
	secret []byte
	period int64 // nanoseconds
	now    atomic.Pointer[func() time.Time]
	// current caches the key of the most recently used current epoch, so Pseudonym costs one
	// HMAC rather than two.
	current atomic.Pointer[epochKey]
}

// epochKey is one epoch's derived key with a pool of HMACs keyed by it, so a call neither
// re-derives the key nor re-hashes it into a new HMAC.
type epochKey struct {
	epoch int64
	pool  sync.Pool // of *hasher
}

type hasher struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// NewPseudonymizer returns a Pseudonymizer whose pseudonyms rotate every period. The secret is
// copied; it must be at least MinSecret bytes of random data and period at least MinPeriod
// (30 days suits monthly analysis).
func NewPseudonymizer(secret []byte, period time.Duration) (*Pseudonymizer, error) {
	if len(secret) < MinSecret {
		return nil, fmt.Errorf("deident: pseudonym secret is %d bytes; want at least %d random bytes", len(secret), MinSecret)
	}
	if period < MinPeriod {
		return nil, fmt.Errorf("deident: pseudonym period %v is shorter than the minimum %v", period, MinPeriod)
	}
	p := &Pseudonymizer{secret: append([]byte(nil), secret...), period: int64(period)}
	p.SetClock(nil)
	return p, nil
}

// SetClock replaces the clock that decides the current epoch; nil restores time.Now. For tests.
func (p *Pseudonymizer) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	p.now.Store(&now)
}

// Epoch returns the current epoch, floor(unix time / period). The clock must lie between the
// years 1678 and 2262, the range of time.Time.UnixNano.
func (p *Pseudonymizer) Epoch() int64 {
	ns := (*p.now.Load())().UnixNano()
	e := ns / p.period
	if ns%p.period < 0 {
		e-- // floor, not truncation, before 1970
	}
	return e
}

// Pseudonym returns id's pseudonym for the current epoch: the same for the same kind and id until
// the epoch ends, unrelated to the pseudonym of any other kind, id or epoch. kind is a constant
// naming what id identifies ("account", "device"); it must not contain a NUL byte, which would
// make (kind, id) pairs ambiguous, and Pseudonym panics if it does.
func (p *Pseudonymizer) Pseudonym(kind, id string) string {
	e := p.Epoch()
	k := p.current.Load()
	if k == nil || k.epoch != e {
		k = p.derive(e)
		// Goroutines straddling an epoch boundary may overwrite each other's key for a moment;
		// each still uses the key of the epoch it computed, so only the cache hit rate suffers.
		p.current.Store(k)
	}
	return k.pseudonym(kind, id)
}

// PseudonymAt returns id's pseudonym for the given epoch, as Pseudonym returned or will return it
// during that epoch. It is for recomputing a past or future epoch's codes; it does not disturb
// the current epoch's cached key.
func (p *Pseudonymizer) PseudonymAt(epoch int64, kind, id string) string {
	if k := p.current.Load(); k != nil && k.epoch == epoch {
		return k.pseudonym(kind, id)
	}
	return p.derive(epoch).pseudonym(kind, id)
}

// derive computes epoch's key: HMAC-SHA256(secret, epochLabel + decimal epoch).
func (p *Pseudonymizer) derive(epoch int64) *epochKey {
	m := hmac.New(sha256.New, p.secret)
	m.Write([]byte(epochLabel))
	m.Write(strconv.AppendInt(nil, epoch, 10))
	key := m.Sum(nil)
	k := &epochKey{epoch: epoch}
	k.pool.New = func() any {
		return &hasher{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 128)}
	}
	return k
}

// pseudonym computes lower-case unpadded base32 of the first 16 bytes of
// HMAC-SHA256(epoch key, kind + "\x00" + id).
func (k *epochKey) pseudonym(kind, id string) string {
	if strings.IndexByte(kind, 0) >= 0 {
		panic("deident: pseudonym kind contains a NUL byte")
	}
	h := k.pool.Get().(*hasher)
	h.mac.Reset()
	h.buf = append(h.buf[:0], kind...)
	h.buf = append(h.buf, 0)
	h.buf = append(h.buf, id...)
	h.mac.Write(h.buf)
	h.mac.Sum(h.sum[:0])
	var out [PseudonymLen]byte
	lowerBase32.Encode(out[:], h.sum[:pseudonymBytes])
	if cap(h.buf) <= 4096 { // don't keep a buffer grown by one huge id
		k.pool.Put(h)
	}
	return string(out[:])
}
