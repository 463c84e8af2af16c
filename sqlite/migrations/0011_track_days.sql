-- The day cache of history reads (issue 5; kinwatch.TrackCached): each watch's positions with
-- coordinates of one complete UTC day, in one row sealed with the family's key, so a year reads
-- 365 rows instead of half a million.
CREATE TABLE track_days (
	device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	day       INTEGER NOT NULL, -- UTC days since 1970-01-01
	gen       INTEGER NOT NULL, -- the day's generation it was built at: served only while it is the day's
	points    INTEGER NOT NULL,
	sealed    BLOB NOT NULL,
	PRIMARY KEY (device_id, day)
) STRICT, WITHOUT ROWID;

-- A day's generation: a new random value whenever a position of the day is stored, changed or
-- deleted. A cached row is written only if the generation read before its positions is still the
-- day's, so a change that comes while it is built keeps it out, and served only while it is.
-- (INSERT OR REPLACE into positions, which the app never does, would bypass the delete trigger
-- unless recursive_triggers is on; the replacing row's own insert still renews its day.)
CREATE TABLE track_day_gen (
	device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	day       INTEGER NOT NULL,
	gen       INTEGER NOT NULL,
	PRIMARY KEY (device_id, day)
) STRICT, WITHOUT ROWID;

-- Every day that has positions has a generation, and only such a day is cached: a day whose last
-- position is deleted loses its generation (so that the cache leaves no trace of it), and a
-- build that read it before finds none.
INSERT INTO track_day_gen (device_id, day, gen)
	SELECT device_id, day, random() FROM (SELECT DISTINCT device_id, time / 86400000000000 AS day FROM positions);

-- Whatever the path (a late upload, a family's deletion, the retention job, unbinding,
-- cancellation), a change to a day's positions deletes its cached row and renews its generation,
-- or deletes it with the day's last position. (Days before 1970 are never cached, so the
-- truncating division is exact where it matters.)
CREATE TRIGGER track_days_insert AFTER INSERT ON positions BEGIN
	INSERT INTO track_day_gen (device_id, day, gen) VALUES (NEW.device_id, NEW.time / 86400000000000, random())
		ON CONFLICT (device_id, day) DO UPDATE SET gen = random();
	DELETE FROM track_days WHERE device_id = NEW.device_id AND day = NEW.time / 86400000000000;
END;

CREATE TRIGGER track_days_delete AFTER DELETE ON positions BEGIN
	INSERT INTO track_day_gen (device_id, day, gen) VALUES (OLD.device_id, OLD.time / 86400000000000, random())
		ON CONFLICT (device_id, day) DO UPDATE SET gen = random();
	DELETE FROM track_days WHERE device_id = OLD.device_id AND day = OLD.time / 86400000000000;
	DELETE FROM track_day_gen WHERE device_id = OLD.device_id AND day = OLD.time / 86400000000000
		AND NOT EXISTS (SELECT 1 FROM positions WHERE device_id = OLD.device_id
			AND time >= OLD.time / 86400000000000 * 86400000000000 AND time < (OLD.time / 86400000000000 + 1) * 86400000000000);
END;

CREATE TRIGGER track_days_update AFTER UPDATE ON positions BEGIN
	INSERT INTO track_day_gen (device_id, day, gen) VALUES (OLD.device_id, OLD.time / 86400000000000, random())
		ON CONFLICT (device_id, day) DO UPDATE SET gen = random();
	INSERT INTO track_day_gen (device_id, day, gen) VALUES (NEW.device_id, NEW.time / 86400000000000, random())
		ON CONFLICT (device_id, day) DO UPDATE SET gen = random();
	DELETE FROM track_days WHERE (device_id = OLD.device_id AND day = OLD.time / 86400000000000)
		OR (device_id = NEW.device_id AND day = NEW.time / 86400000000000);
	DELETE FROM track_day_gen WHERE device_id = OLD.device_id AND day = OLD.time / 86400000000000
		AND NOT EXISTS (SELECT 1 FROM positions WHERE device_id = OLD.device_id
			AND time >= OLD.time / 86400000000000 * 86400000000000 AND time < (OLD.time / 86400000000000 + 1) * 86400000000000);
END;
