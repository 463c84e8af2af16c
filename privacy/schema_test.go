package privacy_test

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"kinwatch/envelope"
	"kinwatch/postgres"
	"kinwatch/postgres/pgtest"
	"kinwatch/privacy"
	"kinwatch/sqlite"
)

// TestEveryTableIsDeclared: the tables of a migrated SQLite database and the registry name the
// same tables, and the columns the registry names exist. A migration that adds a table fails
// here until the table is declared.
func TestEveryTableIsDeclared(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kinwatch.db")
	db, err := sqlite.Open(ctx, path, envelope.NewMaster())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tables, err := strings1(ctx, raw, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	schema := map[string][]string{}
	for _, table := range tables {
		// PRAGMA table_info cannot take a bound parameter; the pragma function can.
		cols, err := strings1(ctx, raw, `SELECT name FROM pragma_table_info(?)`, table)
		if err != nil {
			t.Fatal(err)
		}
		schema[table] = cols
	}
	checkSchema(t, "SQLite", schema)
}

// TestEveryTableIsDeclaredPostgres is TestEveryTableIsDeclared on PostgreSQL.
func TestEveryTableIsDeclaredPostgres(t *testing.T) {
	ctx := t.Context()
	url := pgtest.URL(t)
	db, err := postgres.Open(ctx, url, envelope.NewMaster())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT t.table_name, c.column_name FROM information_schema.tables t
		JOIN information_schema.columns c ON c.table_schema = t.table_schema AND c.table_name = t.table_name
		WHERE t.table_schema = current_schema() AND t.table_type = 'BASE TABLE' ORDER BY t.table_name, c.ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	schema := map[string][]string{}
	var table, column string
	_, err = pgx.ForEachRow(rows, []any{&table, &column}, func() error {
		schema[table] = append(schema[table], column)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(schema) == 0 {
		t.Fatal("the migrated schema has no tables: is the search_path the test schema?")
	}
	checkSchema(t, "PostgreSQL", schema)
}

// checkSchema compares a database's tables and columns with the registry, and says what to change.
func checkSchema(t *testing.T, db string, schema map[string][]string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(schema)) {
		if _, ok := privacy.Lookup(name); !ok {
			t.Errorf("%s has table %s, which the privacy registry does not declare. Add to Tables in privacy/registry.go\n%s\nthen run go test ./privacy -update to rewrite docs/privacy-registry.md.",
				db, name, declaration(name, schema[name]))
		}
	}
	for _, decl := range privacy.Tables {
		cols, ok := schema[decl.Name]
		if !ok {
			t.Errorf("the privacy registry declares table %s, which %s does not have: remove it from Tables in privacy/registry.go or correct its name", decl.Name, db)
			continue
		}
		named := slices.Clone(decl.Sealed)
		if decl.OwnerColumn != "" {
			named = append(named, decl.OwnerColumn)
		}
		for _, col := range named {
			if !slices.Contains(cols, col) {
				t.Errorf("the privacy registry names column %s.%s (OwnerColumn or Sealed), which %s does not have; its columns are %s",
					decl.Name, col, db, strings.Join(cols, ", "))
			}
		}
	}
}

// declaration is a template for an undeclared table, with its columns to guide the choices.
func declaration(table string, cols []string) string {
	return fmt.Sprintf(`	{
		// columns: %s
		Name: %q, Owner: OwnerAccount /* or OwnerFamily, OwnerChild */, OwnerColumn: "<the column naming the owner>",
		Classes: []Class{ /* what kinds of personal data */ }, Personal: true,
		Sealed: []string{ /* columns sealed with the owner's key */ },
		Export: "<what a data export takes from it, or why nothing>",
		Deletion: "<when and how its rows are deleted today: watch unbound, account deleted, retention job …>",
		Retention: []Retention{ /* a class of Retentions */ },
	},
or, if it holds no personal data,
	{Name: %q, Owner: OwnerNone, Why: "<why it holds none>"},`, strings.Join(cols, ", "), table, table)
}

// strings1 returns the first column of every row of a query.
func strings1(ctx context.Context, db *sql.DB, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
