package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"kinwatch"
)

// email and phone are NULL when empty (see migration 0002): nullif on the way in, coalesce on
// the way out.
const accountColumns = `id, coalesce(email, ''), coalesce(phone, ''), email_verified_at, password_hash,
	nickname, avatar, gender, birthday, region, bio, language, units, time_zone, map_style,
	operator, disabled, policy_version, policy_accepted, failed_logins, last_failed_login, created_at, updated_at, consent`

// accountRow receives one row of accountColumns; it lets one Scan fill an account together with
// other things (a session, in SessionAccount).
type accountRow struct {
	a                          kinwatch.Account
	verified, accepted, failed sql.NullInt64
	created, updated           int64
}

func (r *accountRow) dest() []any {
	a, p, pref := &r.a, &r.a.Profile, &r.a.Preferences
	return []any{&a.ID, &a.Email, &a.Phone, &r.verified, &a.PasswordHash,
		&p.Nickname, &p.Avatar, &p.Gender, &p.Birthday, &p.Region, &p.Bio,
		&pref.Language, &pref.Units, &pref.TimeZone, &pref.MapStyle,
		&a.Operator, &a.Disabled, &a.PolicyVersion, &r.accepted, &a.FailedLogins, &r.failed, &r.created, &r.updated, &a.Consent}
}

func (r *accountRow) account() *kinwatch.Account {
	a := r.a
	a.EmailVerifiedAt, a.PolicyAccepted, a.LastFailedLogin = fromNullNanos(r.verified), fromNullNanos(r.accepted), fromNullNanos(r.failed)
	a.CreatedAt, a.UpdatedAt = fromNanos(r.created), fromNanos(r.updated)
	return &a
}

func scanAccount(s scanner) (*kinwatch.Account, error) {
	var r accountRow
	if err := s.Scan(r.dest()...); err != nil {
		return nil, err
	}
	return r.account(), nil
}

// CreateAccount stores a. An empty a.ID gets a new one, a zero a.CreatedAt the current time
// (microseconds, as PostgreSQL keeps) and a zero a.UpdatedAt a.CreatedAt. a.Email is lower-cased,
// so addresses differing only in case conflict. ECONFLICT when the id, email or phone is taken.
func (db *DB) CreateAccount(ctx context.Context, a *kinwatch.Account) error {
	if err := checkAccountTimes(a); err != nil {
		return err
	}
	if a.ID == "" {
		a.ID = kinwatch.NewID()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = a.CreatedAt
	}
	a.Email = strings.ToLower(a.Email)
	p, pref := &a.Profile, &a.Preferences
	_, err := db.write.ExecContext(ctx, `INSERT INTO accounts (id, email, phone, email_verified_at, password_hash,
			nickname, avatar, gender, birthday, region, bio, language, units, time_zone, map_style,
			operator, disabled, policy_version, policy_accepted, failed_logins, last_failed_login, created_at, updated_at)
		VALUES (?, nullif(?, ''), nullif(?, ''), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Email, a.Phone, nullNanos(a.EmailVerifiedAt), a.PasswordHash,
		p.Nickname, p.Avatar, p.Gender, p.Birthday, p.Region, p.Bio,
		pref.Language, pref.Units, pref.TimeZone, pref.MapStyle,
		a.Operator, a.Disabled, a.PolicyVersion, nullNanos(a.PolicyAccepted), a.FailedLogins, nullNanos(a.LastFailedLogin),
		nanos(a.CreatedAt), nanos(a.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: create account: %w", accountConstraint(err))
	}
	return nil
}

func checkAccountTimes(a *kinwatch.Account) error {
	return cmp.Or(checkTime(a.EmailVerifiedAt), checkTime(a.PolicyAccepted), checkTime(a.LastFailedLogin),
		checkTime(a.CreatedAt), checkTime(a.UpdatedAt))
}

// Account returns one account.
func (db *DB) Account(ctx context.Context, id string) (*kinwatch.Account, error) {
	a, err := scanAccount(db.read.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("account")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: account: %w", err)
	}
	return a, nil
}

// AccountByLogin finds the account whose email is login lower-cased or whose phone is login. Should
// one account's phone equal another's email, the email wins.
func (db *DB) AccountByLogin(ctx context.Context, login string) (*kinwatch.Account, error) {
	if login == "" {
		return nil, notFound("account")
	}
	a, err := scanAccount(db.read.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts
		WHERE email = ?1 OR phone = ?2 ORDER BY email IS ?1 DESC LIMIT 1`, strings.ToLower(login), login))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("account")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: account by login: %w", err)
	}
	return a, nil
}

