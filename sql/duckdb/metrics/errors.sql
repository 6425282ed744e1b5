-- Error rate of one event per time bucket: the share of its occurrences
-- that match a condition.
--   bucket = start of the UTC $interval ('hour', 'day', 'week' = ISO week
--            from Monday, 'month'); every bucket overlapping
--            [$start_ms, $end_ms) is listed, empty ones with 0 and NULL
--   events = $event events in the bucket and range
--   errors = those that match the condition
--   error_rate = errors / events (NULL when events = 0)
-- Condition: value of key $where_key in $where_source compared by
-- $where_op with $where_number (as numbers: a value that is missing or not
-- a number never matches) or $where_text (as text; a missing value never
-- matches).
WITH params AS (
    SELECT epoch_ms(CAST($start_ms AS BIGINT)) AS start_ts,
           epoch_ms(CAST($end_ms AS BIGINT)) AS end_ts,
           CAST($interval AS VARCHAR) AS iv,
           CAST($tenant AS VARCHAR) AS tenant,
           CAST($event AS VARCHAR) AS event_name,
           CAST($where_source AS VARCHAR) AS where_source,
           '/' || replace(replace(CAST($where_key AS VARCHAR), '~', '~0'), '/', '~1') AS where_path,
           CAST($where_op AS VARCHAR) AS where_op,
           CAST($where_number AS DOUBLE) AS where_number,
           CAST($where_text AS VARCHAR) AS where_text
),
selected AS (
    SELECT e.tenant_id,
           date_trunc(p.iv, e.ts) AS bucket,
           CASE p.where_source WHEN 'properties' THEN e.properties ->> p.where_path
                               ELSE e.context ->> p.where_path END AS w,
           p.where_op, p.where_number, p.where_text
    FROM events e
    CROSS JOIN params p
    WHERE e.ts >= epoch_ms(CAST($start_ms AS BIGINT)) AND e.ts < epoch_ms(CAST($end_ms AS BIGINT))
      AND e.event = CAST($event AS VARCHAR)
      AND (CAST($tenant AS VARCHAR) IS NULL OR e.tenant_id = $tenant)
),
stats AS (
    SELECT tenant_id, bucket, count(*) AS events,
           count(*) FILTER (WHERE {{template "condition"}}) AS errors
    FROM selected
    GROUP BY tenant_id, bucket
),
{{template "tenants" "stats"}},
{{template "buckets"}}
SELECT t.tenant_id, b.bucket,
       CAST(coalesce(s.events, 0) AS BIGINT) AS events,
       CAST(coalesce(s.errors, 0) AS BIGINT) AS errors,
       s.errors / nullif(s.events, 0) AS error_rate
FROM tenants t
CROSS JOIN buckets b
LEFT JOIN stats s ON s.tenant_id = t.tenant_id AND s.bucket = b.bucket
ORDER BY t.tenant_id, b.bucket;
