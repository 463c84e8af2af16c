-- Families: the guardians of one or more watches. A family owns its watches' personal data: a watch
-- belongs to at most one family (devices.family_id), and a guardian sees a watch only through a
-- membership of its family.

CREATE TABLE families (
	id         text PRIMARY KEY,
	name       text NOT NULL,
	created_at timestamptz NOT NULL
);

-- NULL while the watch is pending; set by binding, cleared by unbinding.
ALTER TABLE devices ADD COLUMN family_id text REFERENCES families (id);
CREATE INDEX devices_family ON devices (family_id, id) WHERE family_id IS NOT NULL;

-- At most one admin per family, enforced by the partial unique index.
CREATE TABLE members (
	family_id  text NOT NULL REFERENCES families (id) ON DELETE CASCADE,
	account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	role       text NOT NULL CHECK (role IN ('admin', 'guardian', 'viewer')),
	relation   text NOT NULL DEFAULT '',
	joined_at  timestamptz NOT NULL,
	PRIMARY KEY (family_id, account_id)
);

CREATE INDEX members_account ON members (account_id, family_id);
CREATE UNIQUE INDEX members_one_admin ON members (family_id) WHERE role = 'admin';

-- Only the SHA-256 of an invitation's code is stored.
CREATE TABLE invitations (
	id         text PRIMARY KEY,
	family_id  text NOT NULL REFERENCES families (id) ON DELETE CASCADE,
	code_hash  bytea NOT NULL UNIQUE,
	role       text NOT NULL CHECK (role IN ('guardian', 'viewer')),
	created_by text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	uses_left  integer NOT NULL CHECK (uses_left >= 0)
);

CREATE INDEX invitations_family ON invitations (family_id, created_at);

CREATE TABLE join_requests (
	id         text PRIMARY KEY,
	family_id  text NOT NULL REFERENCES families (id) ON DELETE CASCADE,
	account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	device_id  text NOT NULL DEFAULT '',
	note       text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL,
	UNIQUE (family_id, account_id)
);

CREATE INDEX join_requests_account ON join_requests (account_id);

-- family_id is NULL when the binding creates a new family.
CREATE TABLE bind_challenges (
	id         text PRIMARY KEY,
	device_id  text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	family_id  text REFERENCES families (id) ON DELETE CASCADE,
	code_hash  bytea NOT NULL,
	attempts   integer NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);

CREATE INDEX bind_challenges_device ON bind_challenges (device_id);
CREATE INDEX bind_challenges_account ON bind_challenges (account_id);
CREATE INDEX bind_challenges_expiry ON bind_challenges (expires_at);

CREATE TABLE child_profiles (
	device_id  text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
	name       text NOT NULL DEFAULT '',
	avatar     text NOT NULL DEFAULT '',
	birthday   text NOT NULL DEFAULT '',
	gender     text NOT NULL DEFAULT '',
	height_cm  integer NOT NULL DEFAULT 0,
	weight_kg  double precision NOT NULL DEFAULT 0,
	school     text NOT NULL DEFAULT '',
	grade      text NOT NULL DEFAULT '',
	phone      text NOT NULL DEFAULT '',
	updated_at timestamptz NOT NULL
);

-- Who queued a command, and the key that makes a retried request queue nothing ('' for none).
ALTER TABLE commands ADD COLUMN requested_by text NOT NULL DEFAULT '';
ALTER TABLE commands ADD COLUMN idempotency_key text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX commands_idempotency ON commands (device_id, requested_by, idempotency_key) WHERE idempotency_key <> '';
