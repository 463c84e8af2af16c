package pgtest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"kinwatch/postgres/pgtest"

	"github.com/jackc/pgx/v5"
)

func TestURL(t *testing.T) {
	var schema string
	t.Run("use", func(t *testing.T) {
		conn, err := pgx.Connect(t.Context(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if err := conn.QueryRow(t.Context(), `SELECT current_schema()`).Scan(&schema); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(schema, "kinwatch_test_") {
			t.Fatalf("current_schema() = %q, want the test's own schema", schema)
		}
		if _, err := conn.Exec(t.Context(), `CREATE TABLE t (x int)`); err != nil {
			t.Fatalf("create a table in the test schema: %v", err)
		}
	})
	if schema == "" {
		return // skipped: no server
	}
	conn, err := pgx.Connect(t.Context(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("schema %s still exists after its test ended", schema)
	}
}

const unreachable = "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"

func TestUnreachableSkips(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") == "1" {
		// Run by TestUnreachableFailsInCI with CI=true: URL must fail this test.
		pgtest.URL(t)
		return
	}
	t.Setenv(pgtest.EnvURL, unreachable)
	t.Setenv("CI", "")
	skipped := false
	t.Run("unreachable", func(t *testing.T) {
		t.Cleanup(func() { skipped = t.Skipped() })
		pgtest.URL(t)
		t.Error("URL returned for an unreachable server")
	})
	if !skipped {
		t.Error("URL did not skip the test when PostgreSQL is unreachable outside CI")
	}
}

func TestUnreachableFailsInCI(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestUnreachableSkips$", "-test.v")
	cmd.Env = append(os.Environ(), "PGTEST_CHILD=1", "CI=true", pgtest.EnvURL+"="+unreachable)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "PostgreSQL is required in CI") {
		t.Errorf("with CI=true and no server: err %v, output:\n%s\nwant a failure saying PostgreSQL is required", err, out)
	}
}
