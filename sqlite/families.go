package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"kinwatch"
)

// inTx runs fn in a write transaction and commits it; what names the operation in errors.
func (db *DB) inTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		var ke *kinwatch.Error
		if errors.As(err, &ke) {
			return err
		}
		return fmt.Errorf("sqlite: %s: %w", what, constraint(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return nil
}

// affected turns "the statement changed no row" into ENOTFOUND for what.
func affected(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(what)
	}
	return nil
}

// Family returns one family.
func (db *DB) Family(ctx context.Context, id string) (*kinwatch.Family, error) {
	var (
		f       kinwatch.Family
		created int64
	)
	err := db.read.QueryRowContext(ctx, `SELECT id, name, created_at FROM families WHERE id = ?`, id).Scan(&f.ID, &f.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("family")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: family: %w", err)
	}
	f.CreatedAt = fromNanos(created)
	return &f, nil
}

// UpdateFamily renames a family.
func (db *DB) UpdateFamily(ctx context.Context, f *kinwatch.Family) error {
	res, err := db.write.ExecContext(ctx, `UPDATE families SET name = ? WHERE id = ?`, f.Name, f.ID)
	if err != nil {
		return fmt.Errorf("sqlite: update family: %w", constraint(err))
	}
	return affected(res, "family")
}

