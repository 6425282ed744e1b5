-- Event counts and unique users per time bucket and event name: the
-- ClickHouse twin of sql/duckdb/metrics/events.sql (same columns, order and
-- meaning; see that file). Notes on the translation:
--   * events FINAL: redelivered copies of an event (same sorting key) count
--     once, as in the embedded store whose duplicate key drops them;
--   * buckets are DateTime('UTC') starts: toStartOfHour, toDate, toMonday
--     (ISO week from Monday), toStartOfMonth;
--   * a property is properties[key] when the key is present and its text is
--     not '' (the map holds JSON null as ''), else '(none)'.
WITH
    fromUnixTimestamp64Milli(toInt64({start_ms:Int64}), 'UTC') AS start_ts,
    fromUnixTimestamp64Milli(toInt64({end_ms:Int64}) - 1, 'UTC') AS last_ts,
    {interval:String} AS iv,
    selected AS (
        SELECT e.tenant_id AS tenant_id, toString(e.event) AS event, e.user_id AS user_id,
               {{template "bucket_start" "e.ts"}} AS bucket,
               if({by_key:Nullable(String)} IS NULL, NULL,
                  if({by_source:Nullable(String)} = 'properties',
                     if(mapContains(e.properties, assumeNotNull({by_key:Nullable(String)})) AND e.properties[assumeNotNull({by_key:Nullable(String)})] != '',
                        e.properties[assumeNotNull({by_key:Nullable(String)})], '(none)'),
                     if(mapContains(e.context, assumeNotNull({by_key:Nullable(String)})) AND e.context[assumeNotNull({by_key:Nullable(String)})] != '',
                        e.context[assumeNotNull({by_key:Nullable(String)})], '(none)'))) AS value
        FROM {db:Identifier}.events AS e FINAL
        WHERE e.ts >= fromUnixTimestamp64Milli(toInt64({start_ms:Int64}), 'UTC')
          AND e.ts < fromUnixTimestamp64Milli(toInt64({end_ms:Int64}), 'UTC')
          AND ({tenant:Nullable(String)} IS NULL OR e.tenant_id = {tenant:Nullable(String)})
          AND ({event:Nullable(String)} IS NULL OR e.event = {event:Nullable(String)})
    ),
    ranked AS (
        SELECT tenant_id, event, assumeNotNull(value) AS value,
               row_number() OVER (PARTITION BY tenant_id, event ORDER BY count() DESC, assumeNotNull(value)) AS rank
        FROM selected
        WHERE value IS NOT NULL
        GROUP BY tenant_id, event, value
    ),
    grouped AS (
        SELECT s.tenant_id AS tenant_id, s.event AS event, s.bucket AS bucket, s.user_id AS user_id,
               multiIf(s.value IS NULL, NULL, r.rank <= {top:Int64}, s.value, '(other)') AS value,
               toInt64(multiIf(s.value IS NULL, 0, r.rank <= {top:Int64}, r.rank, {top:Int64} + 1)) AS value_rank
        FROM selected AS s
        LEFT JOIN ranked AS r ON r.tenant_id = s.tenant_id AND r.event = s.event AND r.value = s.value
    ),
    counts AS (
        SELECT tenant_id, event, value_rank, bucket, any(value) AS value,
               toInt64(count()) AS events, toInt64(uniqExact(user_id)) AS users
        FROM grouped
        GROUP BY tenant_id, event, value_rank, bucket
    ),
    series AS (
        SELECT DISTINCT tenant_id, event, value, value_rank FROM counts
    ),
    {{template "buckets"}}
SELECT s.tenant_id AS tenant_id, b.bucket AS bucket, s.event AS event, s.value AS value,
       coalesce(c.events, 0) AS events,
       coalesce(c.users, 0) AS users
FROM series AS s
CROSS JOIN buckets AS b
LEFT JOIN counts AS c
       ON c.tenant_id = s.tenant_id AND c.event = s.event AND c.bucket = b.bucket
      AND c.value_rank = s.value_rank
ORDER BY s.tenant_id, b.bucket, s.event, s.value_rank
SETTINGS join_use_nulls = 1
