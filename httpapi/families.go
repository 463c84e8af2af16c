package httpapi

import (
	"net/http"
	"time"

	"kinwatch"
	"kinwatch/family"
)

type familyJSON struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Role      string  `json:"role"`
	CreatedAt *string `json:"created_at"`
}

type memberJSON struct {
	AccountID string  `json:"account_id"`
	Nickname  string  `json:"nickname"`
	Role      string  `json:"role"`
	Relation  string  `json:"relation"`
	JoinedAt  *string `json:"joined_at"`
	AvatarURL *string `json:"avatar_url"`
}

func toMember(m *kinwatch.Member) memberJSON {
	out := memberJSON{m.AccountID, m.Nickname, string(m.Role), m.Relation, rfc3339(m.JoinedAt), nil}
	if m.HasAvatar {
		u := "/api/v1/families/" + m.FamilyID + "/members/" + m.AccountID + "/avatar"
		out.AvatarURL = &u
	}
	return out
}

func (s *Server) families(w http.ResponseWriter, r *http.Request, c *caller) {
	ms, err := s.Store.Families(ctx(r), c.account.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]familyJSON, len(ms))
	for i, m := range ms {
		out[i] = familyJSON{m.Family.ID, m.Family.Name, string(m.Role), rfc3339(m.Family.CreatedAt)}
	}
	writeJSON(w, http.StatusOK, list(out))
}

func (s *Server) family(w http.ResponseWriter, r *http.Request, c *caller) {
	id := r.PathValue("family")
	m, err := s.Families.RequireMember(ctx(r), c.account.ID, id, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f, err := s.Store.Family(ctx(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	watches, err := s.Store.FamilyWatches(ctx(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if watches == nil {
		watches = []string{}
	}
	writeJSON(w, http.StatusOK, struct {
		familyJSON
		Watches []string `json:"watch_ids"`
	}{familyJSON{f.ID, f.Name, string(m.Role), rfc3339(f.CreatedAt)}, watches})
}

func (s *Server) renameFamily(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	f, err := s.Families.Rename(ctx(r), c.account.ID, r.PathValue("family"), in.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, familyJSON{f.ID, f.Name, string(kinwatch.RoleAdmin), rfc3339(f.CreatedAt)})
}

func (s *Server) members(w http.ResponseWriter, r *http.Request, c *caller) {
	ms, err := s.Families.Members(ctx(r), c.account.ID, r.PathValue("family"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]memberJSON, len(ms))
	for i, m := range ms {
		out[i] = toMember(m)
	}
	writeJSON(w, http.StatusOK, list(out))
}

func (s *Server) updateMember(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Role     *kinwatch.Role `json:"role"`
		Relation *string        `json:"relation"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.Families.UpdateMember(ctx(r), c.account.ID, r.PathValue("family"), r.PathValue("account"),
		family.MemberPatch{Role: in.Role, Relation: in.Relation})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toMember(m))
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.Families.RemoveMember(ctx(r), c.account.ID, r.PathValue("family"), r.PathValue("account")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) transferAdmin(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		AccountID string `json:"account_id"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Families.TransferAdmin(ctx(r), c.account.ID, r.PathValue("family"), in.AccountID); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type invitationJSON struct {
	ID        string  `json:"id"`
	Role      string  `json:"role"`
	UsesLeft  int     `json:"uses_left"`
	CreatedAt *string `json:"created_at"`
	ExpiresAt *string `json:"expires_at"`
	Code      string  `json:"code,omitempty"`
	Link      string  `json:"link,omitempty"`
}

func toInvitation(inv *kinwatch.Invitation) invitationJSON {
	return invitationJSON{ID: inv.ID, Role: string(inv.Role), UsesLeft: inv.UsesLeft, CreatedAt: rfc3339(inv.CreatedAt), ExpiresAt: rfc3339(inv.ExpiresAt)}
}

func (s *Server) invitations(w http.ResponseWriter, r *http.Request, c *caller) {
	invs, err := s.Families.Invitations(ctx(r), c.account.ID, r.PathValue("family"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]invitationJSON, len(invs))
	for i, inv := range invs {
		out[i] = toInvitation(inv)
	}
	writeJSON(w, http.StatusOK, list(out))
}

func (s *Server) invite(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Role      kinwatch.Role `json:"role"`
		Uses      int           `json:"uses"`
		ExpiresIn int           `json:"expires_in_seconds"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.ExpiresIn < 0 || in.ExpiresIn > 30*24*3600 {
		s.writeError(w, r, kinwatch.Errorf(kinwatch.EINVALID, "expires_in_seconds: between 60 and 2592000 (30 days)"))
		return
	}
	inv, code, err := s.Families.Invite(ctx(r), c.account.ID, r.PathValue("family"), in.Role, in.Uses, time.Duration(in.ExpiresIn)*time.Second)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := toInvitation(inv)
	out.Code, out.Link = code, s.Families.InviteLink(code)
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) revokeInvitation(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.Families.RevokeInvitation(ctx(r), c.account.ID, r.PathValue("family"), r.PathValue("invitation")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) acceptInvitation(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Code     string `json:"code"`
		Relation string `json:"relation"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.Families.Accept(ctx(r), c.account, in.Code, in.Relation)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		FamilyID string `json:"family_id"`
		memberJSON
	}{m.FamilyID, toMember(m)})
}

type joinRequestJSON struct {
	ID        string  `json:"id"`
	AccountID string  `json:"account_id"`
	Nickname  string  `json:"nickname"`
	WatchID   string  `json:"watch_id,omitempty"`
	Note      string  `json:"note"`
	CreatedAt *string `json:"created_at"`
}

func toJoinRequest(j *kinwatch.JoinRequest) joinRequestJSON {
	return joinRequestJSON{j.ID, j.AccountID, j.Nickname, j.DeviceID, j.Note, rfc3339(j.CreatedAt)}
}

func (s *Server) joinRequests(w http.ResponseWriter, r *http.Request, c *caller) {
	rs, err := s.Families.JoinRequests(ctx(r), c.account.ID, r.PathValue("family"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]joinRequestJSON, len(rs))
	for i, j := range rs {
		out[i] = toJoinRequest(j)
	}
	writeJSON(w, http.StatusOK, list(out))
}

func (s *Server) approveJoin(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Role kinwatch.Role `json:"role"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.Families.Approve(ctx(r), c.account.ID, r.PathValue("family"), r.PathValue("request"), in.Role)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toMember(m))
}

func (s *Server) declineJoin(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.Families.Decline(ctx(r), c.account.ID, r.PathValue("family"), r.PathValue("request")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type retentionJSON struct {
	Operator  map[kinwatch.RetentionClass]int `json:"operator"`
	Chosen    map[kinwatch.RetentionClass]int `json:"chosen"`
	Effective map[kinwatch.RetentionClass]int `json:"effective"`
}

func toRetention(v *family.RetentionView) retentionJSON {
	return retentionJSON{v.Operator, v.Chosen, v.Effective}
}

func (s *Server) familyRetention(w http.ResponseWriter, r *http.Request, c *caller) {
	v, err := s.Families.FamilyRetention(ctx(r), c.account.ID, r.PathValue("family"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toRetention(v))
}

func (s *Server) setFamilyRetention(w http.ResponseWriter, r *http.Request, c *caller) {
	var days map[kinwatch.RetentionClass]int
	if err := decode(r, &days); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.Families.SetRetention(ctx(r), c.account.ID, r.PathValue("family"), days)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toRetention(v))
}
