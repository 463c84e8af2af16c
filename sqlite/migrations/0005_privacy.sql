-- The consent ledger (issue 4): every purpose given or withdrawn, for an account's own data or by
-- a guardian for a child, with the policy version and how. The current consent of each subject is
-- kept beside it as a bit set (kinwatch.Purposes) that the storage writer reads in its
-- transaction, so a withdrawal stops collection at once. Watches bound before this migration start
-- without consent: collection stops until a guardian gives it, rather than consent being assumed.
ALTER TABLE devices ADD COLUMN consent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN consent INTEGER NOT NULL DEFAULT 0;

-- account_id is the subject of an account's own entries (device_id NULL), which are deleted with
-- the account; on a child's entries it is the guardian who acted, and it is cleared when that
-- guardian's account is deleted while the family keeps the entry. A child's entries are deleted
-- when the watch is unbound.
CREATE TABLE consents (
	id             TEXT PRIMARY KEY,
	account_id     TEXT REFERENCES accounts (id) ON DELETE SET NULL,
	family_id      TEXT REFERENCES families (id) ON DELETE CASCADE,
	device_id      TEXT REFERENCES devices (id) ON DELETE CASCADE,
	purpose        TEXT NOT NULL,
	granted        INTEGER NOT NULL,
	policy_version TEXT NOT NULL,
	method         TEXT NOT NULL,
	statement      TEXT NOT NULL DEFAULT '',
	time           INTEGER NOT NULL
) STRICT;

CREATE INDEX consents_account ON consents (account_id, time DESC) WHERE device_id IS NULL;
CREATE INDEX consents_device ON consents (device_id, time DESC) WHERE device_id IS NOT NULL;

-- Envelope encryption (package envelope): every family's (and account's) data keys, each wrapped
-- by the operator's master key, which is never stored here. Deleting an owner's rows makes its
-- sealed data unreadable, in backups too (crypto-shredding).
CREATE TABLE data_keys (
	owner      TEXT NOT NULL,
	version    INTEGER NOT NULL CHECK (version > 0),
	master_id  TEXT NOT NULL,
	wrapped    BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (owner, version)
) STRICT;

-- The precise part of a position (coordinates, altitude, accuracy, Wi-Fi and cells), sealed with
-- the family's key; lat, lon, altitude, accuracy and network are then 0 and NULL. Positions
-- written before this migration keep them in the clear until Migrate seals them.
ALTER TABLE positions ADD COLUMN sealed BLOB;

-- Retention a family chose, shorter than the operator's: {"location_history": 30, …} in days.
ALTER TABLE families ADD COLUMN retention TEXT NOT NULL DEFAULT '{}';

-- Exports of everything kept about an account and the children in its families (GDPR Art.
-- 15/20): a background job builds a ZIP in the blob store, sealed with the account's key, and it
-- is downloaded once through a link carrying a secret whose SHA-256 is token_hash.
CREATE TABLE export_jobs (
	id          TEXT PRIMARY KEY,
	account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'ready', 'downloaded', 'failed', 'expired')),
	token_hash  BLOB,
	blob_key    TEXT NOT NULL DEFAULT '',
	size        INTEGER NOT NULL DEFAULT 0,
	error       TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	started_at  INTEGER,
	finished_at INTEGER,
	expires_at  INTEGER
) STRICT;

CREATE INDEX export_jobs_account ON export_jobs (account_id, created_at DESC);
CREATE INDEX export_jobs_open ON export_jobs (created_at) WHERE state IN ('queued', 'running');

-- What describes the child (name, birthday, gender, height, weight, school, grade, the watch's
-- phone number), sealed with the family's key; those columns then hold their defaults. Profiles
-- written before this migration are sealed by Migrate.
ALTER TABLE child_profiles ADD COLUMN sealed BLOB;

-- Who read a child's location history, voice, photos, health readings or profile: guardians and
-- operator staff (who must give a reason). The family sees it.
CREATE TABLE access_log (
	id          TEXT PRIMARY KEY,
	family_id   TEXT NOT NULL REFERENCES families (id) ON DELETE CASCADE,
	device_id   TEXT NOT NULL,
	accessor_id TEXT NOT NULL, -- an account id, or the operator's name for staff without one
	staff       INTEGER NOT NULL,
	what        TEXT NOT NULL,
	item        TEXT NOT NULL DEFAULT '',
	reason      TEXT NOT NULL DEFAULT '',
	time        INTEGER NOT NULL
) STRICT;

CREATE INDEX access_log_family ON access_log (family_id, time DESC);

-- A bound watch's command content (phone book, SOS and whitelist numbers, messages) is sealed with
-- the family's key; sealed says so.
ALTER TABLE commands ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