// Families lists the account's families, oldest membership first.
func (db *DB) Families(ctx context.Context, accountID string) ([]*kinwatch.Membership, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT f.id, f.name, f.created_at, m.role FROM members m
		JOIN families f ON f.id = m.family_id WHERE m.account_id = ? ORDER BY m.joined_at, f.id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: families: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.Membership
	for rows.Next() {
		var (
			f       kinwatch.Family
			created int64
			role    string
		)
		if err := rows.Scan(&f.ID, &f.Name, &created, &role); err != nil {
			return nil, fmt.Errorf("sqlite: families: %w", err)
		}
		f.CreatedAt = fromNanos(created)
		out = append(out, &kinwatch.Membership{Family: &f, Role: kinwatch.Role(role)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: families: %w", err)
	}
	return out, nil
}

const memberColumns = `m.family_id, m.account_id, m.role, m.relation, m.joined_at, a.nickname, a.avatar <> ''`

const memberFrom = ` FROM members m JOIN accounts a ON a.id = m.account_id`

func scanMember(s scanner) (*kinwatch.Member, error) {
	var (
		m      kinwatch.Member
		role   string
		joined int64
	)
	if err := s.Scan(&m.FamilyID, &m.AccountID, &role, &m.Relation, &joined, &m.Nickname, &m.HasAvatar); err != nil {
		return nil, err
	}
	m.Role, m.JoinedAt = kinwatch.Role(role), fromNanos(joined)
	return &m, nil
}

// Member returns the account's membership of the family.
func (db *DB) Member(ctx context.Context, familyID, accountID string) (*kinwatch.Member, error) {
	return db.member(ctx, db.read, familyID, accountID)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (db *DB) member(ctx context.Context, q queryer, familyID, accountID string) (*kinwatch.Member, error) {
	m, err := scanMember(q.QueryRowContext(ctx, `SELECT `+memberColumns+memberFrom+`
		WHERE m.family_id = ? AND m.account_id = ?`, familyID, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("member")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: member: %w", err)
	}
	return m, nil
}

// Members lists a family's guardians in the order they joined.
func (db *DB) Members(ctx context.Context, familyID string) ([]*kinwatch.Member, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+memberColumns+memberFrom+`
		WHERE m.family_id = ? ORDER BY m.joined_at, m.account_id`, familyID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: members: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.Member
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: members: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: members: %w", err)
	}
	return out, nil
}

func checkMember(m *kinwatch.Member) error {
	if !m.Role.Valid() {
		return kinwatch.Errorf(kinwatch.EINVALID, "role %q is not admin, guardian or viewer", m.Role)
	}
	return checkTime(m.JoinedAt)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// addMember inserts m: ECONFLICT when already a member (or a second admin), ENOTFOUND when the
// family or account does not exist.
func addMember(ctx context.Context, x execer, m *kinwatch.Member) error {
	if err := checkMember(m); err != nil {
		return err
	}
	if m.JoinedAt.IsZero() {
		m.JoinedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	_, err := x.ExecContext(ctx, `INSERT INTO members (family_id, account_id, role, relation, joined_at) VALUES (?, ?, ?, ?, ?)`,
		m.FamilyID, m.AccountID, string(m.Role), m.Relation, nanos(m.JoinedAt))
	switch err := constraint(err); kinwatch.ErrorCode(err) {
	case "":
		return err
	case kinwatch.ECONFLICT:
		return &kinwatch.Error{Code: kinwatch.ECONFLICT, Message: "already a member of this family", Err: err}
	case kinwatch.ENOTFOUND:
		return &kinwatch.Error{Code: kinwatch.ENOTFOUND, Message: "family or account not found", Err: err}
	default:
		return err
	}
}

// AddMember adds m to its family.
func (db *DB) AddMember(ctx context.Context, m *kinwatch.Member) error {
	if err := addMember(ctx, db.write, m); err != nil {
		return fmt.Errorf("sqlite: add member: %w", err)
	}
	return nil
}

// UpdateMember changes a member's role and relation.
func (db *DB) UpdateMember(ctx context.Context, m *kinwatch.Member) error {
	if err := checkMember(m); err != nil {
		return err
	}
	res, err := db.write.ExecContext(ctx, `UPDATE members SET role = ?, relation = ? WHERE family_id = ? AND account_id = ?`,
		string(m.Role), m.Relation, m.FamilyID, m.AccountID)
	if err != nil {
		err = constraint(err)
		if kinwatch.ErrorCode(err) == kinwatch.ECONFLICT {
			return &kinwatch.Error{Code: kinwatch.ECONFLICT, Message: "the family has an admin already", Err: err}
		}
		return fmt.Errorf("sqlite: update member: %w", err)
	}
	return affected(res, "member")
}

// RemoveMember removes an account from a family.
func (db *DB) RemoveMember(ctx context.Context, familyID, accountID string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM members WHERE family_id = ? AND account_id = ?`, familyID, accountID)
	if err != nil {
		return fmt.Errorf("sqlite: remove member: %w", err)
	}
	return affected(res, "member")
}

// TransferAdmin makes to the admin and from a guardian in one transaction.
func (db *DB) TransferAdmin(ctx context.Context, familyID, from, to string) error {
	return db.inTx(ctx, "transfer admin", func(tx *sql.Tx) error {
		if from == to {
			return kinwatch.Errorf(kinwatch.EINVALID, "the admin is already the admin")
		}
		if _, err := db.member(ctx, tx, familyID, to); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE members SET role = 'guardian' WHERE family_id = ? AND account_id = ? AND role = 'admin'`, familyID, from)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return kinwatch.Errorf(kinwatch.ECONFLICT, "only the family's admin can hand over the admin role")
		}
		_, err = tx.ExecContext(ctx, `UPDATE members SET role = 'admin' WHERE family_id = ? AND account_id = ?`, familyID, to)
		return err
	})
}

// CreateInvitation stores inv; an empty ID gets a new one.
func (db *DB) CreateInvitation(ctx context.Context, inv *kinwatch.Invitation) error {
	if inv.Role != kinwatch.RoleGuardian && inv.Role != kinwatch.RoleViewer {
		return kinwatch.Errorf(kinwatch.EINVALID, "an invitation's role is guardian or viewer")
	}
	if inv.UsesLeft < 1 {
		return kinwatch.Errorf(kinwatch.EINVALID, "an invitation needs at least one use")
	}
	if err := cmp.Or(checkTime(inv.CreatedAt), checkTime(inv.ExpiresAt)); err != nil {
		return err
	}
	if inv.ID == "" {
		inv.ID = kinwatch.NewID()
	}
	if inv.CreatedAt.IsZero() {
		inv.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	_, err := db.write.ExecContext(ctx, `INSERT INTO invitations (id, family_id, code_hash, role, created_by, created_at, expires_at, uses_left)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, inv.ID, inv.FamilyID, inv.CodeHash, string(inv.Role), inv.CreatedBy,
		nanos(inv.CreatedAt), nanos(inv.ExpiresAt), inv.UsesLeft)
	if err != nil {
		err = constraint(err)
		if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
			err = &kinwatch.Error{Code: kinwatch.ENOTFOUND, Message: "family or account not found", Err: err}
		}
		return fmt.Errorf("sqlite: create invitation: %w", err)
	}
	return nil
}

const invitationColumns = `id, family_id, code_hash, role, created_by, created_at, expires_at, uses_left`

func scanInvitation(s scanner) (*kinwatch.Invitation, error) {
	var (
		inv              kinwatch.Invitation
		role             string
		created, expires int64
	)
	if err := s.Scan(&inv.ID, &inv.FamilyID, &inv.CodeHash, &role, &inv.CreatedBy, &created, &expires, &inv.UsesLeft); err != nil {
		return nil, err
	}
	inv.Role, inv.CreatedAt, inv.ExpiresAt = kinwatch.Role(role), fromNanos(created), fromNanos(expires)
	return &inv, nil
}

// Invitations lists a family's invitations, oldest first, expired ones included.
func (db *DB) Invitations(ctx context.Context, familyID string) ([]*kinwatch.Invitation, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+invitationColumns+` FROM invitations
		WHERE family_id = ? ORDER BY created_at, id`, familyID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: invitations: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.Invitation
	for rows.Next() {
		inv, err := scanInvitation(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: invitations: %w", err)
		}
		out = append(out, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: invitations: %w", err)
	}
	return out, nil
}

// AcceptInvitation uses one of the invitation's uses and adds m with its family and role. The last
// use deletes the invitation. A member who is already in the family consumes nothing.
func (db *DB) AcceptInvitation(ctx context.Context, codeHash []byte, m *kinwatch.Member, now time.Time) (*kinwatch.Invitation, error) {
	if err := checkTime(now); err != nil {
		return nil, err
	}
	var inv *kinwatch.Invitation
	err := db.inTx(ctx, "accept invitation", func(tx *sql.Tx) error {
		var err error
		inv, err = scanInvitation(tx.QueryRowContext(ctx, `SELECT `+invitationColumns+` FROM invitations
			WHERE code_hash = ? AND expires_at > ? AND uses_left > 0`, codeHash, nanos(now)))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("invitation")
		}
		if err != nil {
			return err
		}
		m.FamilyID, m.Role = inv.FamilyID, inv.Role
		if err := addMember(ctx, tx, m); err != nil {
			return err
		}
		inv.UsesLeft--
		if inv.UsesLeft == 0 {
			_, err = tx.ExecContext(ctx, `DELETE FROM invitations WHERE id = ?`, inv.ID)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE invitations SET uses_left = ? WHERE id = ?`, inv.UsesLeft, inv.ID)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// DeleteInvitation deletes one of the family's invitations.
func (db *DB) DeleteInvitation(ctx context.Context, familyID, id string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM invitations WHERE family_id = ? AND id = ?`, familyID, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete invitation: %w", err)
	}
	return affected(res, "invitation")
}

// CreateJoinRequest stores r; an empty ID gets a new one.
func (db *DB) CreateJoinRequest(ctx context.Context, r *kinwatch.JoinRequest) error {
	if err := checkTime(r.CreatedAt); err != nil {
		return err
	}
	if r.ID == "" {
		r.ID = kinwatch.NewID()
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	_, err := db.write.ExecContext(ctx, `INSERT INTO join_requests (id, family_id, account_id, device_id, note, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, r.ID, r.FamilyID, r.AccountID, r.DeviceID, r.Note, nanos(r.CreatedAt))
	if err != nil {
		switch err := constraint(err); kinwatch.ErrorCode(err) {
		case kinwatch.ECONFLICT:
			return &kinwatch.Error{Code: kinwatch.ECONFLICT, Message: "this account already asked to join the family", Err: err}
		case kinwatch.ENOTFOUND:
			return &kinwatch.Error{Code: kinwatch.ENOTFOUND, Message: "family or account not found", Err: err}
		default:
			return fmt.Errorf("sqlite: create join request: %w", err)
		}
	}
	return nil
}

const joinRequestColumns = `r.id, r.family_id, r.account_id, r.device_id, r.note, r.created_at, a.nickname`

func scanJoinRequest(s scanner) (*kinwatch.JoinRequest, error) {
	var (
		r       kinwatch.JoinRequest
		created int64
	)
	if err := s.Scan(&r.ID, &r.FamilyID, &r.AccountID, &r.DeviceID, &r.Note, &created, &r.Nickname); err != nil {
		return nil, err
	}
	r.CreatedAt = fromNanos(created)
	return &r, nil
}

// JoinRequests lists a family's open join requests, oldest first.
func (db *DB) JoinRequests(ctx context.Context, familyID string) ([]*kinwatch.JoinRequest, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+joinRequestColumns+` FROM join_requests r
		JOIN accounts a ON a.id = r.account_id WHERE r.family_id = ? ORDER BY r.created_at, r.id`, familyID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: join requests: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.JoinRequest
	for rows.Next() {
		r, err := scanJoinRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: join requests: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: join requests: %w", err)
	}
	return out, nil
}

// JoinRequest returns one of the family's join requests.
func (db *DB) JoinRequest(ctx context.Context, familyID, id string) (*kinwatch.JoinRequest, error) {
	return db.joinRequest(ctx, db.read, familyID, id)
}

func (db *DB) joinRequest(ctx context.Context, q queryer, familyID, id string) (*kinwatch.JoinRequest, error) {
	r, err := scanJoinRequest(q.QueryRowContext(ctx, `SELECT `+joinRequestColumns+` FROM join_requests r
		JOIN accounts a ON a.id = r.account_id WHERE r.family_id = ? AND r.id = ?`, familyID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("join request")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: join request: %w", err)
	}
	return r, nil
}

// ApproveJoinRequest adds the requester as role and deletes the request in one transaction.
func (db *DB) ApproveJoinRequest(ctx context.Context, familyID, id string, role kinwatch.Role, at time.Time) (*kinwatch.Member, error) {
	var m *kinwatch.Member
	err := db.inTx(ctx, "approve join request", func(tx *sql.Tx) error {
		r, err := db.joinRequest(ctx, tx, familyID, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM join_requests WHERE id = ?`, r.ID); err != nil {
			return err
		}
		m = &kinwatch.Member{FamilyID: familyID, AccountID: r.AccountID, Role: role, JoinedAt: at, Nickname: r.Nickname}
		return addMember(ctx, tx, m)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// DeleteJoinRequest deletes one of the family's join requests.
func (db *DB) DeleteJoinRequest(ctx context.Context, familyID, id string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM join_requests WHERE family_id = ? AND id = ?`, familyID, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete join request: %w", err)
	}
	return affected(res, "join request")
}

// CreateBindChallenge stores c; an empty ID gets a new one.
func (db *DB) CreateBindChallenge(ctx context.Context, c *kinwatch.BindChallenge) error {
	if err := cmp.Or(checkTime(c.CreatedAt), checkTime(c.ExpiresAt)); err != nil {
		return err
	}
	if c.ID == "" {
		c.ID = kinwatch.NewID()
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	_, err := db.write.ExecContext(ctx, `INSERT INTO bind_challenges (id, device_id, account_id, family_id, code_hash, attempts, created_at, expires_at)
		VALUES (?, ?, ?, nullif(?, ''), ?, ?, ?, ?)`, c.ID, c.DeviceID, c.AccountID, c.FamilyID, c.CodeHash, c.Attempts,
		nanos(c.CreatedAt), nanos(c.ExpiresAt))
	if err != nil {
		err = constraint(err)
		if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
			err = &kinwatch.Error{Code: kinwatch.ENOTFOUND, Message: "device, account or family not found", Err: err}
		}
		return fmt.Errorf("sqlite: create bind challenge: %w", err)
	}
	return nil
}

// BindChallenge returns one of the account's challenges.
func (db *DB) BindChallenge(ctx context.Context, accountID, id string) (*kinwatch.BindChallenge, error) {
	var (
		c                kinwatch.BindChallenge
		created, expires int64
	)
	err := db.read.QueryRowContext(ctx, `SELECT id, device_id, account_id, coalesce(family_id, ''), code_hash, attempts, created_at, expires_at
		FROM bind_challenges WHERE account_id = ? AND id = ?`, accountID, id).Scan(
		&c.ID, &c.DeviceID, &c.AccountID, &c.FamilyID, &c.CodeHash, &c.Attempts, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("binding")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: bind challenge: %w", err)
	}
	c.CreatedAt, c.ExpiresAt = fromNanos(created), fromNanos(expires)
	return &c, nil
}

// TakeBindAttempt counts one attempt on the challenge unless max are counted already, and returns
// the attempts so far: ENOTFOUND when the challenge is gone, EFORBIDDEN when its attempts are
// used up. The writer connection serializes concurrent calls.
func (db *DB) TakeBindAttempt(ctx context.Context, id string, max int) (int, error) {
	var n int
	err := db.inTx(ctx, "take bind attempt", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE bind_challenges SET attempts = attempts + 1 WHERE id = ? AND attempts < ? RETURNING attempts`,
			id, max).Scan(&n)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM bind_challenges WHERE id = ?`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("binding")
		}
		if err != nil {
			return err
		}
		return kinwatch.Errorf(kinwatch.EFORBIDDEN, "too many wrong codes for this binding")
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// DeleteBindChallenge deletes a challenge; deleting one that is gone is not an error.
func (db *DB) DeleteBindChallenge(ctx context.Context, id string) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM bind_challenges WHERE id = ?`, id); err != nil {
		return fmt.Errorf("sqlite: delete bind challenge: %w", err)
	}
	return nil
}

// Bind binds a pending watch to a family, creating the family first when asked, and consumes the
// challenge, all in one transaction.
func (db *DB) Bind(ctx context.Context, b *kinwatch.Binding) error {
	if b.NewFamily != nil && (b.NewFamily.ID != b.FamilyID || b.Admin == nil || b.Admin.FamilyID != b.FamilyID || b.Admin.Role != kinwatch.RoleAdmin) {
		return kinwatch.Errorf(kinwatch.EINVALID, "a new family needs its id and an admin member of it")
	}
	if err := checkTime(b.At); err != nil {
		return err
	}
	return db.inTx(ctx, "bind", func(tx *sql.Tx) error {
		if b.ChallengeID != "" {
			res, err := tx.ExecContext(ctx, `DELETE FROM bind_challenges WHERE id = ? AND device_id = ?`, b.ChallengeID, b.DeviceID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return kinwatch.Errorf(kinwatch.ECONFLICT, "the binding is no longer pending")
			}
		}
		var state string
		err := tx.QueryRowContext(ctx, `SELECT state FROM devices WHERE id = ?`, b.DeviceID).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("device")
		}
		if err != nil {
			return err
		}
		if state != string(kinwatch.DevicePending) {
			return kinwatch.Errorf(kinwatch.ECONFLICT, "the watch is %s, not pending", state)
		}
		if f := b.NewFamily; f != nil {
			if f.CreatedAt.IsZero() {
				f.CreatedAt = cmp.Or(b.At, time.Now().UTC().Truncate(time.Microsecond))
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO families (id, name, created_at) VALUES (?, ?, ?)`, f.ID, f.Name, nanos(f.CreatedAt)); err != nil {
				return err
			}
			if err := db.createKey(ctx, tx, kinwatch.FamilyOwner(f.ID)); err != nil {
				return err
			}
			if b.Admin.JoinedAt.IsZero() {
				b.Admin.JoinedAt = f.CreatedAt
			}
			if err := addMember(ctx, tx, b.Admin); err != nil {
				return err
			}
		} else {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM families WHERE id = ?`, b.FamilyID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("family")
			}
			if err != nil {
				return err
			}
			if b.By != "" {
				var role string
				err := tx.QueryRowContext(ctx, `SELECT role FROM members WHERE family_id = ? AND account_id = ?`, b.FamilyID, b.By).Scan(&role)
				if errors.Is(err, sql.ErrNoRows) || err == nil && role != string(kinwatch.RoleAdmin) {
					return kinwatch.Errorf(kinwatch.EFORBIDDEN, "only the family's admin can bind a watch into it")
				}
				if err != nil {
					return err
				}
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE devices SET state = 'bound', family_id = ?, bound_at = ? WHERE id = ?`,
			b.FamilyID, nanos(cmp.Or(b.At, time.Now().UTC().Truncate(time.Microsecond))), b.DeviceID)
		return err
	})
}

// Unbind returns a watch to pending, out of its family, and deletes everything stored about it:
// its data, commands, child profile, bind challenges and the join requests made with its code, and
// the battery, signal, steps and ICCID it reported while the child wore it. What identifies the
// watch to the gateway (manufacturer, framing, firmware, first and last seen, online) stays.
func (db *DB) Unbind(ctx context.Context, deviceID string) ([]string, error) {
	var keys []string
	err := db.inTx(ctx, "unbind", func(tx *sql.Tx) error {
		var err error
		keys, err = unbind(ctx, tx, deviceID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// unbind does Unbind's work in tx and returns the blob keys to delete.
func unbind(ctx context.Context, tx *sql.Tx, deviceID string) ([]string, error) {
	res, err := tx.ExecContext(ctx, `UPDATE devices SET state = 'pending', family_id = NULL, bound_at = NULL, consent = 0,
		battery = -1, signal = -1, steps = 0, iccid = '' WHERE id = ?`, deviceID)
	if err != nil {
		return nil, err
	}
	if err := affected(res, "device"); err != nil {
		return nil, err
	}
	keys, err := queryStrings(ctx, tx, `DELETE FROM media WHERE device_id = ? RETURNING key`, deviceID)
	if err != nil {
		return nil, err
	}
	var picture string
	err = tx.QueryRowContext(ctx, `DELETE FROM child_profiles WHERE device_id = ? RETURNING avatar`, deviceID).Scan(&picture)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if picture != "" {
		keys = append(keys, picture)
	}
	for _, table := range []string{"positions", "events", "health_readings", "commands", "bind_challenges", "join_requests", "consents", "fences"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE device_id = ?`, deviceID); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// queryStrings returns the one text column of a query's rows.
func queryStrings(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// WatchAccess returns the account's access to a watch of one of its families.
func (db *DB) WatchAccess(ctx context.Context, accountID, deviceID string) (*kinwatch.WatchAccess, error) {
	var (
		a    kinwatch.WatchAccess
		role string
	)
	var bound sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT d.id, d.family_id, m.role, d.bound_at FROM devices d
		JOIN members m ON m.family_id = d.family_id WHERE d.id = ? AND m.account_id = ?`, deviceID, accountID).Scan(&a.DeviceID, &a.FamilyID, &role, &bound)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("watch")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: watch access: %w", err)
	}
	a.Role, a.BoundAt = kinwatch.Role(role), fromNullNanos(bound)
	return &a, nil
}

// Watches lists the watches of the account's families in device ID order.
func (db *DB) Watches(ctx context.Context, accountID string) ([]*kinwatch.WatchAccess, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT d.id, d.family_id, m.role, d.bound_at FROM members m
		JOIN devices d ON d.family_id = m.family_id WHERE m.account_id = ? ORDER BY d.id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: watches: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.WatchAccess
	for rows.Next() {
		var (
			a     kinwatch.WatchAccess
			role  string
			bound sql.NullInt64
		)
		if err := rows.Scan(&a.DeviceID, &a.FamilyID, &role, &bound); err != nil {
			return nil, fmt.Errorf("sqlite: watches: %w", err)
		}
		a.Role, a.BoundAt = kinwatch.Role(role), fromNullNanos(bound)
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: watches: %w", err)
	}
	return out, nil
}

// FamilyWatches lists a family's watches in ID order.
func (db *DB) FamilyWatches(ctx context.Context, familyID string) ([]string, error) {
	return db.strings(ctx, "family watches", `SELECT id FROM devices WHERE family_id = ? ORDER BY id`, familyID)
}

// AccountsWithAccess lists the members of the watch's family.
func (db *DB) AccountsWithAccess(ctx context.Context, deviceID string) ([]string, error) {
	return db.strings(ctx, "accounts with access", `SELECT m.account_id FROM devices d
		JOIN members m ON m.family_id = d.family_id WHERE d.id = ? ORDER BY m.account_id`, deviceID)
}

func (db *DB) strings(ctx context.Context, what, query string, args ...any) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return out, nil
}

// ChildProfile returns the profile of the child wearing the watch.
func (db *DB) ChildProfile(ctx context.Context, deviceID string) (*kinwatch.ChildProfile, error) {
	var (
		p       kinwatch.ChildProfile
		updated int64
		sealed  []byte
		family  sql.NullString
	)
	err := db.read.QueryRowContext(ctx, `SELECT c.device_id, c.name, c.avatar, c.birthday, c.gender, c.height_cm, c.weight_kg,
			c.school, c.grade, c.phone, c.updated_at, c.sealed, d.family_id
		FROM child_profiles c JOIN devices d ON d.id = c.device_id WHERE c.device_id = ?`, deviceID).Scan(&p.DeviceID, &p.Name, &p.Avatar, &p.Birthday, &p.Gender,
		&p.HeightCM, &p.WeightKG, &p.School, &p.Grade, &p.Phone, &updated, &sealed, &family)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("child profile")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: child profile: %w", err)
	}
	p.UpdatedAt = fromNanos(updated)
	if sealed != nil {
		if err := kinwatch.OpenChildProfile(ctx, db.keys, family.String, sealed, &p); err != nil {
			return nil, err
		}
	}
	return &p, nil
}

// PutChildProfile creates or replaces the profile of a watch of familyID, all but its picture
// (SetChildAvatar); a zero UpdatedAt becomes the current time. ENOTFOUND when the watch is not in
// that family (any more): a write racing an unbinding cannot recreate the profile.
func (db *DB) PutChildProfile(ctx context.Context, familyID string, p *kinwatch.ChildProfile) error {
	if err := checkTime(p.UpdatedAt); err != nil {
		return err
	}
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	// Sealed with familyID's key: the insert's condition makes sure that is the watch's family.
	sealed, err := kinwatch.SealChildProfile(ctx, db.keys, familyID, p)
	if err != nil {
		return err
	}
	res, err := db.write.ExecContext(ctx, `INSERT INTO child_profiles (device_id, sealed, updated_at)
		SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM devices WHERE id = ?1 AND family_id = ?4)
		ON CONFLICT (device_id) DO UPDATE SET name = '', birthday = '', gender = '', height_cm = 0, weight_kg = 0, school = '',
			grade = '', phone = '', sealed = excluded.sealed, updated_at = excluded.updated_at`,
		p.DeviceID, sealed, nanos(p.UpdatedAt), familyID)
	if err != nil {
		return fmt.Errorf("sqlite: put child profile: %w", constraint(err))
	}
	return changedOne(res, "watch")
}

// SetChildAvatar swaps the picture key of the child's profile of a watch of familyID for key (""
// removes it), creating the profile if there is none, and returns the key it replaced, read in
// the same transaction. ENOTFOUND when the watch is not in that family (any more).
func (db *DB) SetChildAvatar(ctx context.Context, familyID, deviceID, key string) (string, error) {
	var old string
	err := db.inTx(ctx, "set child avatar", func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM devices WHERE id = ? AND family_id = ?`, deviceID, familyID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("watch")
		}
		if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `SELECT avatar FROM child_profiles WHERE device_id = ?`, deviceID).Scan(&old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO child_profiles (device_id, avatar, updated_at) VALUES (?1, ?2, ?3)
			ON CONFLICT (device_id) DO UPDATE SET avatar = ?2, updated_at = ?3`,
			deviceID, key, nanos(time.Now().UTC().Truncate(time.Microsecond)))
		return err
	})
	return old, err
}

// legacyChildWhere finds profiles written before profiles were sealed that hold something.
const legacyChildWhere = `c.sealed IS NULL AND d.family_id IS NOT NULL AND (c.name != '' OR c.birthday != '' OR c.gender != ''
	OR c.height_cm != 0 OR c.weight_kg != 0 OR c.school != '' OR c.grade != '' OR c.phone != '')`

// sealLegacyChildProfiles seals the profiles written before profiles were sealed.
func (db *DB) sealLegacyChildProfiles(ctx context.Context) error {
	return db.inTx(ctx, "seal child profiles", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT c.device_id, d.family_id, c.name, c.birthday, c.gender, c.height_cm, c.weight_kg, c.school, c.grade, c.phone
			FROM child_profiles c JOIN devices d ON d.id = c.device_id WHERE `+legacyChildWhere)
		if err != nil {
			return err
		}
		type row struct {
			family string
			p      kinwatch.ChildProfile
		}
		var legacy []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.p.DeviceID, &r.family, &r.p.Name, &r.p.Birthday, &r.p.Gender, &r.p.HeightCM, &r.p.WeightKG, &r.p.School, &r.p.Grade, &r.p.Phone); err != nil {
				rows.Close()
				return err
			}
			legacy = append(legacy, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range legacy {
			sealed, err := kinwatch.SealChildProfile(ctx, db.keys, r.family, &r.p)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE child_profiles SET name = '', birthday = '', gender = '', height_cm = 0, weight_kg = 0,
				school = '', grade = '', phone = '', sealed = ? WHERE device_id = ?`, sealed, r.p.DeviceID); err != nil {
				return err
			}
		}
		return nil
	})
}
