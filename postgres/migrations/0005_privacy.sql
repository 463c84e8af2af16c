-- The consent ledger (issue 4): every purpose given or withdrawn, for an account's own data or by
-- a guardian for a child, with the policy version and how. The current consent of each subject is
-- kept beside it as a bit set (kinwatch.Purposes) that the storage writer reads in its
-- transaction, so a withdrawal stops collection at once. Watches bound before this migration start
-- without consent: collection stops until a guardian gives it, rather than consent being assumed.
ALTER TABLE devices ADD COLUMN consent integer NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN consent integer NOT NULL DEFAULT 0;

-- account_id is the subject of an account's own entries (device_id NULL), which are deleted with
-- the account; on a child's entries it is the guardian who acted, and it is cleared when that
-- guardian's account is deleted while the family keeps the entry. A child's entries are deleted
-- when the watch is unbound.
CREATE TABLE consents (
	id             text PRIMARY KEY,
	account_id     text REFERENCES accounts (id) ON DELETE SET NULL,
	family_id      text REFERENCES families (id) ON DELETE CASCADE,
	device_id      text REFERENCES devices (id) ON DELETE CASCADE,
	purpose        text NOT NULL,
	granted        boolean NOT NULL,
	policy_version text NOT NULL,
	method         text NOT NULL,
	statement      text NOT NULL DEFAULT '',
	time           timestamptz NOT NULL
);

CREATE INDEX consents_account ON consents (account_id, time DESC) WHERE device_id IS NULL;
CREATE INDEX consents_device ON consents (device_id, time DESC) WHERE device_id IS NOT NULL;

-- Envelope encryption (package envelope): every family's (and account's) data keys, each wrapped
-- by the operator's master key, which is never stored here. Deleting an owner's rows makes its
-- sealed data unreadable, in backups too (crypto-shredding).
CREATE TABLE data_keys (
	owner      text NOT NULL,
	version    integer NOT NULL CHECK (version > 0),
	master_id  text NOT NULL,
	wrapped    bytea NOT NULL,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (owner, version)
);

-- The precise part of a position (coordinates, altitude, accuracy, Wi-Fi and cells), sealed with
-- the family's key; lat, lon, altitude, accuracy and network are then 0 and NULL. Positions
-- written before this migration keep them in the clear until Migrate seals them.
ALTER TABLE positions ADD COLUMN sealed bytea;

-- Retention a family chose, shorter than the operator's: {"location_history": 30, …} in days.
ALTER TABLE families ADD COLUMN retention jsonb NOT NULL DEFAULT '{}';

-- Exports of everything kept about an account and the children in its families (GDPR Art.
-- 15/20): a background job builds a ZIP in the blob store, sealed with the account's key, and it
-- is downloaded once through a link carrying a secret whose SHA-256 is token_hash.
CREATE TABLE export_jobs (
	id          text PRIMARY KEY,
	account_id  text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	state       text NOT NULL CHECK (state IN ('queued', 'running', 'ready', 'downloaded', 'failed', 'expired')),
	token_hash  bytea,
	blob_key    text NOT NULL DEFAULT '',
	size        bigint NOT NULL DEFAULT 0,
	error       text NOT NULL DEFAULT '',
	created_at  timestamptz NOT NULL,
	started_at  timestamptz,
	finished_at timestamptz,
	expires_at  timestamptz
);

CREATE INDEX export_jobs_account ON export_jobs (account_id, created_at DESC);
CREATE INDEX export_jobs_open ON export_jobs (created_at) WHERE state IN ('queued', 'running');

-- What describes the child (name, birthday, gender, height, weight, school, grade, the watch's
-- phone number), sealed with the family's key; those columns then hold their defaults. Profiles
-- written before this migration are sealed by Migrate.
ALTER TABLE child_profiles ADD COLUMN sealed bytea;

-- Who read a child's location history, voice, photos, health readings or profile: guardians and
-- operator staff (who must give a reason). The family sees it.
CREATE TABLE access_log (
	id          text PRIMARY KEY,
	family_id   text NOT NULL REFERENCES families (id) ON DELETE CASCADE,
	device_id   text NOT NULL,
	accessor_id text NOT NULL, -- an account id, or the operator's name for staff without one
	staff       boolean NOT NULL,
	what        text NOT NULL,
	item        text NOT NULL DEFAULT '',
	reason      text NOT NULL DEFAULT '',
	time        timestamptz NOT NULL
);

CREATE INDEX access_log_family ON access_log (family_id, time DESC);

-- A bound watch's command content (phone book, SOS and whitelist numbers, messages) is sealed with
-- the family's key; sealed says so.
ALTER TABLE commands ADD COLUMN sealed boolean NOT NULL DEFAULT false;
