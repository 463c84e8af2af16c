package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"kinwatch/envelope"
)

// keyTable is the data_keys table as a Loader sees it, counting loads per owner.
type keyTable struct {
	mu    sync.Mutex
	rows  map[string][]envelope.DataKey
	loads map[string]int
	delay time.Duration
}

func newKeyTable() *keyTable {
	return &keyTable{rows: map[string][]envelope.DataKey{}, loads: map[string]int{}}
}

func (kt *keyTable) load(ctx context.Context, owner string) ([]envelope.DataKey, error) {
	kt.mu.Lock()
	kt.loads[owner]++
	rows := slices.Clone(kt.rows[owner])
	delay := kt.delay
	kt.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	return rows, nil
}

func (kt *keyTable) put(dk envelope.DataKey) {
	kt.mu.Lock()
	defer kt.mu.Unlock()
	rows := slices.DeleteFunc(kt.rows[dk.Owner], func(r envelope.DataKey) bool { return r.Version == dk.Version })
	kt.rows[dk.Owner] = append(rows, dk)
}

func (kt *keyTable) shred(owner string) {
	kt.mu.Lock()
	defer kt.mu.Unlock()
	delete(kt.rows, owner)
}

func (kt *keyTable) all() []envelope.DataKey {
	kt.mu.Lock()
	defer kt.mu.Unlock()
	var all []envelope.DataKey
	for _, rows := range kt.rows {
		all = append(all, rows...)
	}
	return all
}

func (kt *keyTable) loadCount(owner string) int {
	kt.mu.Lock()
	defer kt.mu.Unlock()
	return kt.loads[owner]
}

// addKey creates and stores version of owner's data key.
func addKey(t testing.TB, k *envelope.Keyring, kt *keyTable, owner string, version int) {
	t.Helper()
	dk, err := k.NewDataKey(owner, version)
	if err != nil {
		t.Fatal(err)
	}
	kt.put(dk)
	k.Forget(owner)
}

func setup(t testing.TB, owners ...string) (*envelope.Keyring, *keyTable) {
	t.Helper()
	kt := newKeyTable()
	k := envelope.NewKeyring(envelope.NewMaster(), kt.load)
	for _, owner := range owners {
		addKey(t, k, kt, owner, 1)
	}
	return k, kt
}

