package family

import (
	"context"
	"crypto/rand"
	"strings"
	"time"

	"kinwatch"
	"kinwatch/account"
)

// Invite creates an invitation to familyID (admin only) and returns it with its code, which is
// shown once: only its hash is kept.
func (s *Service) Invite(ctx context.Context, accountID, familyID string, role kinwatch.Role, uses int, ttl time.Duration) (*kinwatch.Invitation, string, error) {
	if _, err := s.RequireMember(ctx, accountID, familyID, true); err != nil {
		return nil, "", err
	}
	if role == "" {
		role = kinwatch.RoleGuardian
	}
	if role != kinwatch.RoleGuardian && role != kinwatch.RoleViewer {
		return nil, "", invalid("role: guardian or viewer (admin is handed over with a transfer)")
	}
	if uses == 0 {
		uses = 1
	}
	if uses < 1 || uses > 20 {
		return nil, "", invalid("uses: 1 to 20")
	}
	if ttl < 0 || ttl > 30*24*time.Hour {
		return nil, "", invalid("expires_in_seconds: between 60 and 2592000 (30 days)")
	}
	if ttl == 0 {
		ttl = s.inviteTTL()
	}
	if ttl < time.Minute || ttl > 30*24*time.Hour {
		return nil, "", invalid("expires_in_seconds: between 60 and 2592000 (30 days)")
	}
	b := make([]byte, 10)
	rand.Read(b)
	raw := inviteEncoding.EncodeToString(b) // 16 characters, 80 bits
	code := raw[:4] + "-" + raw[4:8] + "-" + raw[8:12] + "-" + raw[12:]
	now := s.now()
	inv := &kinwatch.Invitation{ID: kinwatch.NewID(), FamilyID: familyID, CodeHash: hashCode(code), Role: role,
		CreatedBy: accountID, CreatedAt: now, ExpiresAt: now.Add(ttl), UsesLeft: uses}
	if err := s.Store.CreateInvitation(ctx, inv); err != nil {
		return nil, "", err
	}
	return inv, code, nil
}

// InviteLink is the link that carries an invitation code.
func (s *Service) InviteLink(code string) string {
	return strings.TrimRight(s.BaseURL, "/") + "/join?code=" + code
}

// Invitations lists a family's invitations (admin only).
func (s *Service) Invitations(ctx context.Context, accountID, familyID string) ([]*kinwatch.Invitation, error) {
	if _, err := s.RequireMember(ctx, accountID, familyID, true); err != nil {
		return nil, err
	}
	return s.Store.Invitations(ctx, familyID)
}

// RevokeInvitation deletes an invitation (admin only).
func (s *Service) RevokeInvitation(ctx context.Context, accountID, familyID, id string) error {
	if _, err := s.RequireMember(ctx, accountID, familyID, true); err != nil {
		return err
	}
	return s.Store.DeleteInvitation(ctx, familyID, id)
}

// Accept joins the family of an invitation code.
func (s *Service) Accept(ctx context.Context, a *kinwatch.Account, code, relation string) (*kinwatch.Member, error) {
	if a.EmailVerifiedAt.IsZero() {
		return nil, forbidden("verify your email address before joining a family")
	}
	if err := s.allow("accept:"+a.ID, 20, time.Hour); err != nil {
		return nil, err
	}
	if err := account.ValidateText("relation", relation, 40); err != nil {
		return nil, err
	}
	now := s.now()
	m := &kinwatch.Member{AccountID: a.ID, Relation: strings.TrimSpace(relation), JoinedAt: now}
	inv, err := s.Store.AcceptInvitation(ctx, hashCode(code), m, now)
	switch kinwatch.ErrorCode(err) {
	case "":
	case kinwatch.ENOTFOUND:
		return nil, kinwatch.Errorf(kinwatch.ENOTFOUND, "this invitation code is unknown, used up or expired: ask for a new one")
	case kinwatch.ECONFLICT:
		return nil, kinwatch.Errorf(kinwatch.ECONFLICT, "you are already in this family")
	default:
		return nil, err
	}
	m.FamilyID, m.Role, m.Nickname = inv.FamilyID, inv.Role, a.Profile.Nickname
	s.log().Info("guardian joined", "family", inv.FamilyID, "account", a.ID)
	s.accessChanged(ctx, inv.FamilyID, "")
	return m, nil
}

