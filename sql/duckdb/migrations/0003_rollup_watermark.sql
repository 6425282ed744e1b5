-- Rollups are refreshed from the events committed since the last refresh
-- (events.ingested_at in (refreshed_through, new high]), outside the ack
-- path: a refresh covers many group commits at once. Events stored before
-- this migration are already in the rollups (0002 backfilled them).
CREATE TABLE rollup_watermark (
    refreshed_through TIMESTAMP NOT NULL
);

INSERT INTO rollup_watermark
SELECT coalesce(max(ingested_at), TIMESTAMP '1970-01-01') FROM events;
