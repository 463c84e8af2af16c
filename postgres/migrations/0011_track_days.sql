-- The day cache of history reads (issue 5; kinwatch.TrackCached): each watch's positions with
-- coordinates of one complete UTC day, in one row sealed with the family's key, so a year reads
-- 365 rows instead of half a million. The triggers delete a day's row whenever a position of that
-- day is stored, changed or deleted, by whatever path (a late upload, a family's deletion, the
-- retention job, unbinding, cancellation): the cache never keeps what the positions no longer do.
-- They run once per statement over its rows (positions arrive by COPY, a batch at a time).
CREATE TABLE track_days (
	device_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	day       bigint NOT NULL, -- UTC days since 1970-01-01
	points    integer NOT NULL,
	sealed    bytea NOT NULL,
	PRIMARY KEY (device_id, day)
);

CREATE FUNCTION track_day(t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE AS
	$$ SELECT floor(extract(epoch FROM t) / 86400)::bigint $$;

CREATE FUNCTION track_days_forget_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM track_days t USING (SELECT DISTINCT device_id, track_day(time) AS day FROM changed_rows) c
		WHERE t.device_id = c.device_id AND t.day = c.day;
	RETURN NULL;
END $$;

CREATE TRIGGER track_days_insert AFTER INSERT ON positions REFERENCING NEW TABLE AS changed_rows
	FOR EACH STATEMENT EXECUTE FUNCTION track_days_forget_new();
CREATE TRIGGER track_days_delete AFTER DELETE ON positions REFERENCING OLD TABLE AS changed_rows
	FOR EACH STATEMENT EXECUTE FUNCTION track_days_forget_new();
CREATE TRIGGER track_days_update_old AFTER UPDATE ON positions REFERENCING OLD TABLE AS changed_rows
	FOR EACH STATEMENT EXECUTE FUNCTION track_days_forget_new();
CREATE TRIGGER track_days_update_new AFTER UPDATE ON positions REFERENCING NEW TABLE AS changed_rows
	FOR EACH STATEMENT EXECUTE FUNCTION track_days_forget_new();
