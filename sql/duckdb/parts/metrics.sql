{{/*
Pieces that several metric statements share (sql/duckdb/metrics/), used
as {{template "name" ...}}: each is written once here, the way ClickHouse's
are in sql/clickhouse/parts/metrics.sql.
*/}}

{{/* buckets: every $interval bucket start overlapping [start_ts, end_ts)
of the params CTE (iv, start_ts, end_ts), empty ones too. */}}
{{define "buckets"}}buckets AS (
    SELECT unnest(generate_series(
        date_trunc(p.iv, p.start_ts),
        date_trunc(p.iv, p.end_ts - INTERVAL 1 MILLISECOND),
        CASE p.iv WHEN 'hour' THEN INTERVAL 1 HOUR WHEN 'day' THEN INTERVAL 1 DAY
                  WHEN 'week' THEN INTERVAL 7 DAY ELSE INTERVAL 1 MONTH END
    )) AS bucket
    FROM params p
){{end}}

{{/* tenants: the params' tenant, or every tenant of the CTE named by the
argument. */}}
{{define "tenants"}}tenants AS (
    SELECT tenant AS tenant_id FROM params WHERE tenant IS NOT NULL
    UNION
    SELECT DISTINCT tenant_id FROM {{.}}, params WHERE params.tenant IS NULL
){{end}}

{{/* condition: whether the value w matches where_op against where_number
(as numbers: a missing or non-numeric w never matches) or where_text (as
text; a missing w never matches). */}}
{{define "condition"}}coalesce(CASE
              WHEN where_number IS NOT NULL THEN CASE where_op
                  WHEN '=' THEN TRY_CAST(w AS DOUBLE) = where_number
                  WHEN '!=' THEN TRY_CAST(w AS DOUBLE) != where_number
                  WHEN '<' THEN TRY_CAST(w AS DOUBLE) < where_number
                  WHEN '<=' THEN TRY_CAST(w AS DOUBLE) <= where_number
                  WHEN '>' THEN TRY_CAST(w AS DOUBLE) > where_number
                  WHEN '>=' THEN TRY_CAST(w AS DOUBLE) >= where_number END
              ELSE CASE where_op
                  WHEN '=' THEN w = where_text
                  WHEN '!=' THEN w != where_text
                  WHEN '<' THEN w < where_text
                  WHEN '<=' THEN w <= where_text
                  WHEN '>' THEN w > where_text
                  WHEN '>=' THEN w >= where_text END
          END, false){{end}}
