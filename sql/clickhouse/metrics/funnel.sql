-- Ordered funnel over the event names in $steps: the ClickHouse twin of
-- sql/duckdb/metrics/funnel.sql (same columns, order and meaning), which
-- was written to match windowFunnel's default mode.
--   * hits: events FINAL (a redelivered copy is one event) of the steps'
--     names, step 1 in [$start_ms, $end_ms), later steps up to one window
--     past $end_ms; each event is at most one step (query.Funnel refuses a
--     name given twice);
--   * a user's level is windowFunnel($window_ms)(ts_ms, step = 1, ...,
--     step = 32): conditions past the last step never hold, so the level
--     stops at the number of steps;
--   * the shortest duration to each step comes from one pass (arrayFold)
--     over the user's hits sorted by (ts_ms, step): anchors[k] is the
--     latest step-1 time among the chains that reach step k so far (a
--     step-k hit continues the chains that reached step k-1 at or before
--     it, the same millisecond included, if the latest of their anchors is
--     within the window), durations[k] the shortest hit - anchor; -1 means
--     not reached. It is the recursion of the DuckDB statement, run per
--     user in time order;
--   * the median is quantileExactInclusive(0.5), the R-7 definition of
--     DuckDB's quantile_cont: the middle value or the mean of the two.
WITH
    fromUnixTimestamp64Milli(toInt64({start_ms:Int64}), 'UTC') AS start_ts,
    fromUnixTimestamp64Milli(toInt64({end_ms:Int64}), 'UTC') AS end_ts,
    toInt64({window_ms:Int64}) AS window_ms,
    {steps:Array(String)} AS steps,
    length({steps:Array(String)}) AS n_steps,
    hits AS (
        SELECT toString(e.tenant_id) AS tenant_id, e.user_id AS user_id,
               toInt64(toUnixTimestamp64Milli(e.ts)) AS t,
               toUInt8(indexOf(steps, toString(e.event))) AS step
        FROM {db:Identifier}.events AS e FINAL
        WHERE e.ts >= fromUnixTimestamp64Milli(toInt64({start_ms:Int64}), 'UTC')
          AND e.ts < fromUnixTimestamp64Milli(toInt64({end_ms:Int64}) + toInt64({window_ms:Int64}), 'UTC')
          AND has({steps:Array(String)}, toString(e.event))
          AND (indexOf(steps, toString(e.event)) > 1 OR e.ts < end_ts)
          AND ({tenant:Nullable(String)} IS NULL OR e.tenant_id = {tenant:Nullable(String)})
    ),
    per_user AS (
        SELECT tenant_id, user_id,
               windowFunnel(toUInt64(window_ms))(toUInt64(t), step = 1, step = 2, step = 3, step = 4, step = 5, step = 6, step = 7, step = 8, step = 9, step = 10, step = 11, step = 12, step = 13, step = 14, step = 15, step = 16, step = 17, step = 18, step = 19, step = 20, step = 21, step = 22, step = 23, step = 24, step = 25, step = 26, step = 27, step = 28, step = 29, step = 30, step = 31, step = 32) AS level,
               arrayFold((acc, x) -> if(x.2 = 1,
                       (arrayConcat([x.1], arraySlice(acc.1, 2)), arrayConcat([toInt64(0)], arraySlice(acc.2, 2))),
                       if(acc.1[x.2 - 1] >= 0 AND x.1 - acc.1[x.2 - 1] <= window_ms,
                          (arrayConcat(arraySlice(acc.1, 1, x.2 - 1), [greatest(acc.1[x.2], acc.1[x.2 - 1])], arraySlice(acc.1, x.2 + 1)),
                           arrayConcat(arraySlice(acc.2, 1, x.2 - 1),
                                       [if(acc.2[x.2] < 0, x.1 - acc.1[x.2 - 1], least(acc.2[x.2], x.1 - acc.1[x.2 - 1]))],
                                       arraySlice(acc.2, x.2 + 1))),
                          acc)),
                   arraySort(groupArray((t, step))),
                   (arrayWithConstant(n_steps, toInt64(-1)), arrayWithConstant(n_steps, toInt64(-1)))).2 AS durations
        FROM hits
        GROUP BY tenant_id, user_id
    ),
    per_step AS (
        SELECT tenant_id, toUInt64(k) AS step,
               countIf(level >= k) AS users,
               quantileExactInclusiveIf(0.5)(toFloat64(durations[k]), durations[k] >= 0) AS median_ms,
               countIf(durations[k] >= 0) AS reached
        FROM per_user
        ARRAY JOIN arrayEnumerate(durations) AS k
        GROUP BY tenant_id, step
    ),
    tenants AS (
        SELECT assumeNotNull({tenant:Nullable(String)}) AS tenant_id WHERE {tenant:Nullable(String)} IS NOT NULL
        UNION DISTINCT
        SELECT DISTINCT tenant_id FROM hits WHERE {tenant:Nullable(String)} IS NULL AND step = 1
    ),
    grid AS (
        SELECT t.tenant_id AS tenant_id, toUInt64(s) AS step, steps[s] AS event,
               coalesce(ps.users, 0) AS users,
               if(coalesce(ps.reached, 0) > 0, ps.median_ms, NULL) AS median_ms
        FROM tenants AS t
        ARRAY JOIN arrayEnumerate(steps) AS s
        LEFT JOIN per_step AS ps ON ps.tenant_id = t.tenant_id AND ps.step = toUInt64(s)
    )
SELECT tenant_id,
       toInt64(step) AS step,
       event,
       toInt64(users) AS users,
       users / nullIf(if(step = 1, users, lagInFrame(users) OVER w), 0) AS conversion_from_previous,
       users / nullIf(first_value(users) OVER w, 0) AS conversion_from_first,
       median_ms / 1000.0 AS median_seconds_from_first
FROM grid
WINDOW w AS (PARTITION BY tenant_id ORDER BY step ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
ORDER BY tenant_id, step
SETTINGS join_use_nulls = 1