// UpdateAccount writes every field of a except ID, CreatedAt, FailedLogins and LastFailedLogin,
// which have their own writers. A zero a.UpdatedAt becomes the current time; a.Email is
// lower-cased. ECONFLICT when the new email or phone is taken.
func (db *DB) UpdateAccount(ctx context.Context, a *kinwatch.Account) error {
	if err := checkAccountTimes(a); err != nil {
		return err
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	a.Email = strings.ToLower(a.Email)
	p, pref := &a.Profile, &a.Preferences
	res, err := db.write.ExecContext(ctx, `UPDATE accounts SET email = nullif(?, ''), phone = nullif(?, ''),
			email_verified_at = ?, password_hash = ?, nickname = ?, gender = ?, birthday = ?, region = ?, bio = ?,
			language = ?, units = ?, time_zone = ?, map_style = ?, operator = ?, disabled = ?,
			policy_version = ?, policy_accepted = ?, updated_at = ?
		WHERE id = ?`,
		a.Email, a.Phone, nullNanos(a.EmailVerifiedAt), a.PasswordHash,
		p.Nickname, p.Gender, p.Birthday, p.Region, p.Bio,
		pref.Language, pref.Units, pref.TimeZone, pref.MapStyle, a.Operator, a.Disabled,
		a.PolicyVersion, nullNanos(a.PolicyAccepted), nanos(a.UpdatedAt), a.ID)
	if err != nil {
		return fmt.Errorf("sqlite: update account: %w", accountConstraint(err))
	}
	return changedOne(res, "account")
}

// SetAccountAvatar swaps the account's profile picture key for key ("" removes it) and returns the
// key it replaced, read in the same transaction: of two concurrent swaps each learns its own
// predecessor, so no replaced picture goes undeleted. ENOTFOUND for an unknown account.
func (db *DB) SetAccountAvatar(ctx context.Context, accountID, key string) (string, error) {
	var old string
	err := db.inTx(ctx, "set account avatar", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT avatar FROM accounts WHERE id = ?`, accountID).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("account")
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE accounts SET avatar = ?, updated_at = ? WHERE id = ?`,
			key, nanos(time.Now().UTC().Truncate(time.Microsecond)), accountID)
		return err
	})
	return old, err
}

// Accounts lists accounts in id order, which makes After a stable cursor. Query matches a
// substring of the email, phone or nickname; SQLite's LIKE ignores case for ASCII letters only.
// A zero Limit lists all.
func (db *DB) Accounts(ctx context.Context, f kinwatch.AccountFilter) ([]*kinwatch.Account, error) {
	if strings.ContainsRune(f.Query, 0) {
		// LIKE ends its pattern at a NUL, which would turn the query into "everything". PostgreSQL
		// stores no NUL in text, so finding nothing keeps the two stores alike.
		return nil, nil
	}
	q := `SELECT ` + accountColumns + ` FROM accounts WHERE id > ?1`
	args := []any{f.After}
	if f.Query != "" {
		q += ` AND (email LIKE ?2 ESCAPE '\' OR phone LIKE ?2 ESCAPE '\' OR nickname LIKE ?2 ESCAPE '\')`
		args = append(args, "%"+escapeLike(f.Query)+"%")
	}
	q += fmt.Sprintf(` ORDER BY id LIMIT ?%d`, len(args)+1)
	args = append(args, limit(f.Limit))

	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: accounts: %w", err)
	}
	defer rows.Close()
	var out []*kinwatch.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: accounts: %w", err)
	}
	return out, nil
}

// escapeLike makes s match itself literally in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// LoginFailed counts a failed sign-in in one statement, so concurrent failures each count, and
// returns the new count.
func (db *DB) LoginFailed(ctx context.Context, id string, at time.Time) (int, error) {
	if err := checkTime(at); err != nil {
		return 0, err
	}
	var n int
	err := db.write.QueryRowContext(ctx, `UPDATE accounts SET failed_logins = failed_logins + 1, last_failed_login = ?
		WHERE id = ? RETURNING failed_logins`, nullNanos(at), id).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("account")
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: login failed: %w", err)
	}
	return n, nil
}

// LoginSucceeded resets the failure count. LastFailedLogin stays: it tells the guardian when
// someone last tried.
func (db *DB) LoginSucceeded(ctx context.Context, id string) error {
	res, err := db.write.ExecContext(ctx, `UPDATE accounts SET failed_logins = 0 WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite: login succeeded: %w", err)
	}
	return changedOne(res, "account")
}

// DeleteAccount removes the account; its sessions, tokens, identities and family memberships
// go with it (ON DELETE CASCADE).
func (db *DB) DeleteAccount(ctx context.Context, id string) error {
	// The account's own consent entries go with it; on a child's entries the guardian's name is
	// cleared (ON DELETE SET NULL) and the family keeps the entry.
	return db.inTx(ctx, "delete account", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM consents WHERE account_id = ? AND device_id IS NULL`, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return changedOne(res, "account")
	})
}

// changedOne turns a statement that touched no row into ENOTFOUND for what.
func changedOne(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	if n == 0 {
		return notFound(what)
	}
	return nil
}

// accountConflicts names, for the client, what a unique violation in the account tables was
// about. SQLite reports the violated columns as "table.column, …".
var accountConflicts = []struct{ columns, message string }{
	{"accounts.email", "the email address is used by another account"},
	{"accounts.phone", "the phone number is used by another account"},
	{"accounts.id", "an account with this id already exists"},
	{"sessions.token_hash", "a session with this token already exists"},
	{"sessions.id", "a session with this id already exists"},
	{"tokens.hash", "a token with this hash already exists"},
	{"identities.provider, identities.subject", "this identity is already linked to an account"},
	{"identities.account_id, identities.provider", "the account is already linked to this provider"},
}

// accountConstraint is constraint with the account tables' messages: which identifier is taken,
// and that the referenced account (not a device) is missing.
func accountConstraint(err error) error {
	err = constraint(err)
	var e *kinwatch.Error
	if !errors.As(err, &e) || e.Err == nil {
		return err
	}
	switch e.Code {
	case kinwatch.ENOTFOUND:
		e.Message = "account not found"
	case kinwatch.ECONFLICT:
		text := e.Err.Error()
		for _, c := range accountConflicts {
			if strings.Contains(text, "failed: "+c.columns) {
				e.Message = c.message
				break
			}
		}
	}
	return err
}
