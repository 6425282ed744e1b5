-- Active users per UTC day D from $first_day to $last_day: the ClickHouse
-- twin of sql/duckdb/metrics/active.sql (same columns, order and meaning):
--   dau = distinct users with an event on D, wau over [D-6, D], mau over
--   [D-29, D], stickiness = dau / mau (NULL when mau = 0).
-- Reads the rollup daily_active_users (uniqExactState(user_id) per tenant,
-- day and event), never the raw events: the states of a day are merged
-- across events (or for $event only) into one state per tenant and day,
-- and each window merges its 1, 7 or 30 daily states with uniqExactMerge,
-- so a user active on several days of a window counts once (daily uniques
-- are never summed). Sets of users ignore redelivered duplicates.
-- A tenant is listed (with $tenant NULL) when it has activity in
-- [$first_day - 29, $last_day], as in the DuckDB statement.
WITH
    {first_day:Date} AS p_first_day,
    {last_day:Date} AS p_last_day,
    daily AS (
        SELECT toString(tenant_id) AS tenant_id, day, uniqExactMergeState(users) AS st
        FROM {db:Identifier}.daily_active_users
        WHERE ({event:Nullable(String)} IS NULL OR event = {event:Nullable(String)})
          AND ({tenant:Nullable(String)} IS NULL OR tenant_id = {tenant:Nullable(String)})
          AND day BETWEEN {first_day:Date} - 29 AND {last_day:Date}
        GROUP BY tenant_id, day
    ),
    {{template "tenants" "daily"}},
    days AS (
        SELECT tenant_id, p_first_day + toIntervalDay(n) AS day
        FROM tenants
        ARRAY JOIN range(toUInt64(dateDiff('day', p_first_day, p_last_day) + 1)) AS n
    ),
    windows AS (
        SELECT d.tenant_id AS tenant_id, d.day AS day,
               toInt64(uniqExactMergeIf(s.st, s.day = d.day)) AS dau,
               toInt64(uniqExactMergeIf(s.st, s.day BETWEEN d.day - 6 AND d.day)) AS wau,
               toInt64(uniqExactMergeIf(s.st, s.day BETWEEN d.day - 29 AND d.day)) AS mau
        FROM days AS d
        LEFT JOIN daily AS s ON s.tenant_id = d.tenant_id
        GROUP BY d.tenant_id, d.day
    )
SELECT tenant_id,
       toDate(day) AS day,
       dau,
       wau,
       mau,
       dau / nullIf(mau, 0) AS stickiness
FROM windows
ORDER BY tenant_id, day
