package httpapi

import (
	"kinwatch"
	"net/http"
	"strconv"
	"time"
)

type planFamilyJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Watches  int    `json:"watches"`
	Others   int    `json:"other_members"`
	Outcome  string `json:"outcome"` // "deleted" or "kept"
	NewAdmin string `json:"new_admin,omitempty"`
}

func (s *Server) cancellationPlan(w http.ResponseWriter, r *http.Request, c *caller) {
	p, err := s.Rights.CancellationPlan(ctx(r), c.account.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := struct {
		Statement string           `json:"statement"`
		Phrase    string           `json:"confirm_phrase"`
		Families  []planFamilyJSON `json:"families"`
	}{Statement: p.Statement, Phrase: "delete my account", Families: []planFamilyJSON{}}
	for _, f := range p.Families {
		outcome := "kept"
		if f.Deleted {
			outcome = "deleted"
		}
		out.Families = append(out.Families, planFamilyJSON{f.ID, f.Name, f.Watches, f.Others, outcome, f.NewAdmin})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) cancelAccount(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Password string `json:"password"`
		Confirm  string `json:"confirm"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.Rights.Cancel(ctx(r), c.account.ID, c.session, in.Password, in.Confirm)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.setSessionCookie(w, "", time.Unix(1, 0))
	writeJSON(w, http.StatusOK, struct {
		Deleted []string `json:"families_deleted"`
		Left    []string `json:"families_left"`
		Unbound []string `json:"watches_unbound"`
	}{nonNil(res.Deleted), nonNil(res.Left), nonNil(res.Unbound)})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type exportJSON struct {
	ID         string  `json:"id"`
	State      string  `json:"state"`
	Size       int64   `json:"size"`
	Error      string  `json:"error,omitempty"`
	CreatedAt  string  `json:"created_at"`
	FinishedAt *string `json:"finished_at"`
	ExpiresAt  *string `json:"expires_at"`
}

func toExport(j *kinwatch.ExportJob) exportJSON {
	return exportJSON{j.ID, string(j.State), j.Size, j.Error, j.CreatedAt.UTC().Format(time.RFC3339Nano), rfc3339(j.FinishedAt), rfc3339(j.ExpiresAt)}
}

func (s *Server) requestExport(w http.ResponseWriter, r *http.Request, c *caller) {
	j, err := s.Rights.RequestExport(ctx(r), c.account.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, toExport(j))
}

func (s *Server) exports(w http.ResponseWriter, r *http.Request, c *caller) {
	js, err := s.Rights.Exports(ctx(r), c.account.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := list(make([]exportJSON, len(js)))
	for i, j := range js {
		out.Items[i] = toExport(j)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) export(w http.ResponseWriter, r *http.Request, c *caller) {
	j, err := s.Rights.Export(ctx(r), c.account.ID, r.PathValue("export"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toExport(j))
}

func (s *Server) exportLink(w http.ResponseWriter, r *http.Request, c *caller) {
	link, err := s.Rights.DownloadLink(ctx(r), c.account.ID, r.PathValue("export"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		URL string `json:"url"`
	}{link})
}

// downloadExport is public: the link's secret is the authorisation, so a mailed link works in any
// browser. It works once.
func (s *Server) downloadExport(w http.ResponseWriter, r *http.Request, c *caller) {
	id := r.PathValue("export")
	err := s.Rights.Download(ctx(r), id, r.URL.Query().Get("token"), func(n int64) {
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		w.Header().Set("Content-Disposition", `attachment; filename="kinwatch-export-`+id+`.zip"`)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.WriteHeader(http.StatusOK)
	}, w)
	if err != nil && w.Header().Get("Content-Type") != "application/zip" {
		s.writeError(w, r, err)
	}
}