func seal(t testing.TB, k *envelope.Keyring, owner, aad, plaintext string) []byte {
	t.Helper()
	sealed, err := k.Seal(context.Background(), owner, []byte(aad), []byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

func mustOpen(t testing.TB, k *envelope.Keyring, owner, aad string, sealed []byte, want string) {
	t.Helper()
	got, err := k.Open(context.Background(), owner, []byte(aad), sealed)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if string(got) != want {
		t.Fatalf("Open = %q, want %q", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	k, _ := setup(t, "family:1")
	ctx := context.Background()
	for _, tt := range []struct {
		name, aad, plaintext string
	}{
		{"empty", "", ""},
		{"position", "positions.lat_lon:42", "52.520008,13.404954"},
		{"large", "media:7", string(bytes.Repeat([]byte("voice"), 100_000))},
		{"binary aad", "\x00\xff", "\x00\x01\x02"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sealed := seal(t, k, "family:1", tt.aad, tt.plaintext)
			if want := 1 + 1 + 12 + len(tt.plaintext) + 16; len(sealed) != want {
				t.Errorf("sealed is %d bytes, want %d", len(sealed), want)
			}
			if sealed[0] != 1 || sealed[1] != 1 {
				t.Errorf("header % x, want format 1, version 1", sealed[:2])
			}
			if len(tt.plaintext) > 4 && bytes.Contains(sealed, []byte(tt.plaintext)) {
				t.Error("sealed value contains the plaintext")
			}
			mustOpen(t, k, "family:1", tt.aad, sealed, tt.plaintext)
			again := seal(t, k, "family:1", tt.aad, tt.plaintext)
			if bytes.Equal(again, sealed) {
				t.Error("sealing twice gave the same bytes: nonce reused")
			}
		})
	}

	// AppendSeal appends after what dst holds.
	dst := []byte("prefix")
	out, err := k.AppendSeal(ctx, dst, "family:1", nil, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if string(out[:6]) != "prefix" {
		t.Fatalf("AppendSeal overwrote dst: %q", out[:6])
	}
	mustOpen(t, k, "family:1", "", out[6:], "x")
}

func TestAnotherProcessOpens(t *testing.T) {
	k, kt := setup(t, "account:9")
	sealed := seal(t, k, "account:9", "contacts:1", "+44 20 7946 0000")
	other := envelope.NewKeyring(k.Master(), kt.load)
	mustOpen(t, other, "account:9", "contacts:1", sealed, "+44 20 7946 0000")
}

func TestTamperingFails(t *testing.T) {
	k, _ := setup(t, "family:1", "family:2")
	ctx := context.Background()
	sealed := seal(t, k, "family:1", "positions:1", "52.520008,13.404954")

	for i := range sealed {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			b := slices.Clone(sealed)
			b[i] ^= mask
			if _, err := k.Open(ctx, "family:1", []byte("positions:1"), b); !errors.Is(err, envelope.ErrDecrypt) {
				t.Fatalf("byte %d ^ %#x: err = %v, want ErrDecrypt", i, mask, err)
			}
		}
	}
	for n := range len(sealed) {
		if _, err := k.Open(ctx, "family:1", []byte("positions:1"), sealed[:n]); !errors.Is(err, envelope.ErrDecrypt) {
			t.Fatalf("truncated to %d bytes: err = %v, want ErrDecrypt", n, err)
		}
	}
	for _, tt := range []struct {
		name, owner, aad string
		sealed           []byte
	}{
		{"wrong owner", "family:2", "positions:1", sealed},
		{"wrong aad", "family:1", "positions:2", sealed},
		{"aad moved into owner", "family:1\x00positions:1", "", sealed},
		{"appended byte", "family:1", "positions:1", append(slices.Clone(sealed), 0)},
		{"non-minimal version", "family:1", "positions:1", slices.Concat([]byte{1, 0x81, 0x00}, sealed[2:])},
		{"version the owner lacks", "family:1", "positions:1", slices.Concat([]byte{1, 7}, sealed[2:])},
		{"nil", "family:1", "positions:1", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := k.Open(ctx, tt.owner, []byte(tt.aad), tt.sealed); err == nil {
				t.Fatal("opened")
			} else if tt.owner == "family:1" || tt.owner == "family:2" {
				if !errors.Is(err, envelope.ErrDecrypt) {
					t.Fatalf("err = %v, want ErrDecrypt", err)
				}
			}
		})
	}
}

func TestVersionRotation(t *testing.T) {
	k, kt := setup(t, "family:1")
	v1 := seal(t, k, "family:1", "a", "old")

	dk, err := k.NewDataKey("family:1", 2)
	if err != nil {
		t.Fatal(err)
	}
	kt.put(dk)
	// Still cached: version 1 seals until Forget (or TTL).
	if s := seal(t, k, "family:1", "a", "x"); s[1] != 1 {
		t.Fatalf("sealed with version %d before Forget, want 1 (cached)", s[1])
	}
	k.Forget("family:1")
	v2 := seal(t, k, "family:1", "a", "new")
	if v2[1] != 2 {
		t.Fatalf("sealed with version %d, want 2", v2[1])
	}
	mustOpen(t, k, "family:1", "a", v1, "old")
	mustOpen(t, k, "family:1", "a", v2, "new")

	// A process that cached only version 1 opens version 2 by looking again.
	k3 := envelope.NewKeyring(k.Master(), kt.load)
	kt.shred("family:1")
	dk1, _ := k3.NewDataKey("family:1", 1)
	kt.put(dk1)
	v1b := seal(t, k3, "family:1", "a", "v1")
	dk2, _ := k3.NewDataKey("family:1", 2)
	kt.put(dk2)
	other := envelope.NewKeyring(k.Master(), kt.load)
	v2b := seal(t, other, "family:1", "a", "v2")
	mustOpen(t, k3, "family:1", "a", v2b, "v2")
	mustOpen(t, k3, "family:1", "a", v1b, "v1")
}

func TestMasterRotation(t *testing.T) {
	k, kt := setup(t, "family:1", "family:2", "account:3")
	k.Forget("family:1")
	addKey(t, k, kt, "family:1", 2)
	sealed := map[string][]byte{}
	for _, owner := range []string{"family:1", "family:2", "account:3"} {
		sealed[owner] = seal(t, k, owner, "row", owner)
	}
	old := k.Master()

	// Step 1: a new current key, the old kept after it.
	rotated, err := old.WithNewKey()
	if err != nil {
		t.Fatal(err)
	}
	if rotated.CurrentID() == old.CurrentID() {
		t.Fatal("WithNewKey kept the current id")
	}
	k2 := envelope.NewKeyring(rotated, kt.load)
	for owner, s := range sealed {
		mustOpen(t, k2, owner, "row", s, owner) // old wraps still unwrap
	}
	fresh, err := k2.NewDataKey("family:9", 1)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.MasterID != rotated.CurrentID() {
		t.Fatalf("new key wrapped by %q, want %q", fresh.MasterID, rotated.CurrentID())
	}

	// Step 2: re-wrap every key.
	for _, dk := range kt.all() {
		re, changed, err := k2.Rewrap(dk)
		if err != nil {
			t.Fatal(err)
		}
		if !changed || re.MasterID != rotated.CurrentID() || re.Owner != dk.Owner || re.Version != dk.Version || !re.CreatedAt.Equal(dk.CreatedAt) {
			t.Fatalf("Rewrap = %+v, %v", re, changed)
		}
		kt.put(re)
		if again, changed, err := k2.Rewrap(re); err != nil || changed || !bytes.Equal(again.Wrapped, re.Wrapped) {
			t.Fatalf("second Rewrap: changed %v, err %v", changed, err)
		}
	}

	// Step 3: a Master with only the new key opens everything.
	only, err := envelope.ParseMaster(firstLine(rotated.KeyFileText()))
	if err != nil {
		t.Fatal(err)
	}
	k3 := envelope.NewKeyring(only, kt.load)
	for owner, s := range sealed {
		mustOpen(t, k3, owner, "row", s, owner)
	}

	// A key wrapped by a master the Keyring does not hold.
	stranger := envelope.NewKeyring(envelope.NewMaster(), kt.load)
	if _, err := stranger.Open(context.Background(), "family:2", []byte("row"), sealed["family:2"]); !errors.Is(err, envelope.ErrUnknownMaster) {
		t.Fatalf("Open with unknown master: %v, want ErrUnknownMaster", err)
	}
	if _, _, err := stranger.Rewrap(kt.all()[0]); !errors.Is(err, envelope.ErrUnknownMaster) {
		t.Fatalf("Rewrap with unknown master: %v, want ErrUnknownMaster", err)
	}
	if _, _, err := envelope.NewKeyring(old, kt.load).Rewrap(kt.all()[0]); !errors.Is(err, envelope.ErrUnknownMaster) {
		t.Fatalf("Rewrap with the old master only: %v, want ErrUnknownMaster", err)
	}
}

func firstLine(s string) string {
	line, _, _ := bytes.Cut([]byte(s), []byte("\n"))
	return string(line)
}

func TestWrappedKeyIsBoundToOwnerAndVersion(t *testing.T) {
	k, kt := setup(t)
	dk, err := k.NewDataKey("family:1", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		edit func(*envelope.DataKey)
	}{
		{"moved to another owner", func(dk *envelope.DataKey) { dk.Owner = "family:2" }},
		{"other version", func(dk *envelope.DataKey) { dk.Version = 2 }},
		{"flipped byte", func(dk *envelope.DataKey) { dk.Wrapped = slices.Clone(dk.Wrapped); dk.Wrapped[20] ^= 1 }},
		{"truncated", func(dk *envelope.DataKey) { dk.Wrapped = dk.Wrapped[:30] }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bad := dk
			tt.edit(&bad)
			if _, _, err := k.Rewrap(bad); err == nil {
				t.Fatal("Rewrap accepted it")
			}
			kt.shred(bad.Owner)
			kt.put(bad)
			k.Forget(bad.Owner)
			if _, err := k.Seal(context.Background(), bad.Owner, nil, []byte("x")); err == nil {
				t.Fatal("Seal used it")
			}
			kt.shred(bad.Owner)
		})
	}
}

// clock is a controllable Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestCryptoShredding(t *testing.T) {
	ctx := context.Background()
	t.Run("Forget", func(t *testing.T) {
		k, kt := setup(t, "family:1")
		sealed := seal(t, k, "family:1", "photo:3", "jpeg bytes")
		kt.shred("family:1")
		k.Forget("family:1")
		if _, err := k.Open(ctx, "family:1", []byte("photo:3"), sealed); !errors.Is(err, envelope.ErrNoKey) {
			t.Fatalf("Open after shredding: %v, want ErrNoKey", err)
		}
		if _, err := k.Seal(ctx, "family:1", nil, []byte("x")); !errors.Is(err, envelope.ErrNoKey) {
			t.Fatalf("Seal after shredding: %v, want ErrNoKey", err)
		}
		// A new key (a new family with the same id, say) does not bring the old data back.
		addKey(t, k, kt, "family:1", 1)
		if _, err := k.Open(ctx, "family:1", []byte("photo:3"), sealed); !errors.Is(err, envelope.ErrDecrypt) {
			t.Fatalf("Open under a new key: %v, want ErrDecrypt", err)
		}
	})
	t.Run("TTL", func(t *testing.T) {
		c := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
		kt := newKeyTable()
		k := envelope.NewKeyring(envelope.NewMaster(), kt.load)
		k.Now, k.TTL = c.now, time.Minute
		addKey(t, k, kt, "family:1", 1)
		sealed := seal(t, k, "family:1", "", "voice")
		kt.shred("family:1") // by another process: this one is not told
		c.add(59 * time.Second)
		mustOpen(t, k, "family:1", "", sealed, "voice")
		c.add(time.Second)
		if _, err := k.Open(ctx, "family:1", nil, sealed); !errors.Is(err, envelope.ErrNoKey) {
			t.Fatalf("Open after TTL: %v, want ErrNoKey", err)
		}
	})
	t.Run("never had a key", func(t *testing.T) {
		k, _ := setup(t)
		if _, err := k.Seal(ctx, "account:404", nil, nil); !errors.Is(err, envelope.ErrNoKey) {
			t.Fatalf("Seal: %v, want ErrNoKey", err)
		}
	})
}

