package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPIDoc is the OpenAPI 3.1 description of the API, written by hand so it can say what code
// cannot (which fields are immutable, what each error means); a test keeps it in step with routes.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the document (for tests and tools).
func OpenAPI() []byte { return openAPIDoc }

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request, c *caller) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(openAPIDoc)
}
