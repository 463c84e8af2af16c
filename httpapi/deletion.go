package httpapi

import (
	"net/http"
	"time"

	"kinwatch"
)

// deleteRecord deletes one record of a watch: {kind} comes from the route.
func (s *Server) deleteRecord(kind, param string) func(http.ResponseWriter, *http.Request, *caller) {
	return func(w http.ResponseWriter, r *http.Request, c *caller) {
		_, err := s.Rights.DeleteRecords(ctx(r), c.account.ID, kinwatch.RecordDeletion{Kind: kind, DeviceID: r.PathValue("watch"), ID: r.PathValue(param)})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// deleteRange deletes a watch's records of one kind in [from, to), both given.
func (s *Server) deleteRange(kind string) func(http.ResponseWriter, *http.Request, *caller) {
	return func(w http.ResponseWriter, r *http.Request, c *caller) {
		from, to, _, _, err := window(r, 1, 1)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		n, err := s.Rights.DeleteRecords(ctx(r), c.account.ID, kinwatch.RecordDeletion{Kind: kind, DeviceID: r.PathValue("watch"), From: from, To: to})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, struct {
			Deleted int `json:"deleted"`
		}{n})
	}
}

type accessJSON struct {
	ID      string `json:"id"`
	WatchID string `json:"watch_id"`
	By      string `json:"by"`    // an account id, or the staff member's name
	Staff   bool   `json:"staff"` // operator staff, not a family member
	What    string `json:"what"`
	Item    string `json:"item,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Time    string `json:"time"`
}

func (s *Server) accessLog(w http.ResponseWriter, r *http.Request, c *caller) {
	p, err := pageParams(r, 100, 1000)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	as, err := s.Audit.FamilyLog(ctx(r), c.account.ID, r.PathValue("family"), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := list(make([]accessJSON, len(as)))
	for i, a := range as {
		out.Items[i] = accessJSON{a.ID, a.DeviceID, a.AccessorID, a.Staff, a.What, a.Item, a.Reason, a.Time.UTC().Format(time.RFC3339Nano)}
	}
	if len(as) == p.Limit && len(as) > 0 {
		out.NextCursor = timeCursor(as[len(as)-1].Time, as[len(as)-1].ID)
	}
	writeJSON(w, http.StatusOK, out)
}