func TestDefaultTTLIsFiveMinutes(t *testing.T) {
	c := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	kt := newKeyTable()
	k := envelope.NewKeyring(envelope.NewMaster(), kt.load)
	k.Now = c.now
	addKey(t, k, kt, "family:1", 1)
	seal(t, k, "family:1", "", "x")
	c.add(5*time.Minute - time.Second)
	seal(t, k, "family:1", "", "x")
	if n := kt.loadCount("family:1"); n != 1 {
		t.Fatalf("%d loads within 5 minutes, want 1", n)
	}
	c.add(time.Second)
	seal(t, k, "family:1", "", "x")
	if n := kt.loadCount("family:1"); n != 2 {
		t.Fatalf("%d loads after 5 minutes, want 2", n)
	}
}

func TestCacheBound(t *testing.T) {
	kt := newKeyTable()
	k := envelope.NewKeyring(envelope.NewMaster(), kt.load)
	k.MaxOwners = 3
	const owners = 20
	sealed := make([][]byte, owners)
	for i := range owners {
		addKey(t, k, kt, fmt.Sprintf("family:%d", i), 1)
	}
	for round := range 3 {
		for i := range owners {
			owner := fmt.Sprintf("family:%d", i)
			if round == 0 {
				sealed[i] = seal(t, k, owner, "", owner)
			}
			mustOpen(t, k, owner, "", sealed[i], owner)
		}
	}
	loads := 0
	for i := range owners {
		loads += kt.loadCount(fmt.Sprintf("family:%d", i))
	}
	if loads <= owners {
		t.Fatalf("%d loads for %d owners in a cache of 3: nothing was evicted", loads, owners)
	}
}

