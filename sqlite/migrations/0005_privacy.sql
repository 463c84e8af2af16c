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
