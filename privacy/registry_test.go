package privacy_test

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"kinwatch"
	"kinwatch/privacy"
)

var update = flag.Bool("update", false, "rewrite docs/privacy-registry.md from the registry")

// TestRegistryIsComplete: every declaration says whose data it is, what kind, what an export takes
// and how it is deleted and kept; a table without personal data says why.
func TestRegistryIsComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, tb := range privacy.Tables {
		if tb.Name == "" {
			t.Errorf("a table without a name: %+v", tb)
			continue
		}
		if seen[tb.Name] {
			t.Errorf("table %s is declared twice", tb.Name)
		}
		seen[tb.Name] = true
		if !tb.Personal {
			if tb.Owner != privacy.OwnerNone || tb.Why == "" || len(tb.Classes) > 0 || len(tb.Sealed) > 0 ||
				tb.OwnerColumn != "" || tb.Export != "" || tb.Deletion != "" || len(tb.Retention) > 0 {
				t.Errorf("table %s holds no personal data: it needs Owner OwnerNone and Why, and nothing else", tb.Name)
			}
			continue
		}
		if tb.Why != "" {
			t.Errorf("table %s holds personal data but has a Why (for tables without personal data)", tb.Name)
		}
		checkOwner(t, "table "+tb.Name, tb.Owner)
		if tb.OwnerColumn == "" {
			t.Errorf("table %s: OwnerColumn is empty", tb.Name)
		}
		checkDeclaration(t, "table "+tb.Name, tb.Classes, tb.Export, tb.Deletion)
		if len(tb.Retention) == 0 {
			t.Errorf("table %s: no Retention", tb.Name)
		}
		for _, r := range tb.Retention {
			checkRetention(t, "table "+tb.Name, r)
		}
	}
	prefixes := map[string]bool{}
	for _, b := range privacy.Blobs {
		if b.Prefix == "" || !strings.HasSuffix(b.Prefix, "/") || prefixes[b.Prefix] {
			t.Errorf("blob prefix %q must be non-empty, end in / and be declared once", b.Prefix)
		}
		prefixes[b.Prefix] = true
		checkOwner(t, "blob "+b.Prefix, b.Owner)
		checkDeclaration(t, "blob "+b.Prefix, b.Classes, b.Export, b.Deletion)
		checkRetention(t, "blob "+b.Prefix, b.Retention)
	}
}

func checkOwner(t *testing.T, what string, o privacy.Owner) {
	t.Helper()
	if !slices.Contains([]privacy.Owner{privacy.OwnerAccount, privacy.OwnerFamily, privacy.OwnerChild}, o) {
		t.Errorf("%s holds personal data: its Owner must be account, family or child, not %q", what, o)
	}
}

func checkDeclaration(t *testing.T, what string, classes []privacy.Class, export, deletion string) {
	t.Helper()
	if len(classes) == 0 {
		t.Errorf("%s: no Classes", what)
	}
	for _, c := range classes {
		if c.Meaning() == "" {
			t.Errorf("%s: class %q is not one of the registry's classes", what, c)
		}
	}
	if export == "" || deletion == "" {
		t.Errorf("%s: Export and Deletion must say what happens (or why nothing does)", what)
	}
}

func checkRetention(t *testing.T, what string, r privacy.Retention) {
	t.Helper()
	if !slices.ContainsFunc(privacy.Retentions, func(c privacy.RetentionClass) bool { return c.Name == r }) {
		t.Errorf("%s: retention %q is not one of privacy.Retentions", what, r)
	}
}

// TestRetentionClasses: the registry's retention classes with a period are exactly the classes the
// retention job knows, each used by a declaration; the others have none.
func TestRetentionClasses(t *testing.T) {
	used := map[privacy.Retention]bool{}
	for _, tb := range privacy.Tables {
		for _, r := range tb.Retention {
			used[r] = true
		}
	}
	for _, b := range privacy.Blobs {
		used[b.Retention] = true
	}
	names := map[privacy.Retention]bool{}
	for _, c := range privacy.Retentions {
		if names[c.Name] || c.Meaning == "" {
			t.Errorf("retention class %q must be listed once, with its meaning", c.Name)
		}
		names[c.Name] = true
		if !used[c.Name] {
			t.Errorf("retention class %q is used by no table or blob", c.Name)
		}
		d, ok := privacy.DefaultRetention(c.Name)
		job := slices.Contains(kinwatch.RetentionClasses, kinwatch.RetentionClass(c.Name))
		if ok != job || (ok && d <= 0) {
			t.Errorf("retention class %q: DefaultRetention = %v, %v, but the retention job knows it: %v", c.Name, d, ok, job)
		}
	}
	for _, c := range kinwatch.RetentionClasses {
		if !names[privacy.Retention(c)] {
			t.Errorf("the retention job deletes class %q, which privacy.Retentions does not list: add it and the tables it applies to", c)
		}
	}
	if d, ok := privacy.DefaultRetention(privacy.RetentionAccount); ok {
		t.Errorf("DefaultRetention(account_lifetime) = %v, true; want none", d)
	}
}

// TestLookup finds declared tables and nothing else.
func TestLookup(t *testing.T) {
	if tb, ok := privacy.Lookup("positions"); !ok || tb.Owner != privacy.OwnerChild || !slices.Contains(tb.Sealed, "sealed") {
		t.Errorf("Lookup(positions) = %+v, %v", tb, ok)
	}
	if tb, ok := privacy.Lookup("schema_migrations"); !ok || tb.Personal {
		t.Errorf("Lookup(schema_migrations) = %+v, %v", tb, ok)
	}
	if _, ok := privacy.Lookup("nonexistent"); ok {
		t.Error("Lookup(nonexistent) found something")
	}
}

// TestMarkdownGolden: docs/privacy-registry.md is the registry rendered by Markdown.
func TestMarkdownGolden(t *testing.T) {
	golden := filepath.Join("..", "docs", "privacy-registry.md")
	got := privacy.Markdown()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./privacy -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s is not the registry as rendered by privacy.Markdown: run go test ./privacy -update and review the diff", golden)
	}
	for _, tb := range privacy.Tables {
		if !strings.Contains(got, "`"+tb.Name+"`") {
			t.Errorf("Markdown does not mention table %s", tb.Name)
		}
	}
}