// JoinRequests lists a family's open join requests (admin only).
func (s *Service) JoinRequests(ctx context.Context, accountID, familyID string) ([]*kinwatch.JoinRequest, error) {
	if _, err := s.RequireMember(ctx, accountID, familyID, true); err != nil {
		return nil, err
	}
	return s.Store.JoinRequests(ctx, familyID)
}

// Approve lets a requester in as role (admin only).
func (s *Service) Approve(ctx context.Context, accountID, familyID, requestID string, role kinwatch.Role) (*kinwatch.Member, error) {
	if _, err := s.RequireMember(ctx, accountID, familyID, true); err != nil {
		return nil, err
	}
	if role == "" {
		role = kinwatch.RoleGuardian
	}
	if role != kinwatch.RoleGuardian && role != kinwatch.RoleViewer {
		return nil, invalid("role: guardian or viewer")
	}
	m, err := s.Store.ApproveJoinRequest(ctx, familyID, requestID, role, s.now())
	if err != nil {
		return nil, err
	}
	s.accessChanged(ctx, familyID, "")
	return m, nil
}

// Decline deletes a join request (admin only).
func (s *Service) Decline(ctx context.Context, accountID, familyID, requestID string) error {
	if _, err := s.RequireMember(ctx, accountID, familyID, true); err != nil {
		return err
	}
	return s.Store.DeleteJoinRequest(ctx, familyID, requestID)
}

// Members lists a family's guardians: every member sees who else has access.
func (s *Service) Members(ctx context.Context, accountID, familyID string) ([]*kinwatch.Member, error) {
	if _, err := s.RequireMember(ctx, accountID, familyID, false); err != nil {
		return nil, err
	}
	return s.Store.Members(ctx, familyID)
}

// MemberPatch changes a member; nil fields stay.
type MemberPatch struct {
	Role     *kinwatch.Role
	Relation *string
}

