// Package httpapi is kinwatch's HTTP surface: health and readiness probes, Prometheus metrics, and
// the versioned JSON API under /api/v1 with its OpenAPI document and live WebSocket stream. It maps
// kinwatch.Error codes to HTTP statuses in one place and never shows internal error details to
// clients. Decisions about who may see what belong to the account and family services; this package
// authenticates requests and translates between HTTP and those services.
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"kinwatch"
	"kinwatch/account"
	"kinwatch/audit"
	"kinwatch/commands"
	"kinwatch/consent"
	"kinwatch/family"
	"kinwatch/metrics"
	"kinwatch/notice"
	"kinwatch/rights"
	"kinwatch/stream"
)

// Server builds the HTTP handler.
type Server struct {
	Store   kinwatch.Store
	Metrics *metrics.Metrics
	Log     *slog.Logger
	// Ready reports whether the process can take traffic (listeners up, not shutting down).
	Ready func() bool

	// The API; without Accounts only the probes and metrics are served.
	Accounts *account.Service
	Families *family.Service
	Commands *commands.Service
	Consent  *consent.Service
	Rights   *rights.Service
	Notices  *notice.Service
	Audit    *audit.Service // records reads of children's sensitive data; nil records nothing
	Blobs    kinwatch.BlobStore
	Stream   *stream.Hub
	// Notifications configures push subscriptions and webhooks.
	Notifications *Notifications
	// TrustedProxies are the reverse proxies whose X-Forwarded-For header names the client.
	TrustedProxies []netip.Prefix
	Providers      []Provider
	// InsecureCookies drops the Secure attribute (plain-HTTP development only).
	InsecureCookies bool
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{}))
	if s.Accounts != nil {
		for _, rt := range s.routes() {
			mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
		}
		mux.HandleFunc("GET /privacy-policy", s.policyPage)
		mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.writeError(w, r, kinwatch.Errorf(kinwatch.ENOTFOUND, "no such API route: see /api/v1/openapi.json"))
		}))
	}
	return mux
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.Ready != nil && !s.Ready() {
		s.writeError(w, r, kinwatch.Errorf(kinwatch.EUNAVAILABLE, "not ready"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		s.writeError(w, r, &kinwatch.Error{Code: kinwatch.EUNAVAILABLE, Message: "database unreachable", Err: err})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// statusOf maps error codes to HTTP statuses; this is the only place that does.
var statusOf = map[string]int{
	kinwatch.EINVALID:      http.StatusBadRequest,
	kinwatch.EUNAUTHORIZED: http.StatusUnauthorized,
	kinwatch.EFORBIDDEN:    http.StatusForbidden,
	kinwatch.ENOTFOUND:     http.StatusNotFound,
	kinwatch.ECONFLICT:     http.StatusConflict,
	kinwatch.ETOOMANY:      http.StatusTooManyRequests,
	kinwatch.EUNAVAILABLE:  http.StatusServiceUnavailable,
	kinwatch.EINTERNAL:     http.StatusInternalServerError,
}

// writeError writes the stable error body {"error":{"code","message"}}; details go to the log only.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := kinwatch.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.Log.Error("http request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": kinwatch.ErrorMessage(err)}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
