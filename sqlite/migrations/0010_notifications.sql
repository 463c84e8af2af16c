-- Notifications (issue 5). An alarm is stored with notify = 1 in the batch that stores it, so an
-- alarm raised while kinwatch stops is still planned when it starts again; planning its
-- deliveries clears the flag in the same transaction. subject tells apart alarms of one kind
-- about different things (the fence entered), so that de-duplication keeps both.
ALTER TABLE events ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN notify INTEGER NOT NULL DEFAULT 0;
CREATE INDEX events_notify ON events (time) WHERE notify = 1;

-- The silence (the last_seen it began at) an offline alarm was raised for: one alarm per silence,
-- even after the family or the retention job deleted the alarm.
ALTER TABLE devices ADD COLUMN offline_alarm_for INTEGER;

-- A guardian's choices (kinwatch.NotificationPrefs as JSON): alarm kinds per channel, quiet hours.
CREATE TABLE notification_prefs (
	account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
	prefs      TEXT NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;

-- Browsers' Web Push subscriptions, sealed with the account's key (the endpoint is a capability
-- to reach the guardian's device). endpoint_hash finds a re-subscription without opening them all.
CREATE TABLE push_subscriptions (
	id            TEXT PRIMARY KEY,
	account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	endpoint_hash BLOB NOT NULL,
	sealed        BLOB NOT NULL,
	created_at    INTEGER NOT NULL,
	UNIQUE (account_id, endpoint_hash)
) STRICT;

-- A family's webhooks: name, URL and signing secret sealed with the family's key.
CREATE TABLE webhooks (
	id         TEXT PRIMARY KEY,
	family_id  TEXT NOT NULL REFERENCES families (id) ON DELETE CASCADE,
	sealed     BLOB NOT NULL,
	created_by TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX webhooks_family ON webhooks (family_id, created_at);

-- One alarm on its way to one target (a push subscription, a webhook, an account's email).
-- They go with their alarm: deleting the event deletes them.
CREATE TABLE deliveries (
	id         TEXT PRIMARY KEY,
	event_id   TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
	device_id  TEXT NOT NULL,
	family_id  TEXT NOT NULL,
	account_id TEXT REFERENCES accounts (id) ON DELETE CASCADE,
	channel    TEXT NOT NULL,
	target     TEXT NOT NULL,
	alarm      TEXT NOT NULL,
	status     TEXT NOT NULL,
	reason     TEXT NOT NULL DEFAULT '',
	attempts   INTEGER NOT NULL DEFAULT 0,
	next_at    INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (event_id, channel, target)
) STRICT;

CREATE INDEX deliveries_due ON deliveries (next_at) WHERE status = 'pending';
CREATE INDEX deliveries_account ON deliveries (account_id);

-- Every try of a delivery and its result, shown to the family.
CREATE TABLE delivery_attempts (
	delivery_id TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
	n           INTEGER NOT NULL,
	at          INTEGER NOT NULL,
	ok          INTEGER NOT NULL,
	status      INTEGER NOT NULL DEFAULT 0,
	error       TEXT NOT NULL DEFAULT '',
	duration_us INTEGER NOT NULL,
	PRIMARY KEY (delivery_id, n)
) STRICT;
