package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	keySize   = 32 // AES-256
	nonceSize = 12 // GCM standard nonce
	tagSize   = 16 // GCM tag
	wrapSize  = nonceSize + keySize + tagSize

	maxMasterFile = 64 << 10
)

// Master holds the master keys that wrap data keys, in order: the first is current (new wraps
// use it), the others only unwrap, kept while a rotation re-wraps the data keys. A Master is
// immutable and safe for concurrent use; get one from ParseMaster, LoadMasterFile,
// GenerateMasterFile or NewMaster.
//
// fmt verbs and log/slog print only the key ids; String, called explicitly, returns the key file
// text including key material.
type Master struct {
	keys []*masterKey // pointers, so that printing a Master value shows no key bytes
}

type masterKey struct {
	id   string
	raw  [keySize]byte // kept for String (writing a rotated file)
	aead cipher.AEAD
}

func newMasterKey(id string, raw []byte) *masterKey {
	mk := &masterKey{id: id}
	copy(mk.raw[:], raw)
	mk.aead = newAEAD(raw)
	return mk
}

// newAEAD returns AES-256-GCM under key, which must be keySize bytes.
func newAEAD(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("envelope: " + err.Error()) // unreachable: callers pass keySize bytes
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("envelope: " + err.Error())
	}
	return aead
}

// ParseMaster parses master keys: entries "<id>:<base64 of exactly 32 bytes>" separated by
// newlines or ';'. Blank lines and lines starting with '#' are ignored. An id is 1–32 characters
// of a-z, 0-9 and '-'. The first entry is the current key. Errors name the entry by its position
// and never contain key material.
func ParseMaster(text string) (*Master, error) {
	m, err := parseMaster(text)
	if err != nil {
		return nil, fmt.Errorf("envelope: master keys: %w", err)
	}
	return m, nil
}

func parseMaster(text string) (*Master, error) {
	m := &Master{}
	n := 0
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for entry := range strings.SplitSeq(line, ";") {
			entry = strings.TrimSpace(entry)
			if entry == "" || strings.HasPrefix(entry, "#") {
				continue
			}
			n++
			mk, err := parseEntry(entry)
			if err != nil {
				return nil, fmt.Errorf("entry %d: %w", n, err)
			}
			if m.key(mk.id) != nil {
				return nil, fmt.Errorf("entry %d: duplicate id %q", n, mk.id)
			}
			m.keys = append(m.keys, mk)
		}
	}
	if len(m.keys) == 0 {
		return nil, errors.New(`empty: want one "<id>:<base64 of 32 bytes>" per line, the current key first`)
	}
	return m, nil
}

func parseEntry(entry string) (*masterKey, error) {
	id, b64, ok := strings.Cut(entry, ":")
	if !ok {
		return nil, errors.New(`want "<id>:<base64 of 32 bytes>"`)
	}
	id = strings.TrimSpace(id)
	if !validID(id) {
		// The id is not echoed: a malformed entry may be key material pasted in the wrong place.
		return nil, errors.New("bad id: want 1–32 characters of a-z, 0-9 and '-'")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("key %q is not valid base64", id)
	}
	defer clear(raw)
	if len(raw) != keySize {
		return nil, fmt.Errorf("key %q is %d bytes, want %d", id, len(raw), keySize)
	}
	return newMasterKey(id, raw), nil
}

func validID(id string) bool {
	if len(id) < 1 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// LoadMasterFile reads master keys in the ParseMaster format from path. It refuses a file that
// group or others may access: a master key readable by other users is a leaked key.
func LoadMasterFile(path string) (*Master, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("envelope: master key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("envelope: master key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("envelope: master key file %s is not a regular file", path)
	}
	// Windows has no Unix permission bits; its ACLs are the operator's business.
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("envelope: master key file %s is accessible by group or others (mode %04o); run chmod 600 on it", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxMasterFile+1))
	defer clear(b)
	if err != nil {
		return nil, fmt.Errorf("envelope: master key file: %w", err)
	}
	if len(b) > maxMasterFile {
		return nil, fmt.Errorf("envelope: master key file %s is larger than %d bytes", path, maxMasterFile)
	}
	m, err := parseMaster(string(b))
	if err != nil {
		return nil, fmt.Errorf("envelope: master key file %s: %w", path, err)
	}
	return m, nil
}

