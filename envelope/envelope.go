// Package envelope is kinwatch's one encryption seam for sensitive personal data at rest: children's
// precise location history, contacts and phone numbers, voice, photos, identity proofs. It owns
// envelope encryption: every owner ("family:<id>", "account:<id>") has AES-256-GCM data keys, each
// stored wrapped by a master key that comes from configuration or a file. Deleting an owner's data
// keys makes all its ciphertext unreadable everywhere, backups included (crypto-shredding).
//
// It must not store anything itself: a store keeps the wrapped data keys (table data_keys) and the
// ciphertext, and hands the keys over through a Loader. It never logs, and never puts into an
// error, key material or plaintext.
//
// Sealed format: byte 0 is the format version (1); then the data key version as a uvarint; then a
// 12-byte random nonce; then the GCM ciphertext and tag, with additional data owner + "\x00" + aad
// so that a value moved to another owner or row does not open.
package envelope

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

var (
	// ErrNoKey means the owner has no data key: its data was shredded, or it never had a key.
	ErrNoKey = errors.New("envelope: no data key (shredded, or never created)")
	// ErrDecrypt means a sealed value does not open: tampered, truncated, sealed for another
	// owner or aad, or under a data key version the owner does not have.
	ErrDecrypt = errors.New("envelope: sealed value does not open")
	// ErrUnknownMaster means a data key was wrapped by a master key id the Master does not hold.
	ErrUnknownMaster = errors.New("envelope: data key wrapped by unknown master key")
)

const (
	formatV1   = 1
	maxVersion = 1<<31 - 1 // fits an int everywhere and an INTEGER column

	defaultTTL       = 5 * time.Minute
	defaultMaxOwners = 100_000
)

// DataKey is one version of an owner's data key as a store keeps it (table data_keys: owner,
// version, master_id, wrapped, created_at). Wrapped is useless without the master key.
type DataKey struct {
	Owner     string
	Version   int    // 1, 2, …: the highest seals; every version opens
	MasterID  string // the master key that wrapped it
	Wrapped   []byte // nonce || AES-256-GCM(master, key), additional data binding owner and version
	CreatedAt time.Time
}

// Loader returns every version of owner's data keys. None (nil, nil) means the owner has no keys:
// never created, or shredded.
type Loader func(ctx context.Context, owner string) ([]DataKey, error)

// Keyring seals and opens owners' data with their data keys, caching unwrapped keys. It is safe
// for concurrent use; set the exported fields before first use.
type Keyring struct {
	// TTL is how long an owner's unwrapped keys are cached (default 5 minutes), so a key
	// shredded by another process stops working everywhere within TTL.
	TTL time.Duration
	// MaxOwners bounds the cache (default 100000).
	MaxOwners int
	// Now reads the clock; nil means time.Now.
	Now func() time.Time

	master *Master
	load   Loader

	mu     sync.RWMutex
	owners map[string]*entry
}

// entry is one owner's cache slot. While loading, done is open and callers for the owner wait on
// it, so concurrent misses load once.
type entry struct {
	done    chan struct{}
	loaded  bool      // guarded by Keyring.mu: keys are ready
	expires time.Time // guarded by Keyring.mu
	keys    *keySet   // written before done closes; immutable after
	err     error     // written before done closes
}

// keySet is an owner's unwrapped data keys, ascending by version.
type keySet struct {
	keys []dataKey
}

type dataKey struct {
	version int
	aead    cipher.AEAD
}

func (ks *keySet) current() *dataKey { return &ks.keys[len(ks.keys)-1] }

func (ks *keySet) find(version int) *dataKey {
	for i := len(ks.keys) - 1; i >= 0; i-- { // the newest versions are the most used
		if ks.keys[i].version == version {
			return &ks.keys[i]
		}
	}
	return nil
}

// NewKeyring returns a Keyring that unwraps the data keys load returns with m.
func NewKeyring(m *Master, load Loader) *Keyring {
	if m == nil || len(m.keys) == 0 || load == nil {
		panic("envelope: NewKeyring needs a Master with keys and a Loader")
	}
	return &Keyring{master: m, load: load, owners: make(map[string]*entry)}
}

// Master returns the master keys the Keyring wraps and unwraps with.
func (k *Keyring) Master() *Master { return k.master }

// NewDataKey returns a fresh random data key for owner, wrapped by the current master key, for the
// caller to store. Call Forget(owner) once it is stored so that sealing uses it at once.
func (k *Keyring) NewDataKey(owner string, version int) (DataKey, error) {
	if err := checkOwner(owner); err != nil {
		return DataKey{}, err
	}
	if version < 1 || version > maxVersion {
		return DataKey{}, fmt.Errorf("envelope: data key version %d out of range 1..%d", version, maxVersion)
	}
	var raw [keySize]byte
	defer clear(raw[:])
	rand.Read(raw[:])
	mk := k.master.keys[0]
	return DataKey{
		Owner:     owner,
		Version:   version,
		MasterID:  mk.id,
		Wrapped:   mk.wrap(raw[:], owner, version),
		CreatedAt: k.now().UTC(),
	}, nil
}

