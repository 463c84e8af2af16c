package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"kinwatch"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
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
	verified, accepted, failed pgtype.Timestamptz
}

func (r *accountRow) dest() []any {
	a, p, pref := &r.a, &r.a.Profile, &r.a.Preferences
	return []any{&a.ID, &a.Email, &a.Phone, &r.verified, &a.PasswordHash,
		&p.Nickname, &p.Avatar, &p.Gender, &p.Birthday, &p.Region, &p.Bio,
		&pref.Language, &pref.Units, &pref.TimeZone, &pref.MapStyle,
		&a.Operator, &a.Disabled, &a.PolicyVersion, &r.accepted, &a.FailedLogins, &r.failed, &a.CreatedAt, &a.UpdatedAt, &a.Consent}
}

func (r *accountRow) account() *kinwatch.Account {
	a := r.a
	a.EmailVerifiedAt, a.PolicyAccepted, a.LastFailedLogin = fromNullTime(r.verified), fromNullTime(r.accepted), fromNullTime(r.failed)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
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
// (microseconds, what timestamptz keeps) and a zero a.UpdatedAt a.CreatedAt. a.Email is
// lower-cased, so addresses differing only in case conflict. ECONFLICT when the id, email or phone
// is taken.
func (db *DB) CreateAccount(ctx context.Context, a *kinwatch.Account) error {
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
	_, err := db.pool.Exec(ctx, `INSERT INTO accounts (id, email, phone, email_verified_at, password_hash,
			nickname, avatar, gender, birthday, region, bio, language, units, time_zone, map_style,
			operator, disabled, policy_version, policy_accepted, failed_logins, last_failed_login, created_at, updated_at)
		VALUES ($1, nullif($2, ''), nullif($3, ''), $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
			$16, $17, $18, $19, $20, $21, $22, $23)`,
		a.ID, a.Email, a.Phone, nullTime(a.EmailVerifiedAt), a.PasswordHash,
		p.Nickname, p.Avatar, p.Gender, p.Birthday, p.Region, p.Bio,
		pref.Language, pref.Units, pref.TimeZone, pref.MapStyle,
		a.Operator, a.Disabled, a.PolicyVersion, nullTime(a.PolicyAccepted), a.FailedLogins, nullTime(a.LastFailedLogin),
		a.CreatedAt, a.UpdatedAt)
	if err != nil {
		return fmt.Errorf("postgres: create account: %w", accountConstraint(err))
	}
	return nil
}

// Account returns one account.
func (db *DB) Account(ctx context.Context, id string) (*kinwatch.Account, error) {
	a, err := scanAccount(db.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("account")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: account: %w", err)
	}
	return a, nil
}

// AccountByLogin finds the account whose email is login lower-cased or whose phone is login. Should
// one account's phone equal another's email, the email wins.
func (db *DB) AccountByLogin(ctx context.Context, login string) (*kinwatch.Account, error) {
	if login == "" || !storableText(login) {
		return nil, notFound("account")
	}
	a, err := scanAccount(db.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts
		WHERE email = $1 OR phone = $2 ORDER BY email IS NOT DISTINCT FROM $1 DESC LIMIT 1`, strings.ToLower(login), login))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("account")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: account by login: %w", err)
	}
	return a, nil
}

// UpdateAccount writes every field of a except ID, CreatedAt, FailedLogins and LastFailedLogin,
// which have their own writers. A zero a.UpdatedAt becomes the current time; a.Email is
// lower-cased. ECONFLICT when the new email or phone is taken.
func (db *DB) UpdateAccount(ctx context.Context, a *kinwatch.Account) error {
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	a.Email = strings.ToLower(a.Email)
	p, pref := &a.Profile, &a.Preferences
	tag, err := db.pool.Exec(ctx, `UPDATE accounts SET email = nullif($1, ''), phone = nullif($2, ''),
			email_verified_at = $3, password_hash = $4, nickname = $5, gender = $6, birthday = $7,
			region = $8, bio = $9, language = $10, units = $11, time_zone = $12, map_style = $13,
			operator = $14, disabled = $15, policy_version = $16, policy_accepted = $17, updated_at = $18
		WHERE id = $19`,
		a.Email, a.Phone, nullTime(a.EmailVerifiedAt), a.PasswordHash,
		p.Nickname, p.Gender, p.Birthday, p.Region, p.Bio,
		pref.Language, pref.Units, pref.TimeZone, pref.MapStyle, a.Operator, a.Disabled,
		a.PolicyVersion, nullTime(a.PolicyAccepted), a.UpdatedAt, a.ID)
	if err != nil {
		return fmt.Errorf("postgres: update account: %w", accountConstraint(err))
	}
	return changedOne(tag, "account")
}

// SetAccountAvatar swaps the account's profile picture key for key ("" removes it) and returns the
// key it replaced: the row is locked while it is read, so of two concurrent swaps each learns its
// own predecessor. ENOTFOUND for an unknown account.
func (db *DB) SetAccountAvatar(ctx context.Context, accountID, key string) (string, error) {
	var old string
	err := db.pool.QueryRow(ctx, `UPDATE accounts a SET avatar = $2, updated_at = $3
		FROM (SELECT id, avatar FROM accounts WHERE id = $1 FOR UPDATE) prev WHERE a.id = prev.id RETURNING prev.avatar`,
		accountID, key, time.Now().UTC().Truncate(time.Microsecond)).Scan(&old)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", notFound("account")
	}
	if err != nil {
		return "", fmt.Errorf("postgres: set account avatar: %w", err)
	}
	return old, nil
}

// Accounts lists accounts in id order, which makes After a stable cursor. Query matches a
// substring of the email, phone or nickname, ignoring case. A zero Limit lists all.
func (db *DB) Accounts(ctx context.Context, f kinwatch.AccountFilter) ([]*kinwatch.Account, error) {
	if !storableText(f.Query) {
		return nil, nil // no stored text contains it, and PostgreSQL would refuse the query
	}
	q := `SELECT ` + accountColumns + ` FROM accounts WHERE id > $1`
	args := []any{f.After}
	if f.Query != "" {
		args = append(args, "%"+escapeLike(f.Query)+"%")
		n := strconv.Itoa(len(args))
		q += ` AND (email ILIKE $` + n + ` ESCAPE '\' OR phone ILIKE $` + n + ` ESCAPE '\' OR nickname ILIKE $` + n + ` ESCAPE '\')`
	}
	args = append(args, limit(f.Limit))
	q += ` ORDER BY id LIMIT $` + strconv.Itoa(len(args))

	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: accounts: %w", err)
	}
	out, err := collect(rows, scanAccount)
	if err != nil {
		return nil, fmt.Errorf("postgres: accounts: %w", err)
	}
	return out, nil
}

// storableText reports whether PostgreSQL can hold s in a text column: valid UTF-8 without NUL. A
// lookup by text it cannot hold finds nothing, as in the SQLite store, instead of failing.
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// escapeLike makes s match itself literally in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// LoginFailed counts a failed sign-in in one statement, so concurrent failures each count (the
// row lock serializes them), and returns the new count.
func (db *DB) LoginFailed(ctx context.Context, id string, at time.Time) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `UPDATE accounts SET failed_logins = failed_logins + 1, last_failed_login = $1
		WHERE id = $2 RETURNING failed_logins`, nullTime(at), id).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, notFound("account")
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: login failed: %w", err)
	}
	return n, nil
}

