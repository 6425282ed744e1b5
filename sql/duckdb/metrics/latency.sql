-- Percentiles of a numeric field of one event, per time bucket.
--   bucket = start of the UTC $interval ('hour', 'day', 'week' = ISO week
--            from Monday, 'month'); every bucket overlapping
--            [$start_ms, $end_ms) is listed, empty ones with 0 and NULLs
--   events = $event events in the bucket and range (that match the optional
--            condition of the where_* parameters)
--   values = those whose field ($field_source 'properties' or 'context',
--            key $field_key) holds a number (JSON number or numeric text)
--   p50, p95, p99 = percentiles of those values, interpolated between the
--            closest ranks: position (values - 1) * p in ascending order
--            (R-7, like ClickHouse quantileExactInclusive)
-- Condition: value of key $where_key in $where_source compared by
-- $where_op with $where_number (as numbers) or $where_text (as text); a
-- missing value never matches; $where_op NULL means no condition.
WITH params AS (
    SELECT epoch_ms(CAST($start_ms AS BIGINT)) AS start_ts,
           epoch_ms(CAST($end_ms AS BIGINT)) AS end_ts,
           CAST($interval AS VARCHAR) AS iv,
           CAST($tenant AS VARCHAR) AS tenant,
           CAST($event AS VARCHAR) AS event_name,
           CAST($field_source AS VARCHAR) AS field_source,
           '/' || replace(replace(CAST($field_key AS VARCHAR), '~', '~0'), '/', '~1') AS field_path,
           CAST($where_source AS VARCHAR) AS where_source,
           '/' || replace(replace(CAST($where_key AS VARCHAR), '~', '~0'), '/', '~1') AS where_path,
           CAST($where_op AS VARCHAR) AS where_op,
           CAST($where_number AS DOUBLE) AS where_number,
           CAST($where_text AS VARCHAR) AS where_text
),
selected AS (
    SELECT e.tenant_id,
           date_trunc(p.iv, e.ts) AS bucket,
           TRY_CAST(CASE p.field_source WHEN 'properties' THEN e.properties ->> p.field_path
                                         ELSE e.context ->> p.field_path END AS DOUBLE) AS v,
           CASE p.where_source WHEN 'properties' THEN e.properties ->> p.where_path
                               ELSE e.context ->> p.where_path END AS w,
           p.where_op, p.where_number, p.where_text
    FROM events e
    CROSS JOIN params p
    WHERE e.ts >= epoch_ms(CAST($start_ms AS BIGINT)) AND e.ts < epoch_ms(CAST($end_ms AS BIGINT))
      AND e.event = CAST($event AS VARCHAR)
      AND (CAST($tenant AS VARCHAR) IS NULL OR e.tenant_id = $tenant)
),
matching AS (
    SELECT tenant_id, bucket, v
    FROM selected
    WHERE where_op IS NULL
       OR {{template "condition"}}
),
stats AS (
    SELECT tenant_id, bucket, count(*) AS events, count(v) AS vals,
           quantile_cont(v, [0.5, 0.95, 0.99]) AS q
    FROM matching
    GROUP BY tenant_id, bucket
),
{{template "tenants" "stats"}},
{{template "buckets"}}
SELECT t.tenant_id, b.bucket,
       CAST(coalesce(s.events, 0) AS BIGINT) AS events,
       CAST(coalesce(s.vals, 0) AS BIGINT) AS "values",
       s.q[1] AS p50, s.q[2] AS p95, s.q[3] AS p99
FROM tenants t
CROSS JOIN buckets b
LEFT JOIN stats s ON s.tenant_id = t.tenant_id AND s.bucket = b.bucket
ORDER BY t.tenant_id, b.bucket;
