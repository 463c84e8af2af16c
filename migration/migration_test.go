package migration_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"kinwatch/migration"
)

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_second.sql": {Data: []byte("B")},
		"m/0001_init.sql":   {Data: []byte("A")},
	}
	got, err := migration.Load(fsys, "m/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Version != 1 || got[0].Name != "init" || got[1].SQL != "B" {
		t.Fatalf("%+v", got)
	}
}

func TestLoadRefusesGapsAndBadNames(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"expected number": {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"not named":       {"m/1_a.sql": {}},
	} {
		if _, err := migration.Load(fsys, "m/*.sql"); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err %v", name, err)
		}
	}
}