// UpdateMember changes a member's role (admin only; admin is handed over with TransferAdmin) or
// relation (the admin, or members for themselves).
func (s *Service) UpdateMember(ctx context.Context, accountID, familyID, memberID string, p MemberPatch) (*kinwatch.Member, error) {
	me, err := s.RequireMember(ctx, accountID, familyID, false)
	if err != nil {
		return nil, err
	}
	if me.Role != kinwatch.RoleAdmin && (accountID != memberID || p.Role != nil) {
		return nil, forbidden("only the family's admin can change other guardians or roles")
	}
	m, err := s.Store.Member(ctx, familyID, memberID)
	if err != nil {
		return nil, err
	}
	if p.Role != nil {
		if *p.Role != kinwatch.RoleGuardian && *p.Role != kinwatch.RoleViewer {
			return nil, invalid("role: guardian or viewer (to hand over admin, use the transfer)")
		}
		if m.Role == kinwatch.RoleAdmin {
			return nil, kinwatch.Errorf(kinwatch.ECONFLICT, "the admin's role changes only by transferring admin to another guardian")
		}
		m.Role = *p.Role
	}
	if p.Relation != nil {
		if err := account.ValidateText("relation", *p.Relation, 40); err != nil {
			return nil, err
		}
		m.Relation = strings.TrimSpace(*p.Relation)
	}
	if err := s.Store.UpdateMember(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// RemoveMember removes a guardian (the admin removes anyone else; a guardian may leave). The admin
// leaves only after transferring admin. The removed guardian loses access at once, the live stream
// included.
func (s *Service) RemoveMember(ctx context.Context, accountID, familyID, memberID string) error {
	me, err := s.RequireMember(ctx, accountID, familyID, false)
	if err != nil {
		return err
	}
	if accountID != memberID && me.Role != kinwatch.RoleAdmin {
		return forbidden("only the family's admin can remove other guardians")
	}
	m, err := s.Store.Member(ctx, familyID, memberID)
	if err != nil {
		return err
	}
	if m.Role == kinwatch.RoleAdmin {
		return kinwatch.Errorf(kinwatch.ECONFLICT, "the admin cannot leave: transfer admin to another guardian first")
	}
	if err := s.Store.RemoveMember(ctx, familyID, memberID); err != nil {
		return err
	}
	s.log().Info("guardian removed", "family", familyID, "account", memberID, "by", accountID)
	s.accessChanged(ctx, familyID, "", memberID)
	return nil
}

// TransferAdmin hands the admin role to another member (admin only); the old admin stays as a
// guardian.
func (s *Service) TransferAdmin(ctx context.Context, accountID, familyID, to string) error {
	if _, err := s.RequireMember(ctx, accountID, familyID, true); err != nil {
		return err
	}
	if to == accountID {
		return invalid("account_id: you are the admin already")
	}
	if err := s.Store.TransferAdmin(ctx, familyID, accountID, to); err != nil {
		return err
	}
	s.log().Info("admin transferred", "family", familyID, "from", accountID, "to", to)
	return nil
}

// Rename changes a family's name (admin only).
func (s *Service) Rename(ctx context.Context, accountID, familyID, name string) (*kinwatch.Family, error) {
	if _, err := s.RequireMember(ctx, accountID, familyID, true); err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if err := validateName(name); err != nil {
		return nil, err
	}
	f, err := s.Store.Family(ctx, familyID)
	if err != nil {
		return nil, err
	}
	f.Name = name
	return f, s.Store.UpdateFamily(ctx, f)
}

// ChildPatch changes the child's profile; nil fields stay.
type ChildPatch struct {
	Name     *string
	Birthday *string
	Gender   *string
	HeightCM *int
	WeightKG *float64
	School   *string
	Grade    *string
	Phone    *string
}

// ChildProfile returns the profile of the child wearing a watch (empty if none was entered).
func (s *Service) ChildProfile(ctx context.Context, accountID, deviceID string) (*kinwatch.ChildProfile, error) {
	if _, err := s.Require(ctx, accountID, deviceID, false); err != nil {
		return nil, err
	}
	p, err := s.Store.ChildProfile(ctx, deviceID)
	if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
		return &kinwatch.ChildProfile{DeviceID: deviceID}, nil
	}
	return p, err
}

// UpdateChildProfile applies p (admins and guardians; viewers only look).
func (s *Service) UpdateChildProfile(ctx context.Context, accountID, deviceID string, p ChildPatch) (*kinwatch.ChildProfile, error) {
	cp, err := s.ChildProfile(ctx, accountID, deviceID)
	if err != nil {
		return nil, err
	}
	acc, err := s.Require(ctx, accountID, deviceID, true)
	if err != nil {
		return nil, err
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&cp.Name, p.Name)
	set(&cp.Birthday, p.Birthday)
	set(&cp.Gender, p.Gender)
	set(&cp.School, p.School)
	set(&cp.Grade, p.Grade)
	if p.Phone != nil {
		phone, err := account.NormalizePhone(*p.Phone)
		if err != nil {
			return nil, err
		}
		cp.Phone = phone
	}
	if p.HeightCM != nil {
		cp.HeightCM = *p.HeightCM
	}
	if p.WeightKG != nil {
		cp.WeightKG = *p.WeightKG
	}
	now := s.now()
	for _, f := range []struct {
		name, v string
		max     int
	}{{"name", cp.Name, 60}, {"school", cp.School, 100}, {"grade", cp.Grade, 30}} {
		if err := account.ValidateText(f.name, f.v, f.max); err != nil {
			return nil, err
		}
	}
	if err := account.ValidateDate("birthday", cp.Birthday, now); err != nil {
		return nil, err
	}
	if cp.Gender != "" && cp.Gender != "female" && cp.Gender != "male" && cp.Gender != "other" {
		return nil, invalid("gender: one of female, male, other, or empty")
	}
	if cp.HeightCM < 0 || cp.HeightCM > 250 {
		return nil, invalid("height_cm: 0 (not given) to 250")
	}
	if cp.WeightKG < 0 || cp.WeightKG > 250 {
		return nil, invalid("weight_kg: 0 (not given) to 250")
	}
	cp.UpdatedAt = now
	if err := s.Store.PutChildProfile(ctx, acc.FamilyID, cp); err != nil {
		if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
			return nil, kinwatch.Errorf(kinwatch.ENOTFOUND, "no such watch: it was unbound meanwhile")
		}
		return nil, err
	}
	return cp, nil
}
