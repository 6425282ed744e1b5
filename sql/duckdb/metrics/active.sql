-- Active users per UTC day D from $first_day to $last_day:
--   dau = distinct users with an event on D
--   wau = distinct users with an event in [D-6, D]
--   mau = distinct users with an event in [D-29, D]
--   stickiness = dau / mau (NULL when mau = 0)
-- $event (NULL = any event) restricts the events that make a user active.
-- $tenant (NULL = every tenant) selects the tenant; users are counted per
-- tenant, so the same user_id in two tenants is two users.
-- Reads the rollups user_days / user_event_days, never the raw events.
WITH params AS (
    SELECT CAST($first_day AS DATE) AS first_day,
           CAST($last_day AS DATE) AS last_day,
           CAST($tenant AS VARCHAR) AS tenant,
           CAST($event AS VARCHAR) AS event_name
),
-- One row per tenant, user and active day: the report days and the 29 days
-- before them (MAU's look-back).
activity AS (
    SELECT r.tenant_id, r.user_id, r.day
    FROM user_days r, params p
    WHERE p.event_name IS NULL
      AND (p.tenant IS NULL OR r.tenant_id = p.tenant)
      AND r.day BETWEEN p.first_day - 29 AND p.last_day
    UNION ALL
    SELECT r.tenant_id, r.user_id, r.day
    FROM user_event_days r, params p
    WHERE r.event = p.event_name
      AND (p.tenant IS NULL OR r.tenant_id = p.tenant)
      AND r.day BETWEEN p.first_day - 29 AND p.last_day
),
-- A user is in the w-day window ending on D when one of their active days
-- a has a <= D < a + w. Each active day a, followed by the user's next
-- active day n, adds the days [a, least(a + w, n)) that the earlier active
-- days did not cover, so per user these spans never overlap and the count
-- on D is a running sum of +1 at each span's start and -1 at its end.
spans AS (
    SELECT tenant_id, day,
           lead(day) OVER (PARTITION BY tenant_id, user_id ORDER BY day) AS next_day
    FROM activity
),
changes AS (
    SELECT tenant_id, day,
           count(*) AS dau,
           count(*) - count(*) FILTER (WHERE wau_end = day) AS wau_change,
           count(*) - count(*) FILTER (WHERE mau_end = day) AS mau_change
    FROM (
        SELECT tenant_id, day, NULL AS wau_end, NULL AS mau_end FROM spans
        UNION ALL
        SELECT tenant_id, least(day + 7, coalesce(next_day, day + 7)), NULL, least(day + 7, coalesce(next_day, day + 7)) FROM spans WHERE false
    )
    GROUP BY ALL
),
tenants AS (
    SELECT tenant FROM params WHERE tenant IS NOT NULL
    UNION
    SELECT DISTINCT tenant_id FROM activity, params WHERE params.tenant IS NULL
)
SELECT 1
