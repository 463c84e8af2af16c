-- Guardians' accounts with their sessions, mailed tokens and OpenID Connect identities. Every
-- table that belongs to an account references it ON DELETE CASCADE, so deleting the account row
-- deletes everything about it in one statement.

-- email and phone are NULL when not given ("" in the domain): a UNIQUE index treats NULLs as
-- distinct, so any number of accounts can lack either, and a lookup by "email = ?" never matches
-- an account without one. email is stored lower-case.
CREATE TABLE accounts (
	id                TEXT PRIMARY KEY,
	email             TEXT,
	phone             TEXT,
	email_verified_at INTEGER,
	password_hash     TEXT NOT NULL DEFAULT '',
	nickname          TEXT NOT NULL,
	avatar            TEXT NOT NULL DEFAULT '',
	gender            TEXT NOT NULL DEFAULT '',
	birthday          TEXT NOT NULL DEFAULT '',
	region            TEXT NOT NULL DEFAULT '',
	bio               TEXT NOT NULL DEFAULT '',
	language          TEXT NOT NULL DEFAULT '',
	units             TEXT NOT NULL DEFAULT '',
	time_zone         TEXT NOT NULL DEFAULT '',
	map_style         TEXT NOT NULL DEFAULT '',
	operator          INTEGER NOT NULL DEFAULT 0,
	disabled          INTEGER NOT NULL DEFAULT 0,
	policy_version    TEXT NOT NULL DEFAULT '',
	policy_accepted   INTEGER,
	failed_logins     INTEGER NOT NULL DEFAULT 0,
	last_failed_login INTEGER,
	created_at        INTEGER NOT NULL,
	updated_at        INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX accounts_email ON accounts (email);
CREATE UNIQUE INDEX accounts_phone ON accounts (phone);

-- Only the SHA-256 of a session's token is stored; every authenticated request looks it up.
CREATE TABLE sessions (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	token_hash   BLOB NOT NULL,
	kind         TEXT NOT NULL CHECK (kind IN ('cookie', 'bearer')),
	user_agent   TEXT NOT NULL DEFAULT '',
	ip           TEXT NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX sessions_token ON sessions (token_hash);
CREATE INDEX sessions_account ON sessions (account_id, last_used_at DESC);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Single-use secrets sent by mail, keyed by their SHA-256.
CREATE TABLE tokens (
	hash       BLOB PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	purpose    TEXT NOT NULL,
	data       TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX tokens_account ON tokens (account_id, purpose);
CREATE INDEX tokens_expiry ON tokens (expires_at);

-- An account links at most one subject per provider; the second key also serves lookups and
-- cascading deletes by account.
CREATE TABLE identities (
	provider   TEXT NOT NULL,
	subject    TEXT NOT NULL,
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	email      TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	PRIMARY KEY (provider, subject)
) STRICT;

CREATE UNIQUE INDEX identities_account ON identities (account_id, provider);
