package httpapi

import (
	"net/http"
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
