package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"kinwatch/envelope"
	"kinwatch/httpapi"
	"kinwatch/metrics"
	"kinwatch/sqlite"
)

func newServer(t *testing.T, ready *bool) (*httptest.Server, *sqlite.DB) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"), envelope.NewMaster())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := metrics.New(func() float64 { return 3 })
	s := &httpapi.Server{Store: db, Metrics: m, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func() bool { return *ready }}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); db.Close() })
	return ts, db
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestProbesAndMetrics(t *testing.T) {
	ready := true
	ts, db := newServer(t, &ready)
	if code, body := get(t, ts.URL+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("healthz %d %s", code, body)
	}
	if code, _ := get(t, ts.URL+"/readyz"); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	code, body := get(t, ts.URL+"/metrics")
	if code != 200 || !strings.Contains(body, "kinwatch_ingest_queue_depth 3") || !strings.Contains(body, "kinwatch_gateway_connections") {
		t.Fatalf("metrics %d: %.300s", code, body)
	}

	// Not ready (shutting down): 503 with the stable error body.
	ready = false
	code, body = get(t, ts.URL+"/readyz")
	var e struct {
		Error struct{ Code, Message string }
	}
	if code != http.StatusServiceUnavailable || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != "unavailable" {
		t.Fatalf("readyz while not ready: %d %s", code, body)
	}

	// Database gone: not ready, and the client sees no internal detail.
	ready = true
	db.Close()
	code, body = get(t, ts.URL+"/readyz")
	if code != http.StatusServiceUnavailable || strings.Contains(body, "sql") {
		t.Fatalf("readyz without database: %d %s", code, body)
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	ready := true
	ts, _ := newServer(t, &ready)
	if code, _ := get(t, ts.URL+"/nope"); code != http.StatusNotFound {
		t.Fatalf("unknown route %d", code)
	}
	resp, err := http.Post(ts.URL+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /healthz %d", resp.StatusCode)
	}
}