// LoginSucceeded resets the failure count. LastFailedLogin stays: it tells the guardian when
// someone last tried.
func (db *DB) LoginSucceeded(ctx context.Context, id string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE accounts SET failed_logins = 0 WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: login succeeded: %w", err)
	}
	return changedOne(tag, "account")
}

// DeleteAccount removes the account; its sessions, tokens, identities and family memberships
// go with it (ON DELETE CASCADE).
func (db *DB) DeleteAccount(ctx context.Context, id string) error {
	// The account's own consent entries go with it; on a child's entries the guardian's name is
	// cleared (ON DELETE SET NULL) and the family keeps the entry.
	return db.inTx(ctx, "delete account", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM consents WHERE account_id = $1 AND device_id IS NULL`, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM accounts WHERE id = $1`, id)
		if err != nil {
			return err
		}
		return changedOne(tag, "account")
	})
}

// changedOne turns a statement that touched no row into ENOTFOUND for what.
func changedOne(tag pgconn.CommandTag, what string) error {
	if tag.RowsAffected() == 0 {
		return notFound(what)
	}
	return nil
}

// accountConflicts names, for the client, what a unique violation in the account tables was
// about, by the constraint or index migration 0002 created.
var accountConflicts = map[string]string{
	"accounts_email":     "the email address is used by another account",
	"accounts_phone":     "the phone number is used by another account",
	"accounts_pkey":      "an account with this id already exists",
	"sessions_token":     "a session with this token already exists",
	"sessions_pkey":      "a session with this id already exists",
	"tokens_pkey":        "a token with this hash already exists",
	"identities_pkey":    "this identity is already linked to an account",
	"identities_account": "the account is already linked to this provider",
}

// accountConstraint is constraint with the account tables' messages: which identifier is taken,
// and that the referenced account (not a device) is missing.
func accountConstraint(err error) error {
	err = constraint(err)
	var (
		e  *kinwatch.Error
		pe *pgconn.PgError
	)
	if !errors.As(err, &e) || !errors.As(err, &pe) {
		return err
	}
	switch e.Code {
	case kinwatch.ENOTFOUND:
		e.Message = "account not found"
	case kinwatch.ECONFLICT:
		if m, ok := accountConflicts[pe.ConstraintName]; ok {
			e.Message = m
		}
	}
	return err
}