// Rewrap returns dk wrapped by the current master key, and true, or dk unchanged and false if the
// current key already wraps it. Either way dk must unwrap. After a rotation, store every key it
// reports true for; then the old master keys can go.
func (k *Keyring) Rewrap(dk DataKey) (DataKey, bool, error) {
	raw, err := k.master.unwrapRaw(dk)
	if err != nil {
		return DataKey{}, false, err
	}
	defer clear(raw)
	mk := k.master.keys[0]
	if dk.MasterID == mk.id {
		return dk, false, nil
	}
	dk.MasterID = mk.id
	dk.Wrapped = mk.wrap(raw, dk.Owner, dk.Version)
	return dk, true, nil
}

// Seal encrypts plaintext for owner under its newest data key, binding it to aad (say, the table,
// column and row id).
func (k *Keyring) Seal(ctx context.Context, owner string, aad, plaintext []byte) ([]byte, error) {
	return k.AppendSeal(ctx, nil, owner, aad, plaintext)
}

// AppendSeal is Seal appending to dst; it allocates only to grow dst. plaintext must not overlap
// dst's spare capacity. On error it returns dst unchanged.
func (k *Keyring) AppendSeal(ctx context.Context, dst []byte, owner string, aad, plaintext []byte) ([]byte, error) {
	ks, err := k.keys(ctx, owner)
	if err != nil {
		return dst, err
	}
	dk := ks.current()
	v := uint64(dk.version)
	dst = slices.Grow(dst, 1+uvarintLen(v)+nonceSize+len(plaintext)+tagSize)
	dst = append(dst, formatV1)
	dst = binary.AppendUvarint(dst, v)
	n := len(dst)
	dst = dst[:n+nonceSize]
	nonce := dst[n:]
	rand.Read(nonce)
	ad := getAD(owner, aad)
	dst = dk.aead.Seal(dst, nonce, plaintext, *ad)
	putAD(ad)
	return dst, nil
}

