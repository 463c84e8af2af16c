package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"kinwatch"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// inTx runs fn in a transaction and commits it; what names the operation in errors. Coded errors
// come back as they are.
func (db *DB) inTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, db.pool, fn)
	if err == nil {
		return nil
	}
	var ke *kinwatch.Error
	if errors.As(err, &ke) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", what, constraint(err))
}

// affected turns "the statement changed no row" into ENOTFOUND for what.
func affected(tag pgconn.CommandTag, what string) error {
	if tag.RowsAffected() == 0 {
		return notFound(what)
	}
	return nil
}

// querier is the pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Family returns one family.
func (db *DB) Family(ctx context.Context, id string) (*kinwatch.Family, error) {
	var f kinwatch.Family
	err := db.pool.QueryRow(ctx, `SELECT id, name, created_at FROM families WHERE id = $1`, id).Scan(&f.ID, &f.Name, &f.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("family")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: family: %w", err)
	}
	f.CreatedAt = f.CreatedAt.UTC()
	return &f, nil
}

// UpdateFamily renames a family.
func (db *DB) UpdateFamily(ctx context.Context, f *kinwatch.Family) error {
	tag, err := db.pool.Exec(ctx, `UPDATE families SET name = $1 WHERE id = $2`, f.Name, f.ID)
	if err != nil {
		return fmt.Errorf("postgres: update family: %w", constraint(err))
	}
	return affected(tag, "family")
}

// Families lists the account's families, oldest membership first.
func (db *DB) Families(ctx context.Context, accountID string) ([]*kinwatch.Membership, error) {
	rows, err := db.pool.Query(ctx, `SELECT f.id, f.name, f.created_at, m.role FROM members m
		JOIN families f ON f.id = m.family_id WHERE m.account_id = $1 ORDER BY m.joined_at, f.id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("postgres: families: %w", err)
	}
	out, err := collect(rows, func(s scanner) (*kinwatch.Membership, error) {
		var (
			f    kinwatch.Family
			role string
		)
		if err := s.Scan(&f.ID, &f.Name, &f.CreatedAt, &role); err != nil {
			return nil, err
		}
		f.CreatedAt = f.CreatedAt.UTC()
		return &kinwatch.Membership{Family: &f, Role: kinwatch.Role(role)}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: families: %w", err)
	}
	return out, nil
}

const memberColumns = `m.family_id, m.account_id, m.role, m.relation, m.joined_at, a.nickname, a.avatar <> ''`

const memberFrom = ` FROM members m JOIN accounts a ON a.id = m.account_id`

func scanMember(s scanner) (*kinwatch.Member, error) {
	var (
		m    kinwatch.Member
		role string
	)
	if err := s.Scan(&m.FamilyID, &m.AccountID, &role, &m.Relation, &m.JoinedAt, &m.Nickname, &m.HasAvatar); err != nil {
		return nil, err
	}
	m.Role, m.JoinedAt = kinwatch.Role(role), m.JoinedAt.UTC()
	return &m, nil
}

// Member returns the account's membership of the family.
func (db *DB) Member(ctx context.Context, familyID, accountID string) (*kinwatch.Member, error) {
	return member(ctx, db.pool, familyID, accountID, "")
}

// member reads a membership; lock is "" or a locking clause such as "FOR UPDATE OF m".
func member(ctx context.Context, q querier, familyID, accountID, lock string) (*kinwatch.Member, error) {
	m, err := scanMember(q.QueryRow(ctx, `SELECT `+memberColumns+memberFrom+`
		WHERE m.family_id = $1 AND m.account_id = $2 `+lock, familyID, accountID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("member")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: member: %w", err)
	}
	return m, nil
}

// Members lists a family's guardians in the order they joined.
func (db *DB) Members(ctx context.Context, familyID string) ([]*kinwatch.Member, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+memberColumns+memberFrom+`
		WHERE m.family_id = $1 ORDER BY m.joined_at, m.account_id`, familyID)
	if err != nil {
		return nil, fmt.Errorf("postgres: members: %w", err)
	}
	out, err := collect(rows, scanMember)
	if err != nil {
		return nil, fmt.Errorf("postgres: members: %w", err)
	}
	return out, nil
}

func checkMember(m *kinwatch.Member) error {
	if !m.Role.Valid() {
		return kinwatch.Errorf(kinwatch.EINVALID, "role %q is not admin, guardian or viewer", m.Role)
	}
	return nil
}

// addMember inserts m: ECONFLICT when already a member (or a second admin), ENOTFOUND when the
// family or account does not exist.
func addMember(ctx context.Context, q querier, m *kinwatch.Member) error {
	if err := checkMember(m); err != nil {
		return err
	}
	if m.JoinedAt.IsZero() {
		m.JoinedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	_, err := q.Exec(ctx, `INSERT INTO members (family_id, account_id, role, relation, joined_at) VALUES ($1, $2, $3, $4, $5)`,
		m.FamilyID, m.AccountID, string(m.Role), m.Relation, m.JoinedAt)
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
	if err := addMember(ctx, db.pool, m); err != nil {
		return fmt.Errorf("postgres: add member: %w", err)
	}
	return nil
}

// UpdateMember changes a member's role and relation.
func (db *DB) UpdateMember(ctx context.Context, m *kinwatch.Member) error {
	if err := checkMember(m); err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, `UPDATE members SET role = $1, relation = $2 WHERE family_id = $3 AND account_id = $4`,
		string(m.Role), m.Relation, m.FamilyID, m.AccountID)
	if err != nil {
		err = constraint(err)
		if kinwatch.ErrorCode(err) == kinwatch.ECONFLICT {
			return &kinwatch.Error{Code: kinwatch.ECONFLICT, Message: "the family has an admin already", Err: err}
		}
		return fmt.Errorf("postgres: update member: %w", err)
	}
	return affected(tag, "member")
}

// RemoveMember removes an account from a family.
func (db *DB) RemoveMember(ctx context.Context, familyID, accountID string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM members WHERE family_id = $1 AND account_id = $2`, familyID, accountID)
	if err != nil {
		return fmt.Errorf("postgres: remove member: %w", err)
	}
	return affected(tag, "member")
}

