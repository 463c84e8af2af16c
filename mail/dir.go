package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Dir "sends" mail by writing each message as an .eml file into Path, for running kinwatch without
// a relay: the developer opens the newest file to follow a verification link. The files hold those
// links, so they are readable by the owner only.
type Dir struct {
	Path string
	From string // default "kinwatch@localhost"
}

// Send writes m to a new file named after the time, so a listing sorts oldest first. A reader never
// sees a half-written message: the file appears under its .eml name only when complete.
func (d *Dir) Send(ctx context.Context, m Message) error {
	from := d.From
	if from == "" {
		from = "kinwatch@localhost"
	}
	now := time.Now()
	env, err := compose(from, m, now)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return fmt.Errorf("mail: dir: %w", err)
	}
	var r [4]byte
	rand.Read(r[:])
	name := filepath.Join(d.Path, now.UTC().Format("20060102T150405.000000000Z")+"-"+hex.EncodeToString(r[:])+".eml")

	f, err := os.CreateTemp(d.Path, ".tmp-*") // CreateTemp makes 0600 files
	if err != nil {
		return fmt.Errorf("mail: dir: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(env.data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("mail: dir: %w", err)
	}
	return nil
}

var _ Mailer = (*Dir)(nil)
