package httpapi

import (
	"net/http"
	"strconv"

	"kinwatch"
	"kinwatch/family"
	"kinwatch/qrcode"
)

func (s *Server) adminAccounts(w http.ResponseWriter, r *http.Request, c *caller) {
	limit, err := intParam(r, "limit", 100, 1, 1000)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	as, err := s.Store.Accounts(ctx(r), kinwatch.AccountFilter{Query: q.Get("q"), After: q.Get("cursor"), Limit: limit})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	type adminAccountJSON struct {
		accountJSON
		Disabled bool `json:"disabled"`
	}
	out := list(make([]adminAccountJSON, len(as)))
	for i, a := range as {
		out.Items[i] = adminAccountJSON{toAccount(a), a.Disabled}
	}
	if len(as) == limit {
		out.NextCursor = &as[len(as)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) adminWatches(w http.ResponseWriter, r *http.Request, c *caller) {
	limit, err := intParam(r, "limit", 100, 1, 1000)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	state := kinwatch.DeviceState(q.Get("state"))
	if state != "" && state != kinwatch.DevicePending && state != kinwatch.DeviceBound && state != kinwatch.DeviceBlocked {
		s.writeError(w, r, kinwatch.Errorf(kinwatch.EINVALID, "state: pending, bound or blocked"))
		return
	}
	ds, err := s.Store.Devices(ctx(r), kinwatch.DeviceFilter{State: state, After: q.Get("cursor"), Limit: limit})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	type deviceJSON struct {
		ID        string  `json:"id"`
		State     string  `json:"state"`
		Online    bool    `json:"online"`
		FirstSeen *string `json:"first_seen"`
		LastSeen  *string `json:"last_seen"`
		Firmware  string  `json:"firmware"`
		Encrypted bool    `json:"encrypted"`
	}
	out := list(make([]deviceJSON, len(ds)))
	for i, d := range ds {
		out.Items[i] = deviceJSON{d.ID, string(d.State), d.Online, rfc3339(d.FirstSeen), rfc3339(d.LastSeen), d.Firmware, d.Encrypted}
	}
	if len(ds) == limit {
		out.NextCursor = &ds[len(ds)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

// qrCode renders the label QR code of a watch id (?format=png|svg, ?size= pixels for PNG). The code
// carries the plain id, which is what binding accepts.
func (s *Server) qrCode(w http.ResponseWriter, r *http.Request, c *caller) {
	id, err := family.ParseWatchCode(r.PathValue("watch"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	size, err := intParam(r, "size", 256, 64, 2048)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var (
		data  []byte
		ctype string
	)
	switch f := r.URL.Query().Get("format"); f {
	case "", "png":
		data, err = qrcode.PNG(id, size)
		ctype = "image/png"
	case "svg":
		data, err = qrcode.SVG(id, 8)
		ctype = "image/svg+xml"
	default:
		err = kinwatch.Errorf(kinwatch.EINVALID, "format: png or svg")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}
