-- Daily active users per tenant: today (UTC) so far, and yesterday up to
-- the same time of day, so that the two compare like for like (events
-- dated ahead of now count in neither).
-- $now_us is the reading's time, microseconds since the epoch (UTC).
-- Reads the raw events of the last two UTC days (per-block min/max of ts
-- skip the rest; the bounds are written out, not joined in, so that they
-- are constants the scan can prune with): the user_days rollup has no time
-- of day, which the yesterday figure needs.
SELECT tenant_id,
       count(DISTINCT user_id) FILTER (
           WHERE ts >= CAST(make_timestamp($now_us) AS DATE)
             AND ts <= make_timestamp($now_us)) AS dau_today,
       count(DISTINCT user_id) FILTER (
           WHERE ts < CAST(make_timestamp($now_us) AS DATE)
             AND ts <= make_timestamp($now_us) - INTERVAL 1 DAY) AS dau_yesterday_same_time
FROM events
WHERE ts >= CAST(make_timestamp($now_us) AS DATE) - INTERVAL 1 DAY
  AND ts < CAST(make_timestamp($now_us) AS DATE) + INTERVAL 1 DAY
GROUP BY tenant_id
ORDER BY tenant_id;
