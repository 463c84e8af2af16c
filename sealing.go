package kinwatch

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"kinwatch/envelope"
)

// Owners of encryption keys: every family's children's data is sealed with the family's key, an
// account's own sensitive data with the account's (see package envelope).

// FamilyOwner names a family's key.
func FamilyOwner(familyID string) string { return "family:" + familyID }

// AccountOwner names an account's key.
func AccountOwner(accountID string) string { return "account:" + accountID }

// What of a position is precise location, and sealed at rest: the coordinates, altitude and
// accuracy, and the Wi-Fi access points and cells heard (which locate a child as well as a fix
// does). The rest (time, speed, battery, alarms …) stays readable for queries.
//
// Plaintext layout: byte 0 = 1 (layout version), then lat, lon, altitude, accuracy as
// little-endian float64 bits, then the network as JSON {"cells":[…],"wifi":[…]} or nothing.
const positionSecretV1 = 1

// PositionSecrets encodes and decodes the sealed part of positions, reusing its buffers: one per
// batch, not safe for concurrent use.
type PositionSecrets struct {
	buf bytes.Buffer
	enc *json.Encoder
}

type positionNetwork struct {
	Cells []Cell `json:"cells,omitempty"`
	WiFi  []WiFi `json:"wifi,omitempty"`
}

// Plaintext returns p's sealed part; the slice is valid until the next call.
func (s *PositionSecrets) Plaintext(p *Position) ([]byte, error) {
	if s.enc == nil {
		s.enc = json.NewEncoder(&s.buf)
		s.enc.SetEscapeHTML(false)
	}
	s.buf.Reset()
	var head [33]byte
	head[0] = positionSecretV1
	for i, f := range [4]float64{p.Lat, p.Lon, p.Altitude, p.Accuracy} {
		binary.LittleEndian.PutUint64(head[1+8*i:], math.Float64bits(f))
	}
	s.buf.Write(head[:])
	if len(p.Cells) > 0 || len(p.WiFi) > 0 {
		if err := s.enc.Encode(positionNetwork{Cells: p.Cells, WiFi: p.WiFi}); err != nil {
			return nil, err
		}
		s.buf.Truncate(s.buf.Len() - 1) // Encode's newline
	}
	return s.buf.Bytes(), nil
}

// OpenPositionCoords reads only the coordinates and accuracy from a plaintext made by Plaintext
// (not the network, whose JSON costs more than the rest of a track).
func OpenPositionCoords(b []byte) (lat, lon, accuracy float64, ok bool) {
	if len(b) < 33 || b[0] != positionSecretV1 {
		return 0, 0, 0, false
	}
	f := func(i int) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b[1+8*i:])) }
	return f(0), f(1), f(3), true
}

// OpenPositionSecret fills p's sealed fields from a plaintext made by Plaintext.
func OpenPositionSecret(b []byte, p *Position) error {
	if len(b) < 33 || b[0] != positionSecretV1 {
		return fmt.Errorf("position %s: sealed part has an unknown layout", p.ID)
	}
	f := func(i int) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b[1+8*i:])) }
	p.Lat, p.Lon, p.Altitude, p.Accuracy = f(0), f(1), f(2), f(3)
	p.Cells, p.WiFi = nil, nil
	if len(b) > 33 {
		var n positionNetwork
		if err := json.Unmarshal(b[33:], &n); err != nil {
			return fmt.Errorf("position %s: sealed network: %w", p.ID, err)
		}
		p.Cells, p.WiFi = n.Cells, n.WiFi
	}
	return nil
}

// KeyStore keeps the data keys that seal sensitive data (envelope encryption).
type KeyStore interface {
	// Keys is the keyring that seals this store's sensitive data; what services keep outside the
	// database (media content, pictures) is sealed with it too.
	Keys() *envelope.Keyring
	// RotateKey gives owner a new data key version: new data is sealed with it, older data still
	// opens with the older versions.
	RotateKey(ctx context.Context, owner string) error
	// ShredKeys deletes every data key of owner: whatever was sealed with them is unreadable from
	// then on, wherever a copy of it lives (crypto-shredding).
	ShredKeys(ctx context.Context, owner string) error
	// RewrapKeys re-wraps with the current master key every data key another master key wrapped,
	// and returns how many it changed.
	RewrapKeys(ctx context.Context) (int, error)
	// EnsureKey creates owner's first data key if it has none (accounts get theirs when they
	// first seal something).
	EnsureKey(ctx context.Context, owner string) error
}

// SealError maps a sealing failure for storage: an owner without keys (shredded) makes the record
// unstorable (EINVALID, so the writer drops it instead of retrying the batch forever); anything
// else is returned as it is.
func SealError(err error) error {
	if errors.Is(err, envelope.ErrNoKey) {
		return Errorf(EINVALID, "the owner's keys were shredded: %v", err)
	}
	return err
}

// sealedBlobFormat is the first byte of sealed content (envelope's format version). Content
// stored before blobs were sealed starts with its own magic (AMR "#!AMR", JPEG 0xFF, PNG 0x89) and
// is returned as it is.
const sealedBlobFormat = 1

