-- Times are INTEGER unix nanoseconds in UTC: integers compare and sort numerically, whereas
-- RFC3339Nano text drops trailing zeros, so "…:05Z" would sort after "…:05.5Z". NULL means "never"
-- (a zero time.Time). Tables are STRICT so a wrongly typed bind fails instead of being stored.

CREATE TABLE devices (
	id           TEXT PRIMARY KEY,
	state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'bound', 'blocked')),
	manufacturer TEXT NOT NULL DEFAULT '',
	has_index    INTEGER NOT NULL DEFAULT 0,
	online       INTEGER NOT NULL DEFAULT 0,
	first_seen   INTEGER NOT NULL,
	last_seen    INTEGER NOT NULL,
	battery      INTEGER NOT NULL DEFAULT -1,
	signal       INTEGER NOT NULL DEFAULT -1,
	steps        INTEGER NOT NULL DEFAULT 0,
	firmware     TEXT NOT NULL DEFAULT '',
	iccid        TEXT NOT NULL DEFAULT '',
	encrypted    INTEGER NOT NULL DEFAULT 0
) STRICT;

-- A rowid table: rows are appended in insertion order and only the narrow id index takes the
-- random-order inserts of the random ids.
CREATE TABLE positions (
	id         TEXT PRIMARY KEY,
	device_id  TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	type       TEXT NOT NULL,
	time       INTEGER NOT NULL,
	received   INTEGER,
	valid      INTEGER NOT NULL,
	source     TEXT NOT NULL,
	lat        REAL NOT NULL,
	lon        REAL NOT NULL,
	has_coords INTEGER NOT NULL,
	speed      REAL NOT NULL,
	course     REAL NOT NULL,
	altitude   REAL NOT NULL,
	accuracy   REAL NOT NULL,
	satellites INTEGER NOT NULL,
	signal     INTEGER NOT NULL,
	battery    INTEGER NOT NULL,
	steps      INTEGER NOT NULL,
	rolls      INTEGER NOT NULL,
	status     TEXT NOT NULL,
	alarms     INTEGER NOT NULL,
	worn       INTEGER,
	static     INTEGER NOT NULL,
	network    TEXT -- {"cells":[…],"wifi":[…]}, NULL when the watch heard neither
) STRICT;

CREATE INDEX positions_device_time ON positions (device_id, time DESC);

CREATE TABLE events (
	id        TEXT PRIMARY KEY,
	device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	time      INTEGER NOT NULL,
	type      TEXT NOT NULL,
	alarm     TEXT NOT NULL DEFAULT '',
	data      TEXT
) STRICT;

CREATE INDEX events_device_time ON events (device_id, time DESC);

CREATE TABLE health_readings (
	id          TEXT PRIMARY KEY,
	device_id   TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	time        INTEGER NOT NULL,
	heart_rate  INTEGER NOT NULL,
	systolic    INTEGER NOT NULL,
	diastolic   INTEGER NOT NULL,
	spo2        INTEGER NOT NULL,
	temperature REAL NOT NULL
) STRICT;

CREATE INDEX health_readings_device_time ON health_readings (device_id, time DESC);

-- seq is assigned as max(seq)+1 inside the INSERT: SQLite has one writer at a time, so that is
-- race-free, and UNIQUE backs the max() lookup with an index.
CREATE TABLE commands (
	id         TEXT PRIMARY KEY,
	device_id  TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL UNIQUE,
	keyword    TEXT NOT NULL,
	content    BLOB NOT NULL,
	no_reply   INTEGER NOT NULL,
	state      TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'acknowledged', 'failed', 'expired')),
	created_at INTEGER NOT NULL,
	sent_at    INTEGER,
	done_at    INTEGER,
	expires_at INTEGER,
	attempts   INTEGER NOT NULL DEFAULT 0,
	reply      TEXT NOT NULL DEFAULT '',
	error      TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX commands_device_seq ON commands (device_id, seq);
-- Partial indexes stay as small as the live queue however long the history grows. Queries must
-- repeat the WHERE clause verbatim for SQLite to use them.
CREATE INDEX commands_pending ON commands (device_id, seq) WHERE state IN ('queued', 'sent');
CREATE INDEX commands_expiry ON commands (expires_at) WHERE state IN ('queued', 'sent');

CREATE TABLE media (
	id           TEXT PRIMARY KEY,
	device_id    TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	kind         TEXT NOT NULL,
	content_type TEXT NOT NULL,
	key          TEXT NOT NULL,
	size         INTEGER NOT NULL,
	time         INTEGER NOT NULL
) STRICT;

CREATE INDEX media_device_time ON media (device_id, time DESC);
