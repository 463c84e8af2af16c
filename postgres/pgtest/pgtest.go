// Package pgtest gives tests a PostgreSQL database of their own: a fresh schema, dropped when the
// test ends, on the server named by KINWATCH_TEST_POSTGRES_URL or the local test database.
//
// It owns only the test schemas it creates; it must never touch other schemas or be imported
// outside tests. A test skips when PostgreSQL is unreachable, except in CI (CI=true), where a
// missing database must fail rather than let a green run hide untested code.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable that overrides the server tests use.
const EnvURL = "KINWATCH_TEST_POSTGRES_URL"

// defaultURLs are tried in order: the local server trusts both the postgres role and the role
// named after the OS user (root on the development machines and CI).
var defaultURLs = []string{
	"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
	"postgres://root@127.0.0.1:5432/test?sslmode=disable",
}

// URL returns a connection URL whose search_path is a new, empty schema that only this test
// uses; the schema and everything in it is dropped when t ends. Connections made from the URL
// create their tables in that schema.
func URL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	base, conn, err := connect(ctx)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgtest: PostgreSQL is required in CI: %v", err)
		}
		t.Skipf("pgtest: PostgreSQL is unreachable, skipping (set %s to use another server): %v", EnvURL, err)
	}
	defer conn.Close(context.Background())

	var b [8]byte
	rand.Read(b[:])
	schema := "kinwatch_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		// t.Cleanup runs after the test's own cleanups registered later (closing its pools), so
		// nothing holds the schema's tables any more.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(base, schema)
}

// connect returns the first candidate URL that accepts a connection, and that connection.
func connect(ctx context.Context) (string, *pgx.Conn, error) {
	candidates := defaultURLs
	if u := os.Getenv(EnvURL); u != "" {
		candidates = []string{u}
	}
	var errs []error
	for _, u := range candidates {
		conn, err := pgx.Connect(ctx, u)
		if err == nil {
			return u, conn, nil
		}
		errs = append(errs, err)
	}
	return "", nil, errors.Join(errs...)
}

// withSearchPath adds search_path to a URL or key=value connection string; pgx sends it to the
// server as a run-time parameter of every connection.
func withSearchPath(conn, schema string) string {
	if u, err := url.Parse(conn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return fmt.Sprintf("%s search_path=%s", strings.TrimSpace(conn), schema)
}
