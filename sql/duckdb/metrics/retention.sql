-- Retention by cohort, from the rollup user_event_days.
--   cohort   = the $period ('day', or 'week' = ISO week from Monday) of a
--              user's first $start_event ever, for users whose first one
--              falls in [$first_day, $last_day]; every period of the range
--              is a cohort, empty ones included
--   users    = users in the cohort
--   period_n = 1 .. $periods: periods after the cohort's
--   returned = cohort users with a $return_event in period cohort + n;
--              NULL when that period starts after $last_day (not observed
--              yet); return events after $last_day do not count
--   share    = returned / users (NULL when either is NULL or users = 0)
-- Per tenant: the same user_id in two tenants is two users.
WITH params AS (
    SELECT CAST($first_day AS DATE) AS first_day,
           CAST($last_day AS DATE) AS last_day,
           CAST($tenant AS VARCHAR) AS tenant,
           CAST($start_event AS VARCHAR) AS start_event,
           CAST($return_event AS VARCHAR) AS return_event,
           CAST($period AS VARCHAR) AS period,
           CAST($periods AS INTEGER) AS periods,
           CASE CAST($period AS VARCHAR) WHEN 'week' THEN 7 ELSE 1 END AS period_days
),
firsts AS (
    SELECT r.tenant_id, r.user_id, min(r.day) AS first_day
    FROM user_event_days r
    WHERE r.event = CAST($start_event AS VARCHAR)
      AND (CAST($tenant AS VARCHAR) IS NULL OR r.tenant_id = $tenant)
      AND r.day <= CAST($last_day AS DATE)
    GROUP BY r.tenant_id, r.user_id
),
members AS (
    SELECT f.tenant_id, f.user_id, CAST(date_trunc(p.period, f.first_day) AS DATE) AS cohort
    FROM firsts f, params p
    WHERE f.first_day >= p.first_day
),
returns AS (
    SELECT DISTINCT r.tenant_id, r.user_id, CAST(date_trunc(p.period, r.day) AS DATE) AS period_start
    FROM user_event_days r
    CROSS JOIN params p
    WHERE r.event = CAST($return_event AS VARCHAR)
      AND (CAST($tenant AS VARCHAR) IS NULL OR r.tenant_id = $tenant)
      AND r.day BETWEEN CAST($first_day AS DATE) AND CAST($last_day AS DATE)
),
returned AS (
    SELECT m.tenant_id, m.cohort,
           CAST((x.period_start - m.cohort) / p.period_days AS INTEGER) AS period_n,
           count(*) AS returned
    FROM members m
    JOIN returns x ON x.tenant_id = m.tenant_id AND x.user_id = m.user_id AND x.period_start > m.cohort
    CROSS JOIN params p
    GROUP BY ALL
),
sizes AS (
    SELECT tenant_id, cohort, count(*) AS users FROM members GROUP BY ALL
),
{{template "tenants" "members"}},
cohorts AS (
    SELECT t.tenant_id,
           CAST(date_trunc(p.period, p.first_day) AS DATE) + CAST(c.i * p.period_days AS INTEGER) AS cohort
    FROM tenants t, params p,
         (SELECT unnest(range(0, (CAST(date_trunc(period, last_day) AS DATE) - CAST(date_trunc(period, first_day) AS DATE)) // period_days + 1)) AS i FROM params) c
),
cells AS (
    SELECT c.tenant_id, c.cohort, CAST(n.n AS INTEGER) AS period_n
    FROM cohorts c, (SELECT unnest(range(1, periods + 1)) AS n FROM params) n
)
SELECT x.tenant_id,
       x.cohort,
       CAST(coalesce(s.users, 0) AS BIGINT) AS users,
       x.period_n,
       CASE WHEN x.cohort + x.period_n * p.period_days <= p.last_day
            THEN CAST(coalesce(r.returned, 0) AS BIGINT) END AS returned,
       CASE WHEN x.cohort + x.period_n * p.period_days <= p.last_day
            THEN coalesce(r.returned, 0) / nullif(s.users, 0) END AS share
FROM cells x
CROSS JOIN params p
LEFT JOIN sizes s ON s.tenant_id = x.tenant_id AND s.cohort = x.cohort
LEFT JOIN returned r ON r.tenant_id = x.tenant_id AND r.cohort = x.cohort AND r.period_n = x.period_n
ORDER BY x.tenant_id, x.cohort, x.period_n;
