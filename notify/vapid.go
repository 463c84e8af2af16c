package notify

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// VAPID is the server's Web Push signing key pair, base64url (no padding) as browsers and
// webpush take them: the public key is the applicationServerKey a browser subscribes with.
type VAPID struct {
	PublicKey, PrivateKey string
}

// LoadVAPIDFile reads the key file (the private key, base64url, on one line). When create and
// the file does not exist, a new key is generated and written (mode 0600). A deployment keeps
// one key: browsers' subscriptions are bound to it.
func LoadVAPIDFile(path string, create bool) (VAPID, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		key, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			return VAPID{}, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return VAPID{}, err
		}
		enc := base64.RawURLEncoding.EncodeToString(key.Bytes())
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return LoadVAPIDFile(path, false) // another process made it first
		}
		if err != nil {
			return VAPID{}, fmt.Errorf("vapid key: %w", err)
		}
		_, werr := f.WriteString(enc + "\n")
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			return VAPID{}, fmt.Errorf("vapid key: %w", err)
		}
		b = []byte(enc)
	} else if err != nil {
		return VAPID{}, fmt.Errorf("vapid key: %w", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil {
		return VAPID{}, fmt.Errorf("vapid key %s: not base64url: %w", path, err)
	}
	key, err := ecdh.P256().NewPrivateKey(raw)
	if err != nil {
		return VAPID{}, fmt.Errorf("vapid key %s: not a P-256 private key: %w", path, err)
	}
	return VAPID{
		PublicKey:  base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes()),
		PrivateKey: base64.RawURLEncoding.EncodeToString(key.Bytes()),
	}, nil
}