// TransferAdmin makes to the admin and from a guardian in one transaction.
func (db *DB) TransferAdmin(ctx context.Context, familyID, from, to string) error {
	if from == to {
		return kinwatch.Errorf(kinwatch.EINVALID, "the admin is already the admin")
	}
	return db.inTx(ctx, "transfer admin", func(tx pgx.Tx) error {
		if _, err := member(ctx, tx, familyID, to, "FOR UPDATE OF m"); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE members SET role = 'guardian' WHERE family_id = $1 AND account_id = $2 AND role = 'admin'`, familyID, from)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return kinwatch.Errorf(kinwatch.ECONFLICT, "only the family's admin can hand over the admin role")
		}
		_, err = tx.Exec(ctx, `UPDATE members SET role = 'admin' WHERE family_id = $1 AND account_id = $2`, familyID, to)
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
	if inv.ID == "" {
		inv.ID = kinwatch.NewID()
	}
	if inv.CreatedAt.IsZero() {
		inv.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO invitations (id, family_id, code_hash, role, created_by, created_at, expires_at, uses_left)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, inv.ID, inv.FamilyID, inv.CodeHash, string(inv.Role), inv.CreatedBy,
		inv.CreatedAt, inv.ExpiresAt, inv.UsesLeft)
	if err != nil {
		err = constraint(err)
		if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
			err = &kinwatch.Error{Code: kinwatch.ENOTFOUND, Message: "family or account not found", Err: err}
		}
		return fmt.Errorf("postgres: create invitation: %w", err)
	}
	return nil
}

const invitationColumns = `id, family_id, code_hash, role, created_by, created_at, expires_at, uses_left`

func scanInvitation(s scanner) (*kinwatch.Invitation, error) {
	var (
		inv  kinwatch.Invitation
		role string
	)
	if err := s.Scan(&inv.ID, &inv.FamilyID, &inv.CodeHash, &role, &inv.CreatedBy, &inv.CreatedAt, &inv.ExpiresAt, &inv.UsesLeft); err != nil {
		return nil, err
	}
	inv.Role, inv.CreatedAt, inv.ExpiresAt = kinwatch.Role(role), inv.CreatedAt.UTC(), inv.ExpiresAt.UTC()
	return &inv, nil
}

// Invitations lists a family's invitations, oldest first, expired ones included.
func (db *DB) Invitations(ctx context.Context, familyID string) ([]*kinwatch.Invitation, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+invitationColumns+` FROM invitations
		WHERE family_id = $1 ORDER BY created_at, id`, familyID)
	if err != nil {
		return nil, fmt.Errorf("postgres: invitations: %w", err)
	}
	out, err := collect(rows, scanInvitation)
	if err != nil {
		return nil, fmt.Errorf("postgres: invitations: %w", err)
	}
	return out, nil
}

// AcceptInvitation uses one of the invitation's uses and adds m with its family and role. The last
// use deletes the invitation. A member who is already in the family consumes nothing. The
// invitation row is locked, so concurrent accepts of its last use admit exactly one guardian.
func (db *DB) AcceptInvitation(ctx context.Context, codeHash []byte, m *kinwatch.Member, now time.Time) (*kinwatch.Invitation, error) {
	var inv *kinwatch.Invitation
	err := db.inTx(ctx, "accept invitation", func(tx pgx.Tx) error {
		var err error
		inv, err = scanInvitation(tx.QueryRow(ctx, `SELECT `+invitationColumns+` FROM invitations
			WHERE code_hash = $1 AND expires_at > $2 AND uses_left > 0 FOR UPDATE`, codeHash, now))
		if errors.Is(err, pgx.ErrNoRows) {
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
			_, err = tx.Exec(ctx, `DELETE FROM invitations WHERE id = $1`, inv.ID)
		} else {
			_, err = tx.Exec(ctx, `UPDATE invitations SET uses_left = $1 WHERE id = $2`, inv.UsesLeft, inv.ID)
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
	tag, err := db.pool.Exec(ctx, `DELETE FROM invitations WHERE family_id = $1 AND id = $2`, familyID, id)
	if err != nil {
		return fmt.Errorf("postgres: delete invitation: %w", err)
	}
	return affected(tag, "invitation")
}

// CreateJoinRequest stores r; an empty ID gets a new one.
func (db *DB) CreateJoinRequest(ctx context.Context, r *kinwatch.JoinRequest) error {
	if r.ID == "" {
		r.ID = kinwatch.NewID()
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO join_requests (id, family_id, account_id, device_id, note, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, r.ID, r.FamilyID, r.AccountID, r.DeviceID, r.Note, r.CreatedAt)
	if err != nil {
		switch err := constraint(err); kinwatch.ErrorCode(err) {
		case kinwatch.ECONFLICT:
			return &kinwatch.Error{Code: kinwatch.ECONFLICT, Message: "this account already asked to join the family", Err: err}
		case kinwatch.ENOTFOUND:
			return &kinwatch.Error{Code: kinwatch.ENOTFOUND, Message: "family or account not found", Err: err}
		default:
			return fmt.Errorf("postgres: create join request: %w", err)
		}
	}
	return nil
}

const joinRequestColumns = `r.id, r.family_id, r.account_id, r.device_id, r.note, r.created_at, a.nickname`

func scanJoinRequest(s scanner) (*kinwatch.JoinRequest, error) {
	var r kinwatch.JoinRequest
	if err := s.Scan(&r.ID, &r.FamilyID, &r.AccountID, &r.DeviceID, &r.Note, &r.CreatedAt, &r.Nickname); err != nil {
		return nil, err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return &r, nil
}

// JoinRequests lists a family's open join requests, oldest first.
func (db *DB) JoinRequests(ctx context.Context, familyID string) ([]*kinwatch.JoinRequest, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+joinRequestColumns+` FROM join_requests r
		JOIN accounts a ON a.id = r.account_id WHERE r.family_id = $1 ORDER BY r.created_at, r.id`, familyID)
	if err != nil {
		return nil, fmt.Errorf("postgres: join requests: %w", err)
	}
	out, err := collect(rows, scanJoinRequest)
	if err != nil {
		return nil, fmt.Errorf("postgres: join requests: %w", err)
	}
	return out, nil
}

// JoinRequest returns one of the family's join requests.
func (db *DB) JoinRequest(ctx context.Context, familyID, id string) (*kinwatch.JoinRequest, error) {
	return joinRequest(ctx, db.pool, familyID, id, "")
}

func joinRequest(ctx context.Context, q querier, familyID, id, lock string) (*kinwatch.JoinRequest, error) {
	r, err := scanJoinRequest(q.QueryRow(ctx, `SELECT `+joinRequestColumns+` FROM join_requests r
		JOIN accounts a ON a.id = r.account_id WHERE r.family_id = $1 AND r.id = $2 `+lock, familyID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("join request")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: join request: %w", err)
	}
	return r, nil
}

// ApproveJoinRequest adds the requester as role and deletes the request in one transaction.
func (db *DB) ApproveJoinRequest(ctx context.Context, familyID, id string, role kinwatch.Role, at time.Time) (*kinwatch.Member, error) {
	var m *kinwatch.Member
	err := db.inTx(ctx, "approve join request", func(tx pgx.Tx) error {
		r, err := joinRequest(ctx, tx, familyID, id, "FOR UPDATE OF r")
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM join_requests WHERE id = $1`, r.ID); err != nil {
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
	tag, err := db.pool.Exec(ctx, `DELETE FROM join_requests WHERE family_id = $1 AND id = $2`, familyID, id)
	if err != nil {
		return fmt.Errorf("postgres: delete join request: %w", err)
	}
	return affected(tag, "join request")
}

// CreateBindChallenge stores c; an empty ID gets a new one.
func (db *DB) CreateBindChallenge(ctx context.Context, c *kinwatch.BindChallenge) error {
	if c.ID == "" {
		c.ID = kinwatch.NewID()
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO bind_challenges (id, device_id, account_id, family_id, code_hash, attempts, created_at, expires_at)
		VALUES ($1, $2, $3, nullif($4, ''), $5, $6, $7, $8)`, c.ID, c.DeviceID, c.AccountID, c.FamilyID, c.CodeHash, c.Attempts,
		c.CreatedAt, c.ExpiresAt)
	if err != nil {
		err = constraint(err)
		if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
			err = &kinwatch.Error{Code: kinwatch.ENOTFOUND, Message: "device, account or family not found", Err: err}
		}
		return fmt.Errorf("postgres: create bind challenge: %w", err)
	}
	return nil
}

// BindChallenge returns one of the account's challenges.
func (db *DB) BindChallenge(ctx context.Context, accountID, id string) (*kinwatch.BindChallenge, error) {
	var c kinwatch.BindChallenge
	err := db.pool.QueryRow(ctx, `SELECT id, device_id, account_id, coalesce(family_id, ''), code_hash, attempts, created_at, expires_at
		FROM bind_challenges WHERE account_id = $1 AND id = $2`, accountID, id).Scan(
		&c.ID, &c.DeviceID, &c.AccountID, &c.FamilyID, &c.CodeHash, &c.Attempts, &c.CreatedAt, &c.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("binding")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: bind challenge: %w", err)
	}
	c.CreatedAt, c.ExpiresAt = c.CreatedAt.UTC(), c.ExpiresAt.UTC()
	return &c, nil
}

// TakeBindAttempt counts one attempt on the challenge unless max are counted already, and returns
// the attempts so far: ENOTFOUND when the challenge is gone, EFORBIDDEN when its attempts are
// used up. Concurrent calls queue on the row lock, and each checks the count the one before it
// left (READ COMMITTED re-evaluates the WHERE on the updated row), so no more than max succeed.
func (db *DB) TakeBindAttempt(ctx context.Context, id string, max int) (int, error) {
	var (
		n      *int
		exists bool
	)
	err := db.pool.QueryRow(ctx, `WITH taken AS (
			UPDATE bind_challenges SET attempts = attempts + 1 WHERE id = $1 AND attempts < $2 RETURNING attempts)
		SELECT (SELECT attempts FROM taken), EXISTS (SELECT 1 FROM bind_challenges WHERE id = $1)`, id, max).Scan(&n, &exists)
	switch {
	case err != nil:
		return 0, fmt.Errorf("postgres: take bind attempt: %w", err)
	case n != nil:
		return *n, nil
	case !exists:
		return 0, notFound("binding")
	default:
		return 0, kinwatch.Errorf(kinwatch.EFORBIDDEN, "too many wrong codes for this binding")
	}
}

// DeleteBindChallenge deletes a challenge; deleting one that is gone is not an error.
func (db *DB) DeleteBindChallenge(ctx context.Context, id string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM bind_challenges WHERE id = $1`, id); err != nil {
		return fmt.Errorf("postgres: delete bind challenge: %w", err)
	}
	return nil
}

// Bind binds a pending watch to a family, creating the family first when asked, and consumes the
// challenge, all in one transaction. The device row is locked, so two bindings of one watch
// cannot both succeed.
func (db *DB) Bind(ctx context.Context, b *kinwatch.Binding) error {
	if b.NewFamily != nil && (b.NewFamily.ID != b.FamilyID || b.Admin == nil || b.Admin.FamilyID != b.FamilyID || b.Admin.Role != kinwatch.RoleAdmin) {
		return kinwatch.Errorf(kinwatch.EINVALID, "a new family needs its id and an admin member of it")
	}
	return db.inTx(ctx, "bind", func(tx pgx.Tx) error {
		var state string
		err := tx.QueryRow(ctx, `SELECT state FROM devices WHERE id = $1 FOR UPDATE`, b.DeviceID).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("device")
		}
		if err != nil {
			return err
		}
		if b.ChallengeID != "" {
			tag, err := tx.Exec(ctx, `DELETE FROM bind_challenges WHERE id = $1 AND device_id = $2`, b.ChallengeID, b.DeviceID)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return kinwatch.Errorf(kinwatch.ECONFLICT, "the binding is no longer pending")
			}
		}
		if state != string(kinwatch.DevicePending) {
			return kinwatch.Errorf(kinwatch.ECONFLICT, "the watch is %s, not pending", state)
		}
		if f := b.NewFamily; f != nil {
			if f.CreatedAt.IsZero() {
				f.CreatedAt = cmp.Or(b.At, time.Now().UTC().Truncate(time.Microsecond))
			}
			if _, err := tx.Exec(ctx, `INSERT INTO families (id, name, created_at) VALUES ($1, $2, $3)`, f.ID, f.Name, f.CreatedAt); err != nil {
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
			err := tx.QueryRow(ctx, `SELECT 1 FROM families WHERE id = $1`, b.FamilyID).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("family")
			}
			if err != nil {
				return err
			}
			if b.By != "" {
				// FOR SHARE: an admin transfer or removal waits until this binding commits.
				var role string
				err := tx.QueryRow(ctx, `SELECT role FROM members WHERE family_id = $1 AND account_id = $2 FOR SHARE`, b.FamilyID, b.By).Scan(&role)
				if errors.Is(err, pgx.ErrNoRows) || err == nil && role != string(kinwatch.RoleAdmin) {
					return kinwatch.Errorf(kinwatch.EFORBIDDEN, "only the family's admin can bind a watch into it")
				}
				if err != nil {
					return err
				}
			}
		}
		_, err = tx.Exec(ctx, `UPDATE devices SET state = 'bound', family_id = $1, bound_at = $2 WHERE id = $3`,
			b.FamilyID, cmp.Or(b.At, time.Now().UTC().Truncate(time.Microsecond)), b.DeviceID)
		return err
	})
}

