-- Notifications (issue 5). An alarm is stored with notify = 1 in the batch that stores it, so an
-- alarm raised while kinwatch stops is still planned when it starts again; planning its
-- deliveries clears the flag in the same transaction. subject tells apart alarms of one kind
-- about different things (the fence entered), so that de-duplication keeps both.
ALTER TABLE events ADD COLUMN subject text NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN notify boolean NOT NULL DEFAULT false;
CREATE INDEX events_notify ON events (time) WHERE notify;

-- The silence (the last_seen it began at) an offline alarm was raised for: one alarm per silence,
-- even after the family or the retention job deleted the alarm.
ALTER TABLE devices ADD COLUMN offline_alarm_for timestamptz;

-- A guardian's choices (kinwatch.NotificationPrefs as JSON): alarm kinds per channel, quiet hours.
CREATE TABLE notification_prefs (
	account_id text PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
	prefs      text NOT NULL,
	updated_at timestamptz NOT NULL
);

-- Browsers' Web Push subscriptions, sealed with the account's key (the endpoint is a capability
-- to reach the guardian's device). endpoint_hash finds a re-subscription without opening them all.
CREATE TABLE push_subscriptions (
	id            text PRIMARY KEY,
	account_id    text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	endpoint_hash bytea NOT NULL,
	sealed        bytea NOT NULL,
	created_at    timestamptz NOT NULL,
	UNIQUE (account_id, endpoint_hash)
);

-- A family's webhooks: name, URL and signing secret sealed with the family's key.
CREATE TABLE webhooks (
	id         text PRIMARY KEY,
	family_id  text NOT NULL REFERENCES families (id) ON DELETE CASCADE,
	sealed     bytea NOT NULL,
	created_by text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL
);

CREATE INDEX webhooks_family ON webhooks (family_id, created_at);

-- One alarm on its way to one target (a push subscription, a webhook, an account's email).
-- They go with their alarm: deleting the event deletes them.
CREATE TABLE deliveries (
	id         text PRIMARY KEY,
	event_id   text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
	device_id  text NOT NULL,
	family_id  text NOT NULL,
	account_id text REFERENCES accounts (id) ON DELETE CASCADE,
	channel    text NOT NULL,
	target     text NOT NULL,
	alarm      text NOT NULL,
	status     text NOT NULL,
	reason     text NOT NULL DEFAULT '',
	attempts   integer NOT NULL DEFAULT 0,
	next_at    timestamptz NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	UNIQUE (event_id, channel, target)
);

CREATE INDEX deliveries_due ON deliveries (next_at) WHERE status = 'pending';
CREATE INDEX deliveries_account ON deliveries (account_id);

-- Every try of a delivery and its result, shown to the family.
CREATE TABLE delivery_attempts (
	delivery_id text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
	n           integer NOT NULL,
	at          timestamptz NOT NULL,
	ok          boolean NOT NULL,
	status      integer NOT NULL DEFAULT 0,
	error       text NOT NULL DEFAULT '',
	duration_us bigint NOT NULL,
	PRIMARY KEY (delivery_id, n)
);
