-- Feature adoption per $period from the rollups: the ClickHouse twin of
-- sql/duckdb/metrics/adoption.sql (same columns, order and meaning).
-- Translation notes:
--   * user_days / user_event_days are ReplacingMergeTrees whose repeats
--     (a user's many events of a day, redelivered blocks) may not be merged
--     yet: active and feature users are uniqExact(user_id), firsts are
--     min(day) per user, so repeats never count twice;
--   * periods: the day itself, toMonday (ISO week), toStartOfMonth.
WITH
    {first_day:Date} AS p_first_day,
    {last_day:Date} AS p_last_day,
    {period:String} AS p_period,
    active AS (
        SELECT toString(tenant_id) AS tenant_id,
               multiIf(p_period = 'day', day, p_period = 'week', toMonday(day), toStartOfMonth(day)) AS period_start,
               toInt64(uniqExact(user_id)) AS users
        FROM {db:Identifier}.user_days
        WHERE ({tenant:Nullable(String)} IS NULL OR tenant_id = {tenant:Nullable(String)})
          AND day BETWEEN {first_day:Date} AND {last_day:Date}
        GROUP BY tenant_id, period_start
    ),
    used AS (
        SELECT toString(tenant_id) AS tenant_id,
               multiIf(p_period = 'day', day, p_period = 'week', toMonday(day), toStartOfMonth(day)) AS period_start,
               toInt64(uniqExact(user_id)) AS users
        FROM {db:Identifier}.user_event_days
        WHERE event = {feature:String}
          AND ({tenant:Nullable(String)} IS NULL OR tenant_id = {tenant:Nullable(String)})
          AND day BETWEEN {first_day:Date} AND {last_day:Date}
        GROUP BY tenant_id, period_start
    ),
    firsts AS (
        SELECT toString(tenant_id) AS tenant_id, user_id, min(day) AS first_day
        FROM {db:Identifier}.user_event_days
        WHERE event = {feature:String}
          AND ({tenant:Nullable(String)} IS NULL OR tenant_id = {tenant:Nullable(String)})
          AND day <= {last_day:Date}
        GROUP BY tenant_id, user_id
    ),
    {{template "tenants" "active"}},
    p0 AS (
        SELECT multiIf(p_period = 'day', p_first_day, p_period = 'week', toMonday(p_first_day), toStartOfMonth(p_first_day)) AS first_p,
               multiIf(p_period = 'day', p_last_day, p_period = 'week', toMonday(p_last_day), toStartOfMonth(p_last_day)) AS last_p
    ),
    periods AS (
        SELECT t.tenant_id AS tenant_id,
               multiIf(p_period = 'month', addMonths(p0.first_p, n), p0.first_p + toIntervalDay(n * if(p_period = 'week', 7, 1))) AS period_start
        FROM tenants AS t
        CROSS JOIN p0
        ARRAY JOIN range(toUInt64(multiIf(p_period = 'day', dateDiff('day', p0.first_p, p0.last_p),
                                          p_period = 'week', intDiv(dateDiff('day', p0.first_p, p0.last_p), 7),
                                          dateDiff('month', p0.first_p, p0.last_p)) + 1)) AS n
    ),
    new_adopters AS (
        SELECT tenant_id,
               multiIf(p_period = 'day', first_day, p_period = 'week', toMonday(first_day), toStartOfMonth(first_day)) AS period_start,
               toInt64(count()) AS users
        FROM firsts
        WHERE first_day >= {first_day:Date}
        GROUP BY tenant_id, period_start
    ),
    earlier_adopters AS (
        SELECT tenant_id, toInt64(count()) AS users
        FROM firsts
        WHERE first_day < {first_day:Date}
        GROUP BY tenant_id
    ),
    joined AS (
        SELECT x.tenant_id AS tenant_id, x.period_start AS period_start,
               coalesce(a.users, 0) AS active_users,
               coalesce(u.users, 0) AS feature_users,
               coalesce(u.users, 0) / nullIf(a.users, 0) AS adoption_rate,
               coalesce(n.users, 0) AS new_adopters,
               coalesce(e.users, 0) AS earlier
        FROM periods AS x
        LEFT JOIN active AS a ON a.tenant_id = x.tenant_id AND a.period_start = x.period_start
        LEFT JOIN used AS u ON u.tenant_id = x.tenant_id AND u.period_start = x.period_start
        LEFT JOIN new_adopters AS n ON n.tenant_id = x.tenant_id AND n.period_start = x.period_start
        LEFT JOIN earlier_adopters AS e ON e.tenant_id = x.tenant_id
    )
SELECT tenant_id,
       toDate(period_start) AS period,
       toInt64(active_users) AS active_users,
       toInt64(feature_users) AS feature_users,
       adoption_rate,
       toInt64(new_adopters) AS new_adopters,
       toInt64(earlier + sum(new_adopters) OVER (PARTITION BY tenant_id ORDER BY period_start
                                                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) AS total_adopters
FROM joined
ORDER BY tenant_id, period_start
SETTINGS join_use_nulls = 1
