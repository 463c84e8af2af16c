package httpapi

import (
	"net/http"
	"time"

	"kinwatch"
	"kinwatch/consent"
)

type consentJSON struct {
	Purposes      map[kinwatch.Purpose]bool `json:"purposes"`
	PolicyVersion string                    `json:"policy_version"`
	Statement     string                    `json:"statement,omitempty"`
}

func toConsent(st *consent.State) consentJSON {
	out := consentJSON{Purposes: make(map[kinwatch.Purpose]bool, len(st.Available)), PolicyVersion: st.PolicyVersion, Statement: st.Statement}
	for _, p := range st.Available {
		out.Purposes[p] = st.Granted.Has(p.Bit())
	}
	return out
}

type consentChangeJSON struct {
	Grant         []kinwatch.Purpose `json:"grant"`
	Withdraw      []kinwatch.Purpose `json:"withdraw"`
	PolicyVersion string             `json:"policy_version"`
	Password      string             `json:"password"`
	Statement     bool               `json:"statement_confirmed"`
}

func (c consentChangeJSON) change() consent.Change {
	return consent.Change{Grant: c.Grant, Withdraw: c.Withdraw, PolicyVersion: c.PolicyVersion, Password: c.Password, Statement: c.Statement}
}

type consentEntryJSON struct {
	ID            string           `json:"id"`
	Purpose       kinwatch.Purpose `json:"purpose"`
	Granted       bool             `json:"granted"`
	By            string           `json:"by"` // the account that acted; "" once that account is deleted
	PolicyVersion string           `json:"policy_version"`
	Method        string           `json:"method"`
	Statement     string           `json:"statement,omitempty"`
	Time          string           `json:"time"`
}

func writeConsentHistory(w http.ResponseWriter, cs []*kinwatch.Consent, p kinwatch.Page) {
	out := list(make([]consentEntryJSON, len(cs)))
	for i, c := range cs {
		out.Items[i] = consentEntryJSON{c.ID, c.Purpose, c.Granted, c.AccountID, c.PolicyVersion, c.Method, c.Statement, c.Time.UTC().Format(time.RFC3339Nano)}
	}
	if len(cs) == p.Limit && len(cs) > 0 {
		out.NextCursor = timeCursor(cs[len(cs)-1].Time, cs[len(cs)-1].ID)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) childConsent(w http.ResponseWriter, r *http.Request, c *caller) {
	st, err := s.Consent.Child(ctx(r), c.account.ID, r.PathValue("watch"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toConsent(st))
}

func (s *Server) changeChildConsent(w http.ResponseWriter, r *http.Request, c *caller) {
	var in consentChangeJSON
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.Consent.ChangeChild(ctx(r), c.account.ID, c.session, r.PathValue("watch"), in.change())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toConsent(st))
}

func (s *Server) childConsentHistory(w http.ResponseWriter, r *http.Request, c *caller) {
	p, err := pageParams(r, 100, 1000)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cs, err := s.Consent.ChildHistory(ctx(r), c.account.ID, r.PathValue("watch"), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeConsentHistory(w, cs, p)
}

func (s *Server) myConsent(w http.ResponseWriter, r *http.Request, c *caller) {
	st, err := s.Consent.Account(ctx(r), c.account.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toConsent(st))
}

func (s *Server) changeMyConsent(w http.ResponseWriter, r *http.Request, c *caller) {
	var in consentChangeJSON
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.Consent.ChangeAccount(ctx(r), c.account.ID, in.change())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toConsent(st))
}

func (s *Server) myConsentHistory(w http.ResponseWriter, r *http.Request, c *caller) {
	p, err := pageParams(r, 100, 1000)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cs, err := s.Consent.AccountHistory(ctx(r), c.account.ID, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeConsentHistory(w, cs, p)
}
