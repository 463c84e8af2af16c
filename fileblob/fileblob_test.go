package fileblob_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"kinwatch"
	"kinwatch/fileblob"
)

func TestPutGetDelete(t *testing.T) {
	ctx := context.Background()
	s, err := fileblob.New(filepath.Join(t.TempDir(), "media"))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("#!AMR\n\x3c")
	if err := s.Put(ctx, "dev1/audio/abc.amr", data); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "dev1/audio/abc.amr")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get = %q, %v", got, err)
	}
	if err := s.Delete(ctx, "dev1/audio/abc.amr"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "dev1/audio/abc.amr"); kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.Delete(ctx, "dev1/audio/abc.amr"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(filepath.Join(s.Dir, "dev1", "audio"))
	if len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

func TestKeysCannotEscape(t *testing.T) {
	s, _ := fileblob.New(t.TempDir())
	for _, k := range []string{"", "../x", "a/../../x", "/etc/passwd", "a\\b", "a\x00b"} {
		if err := s.Put(context.Background(), k, []byte("x")); kinwatch.ErrorCode(err) != kinwatch.EINVALID {
			t.Errorf("key %q: err %v", k, err)
		}
	}
}
