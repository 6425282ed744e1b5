-- Error rate of one event per time bucket: the ClickHouse twin of
-- sql/duckdb/metrics/errors.sql (same columns, order and meaning).
-- Translation notes:
--   * events FINAL, so redelivered copies count once;
--   * the condition's value is map[key] when the key is present and its
--     text is not '' (JSON null is stored as ''), else NULL, like DuckDB's
--     ->> on a missing key or a JSON null; toFloat64OrNull is TRY_CAST;
--   * buckets, tenants and the condition: sql/clickhouse/parts/metrics.sql.
WITH
    fromUnixTimestamp64Milli(toInt64({start_ms:Int64}), 'UTC') AS start_ts,
    fromUnixTimestamp64Milli(toInt64({end_ms:Int64}) - 1, 'UTC') AS last_ts,
    {interval:String} AS iv,
    {where_op:Nullable(String)} AS where_op,
    {where_number:Nullable(Float64)} AS where_number,
    {where_text:Nullable(String)} AS where_text,
    selected AS (
        SELECT e.tenant_id AS tenant_id,
               {{template "bucket_start" "e.ts"}} AS bucket,
               if({where_source:Nullable(String)} = 'properties',
                  if(mapContains(e.properties, assumeNotNull({where_key:Nullable(String)})) AND e.properties[assumeNotNull({where_key:Nullable(String)})] != '',
                     e.properties[assumeNotNull({where_key:Nullable(String)})], NULL),
                  if(mapContains(e.context, assumeNotNull({where_key:Nullable(String)})) AND e.context[assumeNotNull({where_key:Nullable(String)})] != '',
                     e.context[assumeNotNull({where_key:Nullable(String)})], NULL)) AS w
        FROM {db:Identifier}.events AS e FINAL
        WHERE e.ts >= fromUnixTimestamp64Milli(toInt64({start_ms:Int64}), 'UTC')
          AND e.ts < fromUnixTimestamp64Milli(toInt64({end_ms:Int64}), 'UTC')
          AND e.event = {event:String}
          AND ({tenant:Nullable(String)} IS NULL OR e.tenant_id = {tenant:Nullable(String)})
    ),
    stats AS (
        SELECT tenant_id, bucket, toInt64(count()) AS events,
               toInt64(countIf({{template "condition"}})) AS errors
        FROM selected
        GROUP BY tenant_id, bucket
    ),
    {{template "tenants" "stats"}},
    {{template "buckets"}}
SELECT t.tenant_id AS tenant_id, b.bucket AS bucket,
       coalesce(s.events, 0) AS events,
       coalesce(s.errors, 0) AS errors,
       s.errors / nullIf(s.events, 0) AS error_rate
FROM tenants AS t
CROSS JOIN buckets AS b
LEFT JOIN stats AS s ON s.tenant_id = t.tenant_id AND s.bucket = b.bucket
ORDER BY t.tenant_id, b.bucket
SETTINGS join_use_nulls = 1
