-- The day cache of history reads (issue 5; kinwatch.TrackCached): each watch's positions with
-- coordinates of one complete UTC day, in one row sealed with the family's key, so a year reads
-- 365 rows instead of half a million. The triggers delete a day's row whenever a position of that
-- day is stored, changed or deleted, by whatever path (a late upload, a family's deletion, the
-- retention job, unbinding, cancellation): the cache never keeps what the positions no longer do.
CREATE TABLE track_days (
	device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	day       INTEGER NOT NULL, -- UTC days since 1970-01-01
	points    INTEGER NOT NULL,
	sealed    BLOB NOT NULL,
	PRIMARY KEY (device_id, day)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER track_days_insert AFTER INSERT ON positions BEGIN
	DELETE FROM track_days WHERE device_id = NEW.device_id AND day = NEW.time / 86400000000000;
END;

CREATE TRIGGER track_days_delete AFTER DELETE ON positions BEGIN
	DELETE FROM track_days WHERE device_id = OLD.device_id AND day = OLD.time / 86400000000000;
END;

CREATE TRIGGER track_days_update AFTER UPDATE ON positions BEGIN
	DELETE FROM track_days WHERE (device_id = OLD.device_id AND day = OLD.time / 86400000000000)
		OR (device_id = NEW.device_id AND day = NEW.time / 86400000000000);
END;
