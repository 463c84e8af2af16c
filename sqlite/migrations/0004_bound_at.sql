-- When the watch was bound into its family (NULL while pending, and for watches bound before this
-- column existed, where it is unknown): the live stream replays to a family only what was
-- published after it, whichever process published it.
ALTER TABLE devices ADD COLUMN bound_at INTEGER;