// Unbind returns a watch to pending, out of its family, and deletes everything stored about it:
// its data, commands, child profile, bind challenges and the join requests made with its code, and
// the battery, signal, steps and ICCID it reported while the child wore it. What identifies the
// watch to the gateway (manufacturer, framing, firmware, first and last seen, online) stays.
func (db *DB) Unbind(ctx context.Context, deviceID string) ([]string, error) {
	var keys []string
	err := db.inTx(ctx, "unbind", func(tx pgx.Tx) error {
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
func unbind(ctx context.Context, tx pgx.Tx, deviceID string) ([]string, error) {
	tag, err := tx.Exec(ctx, `UPDATE devices SET state = 'pending', family_id = NULL, bound_at = NULL, consent = 0,
		battery = -1, signal = -1, steps = 0, iccid = '' WHERE id = $1`, deviceID)
	if err != nil {
		return nil, err
	}
	if err := affected(tag, "device"); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `DELETE FROM media WHERE device_id = $1 RETURNING key`, deviceID)
	if err != nil {
		return nil, err
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var picture string
	err = tx.QueryRow(ctx, `DELETE FROM child_profiles WHERE device_id = $1 RETURNING avatar`, deviceID).Scan(&picture)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	if picture != "" {
		keys = append(keys, picture)
	}
	for _, table := range []string{"positions", "events", "health_readings", "commands", "bind_challenges", "join_requests", "consents", "fences"} {
		if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE device_id = $1`, deviceID); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// WatchAccess returns the account's access to a watch of one of its families.
func (db *DB) WatchAccess(ctx context.Context, accountID, deviceID string) (*kinwatch.WatchAccess, error) {
	var (
		a     kinwatch.WatchAccess
		role  string
		bound *time.Time
	)
	err := db.pool.QueryRow(ctx, `SELECT d.id, d.family_id, m.role, d.bound_at FROM devices d
		JOIN members m ON m.family_id = d.family_id WHERE d.id = $1 AND m.account_id = $2`, deviceID, accountID).Scan(&a.DeviceID, &a.FamilyID, &role, &bound)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("watch")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: watch access: %w", err)
	}
	a.Role, a.BoundAt = kinwatch.Role(role), utcOrZero(bound)
	return &a, nil
}

// Watches lists the watches of the account's families in device ID order.
func (db *DB) Watches(ctx context.Context, accountID string) ([]*kinwatch.WatchAccess, error) {
	rows, err := db.pool.Query(ctx, `SELECT d.id, d.family_id, m.role, d.bound_at FROM members m
		JOIN devices d ON d.family_id = m.family_id WHERE m.account_id = $1 ORDER BY d.id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("postgres: watches: %w", err)
	}
	out, err := collect(rows, func(s scanner) (*kinwatch.WatchAccess, error) {
		var (
			a     kinwatch.WatchAccess
			role  string
			bound *time.Time
		)
		if err := s.Scan(&a.DeviceID, &a.FamilyID, &role, &bound); err != nil {
			return nil, err
		}
		a.Role, a.BoundAt = kinwatch.Role(role), utcOrZero(bound)
		return &a, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: watches: %w", err)
	}
	return out, nil
}

// FamilyWatches lists a family's watches in ID order.
func (db *DB) FamilyWatches(ctx context.Context, familyID string) ([]string, error) {
	return db.strings(ctx, "family watches", `SELECT id FROM devices WHERE family_id = $1 ORDER BY id`, familyID)
}

// AccountsWithAccess lists the members of the watch's family.
func (db *DB) AccountsWithAccess(ctx context.Context, deviceID string) ([]string, error) {
	return db.strings(ctx, "accounts with access", `SELECT m.account_id FROM devices d
		JOIN members m ON m.family_id = d.family_id WHERE d.id = $1 ORDER BY m.account_id`, deviceID)
}

func (db *DB) strings(ctx context.Context, what, query string, args ...any) ([]string, error) {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return out, nil
}

// ChildProfile returns the profile of the child wearing the watch.
func (db *DB) ChildProfile(ctx context.Context, deviceID string) (*kinwatch.ChildProfile, error) {
	var (
		p      kinwatch.ChildProfile
		sealed []byte
		family pgtype.Text
	)
	err := db.pool.QueryRow(ctx, `SELECT c.device_id, c.name, c.avatar, c.birthday, c.gender, c.height_cm, c.weight_kg,
			c.school, c.grade, c.phone, c.updated_at, c.sealed, d.family_id
		FROM child_profiles c JOIN devices d ON d.id = c.device_id WHERE c.device_id = $1`, deviceID).Scan(&p.DeviceID, &p.Name, &p.Avatar, &p.Birthday, &p.Gender,
		&p.HeightCM, &p.WeightKG, &p.School, &p.Grade, &p.Phone, &p.UpdatedAt, &sealed, &family)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("child profile")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: child profile: %w", err)
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	if sealed != nil {
		if err := kinwatch.OpenChildProfile(ctx, db.keys, family.String, sealed, &p); err != nil {
			return nil, err
		}
	}
	return &p, nil
}

// PutChildProfile creates or replaces the profile of a watch of familyID, all but its picture
// (SetChildAvatar); a zero UpdatedAt becomes the current time. ENOTFOUND when the watch is not in
// that family (any more): the device row is locked while the profile is written, so a write
// racing an unbinding either lands before it (and is deleted by it) or finds the watch gone.
func (db *DB) PutChildProfile(ctx context.Context, familyID string, p *kinwatch.ChildProfile) error {
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	// Sealed before the transaction (loading the family's key takes a connection of its own);
	// the lock then makes sure familyID is still the watch's family.
	sealed, err := kinwatch.SealChildProfile(ctx, db.keys, familyID, p)
	if err != nil {
		return err
	}
	return db.inTx(ctx, "put child profile", func(tx pgx.Tx) error {
		if err := lockFamilyWatch(ctx, tx, familyID, p.DeviceID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO child_profiles (device_id, sealed, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (device_id) DO UPDATE SET name = '', birthday = '', gender = '', height_cm = 0, weight_kg = 0, school = '',
				grade = '', phone = '', sealed = excluded.sealed, updated_at = excluded.updated_at`,
			p.DeviceID, sealed, p.UpdatedAt)
		return err
	})
}

// SetChildAvatar swaps the picture key of the child's profile of a watch of familyID for key (""
// removes it), creating the profile if there is none, and returns the key it replaced. ENOTFOUND
// when the watch is not in that family (any more).
func (db *DB) SetChildAvatar(ctx context.Context, familyID, deviceID, key string) (string, error) {
	var old string
	err := db.inTx(ctx, "set child avatar", func(tx pgx.Tx) error {
		if err := lockFamilyWatch(ctx, tx, familyID, deviceID); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT avatar FROM child_profiles WHERE device_id = $1 FOR UPDATE`, deviceID).Scan(&old)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO child_profiles (device_id, avatar, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (device_id) DO UPDATE SET avatar = excluded.avatar, updated_at = excluded.updated_at`,
			deviceID, key, time.Now().UTC().Truncate(time.Microsecond))
		return err
	})
	return old, err
}

// lockFamilyWatch locks the watch's device row if the watch is in the family, so an Unbind waits
// for the transaction; ENOTFOUND otherwise.
func lockFamilyWatch(ctx context.Context, tx pgx.Tx, familyID, deviceID string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM devices WHERE id = $1 AND family_id = $2 FOR SHARE`, deviceID, familyID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound("watch")
	}
	return err
}

// utcOrZero reads a nullable timestamptz: the zero time for NULL.
func utcOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// sealLegacyChildProfiles seals the profiles written before profiles were sealed.
func (db *DB) sealLegacyChildProfiles(ctx context.Context) error {
	type row struct {
		family string
		p      kinwatch.ChildProfile
	}
	rows, err := db.pool.Query(ctx, `SELECT c.device_id, d.family_id, c.name, c.birthday, c.gender, c.height_cm, c.weight_kg, c.school, c.grade, c.phone
		FROM child_profiles c JOIN devices d ON d.id = c.device_id WHERE c.sealed IS NULL AND d.family_id IS NOT NULL
		AND (c.name != '' OR c.birthday != '' OR c.gender != '' OR c.height_cm != 0 OR c.weight_kg != 0 OR c.school != '' OR c.grade != '' OR c.phone != '')`)
	if err != nil {
		return err
	}
	legacy, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.p.DeviceID, &x.family, &x.p.Name, &x.p.Birthday, &x.p.Gender, &x.p.HeightCM, &x.p.WeightKG, &x.p.School, &x.p.Grade, &x.p.Phone)
		return x, err
	})
	if err != nil {
		return err
	}
	for _, r := range legacy {
		sealed, err := kinwatch.SealChildProfile(ctx, db.keys, r.family, &r.p)
		if err != nil {
			return err
		}
		// Only if it is still the unsealed profile read above.
		if _, err := db.pool.Exec(ctx, `UPDATE child_profiles SET name = '', birthday = '', gender = '', height_cm = 0, weight_kg = 0,
			school = '', grade = '', phone = '', sealed = $1 WHERE device_id = $2 AND sealed IS NULL AND name = $3 AND phone = $4`,
			sealed, r.p.DeviceID, r.p.Name, r.p.Phone); err != nil {
			return err
		}
	}
	return nil
}