const masterFileHeader = `# kinwatch master keys. SECRET: keep this file mode 0600, and never store it with the database
# or its backups. One "<id>:<base64 of 32 bytes>" per line; the first is current, the others only
# unwrap data keys not yet re-wrapped.
`

// GenerateMasterFile creates path (mode 0600, never overwriting an existing file) holding one
// fresh random master key, and returns it.
func GenerateMasterFile(path string) (*Master, error) {
	m := NewMaster()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("envelope: creating master key file: %w", err)
	}
	_, err = f.WriteString(masterFileHeader + m.KeyFileText())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("envelope: writing master key file: %w", err)
	}
	return m, nil
}

// ReplaceMasterFile writes m to path in place of what it holds: a temporary file (mode 0600) in
// the same directory, synced, then renamed over path, so a crash leaves the old file or the new
// one, never half of either.
func ReplaceMasterFile(path string, m *Master) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".master-key-*")
	if err != nil {
		return fmt.Errorf("envelope: writing master key file: %w", err)
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.WriteString(masterFileHeader + m.KeyFileText())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("envelope: writing master key file: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync() // the rename itself survives a crash
		d.Close()
	}
	return nil
}

// CurrentOnly returns m without its old keys: the last step of a rotation, once every data key
// is wrapped by the current one.
func (m *Master) CurrentOnly() *Master { return &Master{keys: m.keys[:1:1]} }

// NewMaster returns a Master holding one fresh random key.
func NewMaster() *Master {
	return &Master{keys: []*masterKey{randomMasterKey(nil)}}
}

// WithNewKey returns a copy of m whose current key is fresh and random, m's keys kept after it to
// unwrap what they wrapped. It is the first step of a rotation: write it to the key file
// (ReplaceMasterFile), Rewrap every data key, restart every process with the file, Rewrap again
// (keys made meanwhile), then drop the old keys from the file (CurrentOnly).
func (m *Master) WithNewKey() (*Master, error) {
	n := &Master{keys: make([]*masterKey, 0, len(m.keys)+1)}
	n.keys = append(n.keys, randomMasterKey(m))
	n.keys = append(n.keys, m.keys...)
	return n, nil
}

// WithStagedKey returns a copy of m with a fresh random key added after its others: it unwraps
// but does not wrap yet. Staging comes first in a rotation so that every process knows the new
// key (restarted with the file) before any data key is wrapped with it.
func (m *Master) WithStagedKey() *Master {
	n := &Master{keys: append(slices.Clone(m.keys), randomMasterKey(m))}
	return n
}

// LastID returns the id of the key added last (a staged key, after WithStagedKey).
func (m *Master) LastID() string { return m.keys[len(m.keys)-1].id }

// Promote returns a copy of m whose current key is id, the others kept to unwrap.
func (m *Master) Promote(id string) (*Master, error) {
	i := slices.IndexFunc(m.keys, func(k *masterKey) bool { return k.id == id })
	if i < 0 {
		return nil, fmt.Errorf("envelope: the key file has no key %q", id)
	}
	n := &Master{keys: make([]*masterKey, 0, len(m.keys))}
	n.keys = append(n.keys, m.keys[i])
	for j, k := range m.keys {
		if j != i {
			n.keys = append(n.keys, k)
		}
	}
	return n, nil
}

