-- The day cache of history reads (issue 5; kinwatch.TrackCached): each watch's positions with
-- coordinates of one complete UTC day, in one row sealed with the family's key, so a year reads
-- 365 rows instead of half a million. A rowid table: its rows are large (about 60 KB for a day
-- of one-minute reports), and WITHOUT ROWID made each of the delete trigger's probes cost 140 µs
-- (unbinding a watch with 200,000 positions: 30 s instead of 2 s).
CREATE TABLE track_days (
	device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	day       INTEGER NOT NULL, -- UTC days since 1970-01-01
	gen       INTEGER NOT NULL, -- the day's generation it was built at: served only while it is the day's
	points    INTEGER NOT NULL,
	sealed    BLOB NOT NULL,
	PRIMARY KEY (device_id, day)
) STRICT;

-- A day's generation: a new random value whenever a position of a past day is stored, changed or
-- deleted. A cached row is written only if the generation read before its positions is still the
-- day's, so a change that comes while it is built keeps it out, and served only while it is.
-- (INSERT OR REPLACE into positions, which kinwatch never does, would bypass the delete trigger
-- unless recursive_triggers is on.)
CREATE TABLE track_day_gen (
	device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	day       INTEGER NOT NULL,
	gen       INTEGER NOT NULL,
	PRIMARY KEY (device_id, day)
) STRICT, WITHOUT ROWID;

-- A day gets its generation when a build first needs it (DayGens), if it has positions, or when a
-- change of it comes first. Whatever the path (a family's deletion, the retention job,
-- unbinding, cancellation, an UPDATE from outside), a deletion or move of a day's positions
-- deletes its cached row and renews its generation, or deletes it with the day's last position
-- (a build that finds none does not cache the day). New positions come only through WriteBatch,
-- which does the same for a day before the current one (kinwatch.LateTrackDays): a trigger on
-- every insert would cost the ingest 15 %, for the rare late upload. (Days before 1970 are never
-- cached, so the truncating division is exact where it matters.)
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
