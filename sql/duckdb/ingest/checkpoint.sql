-- Writes what the WAL holds into the store file, so that closing the store
-- (and the next open) finds nothing to replay.
CHECKPOINT;
