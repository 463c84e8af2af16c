package deident_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kinwatch/deident"
)

var secret = []byte("0123456789abcdef0123456789abcdef") // 32 bytes

const month = 30 * 24 * time.Hour

// clock is a controllable clock safe to read and move from several goroutines.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock    { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

func newPseudonymizer(t testing.TB, period time.Duration, at time.Time) (*deident.Pseudonymizer, *clock) {
	t.Helper()
	p, err := deident.NewPseudonymizer(secret, period)
	if err != nil {
		t.Fatal(err)
	}
	c := newClock(at)
	p.SetClock(c.now)
	return p, c
}

// reference computes a pseudonym from the documented construction, independently of the package.
func reference(epoch int64, kind, id string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("kinwatch pseudonym epoch\x00" + strconv.FormatInt(epoch, 10)))
	m = hmac.New(sha256.New, m.Sum(nil))
	m.Write([]byte(kind + "\x00" + id))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil)[:16]))
}

func TestNewPseudonymizerRefusesWeakSettings(t *testing.T) {
	tests := []struct {
		name    string
		secret  []byte
		period  time.Duration
		wantErr string
	}{
		{"no secret", nil, month, "secret is 0 bytes"},
		{"short secret", secret[:31], month, "secret is 31 bytes"},
		{"zero period", secret, 0, "period 0s is shorter"},
		{"negative period", secret, -month, "shorter than the minimum 1h0m0s"},
		{"period just under an hour", secret, time.Hour - time.Nanosecond, "shorter than the minimum"},
		{"minimum secret and period", secret, time.Hour, ""},
		{"long secret, 30 days", append(secret, secret...), month, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := deident.NewPseudonymizer(tt.secret, tt.period)
			if tt.wantErr == "" {
				if err != nil || p == nil {
					t.Fatalf("got %v, %v; want a Pseudonymizer", p, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v; want one containing %q", err, tt.wantErr)
			}
			if p != nil {
				t.Fatal("got a Pseudonymizer along with the error")
			}
		})
	}
}

func TestEpoch(t *testing.T) {
	tests := []struct {
		period time.Duration
		at     time.Time
		want   int64
	}{
		{time.Hour, time.Unix(0, 0), 0},
		{time.Hour, time.Unix(3599, 999999999), 0},
		{time.Hour, time.Unix(3600, 0), 1},
		{time.Hour, time.Unix(-1, 0), -1}, // floor, not truncation
		{time.Hour, time.Unix(-3600, 0), -1},
		{time.Hour, time.Unix(-3601, 0), -2},
		{month, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 1735689600 / (30 * 86400)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v at %d", tt.period, tt.at.Unix()), func(t *testing.T) {
			p, _ := newPseudonymizer(t, tt.period, tt.at)
			if got := p.Epoch(); got != tt.want {
				t.Fatalf("Epoch() = %d; want %d", got, tt.want)
			}
		})
	}
}

func TestPseudonym(t *testing.T) {
	start := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	p, c := newPseudonymizer(t, month, start)
	e := p.Epoch()
	acct := p.Pseudonym("account", "acct-7f3a9c")

	tests := []struct {
		name     string
		move     time.Duration // clock offset from start
		kind, id string
		same     bool // same pseudonym as acct
	}{
		{"same id, same epoch", 0, "account", "acct-7f3a9c", true},
		{"same id, later in the epoch", time.Duration(e+1)*month - time.Duration(start.UnixNano()) - 1, "account", "acct-7f3a9c", true},
		{"same id, next epoch", month, "account", "acct-7f3a9c", false},
		{"same id, previous epoch", -month, "account", "acct-7f3a9c", false},
		{"same id, other kind", 0, "device", "acct-7f3a9c", false},
		{"other id", 0, "account", "acct-7f3a9d", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.set(start.Add(tt.move))
			defer c.set(start)
			got := p.Pseudonym(tt.kind, tt.id)
			if (got == acct) != tt.same {
				t.Fatalf("Pseudonym(%q, %q) = %s, account's is %s; want same=%v", tt.kind, tt.id, got, acct, tt.same)
			}
			if want := p.PseudonymAt(p.Epoch(), tt.kind, tt.id); got != want {
				t.Fatalf("Pseudonym = %s but PseudonymAt(current epoch) = %s", got, want)
			}
			if want := reference(p.Epoch(), tt.kind, tt.id); got != want {
				t.Fatalf("Pseudonym = %s; the documented construction gives %s", got, want)
			}
		})
	}
}

