-- Event counts and unique users per time bucket and event name.
--   bucket = start of the UTC $interval ('hour', 'day', 'week' = ISO week
--            from Monday, 'month') holding the event; every bucket that
--            overlaps [$start_ms, $end_ms) is listed, empty ones with 0
--   events = events in the bucket and in [$start_ms, $end_ms)
--   users  = distinct user_ids among them (per tenant)
-- $event (NULL = every event name) keeps one event name.
-- With $by_key set, rows are also split by the value of that key in the
-- $by_source object ('properties' or 'context'): per tenant and event name,
-- the $top values with the most events over the whole range keep their own
-- rows (ties: smaller value first), the rest are summed as '(other)'; a
-- missing key or JSON null is the value '(none)'.
-- A series (tenant, event, value) is listed when it has an event in range;
-- within a bucket, series come by event name, then by value rank.
WITH params AS (
    SELECT epoch_ms(CAST($start_ms AS BIGINT)) AS start_ts,
           epoch_ms(CAST($end_ms AS BIGINT)) AS end_ts,
           CAST($interval AS VARCHAR) AS iv,
           CAST($tenant AS VARCHAR) AS tenant,
           CAST($event AS VARCHAR) AS event_name,
           CAST($by_source AS VARCHAR) AS by_source,
           '/' || replace(replace(CAST($by_key AS VARCHAR), '~', '~0'), '/', '~1') AS by_path,
           CAST($top AS INTEGER) AS top_n
),
-- The scan's filters name the parameters directly (not through params) so
-- that DuckDB applies them while scanning.
selected AS (
    SELECT e.tenant_id, e.event, e.user_id,
           date_trunc(CAST($interval AS VARCHAR), e.ts) AS bucket,
           CASE
               WHEN CAST($by_key AS VARCHAR) IS NULL THEN NULL
               WHEN CAST($by_source AS VARCHAR) = 'properties'
                   THEN coalesce(e.properties ->> ('/' || replace(replace(CAST($by_key AS VARCHAR), '~', '~0'), '/', '~1')), '(none)')
               ELSE coalesce(e.context ->> ('/' || replace(replace(CAST($by_key AS VARCHAR), '~', '~0'), '/', '~1')), '(none)')
           END AS value
    FROM events e
    WHERE e.ts >= epoch_ms(CAST($start_ms AS BIGINT)) AND e.ts < epoch_ms(CAST($end_ms AS BIGINT))
      AND (CAST($tenant AS VARCHAR) IS NULL OR e.tenant_id = $tenant)
      AND (CAST($event AS VARCHAR) IS NULL OR e.event = $event)
),
ranked AS (
    SELECT tenant_id, event, value,
           row_number() OVER (PARTITION BY tenant_id, event ORDER BY count(*) DESC, value) AS rank
    FROM selected
    WHERE value IS NOT NULL
    GROUP BY tenant_id, event, value
),
counts AS (
    SELECT s.tenant_id, s.event, s.bucket,
           CASE WHEN s.value IS NULL THEN NULL WHEN r.rank <= CAST($top AS INTEGER) THEN s.value ELSE '(other)' END AS value,
           count(*) AS events, count(DISTINCT s.user_id) AS users
    FROM selected s
    LEFT JOIN ranked r ON r.tenant_id = s.tenant_id AND r.event = s.event AND r.value = s.value
    GROUP BY ALL
),
series AS (
    SELECT c.tenant_id, c.event, c.value,
           CASE WHEN c.value IS NULL THEN 0 WHEN r.rank IS NULL THEN CAST($top AS INTEGER) + 1 ELSE r.rank END AS value_rank
    FROM (SELECT DISTINCT tenant_id, event, value FROM counts) c
    LEFT JOIN ranked r ON r.tenant_id = c.tenant_id AND r.event = c.event AND r.value = c.value AND r.rank <= CAST($top AS INTEGER)
),
{{template "buckets"}}
SELECT s.tenant_id, b.bucket, s.event, s.value,
       coalesce(c.events, 0) AS events,
       coalesce(c.users, 0) AS users
FROM series s
CROSS JOIN buckets b
LEFT JOIN counts c
       ON c.tenant_id = s.tenant_id AND c.event = s.event AND c.bucket = b.bucket
      AND c.value IS NOT DISTINCT FROM s.value
ORDER BY s.tenant_id, b.bucket, s.event, s.value_rank;