// randomMasterKey returns a fresh key whose id ("k" + UTC date yyyymmdd + "-" + 4 hex digits)
// is not one of existing's.
func randomMasterKey(existing *Master) *masterKey {
	var raw [keySize]byte
	defer clear(raw[:])
	rand.Read(raw[:]) // never fails (crypto/rand since Go 1.24)
	for {
		var suffix [2]byte
		rand.Read(suffix[:])
		id := "k" + time.Now().UTC().Format("20060102") + "-" + hex.EncodeToString(suffix[:])
		if existing == nil || existing.key(id) == nil {
			return newMasterKey(id, raw[:])
		}
	}
}

// CurrentID returns the id of the key that wraps new data keys.
func (m *Master) CurrentID() string { return m.keys[0].id }

// KeyFileText returns the key file text, current key first: it CONTAINS KEY MATERIAL. Call it only
// to write a key file (after WithNewKey, or to drop old keys); never log it. It is not String, so
// nothing calls it implicitly; fmt and log/slog print the ids only (see Format and LogValue).
func (m *Master) KeyFileText() string {
	var b strings.Builder
	for _, mk := range m.keys {
		b.WriteString(mk.id)
		b.WriteByte(':')
		b.WriteString(base64.StdEncoding.EncodeToString(mk.raw[:]))
		b.WriteByte('\n')
	}
	return b.String()
}

// Format prints the key ids only, for every verb, so that fmt.Print(m) or %v in an error cannot
// leak key material.
func (m *Master) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "envelope.Master{ids: %s}", strings.Join(m.ids(), ","))
}

// LogValue logs the key ids only.
func (m *Master) LogValue() slog.Value {
	return slog.GroupValue(slog.String("current", m.CurrentID()), slog.String("ids", strings.Join(m.ids(), ",")))
}

func (m *Master) ids() []string {
	ids := make([]string, len(m.keys))
	for i, mk := range m.keys {
		ids[i] = mk.id
	}
	return ids
}

func (m *Master) key(id string) *masterKey {
	for _, mk := range m.keys {
		if mk.id == id {
			return mk
		}
	}
	return nil
}

// wrapAAD binds a wrapped data key to its owner and version, so that a row copied to another
// owner or version does not unwrap.
func wrapAAD(owner string, version int) []byte {
	return []byte("kinwatch data key\x00" + owner + "\x00" + strconv.Itoa(version))
}

// wrap returns nonce || AES-256-GCM(mk, raw).
func (mk *masterKey) wrap(raw []byte, owner string, version int) []byte {
	out := make([]byte, nonceSize, wrapSize)
	rand.Read(out)
	return mk.aead.Seal(out, out[:nonceSize], raw, wrapAAD(owner, version))
}

// unwrapRaw returns dk's plaintext key; the caller clears it.
func (m *Master) unwrapRaw(dk DataKey) ([]byte, error) {
	if err := checkOwner(dk.Owner); err != nil {
		return nil, err
	}
	if dk.Version < 1 || dk.Version > maxVersion {
		return nil, fmt.Errorf("envelope: data key of %s has invalid version %d", dk.Owner, dk.Version)
	}
	mk := m.key(dk.MasterID)
	if mk == nil {
		return nil, fmt.Errorf("%w %q (data key of %s, version %d)", ErrUnknownMaster, dk.MasterID, dk.Owner, dk.Version)
	}
	if len(dk.Wrapped) != wrapSize {
		return nil, fmt.Errorf("envelope: data key of %s, version %d: wrapped key is %d bytes, want %d", dk.Owner, dk.Version, len(dk.Wrapped), wrapSize)
	}
	raw, err := mk.aead.Open(nil, dk.Wrapped[:nonceSize], dk.Wrapped[nonceSize:], wrapAAD(dk.Owner, dk.Version))
	if err != nil {
		return nil, fmt.Errorf("envelope: data key of %s, version %d does not unwrap under master key %q: corrupt, or stored under another owner or version", dk.Owner, dk.Version, dk.MasterID)
	}
	return raw, nil
}
