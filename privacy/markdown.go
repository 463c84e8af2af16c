package privacy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"kinwatch"
)

// Markdown renders the registry as docs/privacy-registry.md.
func Markdown() string {
	var b strings.Builder
	b.WriteString(`# Privacy registry

<!-- Generated from package privacy by go test ./privacy -update; edit privacy/registry.go, not this file. -->

Every table and every class of blob kinwatch keeps, with whose data it is, what kind, what a data
export takes from it, how its rows are deleted or anonymised today, and how long they are kept. A
test fails when a migration creates a table that is not declared here. "(in progress)" marks what
issue 4 still has to build.

Owners: **account** is a guardian's (or operator's) account; **family** a family as a whole;
**child** the wearer of a bound watch, named by the watch's device id, whose data the family holds
(what of it is sealed is sealed with the family's key). Export says what the data export (in
progress) takes from a table, Deletion what deletes or anonymises its rows today.

## Tables

| table | owner (column) | classes | sealed | retention |
|---|---|---|---|---|
`)
	for _, t := range Tables {
		if !t.Personal {
			continue
		}
		row(&b, "`"+t.Name+"`", fmt.Sprintf("%s (`%s`)", t.Owner, t.OwnerColumn), classList(t.Classes), codeList(t.Sealed), retentionList(t.Retention))
	}
	b.WriteString("\n### Export and deletion\n\n| table | export | deletion |\n|---|---|---|\n")
	for _, t := range Tables {
		if t.Personal {
			row(&b, "`"+t.Name+"`", t.Export, t.Deletion)
		}
	}
	b.WriteString("\n### Tables without personal data\n\n| table | why |\n|---|---|\n")
	for _, t := range Tables {
		if !t.Personal {
			row(&b, "`"+t.Name+"`", t.Why)
		}
	}
	b.WriteString(`
## Blobs

Content in the blob store, by the start of its key. Sealed content is sealed with the owner's key
(the family's for a child); content stored before sealing was introduced is read as it is until it
is deleted.

| key prefix | owner | classes | sealed | retention | export | deletion |
|---|---|---|---|---|---|---|
`)
	for _, bl := range Blobs {
		sealed := "no"
		if bl.Sealed {
			sealed = "yes"
		}
		row(&b, "`"+bl.Prefix+"`", string(bl.Owner), classList(bl.Classes), sealed, string(bl.Retention), bl.Export, bl.Deletion)
	}
	b.WriteString(`
## Retention classes

The retention job deletes what is older than its class's period: the operator's (` + "`--retention`" + `,
over these defaults) or a shorter one a family chose for its children's data. The classes without a
period keep their data as long as what it belongs to.

| class | default | a family may shorten | what |
|---|---|---|---|
`)
	for _, r := range Retentions {
		d, ok := DefaultRetention(r.Name)
		period, family := "—", ""
		if ok {
			period, family = days(d), "no"
			if slices.Contains(kinwatch.FamilyRetentionClasses, kinwatch.RetentionClass(r.Name)) {
				family = "yes"
			}
		}
		row(&b, string(r.Name), period, family, r.Meaning)
	}
	b.WriteString("\n## Data classes\n\n| class | what |\n|---|---|\n")
	for _, c := range classMeanings {
		row(&b, string(c.class), c.meaning)
	}
	return b.String()
}

func row(b *strings.Builder, cells ...string) {
	b.WriteString("|")
	for _, c := range cells {
		b.WriteString(" ")
		b.WriteString(strings.ReplaceAll(c, "|", `\|`))
		b.WriteString(" |")
	}
	b.WriteString("\n")
}

func classList(cs []Class) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

func codeList(cols []string) string {
	if len(cols) == 0 {
		return "—"
	}
	return "`" + strings.Join(cols, "`, `") + "`"
}

func retentionList(rs []Retention) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// days writes a period in days, or in hours when it is not whole days.
func days(d time.Duration) string {
	if d%(24*time.Hour) != 0 {
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return fmt.Sprintf("%d days", d/(24*time.Hour))
}
