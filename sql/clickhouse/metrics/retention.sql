-- Retention by cohort from the rollup user_event_days: the ClickHouse twin
-- of sql/duckdb/metrics/retention.sql (same columns, order and meaning).
-- Translation notes:
--   * user_event_days may hold unmerged repeats (ReplacingMergeTree): firsts
--     are min(day) per user, returns are DISTINCT, so nothing counts twice;
--   * periods: the day itself or toMonday (ISO week from Monday); period_n is
--     the whole number of periods between cohort and return period.
WITH
    {first_day:Date} AS p_first_day,
    {last_day:Date} AS p_last_day,
    {period:String} AS p_period,
    toInt32({periods:Int64}) AS periods,
    if({period:String} = 'week', 7, 1) AS period_days,
    firsts AS (
        SELECT toString(tenant_id) AS tenant_id, user_id, min(day) AS first_day
        FROM {db:Identifier}.user_event_days
        WHERE event = {start_event:String}
          AND ({tenant:Nullable(String)} IS NULL OR tenant_id = {tenant:Nullable(String)})
          AND day <= {last_day:Date}
        GROUP BY tenant_id, user_id
    ),
    members AS (
        SELECT tenant_id, user_id, if(p_period = 'week', toMonday(first_day), first_day) AS cohort
        FROM firsts
        WHERE first_day >= {first_day:Date}
    ),
    returns AS (
        SELECT DISTINCT toString(tenant_id) AS tenant_id, user_id, if(p_period = 'week', toMonday(day), day) AS period_start
        FROM {db:Identifier}.user_event_days
        WHERE event = {return_event:String}
          AND ({tenant:Nullable(String)} IS NULL OR tenant_id = {tenant:Nullable(String)})
          AND day BETWEEN {first_day:Date} AND {last_day:Date}
    ),
    returned AS (
        SELECT m.tenant_id AS tenant_id, m.cohort AS cohort,
               toInt32(intDiv(dateDiff('day', m.cohort, x.period_start), period_days)) AS period_n,
               toInt64(count()) AS returned
        FROM members AS m
        INNER JOIN returns AS x ON x.tenant_id = m.tenant_id AND x.user_id = m.user_id
        WHERE x.period_start > m.cohort
        GROUP BY tenant_id, cohort, period_n
    ),
    sizes AS (
        SELECT tenant_id, cohort, toInt64(count()) AS users FROM members GROUP BY tenant_id, cohort
    ),
    {{template "tenants" "members"}},
    c0 AS (
        SELECT if(p_period = 'week', toMonday(p_first_day), p_first_day) AS first_c,
               if(p_period = 'week', toMonday(p_last_day), p_last_day) AS last_c
    ),
    cells AS (
        SELECT t.tenant_id AS tenant_id,
               c0.first_c + toIntervalDay(i * period_days) AS cohort,
               toInt32(n) AS period_n
        FROM tenants AS t
        CROSS JOIN c0
        ARRAY JOIN range(toUInt64(intDiv(dateDiff('day', c0.first_c, c0.last_c), period_days) + 1)) AS i
        ARRAY JOIN range(1, toUInt64(periods) + 1) AS n
    )
SELECT x.tenant_id AS tenant_id,
       toDate(x.cohort) AS cohort,
       coalesce(s.users, 0) AS users,
       x.period_n AS period_n,
       if(x.cohort + toIntervalDay(x.period_n * period_days) <= p_last_day, coalesce(r.returned, 0), NULL) AS returned,
       if(x.cohort + toIntervalDay(x.period_n * period_days) <= p_last_day, coalesce(r.returned, 0) / nullIf(s.users, 0), NULL) AS share
FROM cells AS x
LEFT JOIN sizes AS s ON s.tenant_id = x.tenant_id AND s.cohort = x.cohort
LEFT JOIN returned AS r ON r.tenant_id = x.tenant_id AND r.cohort = x.cohort AND r.period_n = x.period_n
ORDER BY x.tenant_id, x.cohort, x.period_n
SETTINGS join_use_nulls = 1
