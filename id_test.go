package kinwatch_test

import (
	"encoding/base32"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"kinwatch"
)

// idAlphabet is NewID's alphabet. Decoding ids with it checks what they carry and fails if it ever
// drifts from the one in id.go.
const idAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

func TestNewIDIsRandomAndWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := kinwatch.NewID()
		if len(id) != 26 || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestNewTimeIDSortsByTime(t *testing.T) {
	// String order is time order only because the alphabet is in ascending ASCII order.
	if !slices.IsSorted([]byte(idAlphabet)) {
		t.Fatalf("alphabet %q is not in ascending order", idAlphabet)
	}
	base := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	var ids []string
	for i := 0; i < 500; i++ {
		ids = append(ids, kinwatch.NewTimeID(base.Add(time.Duration(i)*time.Millisecond)))
	}
	// Times far apart change the leading characters, which consecutive milliseconds never reach.
	for i := 0; i < 500; i++ {
		ids = append(ids, kinwatch.NewTimeID(base.Add(time.Duration(i)*(24*time.Hour+time.Second))))
	}
	if !sort.StringsAreSorted(ids[:500]) || !sort.StringsAreSorted(ids[500:]) {
		t.Fatal("time ids do not sort by time")
	}
	a, b := kinwatch.NewTimeID(base), kinwatch.NewTimeID(base)
	if a == b || len(a) != 26 {
		t.Fatalf("same-millisecond ids %q %q", a, b)
	}
}

func TestNewTimeIDCarriesMillisecondsAndRandomBits(t *testing.T) {
	enc := base32.NewEncoding(idAlphabet).WithPadding(base32.NoPadding)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1000; i++ {
		at := time.UnixMilli(r.Int64N(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()))
		b, err := enc.DecodeString(kinwatch.NewTimeID(at))
		if err != nil || len(b) != 16 {
			t.Fatalf("undecodable id for %v: %v", at, err)
		}
		var ms [8]byte
		copy(ms[2:], b[:6])
		if got := int64(binary.BigEndian.Uint64(ms[:])); got != at.UnixMilli() {
			t.Fatalf("id for %v carries %d ms, want %d", at, got, at.UnixMilli())
		}
	}
	// Ids of one millisecond are told apart by the 80 random bits alone.
	seen := map[string]bool{}
	at := time.Now()
	for i := 0; i < 1000; i++ {
		id := kinwatch.NewTimeID(at)
		if seen[id] {
			t.Fatalf("repeated id %q", id)
		}
		seen[id] = true
	}
}
