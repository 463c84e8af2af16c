-- Safe zones (issue 5): a watch's geofences. Where a fence is (home, school) says where the child
-- lives and learns, so its definition (name, shape, schedules) is sealed with the family's key.
-- state is the per-fence tracker (inside/outside and its hysteresis), kept across restarts.
CREATE TABLE fences (
	id         text PRIMARY KEY,
	device_id  text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	sealed     bytea NOT NULL,
	state      text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);

CREATE INDEX fences_device ON fences (device_id, created_at);
