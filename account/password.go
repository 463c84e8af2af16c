package account

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"kinwatch"
)

// Argon2Params are the argon2id cost parameters. They are stored in every hash, so raising them
// later keeps old hashes verifiable (and Verify reports when one should be rehashed).
type Argon2Params struct {
	Memory      uint32 // KiB
	Time        uint32
	Parallelism uint8
}

// DefaultArgon2 is OWASP's recommended argon2id configuration (19 MiB, 2 passes, 1 lane): about
// 20–40 ms per hash on a small server.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Parallelism: 1}

const (
	saltLen = 16
	keyLen  = 32
	// MinPassword and MaxPassword bound passwords in characters. Length, not composition rules, is
	// what makes a password hard to guess (NIST SP 800-63B); the upper bound keeps hashing bounded.
	MinPassword = 8
	MaxPassword = 256
)

// HashPassword returns the PHC string of an argon2id hash of password with a random salt.
func HashPassword(password string, p Argon2Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Parallelism, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the PHC string, and whether the hash was made
// with parameters other than want (so the caller can store a fresh hash).
func VerifyPassword(hash, password string, want Argon2Params) (ok, rehash bool) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, false
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Parallelism); err != nil {
		return false, false
	}
	// A corrupted row must not make one verification allocate gigabytes.
	if p.Memory == 0 || p.Memory > 1<<20 || p.Time == 0 || p.Time > 16 || p.Parallelism == 0 {
		return false, false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 || len(key) > 128 {
		return false, false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Parallelism, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false
	}
	return true, p != want || len(key) != keyLen
}

//go:embed common-passwords.txt
var commonPasswordsText string

var commonPasswords = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsText))
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" && !strings.HasPrefix(w, "#") {
			m[strings.ToLower(w)] = true
		}
	}
	return m
})

// PasswordChecker refuses passwords that are too short, too long, or known from breaches: an
// embedded list of the most common breached passwords always, and optionally the k-anonymity range
// API of Have I Been Pwned (or a compatible mirror) where only 5 hex digits of the SHA-1 leave
// the server.
type PasswordChecker struct {
	// RangeURL is the range API's base, e.g. "https://api.pwnedpasswords.com/range/"; "" skips it.
	RangeURL string
	Client   *http.Client
}

// Check returns an EINVALID error with a reason the guardian can act on, or nil. The words given
// (email, nickname) must not be the password either.
func (c *PasswordChecker) Check(ctx context.Context, password string, personal ...string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return kinwatch.Errorf(kinwatch.EINVALID, "the password is not valid UTF-8 text")
	case n < MinPassword:
		return kinwatch.Errorf(kinwatch.EINVALID, "the password is too short: use at least %d characters (a few words are easy to remember)", MinPassword)
	case n > MaxPassword:
		return kinwatch.Errorf(kinwatch.EINVALID, "the password is too long: use at most %d characters", MaxPassword)
	}
	lower := strings.ToLower(password)
	if commonPasswords()[lower] {
		return kinwatch.Errorf(kinwatch.EINVALID, "this password is one of the most common in published breaches: choose another")
	}
	for _, p := range personal {
		p = strings.ToLower(p)
		if local, _, ok := strings.Cut(p, "@"); ok && len(local) >= 4 && strings.Contains(lower, local) {
			return kinwatch.Errorf(kinwatch.EINVALID, "the password must not contain your email address")
		}
		if p != "" && lower == p {
			return kinwatch.Errorf(kinwatch.EINVALID, "the password must not be your name or email address")
		}
	}
	if c == nil || c.RangeURL == "" {
		return nil
	}
	breached, err := c.pwned(ctx, password)
	if err != nil {
		// The breach service is a help, not a gate: when it is down, sign-up still works.
		return nil
	}
	if breached {
		return kinwatch.Errorf(kinwatch.EINVALID, "this password appears in published data breaches: choose another")
	}
	return nil
}

func (c *PasswordChecker) pwned(ctx context.Context, password string) (bool, error) {
	sum := sha1.Sum([]byte(password))
	hexSum := strings.ToUpper(hex.EncodeToString(sum[:]))
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.RangeURL+hexSum[:5], nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Add-Padding", "true") // responses of equal size, so their length leaks nothing
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("breach range API: %s", resp.Status)
	}
	sc := bufio.NewScanner(http.MaxBytesReader(nil, resp.Body, 4<<20))
	suffix := []byte(hexSum[5:])
	for sc.Scan() {
		line := sc.Bytes()
		s, count, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(s), suffix) && strings.TrimSpace(string(count)) != "0" {
			return true, nil
		}
	}
	return false, sc.Err()
}
