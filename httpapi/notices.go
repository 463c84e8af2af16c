package httpapi

import (
	"net/http"
	"time"

	"kinwatch"
)

type noticeJSON struct {
	ID          string  `json:"id"`
	Kind        string  `json:"kind"`
	Title       string  `json:"title"`
	Body        string  `json:"body"`
	CreatedAt   string  `json:"created_at"`
	EffectiveAt *string `json:"effective_at"`
	ReadAt      *string `json:"read_at"`
}

// myNotices lists the operator's notices addressed to the caller, newest first. There is no
// cursor: an account receives a handful of notices in its life.
func (s *Server) myNotices(w http.ResponseWriter, r *http.Request, c *caller) {
	limit, err := intParam(r, "limit", 50, 1, 200)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ns, err := s.Notices.AccountNotices(ctx(r), c.account.ID, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := list(make([]noticeJSON, len(ns)))
	for i, n := range ns {
		out.Items[i] = toNotice(n)
	}
	writeJSON(w, http.StatusOK, out)
}

func toNotice(n *kinwatch.AccountNotice) noticeJSON {
	return noticeJSON{ID: n.ID, Kind: string(n.Kind), Title: n.Title, Body: n.Body, CreatedAt: n.CreatedAt.UTC().Format(time.RFC3339Nano),
		EffectiveAt: rfc3339(n.EffectiveAt), ReadAt: rfc3339(n.ReadAt)}
}

// readNotice marks one of the caller's notices read; another account's is 404, like a missing one.
func (s *Server) readNotice(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.Notices.MarkRead(ctx(r), c.account.ID, r.PathValue("notice")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
