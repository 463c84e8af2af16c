package kinwatch

import (
	"crypto/rand"
	"encoding/base32"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a random 128-bit identifier as 26 lower-case characters. Every object that the API
// exposes gets one: IDs must not be guessable or reveal how many objects exist.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics on the impossible instead)
	return idEncoding.EncodeToString(b[:])
}
