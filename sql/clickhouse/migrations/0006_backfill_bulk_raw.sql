-- Backfill's bulk lane, for files whose objects hold many numbers
-- JSONExtract would not render as written (1.50, 1e-7,
-- 0.34990030527114868, -0: it renders a number from its value, and so does
-- JSONExtractKeysAndValuesRaw): the same rows as events_bulk's, whose view
-- splits each object into its members by a pattern instead, strings
-- unescaped and every other value as written, as pulse's own batches and
-- the Kafka path's JSONEachRow store them. The objects are in the compact
-- form pulse's checks pass (sql/duckdb/backfill/bulk.sql, "keys"): a key
-- holds no quote or backslash, a string no unescaped quote, so the pattern
-- splits them exactly. It costs the engine about what JSONExtract does.
-- The same columns and engine (Null) as events_bulk: one step's rows.
CREATE TABLE IF NOT EXISTS {{database}}.events_bulk_raw AS {{database}}.events_bulk;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.events_bulk_raw_mv
TO {{database}}.events
AS SELECT
    tenant_id,
    ts,
    event,
    user_id,
    session_id,
    event_id,
    event_version,
    mapFromArrays(arrayMap(m -> m[1], p), arrayMap(m -> if(startsWith(m[2], '"'), JSONExtractString(m[2]), m[2]), p)) AS properties,
    mapFromArrays(arrayMap(m -> m[1], c), arrayMap(m -> if(startsWith(m[2], '"'), JSONExtractString(m[2]), m[2]), c)) AS context
FROM
(
    SELECT
        *,
        extractAllGroupsVertical(properties, '"([^"]*)":("(?:[^"\\\\]|\\\\.)*"|[^,}"]+)') AS p,
        extractAllGroupsVertical(context, '"([^"]*)":("(?:[^"\\\\]|\\\\.)*"|[^,}"]+)') AS c
    FROM {{database}}.events_bulk_raw
);
