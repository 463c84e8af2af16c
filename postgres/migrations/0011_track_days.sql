-- The day cache of history reads (issue 5; kinwatch.TrackCached): each watch's positions with
-- coordinates of one complete UTC day, in one row sealed with the family's key, so a year reads
-- 365 rows instead of half a million.
CREATE TABLE track_days (
	device_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	day       bigint NOT NULL, -- UTC days since 1970-01-01
	gen       bigint NOT NULL,  -- the day's generation it was built at: served only while it is the day's
	points    integer NOT NULL,
	sealed    bytea NOT NULL,
	PRIMARY KEY (device_id, day)
);

-- A day's generation: a new random value whenever a position of the day is stored, changed or
-- deleted, written under the row lock of the changing transaction. A cached row is written only if
-- the generation read before its positions is still the day's, read with that lock (skipping it
-- if a writer holds it), so a change that comes while it is built, committed or still in flight,
-- keeps it out; and it is served only while its generation is the day's, so a change that missed
-- deleting it (a writer whose snapshot is older than the row) still takes it out of use.
CREATE TABLE track_day_gen (
	device_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	day       bigint NOT NULL,
	gen       bigint NOT NULL,
	PRIMARY KEY (device_id, day)
);

CREATE FUNCTION track_day(t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE AS
	$$ SELECT floor(extract(epoch FROM t) / 86400)::bigint $$;

-- Every day that has positions has a generation, and only such a day is cached: a day whose last
-- position is deleted loses its generation (so that the cache leaves no trace of it), and a
-- build that read it before finds none.
INSERT INTO track_day_gen (device_id, day, gen)
	SELECT device_id, day, (random() * 9e18)::bigint FROM (SELECT DISTINCT device_id, track_day(time) AS day FROM positions) d;

-- Whatever the path (a late upload, a family's deletion, the retention job, unbinding,
-- cancellation), a change to a day's positions renews its generation and deletes its cached row,
-- or deletes the generation with the day's last position. Once per statement over its rows
-- (positions arrive by COPY, a batch at a time), in a fixed order so that two writers lock the
-- same days in the same order.
CREATE FUNCTION track_days_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO track_day_gen (device_id, day, gen)
		SELECT device_id, day, (random() * 9e18)::bigint
		FROM (SELECT DISTINCT device_id, track_day(time) AS day FROM changed_rows) c
		WHERE EXISTS (SELECT 1 FROM devices d WHERE d.id = c.device_id) -- not for a device being deleted
		ORDER BY 1, 2
		ON CONFLICT (device_id, day) DO UPDATE SET gen = excluded.gen;
	DELETE FROM track_days t USING (SELECT DISTINCT device_id, track_day(time) AS day FROM changed_rows) c
		WHERE t.device_id = c.device_id AND t.day = c.day;
	IF TG_OP <> 'INSERT' THEN
		DELETE FROM track_day_gen g USING (SELECT DISTINCT device_id, track_day(time) AS day FROM changed_rows) c
			WHERE g.device_id = c.device_id AND g.day = c.day AND NOT EXISTS (SELECT 1 FROM positions p
				WHERE p.device_id = c.device_id AND p.time >= to_timestamp(c.day * 86400) AND p.time < to_timestamp((c.day + 1) * 86400));
	END IF;
	RETURN NULL;
END $$;

CREATE TRIGGER track_days_insert AFTER INSERT ON positions REFERENCING NEW TABLE AS changed_rows
	FOR EACH STATEMENT EXECUTE FUNCTION track_days_changed();
CREATE TRIGGER track_days_delete AFTER DELETE ON positions REFERENCING OLD TABLE AS changed_rows
	FOR EACH STATEMENT EXECUTE FUNCTION track_days_changed();
CREATE TRIGGER track_days_update_old AFTER UPDATE ON positions REFERENCING OLD TABLE AS changed_rows
	FOR EACH STATEMENT EXECUTE FUNCTION track_days_changed();
CREATE TRIGGER track_days_update_new AFTER UPDATE ON positions REFERENCING NEW TABLE AS changed_rows
	FOR EACH STATEMENT EXECUTE FUNCTION track_days_changed();

-- TRUNCATE bypasses the row triggers: it empties the cache with it, the generations first (a
-- build storing a day holds its generation's lock; once it commits, the second statement sees
-- its row).
CREATE FUNCTION track_days_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM track_day_gen;
	DELETE FROM track_days;
	RETURN NULL;
END $$;

CREATE TRIGGER track_days_truncate AFTER TRUNCATE ON positions FOR EACH STATEMENT EXECUTE FUNCTION track_days_truncated();
