package config_test

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kinwatch/config"
)

func load(t *testing.T, args []string, env map[string]string) (config.Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return config.Load(fs, args, func(k string) string { return env[k] })
}

func TestDefaultsAreValid(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "./data" || c.HTTPAddr != ":8080" || c.WatchAddr != ":5093" {
		t.Fatalf("defaults changed: %+v", c)
	}
	if got := c.SQLitePath(); got != filepath.Join("data", "kinwatch.db") {
		t.Fatalf("SQLitePath = %q", got)
	}
}

func TestPrecedenceFileEnvFlag(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kinwatch.conf")
	os.WriteFile(file, []byte("# comment\nregion=eu\nKINWATCH_HTTP_ADDR=:9000\nwatch-addr = :7000\nbatch-size=10\n"), 0o600)
	c, err := load(t, []string{"-config", file, "-watch-addr", ":6000"}, map[string]string{"KINWATCH_REGION": "na", "KINWATCH_READ_TIMEOUT": "90s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != "na" { // env beats file
		t.Errorf("region = %q, want na", c.Region)
	}
	if c.HTTPAddr != ":9000" { // file beats default
		t.Errorf("http addr = %q", c.HTTPAddr)
	}
	if c.WatchAddr != ":6000" { // flag beats file
		t.Errorf("watch addr = %q", c.WatchAddr)
	}
	if c.ReadTimeout != 90*time.Second || c.BatchSize != 10 {
		t.Errorf("read timeout %v batch %d", c.ReadTimeout, c.BatchSize)
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	_, err := load(t, []string{"-http-addr", "nonsense", "-log-level", "loud", "-database-url", "mysql://x", "-batch-size", "0"}, nil)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"http-addr", "log-level", "database-url", "batch-size"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestBadValuesAreClear(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-read-timeout", "soon"}, nil, "not a duration"},
		{nil, map[string]string{"KINWATCH_MAX_FRAME": "big"}, "KINWATCH_MAX_FRAME"},
		{[]string{"-config", "/nonexistent/kinwatch.conf"}, nil, "config file"},
		{[]string{"extra"}, nil, "unexpected argument"},
		{[]string{"-trusted-proxies", "10.0.0.0/8, proxy.local"}, nil, "trusted-proxies \"proxy.local\""},
		{[]string{"-stream-recheck", "10ms"}, nil, "stream-recheck"},
		{[]string{"-policy-file", "/nonexistent/policy.md"}, nil, "policy-file"},
		{[]string{"-policy-file", os.DevNull}, nil, "policy-file /dev/null: empty"},
	} {
		if _, err := load(t, tc.args, tc.env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: error %v, want it to mention %q", tc.args, tc.env, err, tc.want)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := load(t, []string{"-trusted-proxies", " 10.0.0.0/8,192.0.2.7 , ::1,fd00::1/64"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := c.Proxies()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "10.0.0.0/8 192.0.2.7/32 ::1/128 fd00::/64" {
		t.Fatalf("proxies %v", got)
	}
}

func TestUnknownFileSettingIsRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "k.conf")
	os.WriteFile(file, []byte("colour=blue\n"), 0o600)
	if _, err := load(t, []string{"-config", file}, nil); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("err = %v", err)
	}
}

func TestPostgresURLSelectsNoSQLite(t *testing.T) {
	c, err := load(t, []string{"-database-url", "postgres://127.0.0.1/test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.SQLitePath() != "" {
		t.Fatal("postgres URL still yields an SQLite path")
	}
}