func TestConcurrentOneLoadPerOwner(t *testing.T) {
	k, kt := setup(t)
	const owners, goroutines, rounds = 8, 32, 50
	for i := range owners {
		addKey(t, k, kt, fmt.Sprintf("account:%d", i), 1)
	}
	kt.mu.Lock()
	clear(kt.loads)
	kt.delay = 20 * time.Millisecond // the first load is still running when the others arrive
	kt.mu.Unlock()

	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			var buf []byte
			for r := range rounds {
				owner := fmt.Sprintf("account:%d", (g+r)%owners)
				plaintext := fmt.Appendf(nil, "%d/%d", g, r)
				var err error
				buf, err = k.AppendSeal(ctx, buf[:0], owner, []byte(owner), plaintext)
				if err != nil {
					errs <- err
					return
				}
				got, err := k.Open(ctx, owner, []byte(owner), buf)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, plaintext) {
					errs <- fmt.Errorf("opened %q, want %q", got, plaintext)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range owners {
		if n := kt.loadCount(fmt.Sprintf("account:%d", i)); n != 1 {
			t.Errorf("account:%d loaded %d times, want 1", i, n)
		}
	}
}

func TestLoaderErrors(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("database is down")
	fail := true
	var mu sync.Mutex
	m := envelope.NewMaster()
	good := envelope.NewKeyring(m, func(context.Context, string) ([]envelope.DataKey, error) { return nil, nil })
	dk, _ := good.NewDataKey("family:1", 1)
	k := envelope.NewKeyring(m, func(ctx context.Context, owner string) ([]envelope.DataKey, error) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return nil, boom
		}
		return []envelope.DataKey{dk}, nil
	})
	if _, err := k.Seal(ctx, "family:1", nil, nil); !errors.Is(err, boom) {
		t.Fatalf("Seal: %v, want the loader's error", err)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	if _, err := k.Seal(ctx, "family:1", nil, nil); err != nil {
		t.Fatalf("Seal after the loader recovered: %v (errors must not be cached)", err)
	}

	// A loader returning another owner's key or the same version twice is refused.
	for _, rows := range [][]envelope.DataKey{{dk}, {dk, dk}} {
		k := envelope.NewKeyring(m, func(context.Context, string) ([]envelope.DataKey, error) { return rows, nil })
		owner := "family:1"
		if len(rows) == 1 {
			owner = "family:2"
		}
		if _, err := k.Seal(ctx, owner, nil, nil); err == nil {
			t.Errorf("Seal with loader rows %d accepted", len(rows))
		}
	}
}

