-- Feature adoption per $period ('day', 'week' = ISO week from Monday,
-- 'month'), from the rollups, over the days [$first_day, $last_day] (a
-- period at either end counts only its days inside the range):
--   active_users   = distinct users with any event in the period
--   feature_users  = distinct users with a $feature event in the period
--   adoption_rate  = feature_users / active_users (NULL when no one was active)
--   new_adopters   = users whose first $feature event ever falls in the period
--   total_adopters = users whose first $feature event ever falls before the
--                    end of the period (adopters to date, counted up to $last_day)
-- Per tenant: the same user_id in two tenants is two users.
WITH params AS (
    SELECT CAST($first_day AS DATE) AS first_day,
           CAST($last_day AS DATE) AS last_day,
           CAST($tenant AS VARCHAR) AS tenant,
           CAST($feature AS VARCHAR) AS feature,
           CAST($period AS VARCHAR) AS period
),
active AS (
    SELECT r.tenant_id, CAST(date_trunc(p.period, r.day) AS DATE) AS period_start, count(DISTINCT r.user_id) AS users
    FROM user_days r
    CROSS JOIN params p
    WHERE (CAST($tenant AS VARCHAR) IS NULL OR r.tenant_id = $tenant)
      AND r.day BETWEEN CAST($first_day AS DATE) AND CAST($last_day AS DATE)
    GROUP BY ALL
),
used AS (
    SELECT r.tenant_id, CAST(date_trunc(p.period, r.day) AS DATE) AS period_start, count(DISTINCT r.user_id) AS users
    FROM user_event_days r
    CROSS JOIN params p
    WHERE r.event = CAST($feature AS VARCHAR)
      AND (CAST($tenant AS VARCHAR) IS NULL OR r.tenant_id = $tenant)
      AND r.day BETWEEN CAST($first_day AS DATE) AND CAST($last_day AS DATE)
    GROUP BY ALL
),
firsts AS (
    SELECT r.tenant_id, r.user_id, min(r.day) AS first_day
    FROM user_event_days r
    WHERE r.event = CAST($feature AS VARCHAR)
      AND (CAST($tenant AS VARCHAR) IS NULL OR r.tenant_id = $tenant)
      AND r.day <= CAST($last_day AS DATE)
    GROUP BY ALL
),
{{template "tenants" "active"}},
periods AS (
    SELECT t.tenant_id, CAST(g.period_start AS DATE) AS period_start
    FROM tenants t,
         (SELECT unnest(generate_series(date_trunc(period, first_day), date_trunc(period, last_day),
                 CASE period WHEN 'day' THEN INTERVAL 1 DAY WHEN 'week' THEN INTERVAL 7 DAY ELSE INTERVAL 1 MONTH END)) AS period_start
          FROM params) g
),
new_adopters AS (
    SELECT f.tenant_id, CAST(date_trunc(p.period, f.first_day) AS DATE) AS period_start, count(*) AS users
    FROM firsts f, params p
    WHERE f.first_day >= p.first_day
    GROUP BY ALL
),
earlier_adopters AS (
    SELECT f.tenant_id, count(*) AS users
    FROM firsts f, params p
    WHERE f.first_day < p.first_day
    GROUP BY ALL
)
SELECT x.tenant_id,
       x.period_start AS period,
       CAST(coalesce(a.users, 0) AS BIGINT) AS active_users,
       CAST(coalesce(u.users, 0) AS BIGINT) AS feature_users,
       coalesce(u.users, 0) / nullif(a.users, 0) AS adoption_rate,
       CAST(coalesce(n.users, 0) AS BIGINT) AS new_adopters,
       CAST(coalesce(e.users, 0) + sum(coalesce(n.users, 0)) OVER (PARTITION BY x.tenant_id ORDER BY x.period_start
                                                                   ROWS UNBOUNDED PRECEDING) AS BIGINT) AS total_adopters
FROM periods x
LEFT JOIN active a ON a.tenant_id = x.tenant_id AND a.period_start = x.period_start
LEFT JOIN used u ON u.tenant_id = x.tenant_id AND u.period_start = x.period_start
LEFT JOIN new_adopters n ON n.tenant_id = x.tenant_id AND n.period_start = x.period_start
LEFT JOIN earlier_adopters e ON e.tenant_id = x.tenant_id
ORDER BY x.tenant_id, x.period_start;