// Open decrypts a value Seal returned for the same owner and aad. Any damage gives ErrDecrypt; an
// owner without keys (shredded) gives ErrNoKey.
func (k *Keyring) Open(ctx context.Context, owner string, aad, sealed []byte) ([]byte, error) {
	version, body, ok := parseSealed(sealed)
	if !ok {
		return nil, ErrDecrypt
	}
	ks, err := k.keys(ctx, owner)
	if err != nil {
		return nil, err
	}
	dk := ks.find(version)
	if dk == nil && version > ks.current().version {
		// Another process may have added a version since this cache loaded: look once more.
		k.forget(owner, ks)
		if ks, err = k.keys(ctx, owner); err != nil {
			return nil, err
		}
		dk = ks.find(version)
	}
	if dk == nil {
		return nil, ErrDecrypt
	}
	ad := getAD(owner, aad)
	plaintext, err := dk.aead.Open(nil, body[:nonceSize], body[nonceSize:], *ad)
	putAD(ad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}

// parseSealed checks the header of a sealed value and returns its data key version and the
// nonce, ciphertext and tag that follow.
func parseSealed(b []byte) (version int, body []byte, ok bool) {
	if len(b) < 1 || b[0] != formatV1 {
		return 0, nil, false
	}
	v, n := binary.Uvarint(b[1:])
	// A non-minimal uvarint would let one sealed value have several encodings.
	if n <= 0 || v < 1 || v > maxVersion || n != uvarintLen(v) {
		return 0, nil, false
	}
	body = b[1+n:]
	if len(body) < nonceSize+tagSize {
		return 0, nil, false
	}
	return int(v), body, true
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// Forget drops owner's cached keys, so the next call loads them again: after shredding its keys
// or adding a version.
func (k *Keyring) Forget(owner string) {
	k.mu.Lock()
	delete(k.owners, owner)
	k.mu.Unlock()
}

// forget drops owner's cached keys if they are still ks.
func (k *Keyring) forget(owner string, ks *keySet) {
	k.mu.Lock()
	if e := k.owners[owner]; e != nil && e.loaded && e.keys == ks {
		delete(k.owners, owner)
	}
	k.mu.Unlock()
}

func (k *Keyring) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

func (k *Keyring) ttl() time.Duration {
	if k.TTL > 0 {
		return k.TTL
	}
	return defaultTTL
}

func (k *Keyring) maxOwners() int {
	if k.MaxOwners > 0 {
		return k.MaxOwners
	}
	return defaultMaxOwners
}

// keys returns owner's unwrapped keys, from the cache when fresh. The hit path allocates nothing.
func (k *Keyring) keys(ctx context.Context, owner string) (*keySet, error) {
	now := k.now()
	k.mu.RLock()
	if e := k.owners[owner]; e != nil && e.loaded && now.Before(e.expires) {
		ks := e.keys
		k.mu.RUnlock()
		return ks, nil
	}
	k.mu.RUnlock()
	return k.keysSlow(ctx, owner)
}

func (k *Keyring) keysSlow(ctx context.Context, owner string) (*keySet, error) {
	for {
		now := k.now()
		k.mu.Lock()
		e := k.owners[owner]
		if e != nil && e.loaded && now.Before(e.expires) {
			ks := e.keys
			k.mu.Unlock()
			return ks, nil
		}
		if e == nil || e.loaded { // missing or expired: this call loads
			if e == nil && len(k.owners) >= k.maxOwners() {
				k.evictLocked(now)
			}
			e = &entry{done: make(chan struct{})}
			k.owners[owner] = e
			k.mu.Unlock()
			k.fill(ctx, owner, e, now)
			return e.keys, e.err
		}
		k.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err == nil {
			return e.keys, nil
		}
		if (errors.Is(e.err, context.Canceled) || errors.Is(e.err, context.DeadlineExceeded)) && ctx.Err() == nil {
			continue // the caller that was loading gave up; this one is still willing
		}
		return nil, e.err
	}
}

// fill loads and unwraps owner's keys into e, which keysSlow put in the cache at start. The keys
// expire TTL after start, before the loader read them, so a shredding is honoured within TTL.
func (k *Keyring) fill(ctx context.Context, owner string, e *entry, start time.Time) {
	finished := false
	defer func() {
		if !finished { // the loader panicked: release the waiters, then let the panic go on
			e.err = errors.New("envelope: data key loader panicked")
			k.mu.Lock()
			if k.owners[owner] == e {
				delete(k.owners, owner)
			}
			k.mu.Unlock()
			close(e.done)
		}
	}()
	ks, err := k.unwrapAll(ctx, owner)
	k.mu.Lock()
	if err == nil {
		e.keys = ks
		e.expires = start.Add(k.ttl())
		e.loaded = true
	} else {
		// Failures, ErrNoKey included, are not cached: an owner whose first key was just stored
		// must be able to seal at once.
		e.err = err
		if k.owners[owner] == e {
			delete(k.owners, owner)
		}
	}
	k.mu.Unlock()
	finished = true
	close(e.done)
}

func (k *Keyring) unwrapAll(ctx context.Context, owner string) (*keySet, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	dks, err := k.load(ctx, owner)
	if err != nil {
		return nil, fmt.Errorf("envelope: loading data keys of %s: %w", owner, err)
	}
	if len(dks) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoKey, owner)
	}
	ks := &keySet{keys: make([]dataKey, 0, len(dks))}
	for _, dk := range dks {
		if dk.Owner != owner {
			return nil, fmt.Errorf("envelope: loader returned a data key of another owner for %s", owner)
		}
		raw, err := k.master.unwrapRaw(dk)
		if err != nil {
			return nil, err
		}
		ks.keys = append(ks.keys, dataKey{version: dk.Version, aead: newAEAD(raw)})
		clear(raw)
	}
	slices.SortFunc(ks.keys, func(a, b dataKey) int { return a.version - b.version })
	for i := 1; i < len(ks.keys); i++ {
		if ks.keys[i].version == ks.keys[i-1].version {
			return nil, fmt.Errorf("envelope: loader returned version %d of %s twice", ks.keys[i].version, owner)
		}
	}
	return ks, nil
}

// evictLocked makes room for new owners: expired entries go first, then arbitrary ones (map
// order), down to 7/8 of the bound so that the scan is paid once per MaxOwners/8 misses.
func (k *Keyring) evictLocked(now time.Time) {
	limit := k.maxOwners()
	target := limit - 1 - limit/8
	for owner, e := range k.owners {
		if e.loaded && !now.Before(e.expires) {
			delete(k.owners, owner)
		}
	}
	for owner := range k.owners {
		if len(k.owners) <= target {
			break
		}
		// A loading entry may go too: its waiters hold it, and fill only caches through the map.
		delete(k.owners, owner)
	}
}

func checkOwner(owner string) error {
	if owner == "" || strings.IndexByte(owner, 0) >= 0 {
		return errors.New("envelope: owner must be non-empty and contain no NUL byte")
	}
	return nil
}

// adPool holds buffers for the GCM additional data, owner + "\x00" + aad, so that sealing and
// opening build it without allocating.
var adPool = sync.Pool{New: func() any { b := make([]byte, 0, 128); return &b }}

func getAD(owner string, aad []byte) *[]byte {
	p := adPool.Get().(*[]byte)
	b := append((*p)[:0], owner...)
	b = append(b, 0)
	*p = append(b, aad...)
	return p
}

func putAD(p *[]byte) {
	if cap(*p) <= 64<<10 {
		adPool.Put(p)
	}
}
