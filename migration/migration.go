// Package migration loads the forward-only, numbered SQL migrations that each store embeds
// (migrations/NNNN_name.sql). Applying them is the store's own business: each database has its own
// transaction and locking rules. This package only guarantees that every store reads its files the
// same strict way.
package migration

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"time"
)

// File is one migration as shipped.
type File struct {
	Version int
	Name    string
	SQL     string
}

// Status is one migration and when a database applied it.
type Status struct {
	Version   int
	Name      string
	AppliedAt time.Time // zero: not applied yet
}

var fileName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Load returns the migrations matching pattern in fsys, in order. They must be numbered 1, 2, 3 …
// without gaps, so a misnamed file fails every test instead of being skipped silently.
func Load(fsys fs.FS, pattern string) ([]File, error) {
	names, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, err
	}
	out := make([]File, 0, len(names))
	for i, p := range names { // fs.Glob returns names sorted
		m := fileName.FindStringSubmatch(path.Base(p))
		if m == nil {
			return nil, fmt.Errorf("migration %s is not named NNNN_name.sql", p)
		}
		v, _ := strconv.Atoi(m[1])
		if v != i+1 {
			return nil, fmt.Errorf("migration %s: expected number %04d", p, i+1)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Version: v, Name: m[2], SQL: string(b)})
	}
	return out, nil
}
