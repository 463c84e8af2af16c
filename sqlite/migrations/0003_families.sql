-- Families: the guardians of one or more watches. A family owns its watches' personal data: a watch
-- belongs to at most one family (devices.family_id), and a guardian sees a watch only through a
-- membership of its family.

CREATE TABLE families (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

-- NULL while the watch is pending; set by binding, cleared by unbinding.
ALTER TABLE devices ADD COLUMN family_id TEXT REFERENCES families (id);
CREATE INDEX devices_family ON devices (family_id, id) WHERE family_id IS NOT NULL;

-- At most one admin per family, enforced by the partial unique index.
CREATE TABLE members (
	family_id  TEXT NOT NULL REFERENCES families (id) ON DELETE CASCADE,
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	role       TEXT NOT NULL CHECK (role IN ('admin', 'guardian', 'viewer')),
	relation   TEXT NOT NULL DEFAULT '',
	joined_at  INTEGER NOT NULL,
	PRIMARY KEY (family_id, account_id)
) STRICT;

CREATE INDEX members_account ON members (account_id, family_id);
CREATE UNIQUE INDEX members_one_admin ON members (family_id) WHERE role = 'admin';

-- Only the SHA-256 of an invitation's code is stored.
CREATE TABLE invitations (
	id         TEXT PRIMARY KEY,
	family_id  TEXT NOT NULL REFERENCES families (id) ON DELETE CASCADE,
	code_hash  BLOB NOT NULL UNIQUE,
	role       TEXT NOT NULL CHECK (role IN ('guardian', 'viewer')),
	created_by TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	uses_left  INTEGER NOT NULL CHECK (uses_left >= 0)
) STRICT;

CREATE INDEX invitations_family ON invitations (family_id, created_at);

CREATE TABLE join_requests (
	id         TEXT PRIMARY KEY,
	family_id  TEXT NOT NULL REFERENCES families (id) ON DELETE CASCADE,
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	device_id  TEXT NOT NULL DEFAULT '',
	note       TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	UNIQUE (family_id, account_id)
) STRICT;

CREATE INDEX join_requests_account ON join_requests (account_id);

-- family_id is NULL when the binding creates a new family.
CREATE TABLE bind_challenges (
	id         TEXT PRIMARY KEY,
	device_id  TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	family_id  TEXT REFERENCES families (id) ON DELETE CASCADE,
	code_hash  BLOB NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX bind_challenges_device ON bind_challenges (device_id);
CREATE INDEX bind_challenges_account ON bind_challenges (account_id);
CREATE INDEX bind_challenges_expiry ON bind_challenges (expires_at);

CREATE TABLE child_profiles (
	device_id  TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
	name       TEXT NOT NULL DEFAULT '',
	avatar     TEXT NOT NULL DEFAULT '',
	birthday   TEXT NOT NULL DEFAULT '',
	gender     TEXT NOT NULL DEFAULT '',
	height_cm  INTEGER NOT NULL DEFAULT 0,
	weight_kg  REAL NOT NULL DEFAULT 0,
	school     TEXT NOT NULL DEFAULT '',
	grade      TEXT NOT NULL DEFAULT '',
	phone      TEXT NOT NULL DEFAULT '',
	updated_at INTEGER NOT NULL
) STRICT;

-- Who queued a command, and the key that makes a retried request queue nothing ('' for none).
ALTER TABLE commands ADD COLUMN requested_by TEXT NOT NULL DEFAULT '';
ALTER TABLE commands ADD COLUMN idempotency_key TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX commands_idempotency ON commands (device_id, requested_by, idempotency_key) WHERE idempotency_key != '';
