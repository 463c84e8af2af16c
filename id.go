package kinwatch

import (
	"crypto/rand"
	"encoding/base32"
	"time"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a random 128-bit identifier as 26 lower-case characters. Every object that the API
// exposes gets one: IDs must not be guessable or reveal how many objects exist.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics on the impossible instead)
	return idEncoding.EncodeToString(b[:])
}

// NewTimeID returns an identifier like NewID whose first 48 bits are t in Unix milliseconds and
// whose other 80 bits are random, so ids sort by creation time. High-volume records (positions,
// events, health readings) use it: inserts then land at the end of the primary-key index instead of
// dirtying a random page per row. The id reveals only the creation time, which the record carries
// anyway; with 80 random bits it still cannot be guessed or used to count objects.
func NewTimeID(t time.Time) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	rand.Read(b[6:])
	return idEncoding.EncodeToString(b[:])
}