func TestNewDataKey(t *testing.T) {
	k, _ := setup(t)
	for _, tt := range []struct {
		owner   string
		version int
		ok      bool
	}{
		{"family:1", 1, true},
		{"account:1", 1 << 20, true},
		{"", 1, false},
		{"family:1\x00x", 1, false},
		{"family:1", 0, false},
		{"family:1", -1, false},
	} {
		dk, err := k.NewDataKey(tt.owner, tt.version)
		if (err == nil) != tt.ok {
			t.Errorf("NewDataKey(%q, %d): err = %v", tt.owner, tt.version, err)
			continue
		}
		if err == nil && (dk.Owner != tt.owner || dk.Version != tt.version || dk.MasterID != k.Master().CurrentID() || len(dk.Wrapped) != 60 || dk.CreatedAt.IsZero()) {
			t.Errorf("NewDataKey = %+v", dk)
		}
	}
}

func TestContextCancelledWhileWaiting(t *testing.T) {
	release := make(chan struct{})
	m := envelope.NewMaster()
	dk, _ := envelope.NewKeyring(m, func(context.Context, string) ([]envelope.DataKey, error) { return nil, nil }).NewDataKey("family:1", 1)
	k := envelope.NewKeyring(m, func(ctx context.Context, owner string) ([]envelope.DataKey, error) {
		<-release
		return []envelope.DataKey{dk}, nil
	})
	done := make(chan error)
	go func() {
		_, err := k.Seal(context.Background(), "family:1", nil, nil)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := k.Seal(ctx, "family:1", nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting Seal with a cancelled context: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func FuzzOpen(f *testing.F) {
	kt := newKeyTable()
	k := envelope.NewKeyring(envelope.NewMaster(), kt.load)
	addKey(f, k, kt, "family:1", 1)
	addKey(f, k, kt, "family:1", 2)
	v2 := seal(f, k, "family:1", "aad", "plaintext")
	f.Add(v2, []byte("aad"))
	f.Add(v2[:20], []byte("aad"))
	f.Add(slices.Concat([]byte{1, 1}, v2[2:]), []byte("aad"))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, []byte{})
	f.Add([]byte{}, []byte{})
	f.Add([]byte{2}, []byte("aad"))
	f.Fuzz(func(t *testing.T, sealed, aad []byte) {
		got, err := k.Open(context.Background(), "family:1", aad, sealed)
		if err != nil {
			if !errors.Is(err, envelope.ErrDecrypt) {
				t.Fatalf("err = %v, want ErrDecrypt", err)
			}
			return
		}
		if !bytes.Equal(sealed, v2) || string(aad) != "aad" || string(got) != "plaintext" {
			t.Fatalf("opened a value that was never sealed: % x → %q", sealed, got)
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	k, _ := setup(b, "family:1")
	ctx := context.Background()
	aad := []byte("positions.lat_lon:1234567")
	plaintext := bytes.Repeat([]byte{'p'}, 64)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(plaintext)))
	for b.Loop() {
		var err error
		buf, err = k.AppendSeal(ctx, buf[:0], "family:1", aad, plaintext)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k, _ := setup(b, "family:1")
	ctx := context.Background()
	aad := []byte("positions.lat_lon:1234567")
	sealed, err := k.Seal(ctx, "family:1", aad, bytes.Repeat([]byte{'p'}, 64))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(64)
	for b.Loop() {
		if _, err := k.Open(ctx, "family:1", aad, sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealParallel(b *testing.B) {
	k, _ := setup(b, "family:1")
	ctx := context.Background()
	aad := []byte("positions.lat_lon:1234567")
	plaintext := bytes.Repeat([]byte{'p'}, 64)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 256)
		for pb.Next() {
			var err error
			if buf, err = k.AppendSeal(ctx, buf[:0], "family:1", aad, plaintext); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func TestWaiterLoadsWhenTheLoadingCallerGivesUp(t *testing.T) {
	m := envelope.NewMaster()
	dk, _ := envelope.NewKeyring(m, func(context.Context, string) ([]envelope.DataKey, error) { return nil, nil }).NewDataKey("family:1", 1)
	started := make(chan struct{}, 2)
	k := envelope.NewKeyring(m, func(ctx context.Context, owner string) ([]envelope.DataKey, error) {
		started <- struct{}{}
		if ctx.Value(giveUp{}) != nil {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return []envelope.DataKey{dk}, nil
	})
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), giveUp{}, true))
	first := make(chan error)
	go func() {
		_, err := k.Seal(ctx, "family:1", nil, nil)
		first <- err
	}()
	<-started
	second := make(chan error)
	go func() {
		_, err := k.Seal(context.Background(), "family:1", nil, nil)
		second <- err
	}()
	time.Sleep(10 * time.Millisecond) // let the second caller wait on the first's load
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first: %v, want context.Canceled", err)
	}
	if err := <-second; err != nil {
		t.Fatalf("second: %v, want it to load for itself", err)
	}
}

type giveUp struct{}

func TestLoaderPanicReleasesTheCache(t *testing.T) {
	m := envelope.NewMaster()
	dk, _ := envelope.NewKeyring(m, func(context.Context, string) ([]envelope.DataKey, error) { return nil, nil }).NewDataKey("family:1", 1)
	panicking := true
	k := envelope.NewKeyring(m, func(context.Context, string) ([]envelope.DataKey, error) {
		if panicking {
			panic("loader bug")
		}
		return []envelope.DataKey{dk}, nil
	})
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the loader's panic was swallowed")
			}
		}()
		k.Seal(context.Background(), "family:1", nil, nil)
	}()
	panicking = false
	if _, err := k.Seal(context.Background(), "family:1", nil, nil); err != nil {
		t.Fatalf("Seal after a loader panic: %v", err)
	}
}
