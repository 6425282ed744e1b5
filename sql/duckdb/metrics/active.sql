-- Active users per UTC day D from $first_day to $last_day:
--   dau = distinct users with an event on D
--   wau = distinct users with an event in [D-6, D]
--   mau = distinct users with an event in [D-29, D]
--   stickiness = dau / mau (NULL when mau = 0)
-- $event (NULL = any event) restricts the events that make a user active.
-- $tenant (NULL = every tenant with activity) selects the tenant; users
-- are counted per tenant, so the same user_id in two tenants is two users.
-- Reads the rollups user_days / user_event_days, never the raw events.
-- Parameters appear in the WHERE clauses themselves, not through a joined
-- CTE, so that DuckDB filters while it scans.
--
-- How: a user is in the w-day window ending on D when one of their active
-- days a has a <= D < a + w. Given the user's previous active day p, day a
-- adds the days [max(a, p + w), a + w) that p's window does not already
-- cover, so per user these spans never overlap, and the count on D is the
-- number of spans begun on or before D minus those ended on or before D.
-- The span of a depends only on g = min(a - p, 30) (30 without p): it
-- starts at a + max(0, w - g) and ends at a + w. So a histogram of active
-- days by (day, g) gives all three counts.
WITH gaps AS (
    -- Any event: g is stored in user_days.gap_days by the rollup refresh.
    SELECT tenant_id, day, CAST(gap_days AS INTEGER) AS gap, count(*) AS n
    FROM user_days
    WHERE CAST($event AS VARCHAR) IS NULL
      AND (CAST($tenant AS VARCHAR) IS NULL OR tenant_id = $tenant)
      AND day BETWEEN CAST($first_day AS DATE) - 29 AND CAST($last_day AS DATE)
    GROUP BY ALL
    UNION ALL
    -- One event: g comes from each user's sorted list of active days (the
    -- look-back before the range can only shorten gaps of 30 or more,
    -- which count as 30 anyway, so the 29 days before $first_day suffice).
    SELECT tenant_id, day, gap, count(*) AS n
    FROM (
        SELECT tenant_id,
               unnest(days) AS day,
               unnest(list_concat([30], list_transform(days[2:], (d, i) -> CAST(least(d - days[i], 30) AS INTEGER)))) AS gap
        FROM (
            SELECT tenant_id, list_sort(list(day)) AS days
            FROM user_event_days
            WHERE event = CAST($event AS VARCHAR)
              AND (CAST($tenant AS VARCHAR) IS NULL OR tenant_id = $tenant)
              AND day BETWEEN CAST($first_day AS DATE) - 59 AND CAST($last_day AS DATE)
            GROUP BY tenant_id, user_id
        )
    )
    WHERE day >= CAST($first_day AS DATE) - 29
    GROUP BY ALL
),
changes AS (
    SELECT tenant_id, day, n AS dau, 0 AS wau, 0 AS mau FROM gaps
    UNION ALL
    SELECT tenant_id, day + greatest(7 - gap, 0), 0, n, 0 FROM gaps
    UNION ALL
    SELECT tenant_id, day + 7, 0, -n, 0 FROM gaps
    UNION ALL
    SELECT tenant_id, day + (30 - gap), 0, 0, n FROM gaps
    UNION ALL
    SELECT tenant_id, day + 30, 0, 0, -n FROM gaps
),
daily AS (
    SELECT tenant_id, day, sum(dau) AS dau, sum(wau) AS wau, sum(mau) AS mau
    FROM changes
    GROUP BY tenant_id, day
),
tenants AS (
    SELECT CAST($tenant AS VARCHAR) AS tenant_id WHERE CAST($tenant AS VARCHAR) IS NOT NULL
    UNION
    SELECT DISTINCT tenant_id FROM gaps WHERE CAST($tenant AS VARCHAR) IS NULL
),
days AS (
    SELECT tenant_id, CAST(CAST($first_day AS DATE) - 29 + CAST(i AS INTEGER) AS DATE) AS day
    FROM (
        SELECT tenant_id, unnest(range(0, CAST($last_day AS DATE) - CAST($first_day AS DATE) + 30)) AS i
        FROM tenants
    )
),
running AS (
    SELECT d.tenant_id, d.day,
           coalesce(c.dau, 0) AS dau,
           sum(coalesce(c.wau, 0)) OVER grid AS wau,
           sum(coalesce(c.mau, 0)) OVER grid AS mau
    FROM days d
    LEFT JOIN daily c ON c.tenant_id = d.tenant_id AND c.day = d.day
    WINDOW grid AS (PARTITION BY d.tenant_id ORDER BY d.day ROWS UNBOUNDED PRECEDING)
)
SELECT tenant_id,
       day,
       CAST(dau AS BIGINT) AS dau,
       CAST(wau AS BIGINT) AS wau,
       CAST(mau AS BIGINT) AS mau,
       CAST(dau AS DOUBLE) / nullif(mau, 0) AS stickiness
FROM running
WHERE day >= CAST($first_day AS DATE)
ORDER BY tenant_id, day;
