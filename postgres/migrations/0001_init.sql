-- The same logical schema as the SQLite store. Times are timestamptz (UTC, microseconds). The
-- random text ids make every primary key insert land on a random index page; nothing looks a
-- position up by id, the key is there to refuse duplicates.

CREATE TABLE devices (
	id           text PRIMARY KEY,
	state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'bound', 'blocked')),
	manufacturer text NOT NULL DEFAULT '',
	has_index    boolean NOT NULL DEFAULT false,
	online       boolean NOT NULL DEFAULT false,
	first_seen   timestamptz NOT NULL,
	last_seen    timestamptz NOT NULL,
	battery      integer NOT NULL DEFAULT -1,
	signal       integer NOT NULL DEFAULT -1,
	steps        bigint NOT NULL DEFAULT 0,
	firmware     text NOT NULL DEFAULT '',
	iccid        text NOT NULL DEFAULT '',
	encrypted    boolean NOT NULL DEFAULT false
);

CREATE TABLE positions (
	id         text PRIMARY KEY,
	device_id  text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	type       text NOT NULL,
	time       timestamptz NOT NULL,
	received   timestamptz,
	valid      boolean NOT NULL,
	source     text NOT NULL,
	lat        double precision NOT NULL,
	lon        double precision NOT NULL,
	has_coords boolean NOT NULL,
	speed      double precision NOT NULL,
	course     double precision NOT NULL,
	altitude   double precision NOT NULL,
	accuracy   double precision NOT NULL,
	satellites integer NOT NULL,
	signal     integer NOT NULL,
	battery    integer NOT NULL,
	steps      bigint NOT NULL,
	rolls      integer NOT NULL,
	status     text NOT NULL,
	alarms     integer NOT NULL,
	worn       boolean,
	static     boolean NOT NULL,
	network    jsonb -- {"cells":[…],"wifi":[…]}, NULL when the watch heard neither
);

CREATE INDEX positions_device_time ON positions (device_id, time DESC);

CREATE TABLE events (
	id        text PRIMARY KEY,
	device_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	time      timestamptz NOT NULL,
	type      text NOT NULL,
	alarm     text NOT NULL DEFAULT '',
	data      jsonb
);

CREATE INDEX events_device_time ON events (device_id, time DESC);

CREATE TABLE health_readings (
	id          text PRIMARY KEY,
	device_id   text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	time        timestamptz NOT NULL,
	heart_rate  integer NOT NULL,
	systolic    integer NOT NULL,
	diastolic   integer NOT NULL,
	spo2        integer NOT NULL,
	temperature double precision NOT NULL
);

CREATE INDEX health_readings_device_time ON health_readings (device_id, time DESC);

-- seq comes from one sequence for all devices: increasing per device is all delivery needs, and
-- a sequence never makes two enqueues wait for each other.
CREATE TABLE commands (
	id         text PRIMARY KEY,
	device_id  text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	seq        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
	keyword    text NOT NULL,
	content    bytea NOT NULL,
	no_reply   boolean NOT NULL,
	state      text NOT NULL CHECK (state IN ('queued', 'sent', 'acknowledged', 'failed', 'expired')),
	created_at timestamptz NOT NULL,
	sent_at    timestamptz,
	done_at    timestamptz,
	expires_at timestamptz,
	attempts   integer NOT NULL DEFAULT 0,
	reply      text NOT NULL DEFAULT '',
	error      text NOT NULL DEFAULT ''
);

CREATE INDEX commands_device_seq ON commands (device_id, seq);
-- Partial indexes stay as small as the live queue however long the history grows.
CREATE INDEX commands_pending ON commands (device_id, seq) WHERE state IN ('queued', 'sent');
CREATE INDEX commands_expiry ON commands (expires_at) WHERE state IN ('queued', 'sent');

CREATE TABLE media (
	id           text PRIMARY KEY,
	device_id    text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	kind         text NOT NULL,
	content_type text NOT NULL,
	key          text NOT NULL,
	size         bigint NOT NULL,
	time         timestamptz NOT NULL
);

CREATE INDEX media_device_time ON media (device_id, time DESC);