// PutSealed stores data under key sealed with owner's key; the key name is bound into the seal,
// so content copied under another key does not open.
func PutSealed(ctx context.Context, blobs BlobStore, keys *envelope.Keyring, owner, key string, data []byte) error {
	sealed, err := keys.Seal(ctx, owner, []byte(key), data)
	if err != nil {
		return SealError(err)
	}
	return blobs.Put(ctx, key, sealed)
}

// GetSealed returns the content stored under key, opened with owner's key.
func GetSealed(ctx context.Context, blobs BlobStore, keys *envelope.Keyring, owner, key string) ([]byte, error) {
	data, err := blobs.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 || data[0] != sealedBlobFormat {
		return data, nil // stored before sealing
	}
	plain, err := keys.Open(ctx, owner, []byte(key), data)
	if errors.Is(err, envelope.ErrNoKey) {
		return nil, Errorf(ENOTFOUND, "the content was deleted (its keys were shredded)")
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", key, err)
	}
	return plain, nil
}

// childSecret is what of a child's profile is sealed: everything that describes the child.
type childSecret struct {
	Name     string  `json:"name,omitempty"`
	Birthday string  `json:"birthday,omitempty"`
	Gender   string  `json:"gender,omitempty"`
	HeightCM int     `json:"height_cm,omitempty"`
	WeightKG float64 `json:"weight_kg,omitempty"`
	School   string  `json:"school,omitempty"`
	Grade    string  `json:"grade,omitempty"`
	Phone    string  `json:"phone,omitempty"`
}

func childAAD(deviceID string) []byte { return []byte("child_profiles:" + deviceID) }

// SealChildProfile seals what describes the child (name, birthday, gender, height, weight,
// school, grade, the watch's phone number) with the family's key, bound to the watch.
func SealChildProfile(ctx context.Context, keys *envelope.Keyring, familyID string, p *ChildProfile) ([]byte, error) {
	plain, err := json.Marshal(childSecret{p.Name, p.Birthday, p.Gender, p.HeightCM, p.WeightKG, p.School, p.Grade, p.Phone})
	if err != nil {
		return nil, err
	}
	sealed, err := keys.Seal(ctx, FamilyOwner(familyID), childAAD(p.DeviceID), plain)
	return sealed, SealError(err)
}

// OpenChildProfile fills p from a value SealChildProfile made.
func OpenChildProfile(ctx context.Context, keys *envelope.Keyring, familyID string, sealed []byte, p *ChildProfile) error {
	plain, err := keys.Open(ctx, FamilyOwner(familyID), childAAD(p.DeviceID), sealed)
	if err != nil {
		return Errorf(EUNAVAILABLE, "the child's profile does not open (its watch changed family meanwhile, or its key was shredded): %v", err)
	}
	var s childSecret
	if err := json.Unmarshal(plain, &s); err != nil {
		return fmt.Errorf("child profile of %s: %w", p.DeviceID, err)
	}
	p.Name, p.Birthday, p.Gender, p.HeightCM, p.WeightKG, p.School, p.Grade, p.Phone = s.Name, s.Birthday, s.Gender, s.HeightCM, s.WeightKG, s.School, s.Grade, s.Phone
	return nil
}

// Commands carry what the guardians put on the watch: phone book names and numbers, SOS and
// whitelist numbers, messages. A bound watch's commands are sealed with its family's key, bound to
// the command's id; a pending watch's (the binding code) are not, as no family holds them.
func commandAAD(id string) []byte { return []byte("commands:" + id) }

// SealCommandContent seals a command's content with the family's key.
func SealCommandContent(ctx context.Context, keys *envelope.Keyring, familyID, id string, content []byte) ([]byte, error) {
	sealed, err := keys.Seal(ctx, FamilyOwner(familyID), commandAAD(id), content)
	return sealed, SealError(err)
}

// OpenCommands opens the sealed content of cs in place; family returns a device's family.
func OpenCommands(ctx context.Context, keys *envelope.Keyring, cs []*Command, family func(deviceID string) (string, error)) error {
	owners := map[string]string{}
	for _, c := range cs {
		if !c.Sealed {
			continue
		}
		fam, ok := owners[c.DeviceID]
		if !ok {
			var err error
			if fam, err = family(c.DeviceID); err != nil {
				return err
			}
			owners[c.DeviceID] = fam
		}
		plain, err := keys.Open(ctx, FamilyOwner(fam), commandAAD(c.ID), c.Content)
		if err != nil {
			return Errorf(EUNAVAILABLE, "command %s does not open (its watch changed family meanwhile, or its key was shredded): %v", c.ID, err)
		}
		c.Content, c.Sealed = plain, false
	}
	return nil
}

// SealFence seals a fence's definition with the family's key, bound to the fence.
func SealFence(ctx context.Context, keys *envelope.Keyring, familyID, id string, definition []byte) ([]byte, error) {
	sealed, err := keys.Seal(ctx, FamilyOwner(familyID), fenceAAD(id), definition)
	return sealed, SealError(err)
}

// OpenFence opens a fence's definition.
func OpenFence(ctx context.Context, keys *envelope.Keyring, familyID, id string, sealed []byte) ([]byte, error) {
	plain, err := keys.Open(ctx, FamilyOwner(familyID), fenceAAD(id), sealed)
	if err != nil {
		return nil, Errorf(EUNAVAILABLE, "fence %s does not open (its watch changed family meanwhile, or its key was shredded): %v", id, err)
	}
	return plain, nil
}
