-- Ordered funnel over the event names in $steps, with the semantics of
-- ClickHouse windowFunnel($window_ms)(ts_ms, step1, step2, ...) in its
-- default mode, so that both stores agree:
--   * a chain starts at a step-1 event in [$start_ms, $end_ms) and goes on
--     through events of steps 2, 3, ... in order: each at the same
--     millisecond as the previous step or later, other events in between
--     allowed, and each at most $window_ms after the chain's step-1 event
--     (exactly $window_ms still counts), which may reach past $end_ms;
--   * a user's level is the longest chain they complete.
--   users      = users whose level is >= the step
--   conversion_from_previous = users / users of the previous step
--   conversion_from_first    = users / users of step 1
--   median_seconds_from_first = over the users at the step, the median of
--     each user's shortest chain duration to the step (step event minus
--     step-1 event), in seconds; median is the middle value, or the mean of
--     the two middle ones
-- Per tenant: the same user_id in two tenants is two users.
WITH RECURSIVE
params AS (
    SELECT epoch_ms(CAST($start_ms AS BIGINT)) AS start_ts,
           epoch_ms(CAST($end_ms AS BIGINT)) AS end_ts,
           CAST($window_ms AS BIGINT) AS window_ms,
           CAST($steps AS VARCHAR[]) AS steps,
           CAST($tenant AS VARCHAR) AS tenant
),
steps AS (
    SELECT unnest(steps) AS event, unnest(range(1, len(steps) + 1)) AS step FROM params
),
-- Events that can take part in a chain: step 1 in range, later steps up
-- to one window past its end.
hits AS (
    SELECT e.tenant_id, e.user_id, epoch_ms(e.ts) AS t, s.step
    FROM events e
    JOIN steps s ON s.event = e.event
    WHERE e.ts >= epoch_ms(CAST($start_ms AS BIGINT))
      AND e.ts < epoch_ms(CAST($end_ms AS BIGINT) + CAST($window_ms AS BIGINT))
      AND (s.step > 1 OR e.ts < epoch_ms(CAST($end_ms AS BIGINT)))
      AND list_contains(CAST($steps AS VARCHAR[]), e.event)
      AND (CAST($tenant AS VARCHAR) IS NULL OR e.tenant_id = $tenant)
),
-- reach holds, per step k, the chains that reach step k: the step-k event
-- time t and the chain's step-1 time (anchor). A step-k event continues
-- the chains reaching step k-1 at or before it (same millisecond included:
-- at equal times a lower step sorts first, as in windowFunnel); their
-- anchors only grow with time, so the latest is the running max, and if
-- even that one is more than a window back, none is in the window. Per
-- anchor only the earliest t is kept: later ones continue no chain that
-- the earliest does not, and only make the chain slower. That keeps the
-- rows carried from step to step down to about one per step-1 event.
reach(step, tenant_id, user_id, t, anchor) AS (
    SELECT 1, tenant_id, user_id, t, t FROM hits WHERE step = 1 GROUP BY tenant_id, user_id, t
    UNION ALL
    SELECT c.step, c.tenant_id, c.user_id, min(c.t), c.anchor
    FROM (
        SELECT step, tenant_id, user_id, t, is_hit,
               max(anchor) OVER (PARTITION BY tenant_id, user_id ORDER BY t, is_hit
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS anchor
        FROM (
            SELECT step + 1 AS step, tenant_id, user_id, t, 0 AS is_hit, anchor FROM reach
            UNION ALL
            SELECT h.step, h.tenant_id, h.user_id, h.t, 1 AS is_hit, NULL AS anchor
            FROM hits h
            WHERE h.step = (SELECT max(step) + 1 FROM reach)
        )
    ) c
    WHERE c.is_hit = 1 AND c.t - c.anchor <= CAST($window_ms AS BIGINT)
    GROUP BY c.step, c.tenant_id, c.user_id, c.anchor
),
-- One row per user and step reached, with the user's shortest duration.
reached AS (
    SELECT tenant_id, user_id, step, min(t - anchor) AS ms
    FROM reach
    GROUP BY tenant_id, user_id, step
),
per_step AS (
    SELECT tenant_id, step, count(*) AS users, quantile_cont(ms, 0.5) AS median_ms
    FROM reached
    GROUP BY tenant_id, step
),
tenants AS (
    SELECT tenant AS tenant_id FROM params WHERE tenant IS NOT NULL
    UNION
    SELECT DISTINCT h.tenant_id FROM hits h, params p WHERE p.tenant IS NULL AND h.step = 1
),
grid AS (
    SELECT t.tenant_id, s.step, s.event, coalesce(ps.users, 0) AS users, ps.median_ms
    FROM tenants t
    CROSS JOIN steps s
    LEFT JOIN per_step ps ON ps.tenant_id = t.tenant_id AND ps.step = s.step
)
SELECT tenant_id,
       CAST(step AS BIGINT) AS step,
       event,
       CAST(users AS BIGINT) AS users,
       users / nullif(coalesce(lag(users) OVER w, users), 0) AS conversion_from_previous,
       users / nullif(first_value(users) OVER w, 0) AS conversion_from_first,
       median_ms / 1000.0 AS median_seconds_from_first
FROM grid
WINDOW w AS (PARTITION BY tenant_id ORDER BY step)
ORDER BY tenant_id, step;
