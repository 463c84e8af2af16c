-- Operator notices (issue 4): what the operator tells the users, recorded. A security incident
-- (what happened, what was done, what you can do), a new version of the privacy policy, ceasing
-- operations (effective_at is then the date every account is deleted). kind stays open (no
-- CHECK) so a new kind of notice needs no table rebuild; the domain validates it.
CREATE TABLE notices (
	id           TEXT PRIMARY KEY,
	kind         TEXT NOT NULL,
	title        TEXT NOT NULL,
	body         TEXT NOT NULL,
	audience     TEXT NOT NULL CHECK (audience IN ('all', 'accounts')),
	created_at   INTEGER NOT NULL,
	created_by   TEXT NOT NULL DEFAULT '',
	effective_at INTEGER
) STRICT;

CREATE INDEX notices_created ON notices (created_at DESC, id DESC);

-- Who was told: one row per account a notice is addressed to, for audience 'all' too (the
-- accounts at the time it was made), so read and mailed state is per account and the record shows
-- who was told. A mail is claimed by setting emailed_at before it is sent (two processes never
-- mail one recipient twice) and released when sending fails.
CREATE TABLE notice_recipients (
	notice_id  TEXT NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	emailed_at INTEGER,
	read_at    INTEGER,
	PRIMARY KEY (notice_id, account_id)
) STRICT;

CREATE INDEX notice_recipients_account ON notice_recipients (account_id);
CREATE INDEX notice_recipients_unmailed ON notice_recipients (notice_id, account_id) WHERE emailed_at IS NULL;
