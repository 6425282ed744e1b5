-- Rollups: one row per tenant, UTC day and user that had any event
-- (user_days), and per tenant, day, event name and user (user_event_days).
-- Active users, retention and adoption read these instead of the raw
-- events: per day they hold one row per active user, not one per event.
--
-- Each key occurs once. There is no PRIMARY KEY or UNIQUE index on purpose:
-- DuckDB's ART index must fit in memory and outgrows the store's memory
-- limit at millions of rows. Uniqueness comes from the rollup statements in
-- ingest/rollups/, which insert only keys that the batch's days do not hold
-- yet. Rows are appended roughly in day order, so the per-block min/max of
-- day (zonemaps) prune day-range reads.
CREATE TABLE user_days (
    tenant_id VARCHAR NOT NULL,
    day       DATE    NOT NULL,
    user_id   VARCHAR NOT NULL
);

CREATE TABLE user_event_days (
    tenant_id VARCHAR NOT NULL,
    day       DATE    NOT NULL,
    event     VARCHAR NOT NULL,
    user_id   VARCHAR NOT NULL
);

-- Backfill from the events stored before this migration, in day order.
INSERT INTO user_days
SELECT DISTINCT tenant_id, CAST(ts AS DATE) AS day, user_id
FROM events
ORDER BY day, tenant_id, user_id;

INSERT INTO user_event_days
SELECT DISTINCT tenant_id, CAST(ts AS DATE) AS day, event, user_id
FROM events
ORDER BY day, tenant_id, event, user_id;
