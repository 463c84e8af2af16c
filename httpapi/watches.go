package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"kinwatch"
	"kinwatch/commands"
	"kinwatch/family"
	"kinwatch/watchproto"
)

type watchJSON struct {
	ID        string  `json:"id"`
	FamilyID  string  `json:"family_id"`
	Role      string  `json:"role"`
	ChildName string  `json:"child_name"`
	Online    bool    `json:"online"`
	LastSeen  *string `json:"last_seen"`
	Battery   *int    `json:"battery"`
	Signal    *int    `json:"signal"`
	Steps     int64   `json:"steps_today"`
	Firmware  string  `json:"firmware"`
	Encrypted bool    `json:"encrypted"`
}

func percent(v int) *int {
	if v < 0 {
		return nil
	}
	return &v
}

func (s *Server) toWatch(r *http.Request, acc *kinwatch.WatchAccess) (watchJSON, error) {
	d, err := s.Store.Device(ctx(r), acc.DeviceID)
	if err != nil {
		return watchJSON{}, err
	}
	out := watchJSON{ID: d.ID, FamilyID: acc.FamilyID, Role: string(acc.Role), Online: d.Online, LastSeen: rfc3339(d.LastSeen),
		Battery: percent(d.Battery), Signal: percent(d.Signal), Steps: d.Steps, Firmware: d.Firmware, Encrypted: d.Encrypted}
	if p, err := s.Store.ChildProfile(ctx(r), d.ID); err == nil {
		out.ChildName = p.Name
	}
	return out, nil
}

func (s *Server) watches(w http.ResponseWriter, r *http.Request, c *caller) {
	accs, err := s.Store.Watches(ctx(r), c.account.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]watchJSON, 0, len(accs))
	for _, acc := range accs {
		wj, err := s.toWatch(r, acc)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out = append(out, wj)
	}
	writeJSON(w, http.StatusOK, list(out))
}

// access resolves the {watch} of the path for the caller, or writes the error.
func (s *Server) access(w http.ResponseWriter, r *http.Request, c *caller, control bool) *kinwatch.WatchAccess {
	acc, err := s.Families.Require(ctx(r), c.account.ID, r.PathValue("watch"), control)
	if err != nil {
		s.writeError(w, r, err)
		return nil
	}
	return acc
}

// audited is access for a read of a child's sensitive data, recorded in the family's access log
// first: without the record, nothing is read.
func (s *Server) audited(w http.ResponseWriter, r *http.Request, c *caller, what, item string) *kinwatch.WatchAccess {
	acc := s.access(w, r, c, false)
	if acc == nil {
		return nil
	}
	if s.Audit != nil {
		if err := s.Audit.Read(ctx(r), acc, c.account.ID, what, item); err != nil {
			s.writeError(w, r, err)
			return nil
		}
	}
	return acc
}

func (s *Server) watch(w http.ResponseWriter, r *http.Request, c *caller) {
	acc := s.access(w, r, c, false)
	if acc == nil {
		return
	}
	wj, err := s.toWatch(r, acc)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wj)
}

func (s *Server) unbind(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.Families.Unbind(ctx(r), c.account.ID, r.PathValue("watch")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) startBinding(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Code     string `json:"code"`
		FamilyID string `json:"family_id"`
		Note     string `json:"note"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.Families.StartBinding(ctx(r), c.account, family.BindRequest{Code: in.Code, FamilyID: in.FamilyID, Note: in.Note})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.JoinRequest != nil {
		writeJSON(w, http.StatusAccepted, map[string]any{"status": "join_requested",
			"message":      "This watch already has a family: its admin was asked to let you in.",
			"join_request": toJoinRequest(res.JoinRequest)})
		return
	}
	ch := res.Challenge
	writeJSON(w, http.StatusCreated, map[string]any{"status": "code_sent", "id": ch.ID, "watch_id": ch.DeviceID,
		"expires_at": rfc3339(ch.ExpiresAt),
		"message":    "A 6-digit code is on its way to the watch's screen: confirm with it."})
}

func (s *Server) confirmBinding(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Code       string `json:"code"`
		FamilyName string `json:"family_name"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	acc, err := s.Families.ConfirmBinding(ctx(r), c.account, r.PathValue("binding"), in.Code, in.FamilyName)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	wj, err := s.toWatch(r, acc)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wj)
}

type childJSON struct {
	WatchID   string  `json:"watch_id"`
	Name      string  `json:"name"`
	Birthday  string  `json:"birthday"`
	Gender    string  `json:"gender"`
	HeightCM  int     `json:"height_cm"`
	WeightKG  float64 `json:"weight_kg"`
	School    string  `json:"school"`
	Grade     string  `json:"grade"`
	Phone     string  `json:"phone"`
	AvatarURL *string `json:"avatar_url"`
	UpdatedAt *string `json:"updated_at"`
}

