// Package fileblob is the BlobStore on the local file system (the data directory): the default for
// one machine. Writes are atomic (temporary file, fsync, rename) so a crash never leaves a
// half-written voice message behind a key. An S3-compatible store replaces it in a cluster.
package fileblob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"kinwatch"
)

// Store keeps blobs as files under Dir.
type Store struct {
	Dir string
}

// New creates dir if needed.
func New(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return &Store{Dir: dir}, nil
}

// path maps a key to a file, refusing keys that could escape Dir.
func (s *Store) path(key string) (string, error) {
	if key == "" || strings.Contains(key, "..") || strings.HasPrefix(key, "/") || strings.ContainsAny(key, "\\\x00") {
		return "", kinwatch.Errorf(kinwatch.EINVALID, "invalid blob key")
	}
	return filepath.Join(s.Dir, filepath.FromSlash(key)), nil
}

// Put implements kinwatch.BlobStore.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("blob store: put: %w", err)
	}
	return nil
}

// Get implements kinwatch.BlobStore.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, kinwatch.Errorf(kinwatch.ENOTFOUND, "blob not found")
	}
	return b, err
}

// Delete implements kinwatch.BlobStore; deleting a missing blob is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

var _ kinwatch.BlobStore = (*Store)(nil)