func TestPseudonymAtMatchesPseudonymInThatEpoch(t *testing.T) {
	p, c := newPseudonymizer(t, time.Hour, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	e0 := p.Epoch()
	// Ask for past and future epochs first, to check PseudonymAt neither uses nor replaces the
	// current epoch's cached key wrongly.
	past := p.PseudonymAt(e0-1, "device", "dev-1")
	future := p.PseudonymAt(e0+1, "device", "dev-1")
	now := p.Pseudonym("device", "dev-1")
	for _, tt := range []struct {
		move time.Duration
		want string
	}{{-time.Hour, past}, {time.Hour, future}, {0, now}} {
		c.set(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(tt.move))
		if got := p.Pseudonym("device", "dev-1"); got != tt.want {
			t.Errorf("at %v: Pseudonym = %s; PseudonymAt gave %s", tt.move, got, tt.want)
		}
	}
	if past == now || future == now || past == future {
		t.Errorf("pseudonyms repeat across epochs: %s %s %s", past, now, future)
	}
}

func TestPseudonymIsOpaque(t *testing.T) {
	p, _ := newPseudonymizer(t, month, time.Now())
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	// Realistic ids: UUIDs and prefixed ids hold '-' or '_', outside the base32 alphabet, so
	// containing one would be no coincidence.
	for _, id := range []string{
		"3f1c9e2a-8b7d-4c6e-9a1f-2b3c4d5e6f70",
		"acct_0001",
		"dev-865028000000308",
		"",
		strings.Repeat("x", 5000),
	} {
		got := p.Pseudonym("device", id)
		if len(got) != 26 {
			t.Errorf("Pseudonym(%.20q) = %q: %d characters; want 26", id, got, len(got))
		}
		if strings.Trim(got, alphabet) != "" {
			t.Errorf("Pseudonym(%.20q) = %q: not lower-case base32", id, got)
		}
		if id != "" && strings.Contains(got, id) {
			t.Errorf("Pseudonym(%.20q) = %q contains the id", id, got)
		}
	}
}

func TestPseudonymsAreDistinct(t *testing.T) {
	p, _ := newPseudonymizer(t, month, time.Now())
	const n = 100_000
	seen := make(map[string]string, n)
	for i := range n {
		id := fmt.Sprintf("dev-%08d", i)
		got := p.Pseudonym("device", id)
		if strings.Contains(got, id) {
			t.Fatalf("Pseudonym(%q) = %q contains the id", id, got)
		}
		if prev, ok := seen[got]; ok {
			t.Fatalf("%q and %q share pseudonym %s", prev, id, got)
		}
		seen[got] = id
	}
}

func TestPseudonymRefusesNULInKind(t *testing.T) {
	p, _ := newPseudonymizer(t, month, time.Now())
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a kind holding NUL")
		}
	}()
	p.Pseudonym("acc\x00ount", "a")
}

// TestPseudonymConcurrentAcrossEpochBoundary runs under -race: callers racing the epoch change
// must each get the pseudonym of one of the two epochs, never a mix.
func TestPseudonymConcurrentAcrossEpochBoundary(t *testing.T) {
	boundary := time.Unix(0, 0).Add(20_000 * time.Hour)
	p, c := newPseudonymizer(t, time.Hour, boundary.Add(-250*time.Microsecond))
	e0 := p.Epoch()
	ids := []string{"dev-1", "dev-2", "dev-3", "dev-4"}
	valid := map[string]bool{}
	for _, id := range ids {
		valid[p.PseudonymAt(e0, "device", id)] = true
		valid[p.PseudonymAt(e0+1, "device", id)] = true
	}

	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				if g == 0 {
					c.add(time.Microsecond) // crosses the boundary halfway, while the others call
				}
				id := ids[(g+i)%len(ids)]
				if got := p.Pseudonym("device", id); !valid[got] {
					errs <- fmt.Sprintf("Pseudonym(%q) = %s belongs to neither epoch", id, got)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if p.Epoch() != e0+1 {
		t.Fatalf("clock did not cross the boundary: epoch %d", p.Epoch())
	}
	for _, id := range ids {
		if got, want := p.Pseudonym("device", id), p.PseudonymAt(e0+1, "device", id); got != want {
			t.Errorf("after the boundary Pseudonym(%q) = %s; want %s", id, got, want)
		}
	}
}

func BenchmarkPseudonym(b *testing.B) {
	p, err := deident.NewPseudonymizer(secret, month)
	if err != nil {
		b.Fatal(err)
	}
	const id = "3f1c9e2a-8b7d-4c6e-9a1f-2b3c4d5e6f70"
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.Pseudonym("device", id)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p.Pseudonym("device", id)
			}
		})
	})
	b.Run("other epoch", func(b *testing.B) { // PseudonymAt off the cache: derives the key
		b.ReportAllocs()
		e := p.Epoch() - 1
		for b.Loop() {
			p.PseudonymAt(e, "device", id)
		}
	})
}
