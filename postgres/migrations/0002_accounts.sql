-- The same logical schema as the SQLite store's 0002_accounts. Every table that belongs to an
-- account references it ON DELETE CASCADE, so deleting the account row deletes everything about it.

-- email and phone are NULL when not given ("" in the domain): a UNIQUE index treats NULLs as
-- distinct, so any number of accounts can lack either. email is stored lower-case.
CREATE TABLE accounts (
	id                text PRIMARY KEY,
	email             text,
	phone             text,
	email_verified_at timestamptz,
	password_hash     text NOT NULL DEFAULT '',
	nickname          text NOT NULL,
	avatar            text NOT NULL DEFAULT '',
	gender            text NOT NULL DEFAULT '',
	birthday          text NOT NULL DEFAULT '',
	region            text NOT NULL DEFAULT '',
	bio               text NOT NULL DEFAULT '',
	language          text NOT NULL DEFAULT '',
	units             text NOT NULL DEFAULT '',
	time_zone         text NOT NULL DEFAULT '',
	map_style         text NOT NULL DEFAULT '',
	operator          boolean NOT NULL DEFAULT false,
	disabled          boolean NOT NULL DEFAULT false,
	policy_version    text NOT NULL DEFAULT '',
	policy_accepted   timestamptz,
	failed_logins     integer NOT NULL DEFAULT 0,
	last_failed_login timestamptz,
	created_at        timestamptz NOT NULL,
	updated_at        timestamptz NOT NULL
);

-- The store names a taken identifier by these index names.
CREATE UNIQUE INDEX accounts_email ON accounts (email);
CREATE UNIQUE INDEX accounts_phone ON accounts (phone);

-- Only the SHA-256 of a session's token is stored; every authenticated request looks it up.
CREATE TABLE sessions (
	id           text PRIMARY KEY,
	account_id   text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	token_hash   bytea NOT NULL,
	kind         text NOT NULL CHECK (kind IN ('cookie', 'bearer')),
	user_agent   text NOT NULL DEFAULT '',
	ip           text NOT NULL DEFAULT '',
	created_at   timestamptz NOT NULL,
	last_used_at timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL
);

CREATE UNIQUE INDEX sessions_token ON sessions (token_hash);
CREATE INDEX sessions_account ON sessions (account_id, last_used_at DESC);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Single-use secrets sent by mail, keyed by their SHA-256.
CREATE TABLE tokens (
	hash       bytea PRIMARY KEY,
	account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	purpose    text NOT NULL,
	data       text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);

CREATE INDEX tokens_account ON tokens (account_id, purpose);
CREATE INDEX tokens_expiry ON tokens (expires_at);

-- An account links at most one subject per provider; the second key also serves lookups and
-- cascading deletes by account.
CREATE TABLE identities (
	provider   text NOT NULL,
	subject    text NOT NULL,
	account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	email      text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL,
	CONSTRAINT identities_pkey PRIMARY KEY (provider, subject)
);

CREATE UNIQUE INDEX identities_account ON identities (account_id, provider);
