-- Finds an alarm of the same kind from the same watch close in time, so a resent alarm is stored
-- once (issue 5; kinwatch.AlarmRepeatWindow).
CREATE INDEX events_alarms ON events (device_id, alarm, time) WHERE type = 'alarm';
