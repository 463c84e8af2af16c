-- When the watch was bound into its family (NULL while pending): the live stream replays to a
-- family only what was published after it, whichever process published it.
ALTER TABLE devices ADD COLUMN bound_at INTEGER;
UPDATE devices SET bound_at = first_seen WHERE state = 'bound' AND family_id IS NOT NULL;