func toChild(p *kinwatch.ChildProfile) childJSON {
	var avatar *string
	if p.Avatar != "" {
		u := "/api/v1/watches/" + p.DeviceID + "/child/avatar"
		avatar = &u
	}
	return childJSON{p.DeviceID, p.Name, p.Birthday, p.Gender, p.HeightCM, p.WeightKG, p.School, p.Grade, p.Phone, avatar, rfc3339(p.UpdatedAt)}
}

func (s *Server) child(w http.ResponseWriter, r *http.Request, c *caller) {
	if s.audited(w, r, c, kinwatch.AccessChildProfile, "") == nil {
		return
	}
	p, err := s.Families.ChildProfile(ctx(r), c.account.ID, r.PathValue("watch"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toChild(p))
}

func (s *Server) updateChild(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Name     *string  `json:"name"`
		Birthday *string  `json:"birthday"`
		Gender   *string  `json:"gender"`
		HeightCM *int     `json:"height_cm"`
		WeightKG *float64 `json:"weight_kg"`
		School   *string  `json:"school"`
		Grade    *string  `json:"grade"`
		Phone    *string  `json:"phone"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.Families.UpdateChildProfile(ctx(r), c.account.ID, r.PathValue("watch"), family.ChildPatch{
		Name: in.Name, Birthday: in.Birthday, Gender: in.Gender, HeightCM: in.HeightCM, WeightKG: in.WeightKG,
		School: in.School, Grade: in.Grade, Phone: in.Phone})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toChild(p))
}

// PositionJSON is a position as the API and the live stream show it.
type PositionJSON struct {
	ID         string          `json:"id"`
	WatchID    string          `json:"watch_id"`
	Time       string          `json:"time"`
	Received   *string         `json:"received"`
	Valid      bool            `json:"valid"`
	Source     string          `json:"source"`
	Lat        *float64        `json:"lat"`
	Lon        *float64        `json:"lon"`
	Accuracy   float64         `json:"accuracy_m"`
	Speed      float64         `json:"speed_kmh"`
	Course     float64         `json:"course"`
	Altitude   float64         `json:"altitude_m"`
	Satellites int             `json:"satellites"`
	Battery    int             `json:"battery"`
	Signal     int             `json:"signal"`
	Steps      int64           `json:"steps"`
	Alarms     []string        `json:"alarms"`
	Worn       *bool           `json:"worn"`
	Cells      []kinwatch.Cell `json:"cells,omitempty"`
	WiFi       []kinwatch.WiFi `json:"wifi,omitempty"`
}

// ToPositionJSON renders a position.
func ToPositionJSON(p *kinwatch.Position) PositionJSON {
	out := PositionJSON{ID: p.ID, WatchID: p.DeviceID, Time: p.Time.UTC().Format(time.RFC3339Nano), Received: rfc3339(p.Received),
		Valid: p.Valid, Source: p.Source, Accuracy: p.Accuracy, Speed: p.Speed, Course: p.Course, Altitude: p.Altitude,
		Satellites: p.Satellites, Battery: p.Battery, Signal: p.Signal, Steps: p.Steps, Alarms: p.Alarms.Names(),
		Worn: p.Worn, Cells: p.Cells, WiFi: p.WiFi}
	if out.Alarms == nil {
		out.Alarms = []string{}
	}
	if p.HasCoords {
		lat, lon := p.Lat, p.Lon
		out.Lat, out.Lon = &lat, &lon
	}
	return out
}

func (s *Server) latestPositions(w http.ResponseWriter, r *http.Request, c *caller) {
	latest, err := s.Store.AccountLatestPositions(ctx(r), c.account.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]PositionJSON, len(latest))
	for i, p := range latest {
		out[i] = ToPositionJSON(p)
	}
	writeJSON(w, http.StatusOK, list(out))
}

func (s *Server) latestPosition(w http.ResponseWriter, r *http.Request, c *caller) {
	acc := s.access(w, r, c, false)
	if acc == nil {
		return
	}
	p, err := s.Store.LatestPosition(ctx(r), acc.DeviceID)
	if err != nil {
		if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
			err = kinwatch.Errorf(kinwatch.ENOTFOUND, "the watch has not reported a position yet")
		}
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ToPositionJSON(p))
}

func (s *Server) positions(w http.ResponseWriter, r *http.Request, c *caller) {
	from, to, before, limit, err := window(r, 100, 1000)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	acc := s.audited(w, r, c, kinwatch.AccessLocationHistory, rangeItem(from, to))
	if acc == nil {
		return
	}
	ps, err := s.Store.Positions(ctx(r), kinwatch.PositionFilter{DeviceID: acc.DeviceID, From: from, To: to, BeforeID: before, Limit: limit})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := list(make([]PositionJSON, len(ps)))
	for i, p := range ps {
		out.Items[i] = ToPositionJSON(p)
	}
	if len(ps) == limit {
		out.NextCursor = timeCursor(ps[len(ps)-1].Time, ps[len(ps)-1].ID)
	}
	writeJSON(w, http.StatusOK, out)
}

// EventJSON is an event as the API and the live stream show it.
type EventJSON struct {
	ID      string          `json:"id"`
	WatchID string          `json:"watch_id"`
	Time    string          `json:"time"`
	Type    string          `json:"type"`
	Alarm   string          `json:"alarm,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// ToEventJSON renders an event.
func ToEventJSON(e *kinwatch.Event) EventJSON {
	return EventJSON{e.ID, e.DeviceID, e.Time.UTC().Format(time.RFC3339Nano), e.Type, e.Alarm, e.Data}
}

func (s *Server) events(w http.ResponseWriter, r *http.Request, c *caller) {
	acc := s.access(w, r, c, false)
	if acc == nil {
		return
	}
	from, to, before, limit, err := window(r, 100, 1000)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	es, err := s.Store.Events(ctx(r), kinwatch.EventFilter{DeviceID: acc.DeviceID, Type: r.URL.Query().Get("type"), From: from, To: to, BeforeID: before, Limit: limit})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := list(make([]EventJSON, len(es)))
	for i, e := range es {
		out.Items[i] = ToEventJSON(e)
	}
	if len(es) == limit {
		out.NextCursor = timeCursor(es[len(es)-1].Time, es[len(es)-1].ID)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request, c *caller) {
	acc := s.audited(w, r, c, kinwatch.AccessHealth, "")
	if acc == nil {
		return
	}
	page, err := pageParams(r, 100, 1000)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hs, err := s.Store.HealthReadings(ctx(r), acc.DeviceID, page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	type healthJSON struct {
		ID          string  `json:"id"`
		Time        string  `json:"time"`
		HeartRate   int     `json:"heart_rate"`
		Systolic    int     `json:"systolic"`
		Diastolic   int     `json:"diastolic"`
		SpO2        int     `json:"spo2"`
		Temperature float64 `json:"temperature"`
	}
	out := list(make([]healthJSON, len(hs)))
	for i, h := range hs {
		out.Items[i] = healthJSON{h.ID, h.Time.UTC().Format(time.RFC3339Nano), h.HeartRate, h.Systolic, h.Diastolic, h.SpO2, h.Temperature}
	}
	if len(hs) == page.Limit {
		out.NextCursor = timeCursor(hs[len(hs)-1].Time, hs[len(hs)-1].ID)
	}
	writeJSON(w, http.StatusOK, out)
}

type commandJSON struct {
	ID          string  `json:"id"`
	WatchID     string  `json:"watch_id"`
	Type        string  `json:"type"`
	Keyword     string  `json:"keyword"`
	RequestedBy *string `json:"requested_by"`
	State       string  `json:"state"`
	CreatedAt   *string `json:"created_at"`
	SentAt      *string `json:"sent_at"`
	DoneAt      *string `json:"done_at"`
	ExpiresAt   *string `json:"expires_at"`
	Attempts    int     `json:"attempts"`
	Reply       string  `json:"reply"`
	Error       string  `json:"error"`
}

func toCommand(c *kinwatch.Command) commandJSON {
	typ, ok := watchproto.CommandNameOfKeyword(c.Keyword)
	if !ok {
		typ = "custom"
	}
	var by *string
	if c.RequestedBy != "" {
		by = &c.RequestedBy
	}
	return commandJSON{c.ID, c.DeviceID, typ, c.Keyword, by, string(c.State), rfc3339(c.CreatedAt), rfc3339(c.SentAt), rfc3339(c.DoneAt),
		rfc3339(c.ExpiresAt), c.Attempts, c.Reply, c.Error}
}

func (s *Server) listCommands(w http.ResponseWriter, r *http.Request, c *caller) {
	acc := s.access(w, r, c, false)
	if acc == nil {
		return
	}
	limit, err := intParam(r, "limit", 50, 1, 500)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var before int64
	if c := r.URL.Query().Get("cursor"); c != "" {
		if before, err = parseSeqCursor(c); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	cs, err := s.Store.Commands(ctx(r), acc.DeviceID, before, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := list(make([]commandJSON, len(cs)))
	for i, x := range cs {
		out.Items[i] = toCommand(x)
	}
	if len(cs) == limit {
		out.NextCursor = seqCursor(cs[len(cs)-1].Seq)
	}
	writeJSON(w, http.StatusOK, out)
}

// sendCommand queues a command: {"type": "locate_now", "params": {…}}. An Idempotency-Key header
// makes a retry return the first request's command instead of queueing a second one.
func (s *Server) sendCommand(w http.ResponseWriter, r *http.Request, c *caller) {
	acc := s.access(w, r, c, true)
	if acc == nil {
		return
	}
	var in struct {
		Type   string          `json:"type"`
		Params json.RawMessage `json:"params"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	cmd, err := watchproto.ParseCommand(in.Type, in.Params)
	if err != nil {
		s.writeError(w, r, &kinwatch.Error{Code: kinwatch.EINVALID, Message: err.Error(), Err: err})
		return
	}
	queued, created, err := s.Commands.SendFor(ctx(r), acc.DeviceID, cmd,
		commands.Request{AccountID: c.account.ID, IdempotencyKey: r.Header.Get("Idempotency-Key")})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusAccepted
	if !created {
		status = http.StatusOK
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Location", "/api/v1/watches/"+acc.DeviceID+"/commands/"+queued.ID)
	writeJSON(w, status, toCommand(queued))
}

func (s *Server) command(w http.ResponseWriter, r *http.Request, c *caller) {
	acc := s.access(w, r, c, false)
	if acc == nil {
		return
	}
	cmd, err := s.Store.Command(ctx(r), r.PathValue("command"))
	if err != nil || cmd.DeviceID != acc.DeviceID {
		s.writeError(w, r, kinwatch.Errorf(kinwatch.ENOTFOUND, "no such command"))
		return
	}
	writeJSON(w, http.StatusOK, toCommand(cmd))
}

type mediaJSON struct {
	ID          string  `json:"id"`
	WatchID     string  `json:"watch_id"`
	Kind        string  `json:"kind"`
	ContentType string  `json:"content_type"`
	Size        int64   `json:"size"`
	Time        *string `json:"time"`
	ContentURL  string  `json:"content_url"`
}

func toMedia(m *kinwatch.Media) mediaJSON {
	return mediaJSON{m.ID, m.DeviceID, m.Kind, m.ContentType, m.Size, rfc3339(m.Time),
		"/api/v1/watches/" + m.DeviceID + "/media/" + m.ID + "/content"}
}

func (s *Server) mediaList(w http.ResponseWriter, r *http.Request, c *caller) {
	acc := s.access(w, r, c, false)
	if acc == nil {
		return
	}
	page, err := pageParams(r, 50, 500)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ms, err := s.Store.MediaList(ctx(r), acc.DeviceID, page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := list(make([]mediaJSON, len(ms)))
	for i, m := range ms {
		out.Items[i] = toMedia(m)
	}
	if len(ms) == page.Limit {
		out.NextCursor = timeCursor(ms[len(ms)-1].Time, ms[len(ms)-1].ID)
	}
	writeJSON(w, http.StatusOK, out)
}

// mediaOf resolves {media} within the caller's {watch}; another watch's media is not found.
func (s *Server) mediaOf(w http.ResponseWriter, r *http.Request, c *caller) *kinwatch.Media {
	m, _ := s.mediaAccess(w, r, c)
	return m
}

// mediaAccess is mediaOf with the caller's access to the watch.
func (s *Server) mediaAccess(w http.ResponseWriter, r *http.Request, c *caller) (*kinwatch.Media, *kinwatch.WatchAccess) {
	acc := s.access(w, r, c, false)
	if acc == nil {
		return nil, nil
	}
	m, err := s.Store.Media(ctx(r), r.PathValue("media"))
	if err != nil || m.DeviceID != acc.DeviceID {
		s.writeError(w, r, kinwatch.Errorf(kinwatch.ENOTFOUND, "no such media"))
		return nil, nil
	}
	return m, acc
}

func (s *Server) media(w http.ResponseWriter, r *http.Request, c *caller) {
	if m := s.mediaOf(w, r, c); m != nil {
		writeJSON(w, http.StatusOK, toMedia(m))
	}
}

func (s *Server) mediaContent(w http.ResponseWriter, r *http.Request, c *caller) {
	m, acc := s.mediaAccess(w, r, c)
	if m == nil {
		return
	}
	what := kinwatch.AccessPhoto
	if m.Kind == kinwatch.MediaAudio {
		what = kinwatch.AccessVoice
	}
	if s.Audit != nil {
		if err := s.Audit.Read(ctx(r), acc, c.account.ID, what, m.ID); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	data, err := kinwatch.GetSealed(ctx(r), s.Blobs, s.Store.Keys(), kinwatch.FamilyOwner(acc.FamilyID), m.Key)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", m.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("Cache-Control", "private, no-store")
	w.Write(data)
}

// rangeItem describes a time range read, for the access log.
func rangeItem(from, to time.Time) string {
	f, t := "start", "now"
	if !from.IsZero() {
		f = from.UTC().Format(time.RFC3339)
	}
	if !to.IsZero() {
		t = to.UTC().Format(time.RFC3339)
	}
	return f + " to " + t
}
