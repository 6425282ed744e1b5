{{/*
Pieces that several metric statements share (sql/clickhouse/metrics/),
used as {{template "name" ...}}: each is written once here, the way
DuckDB's are in sql/duckdb/parts/metrics.sql. They read the aliases the
statements define in their WITH clause (iv, start_ts, last_ts, where_op,
where_number, where_text).
*/}}

{{/* bucket_start: the start of the iv bucket ('hour', 'day', 'week' from
Monday, 'month') holding the DateTime64 named by the argument, as a
DateTime('UTC'). */}}
{{define "bucket_start"}}multiIf(iv = 'hour', toStartOfHour(toDateTime({{.}}, 'UTC')),
                       iv = 'day', toDateTime(toDate({{.}}), 'UTC'),
                       iv = 'week', toDateTime(toMonday({{.}}), 'UTC'),
                       toDateTime(toStartOfMonth({{.}}), 'UTC')){{end}}

{{/* buckets: every bucket start from start_ts's to last_ts's, empty ones
too (b0 holds the first and last). */}}
{{define "buckets"}}b0 AS (
        SELECT {{template "bucket_start" "start_ts"}} AS first_b,
               {{template "bucket_start" "last_ts"}} AS last_b
    ),
    buckets AS (
        SELECT if(iv = 'month', addMonths(first_b, n),
                  first_b + toIntervalSecond(n * multiIf(iv = 'hour', 3600, iv = 'day', 86400, 604800))) AS bucket
        FROM b0
        ARRAY JOIN range(toUInt64(multiIf(iv = 'hour', dateDiff('hour', first_b, last_b),
                                          iv = 'day', dateDiff('day', first_b, last_b),
                                          iv = 'week', intDiv(dateDiff('day', first_b, last_b), 7),
                                          dateDiff('month', first_b, last_b)) + 1)) AS n
    ){{end}}

{{/* tenants: the {tenant} parameter, or every tenant of the CTE named by
the argument. */}}
{{define "tenants"}}tenants AS (
        SELECT assumeNotNull({tenant:Nullable(String)}) AS tenant_id WHERE {tenant:Nullable(String)} IS NOT NULL
        UNION DISTINCT
        SELECT DISTINCT toString(tenant_id) FROM {{.}} WHERE {tenant:Nullable(String)} IS NULL
    ){{end}}

{{/* condition: whether the value w matches where_op against where_number
(as numbers, toFloat64OrNull like DuckDB's TRY_CAST) or where_text (as
text); a missing w never matches. */}}
{{define "condition"}}coalesce(
                   if(where_number IS NOT NULL,
                      multiIf(where_op = '=', toFloat64OrNull(w) = where_number,
                              where_op = '!=', toFloat64OrNull(w) != where_number,
                              where_op = '<', toFloat64OrNull(w) < where_number,
                              where_op = '<=', toFloat64OrNull(w) <= where_number,
                              where_op = '>', toFloat64OrNull(w) > where_number,
                              where_op = '>=', toFloat64OrNull(w) >= where_number, NULL),
                      multiIf(where_op = '=', w = where_text,
                              where_op = '!=', w != where_text,
                              where_op = '<', w < where_text,
                              where_op = '<=', w <= where_text,
                              where_op = '>', w > where_text,
                              where_op = '>=', w >= where_text, NULL)),
                   false){{end}}
