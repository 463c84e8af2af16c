package envelope_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"kinwatch/envelope"
)

var (
	key1 = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	key2 = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
)

func TestParseMaster(t *testing.T) {
	for _, tt := range []struct {
		name, text string
		current    string
		ids        int
	}{
		{"one", "k1:" + key1, "k1", 1},
		{"newlines, comments, blank lines", "# rotated 2025-03-01; old key kept\n\nk2:" + key2 + "\r\n  k1 : " + key1 + "  \n", "k2", 2},
		{"semicolons", "k2:" + key2 + ";k1:" + key1 + ";", "k2", 2},
		{"longest id", strings.Repeat("a", 32) + ":" + key1, strings.Repeat("a", 32), 1},
		{"id characters", "k-2025-0a9z:" + key1, "k-2025-0a9z", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := envelope.ParseMaster(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if m.CurrentID() != tt.current {
				t.Errorf("CurrentID = %q, want %q", m.CurrentID(), tt.current)
			}
			again, err := envelope.ParseMaster(m.KeyFileText())
			if err != nil || again.KeyFileText() != m.KeyFileText() {
				t.Errorf("String does not round-trip: %v", err)
			}
			if n := strings.Count(m.KeyFileText(), "\n"); n != tt.ids {
				t.Errorf("String has %d entries, want %d", n, tt.ids)
			}
		})
	}
}

func TestParseMasterErrors(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 16))
	badB64 := key1[:20] + "!" + key1[21:]
	for _, tt := range []struct {
		name, text, want string
	}{
		{"empty", "", "empty"},
		{"only comments", "# nothing\n\n;;", "empty"},
		{"no colon", key1, "entry 1"},
		{"empty id", ":" + key1, "bad id"},
		{"upper case id", "K1:" + key1, "bad id"},
		{"id too long", strings.Repeat("a", 33) + ":" + key1, "bad id"},
		{"key pasted as id", key1 + ":" + key2, "bad id"},
		{"bad base64", "k1:" + badB64, "not valid base64"},
		{"wrong length", "k1:" + short, "16 bytes, want 32"},
		{"duplicate id", "k1:" + key1 + "\nk1:" + key2, `entry 2: duplicate id "k1"`},
		{"second entry bad", "k1:" + key1 + ";k2:" + short, "entry 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := envelope.ParseMaster(tt.text)
			if err == nil {
				t.Fatalf("parsed: %v", m)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not say %q", msg, tt.want)
			}
			for _, secret := range []string{key1, key2, short, badB64, key1[:16], key2[:16]} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q contains key material", msg)
				}
			}
		})
	}
}

func TestMasterNeverPrintsKeys(t *testing.T) {
	m, err := envelope.ParseMaster("k2:" + key2 + "\nk1:" + key1)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("start", "master", m)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("start", "master", m)
	for _, out := range []string{
		fmt.Sprint(m), fmt.Sprintf("%v %+v %#v %s %q %x", m, m, m, m, m, m), fmt.Sprintf("%+v %#v", *m, *m),
		fmt.Errorf("bad: %v", m).Error(), logged.String(),
	} {
		if strings.Contains(out, key1) || strings.Contains(out, key2) || strings.Contains(out, "\x01\x01\x01\x01") {
			t.Errorf("printed key material: %q", out)
		}
	}
	if !strings.Contains(fmt.Sprint(m), "k2,k1") || !strings.Contains(logged.String(), "k2") {
		t.Errorf("printing should still show the ids: %q / %q", fmt.Sprint(m), logged.String())
	}
	if !strings.Contains(m.KeyFileText(), key1) {
		t.Error("String, called explicitly, must give the key file text")
	}
}

var keyID = regexp.MustCompile(`^k\d{8}-[0-9a-f]{4}$`)

func TestNewMasterAndWithNewKey(t *testing.T) {
	m := envelope.NewMaster()
	if !keyID.MatchString(m.CurrentID()) {
		t.Errorf("CurrentID = %q", m.CurrentID())
	}
	if envelope.NewMaster().KeyFileText() == m.KeyFileText() {
		t.Error("two NewMasters have the same key")
	}
	r, err := m.WithNewKey()
	if err != nil {
		t.Fatal(err)
	}
	if !keyID.MatchString(r.CurrentID()) || r.CurrentID() == m.CurrentID() {
		t.Errorf("rotated CurrentID = %q (old %q)", r.CurrentID(), m.CurrentID())
	}
	if want := r.KeyFileText()[strings.Index(r.KeyFileText(), "\n")+1:]; want != m.KeyFileText() {
		t.Errorf("WithNewKey did not keep the old key after the new one:\n%s", want)
	}
	if m.KeyFileText() == r.KeyFileText() || strings.Count(m.KeyFileText(), "\n") != 1 {
		t.Error("WithNewKey changed the original")
	}
}

func TestLoadMasterFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.keys")
	if err := os.WriteFile(path, []byte("# keys\nk1:"+key1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []fs.FileMode{0o644, 0o640, 0o604, 0o660} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := envelope.LoadMasterFile(path)
		if err == nil || !strings.Contains(err.Error(), "group or others") {
			t.Errorf("mode %04o: err = %v, want a refusal", mode, err)
		}
	}
	for _, mode := range []fs.FileMode{0o600, 0o400} {
		os.Chmod(path, mode)
		m, err := envelope.LoadMasterFile(path)
		if err != nil {
			t.Fatalf("mode %04o: %v", mode, err)
		}
		if m.CurrentID() != "k1" {
			t.Errorf("CurrentID = %q", m.CurrentID())
		}
	}

	bad := filepath.Join(dir, "bad.keys")
	os.WriteFile(bad, []byte("k1:"+key1[:30]+"\n"), 0o600)
	if _, err := envelope.LoadMasterFile(bad); err == nil || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), key1[:30]) {
		t.Errorf("bad file: err = %v", err)
	}
	if _, err := envelope.LoadMasterFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
	if _, err := envelope.LoadMasterFile(dir); err == nil {
		t.Error("loaded a directory")
	}
}

func TestGenerateMasterFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.keys")
	m, err := envelope.GenerateMasterFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !keyID.MatchString(m.CurrentID()) {
		t.Errorf("CurrentID = %q", m.CurrentID())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	loaded, err := envelope.LoadMasterFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.KeyFileText() != m.KeyFileText() {
		t.Error("the file does not hold the returned key")
	}

	before, _ := os.ReadFile(path)
	if _, err := envelope.GenerateMasterFile(path); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second GenerateMasterFile: err = %v, want fs.ErrExist", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("GenerateMasterFile overwrote the file")
	}
}
