-- Add to user_days the (tenant, day, user) keys of the events committed in
-- (ingested_at $1, $2] that it does not hold yet. ingested_at grows with
-- every commit, so zonemaps limit the read to the new rows; user_days is
-- read only for the new events' days [$3, $4] and the 30 days before, so
-- the cost follows the new events, not the table.
-- gap_days is the days since the user's previous active day, stored or
-- new, capped at 30 (30 when there is none); correct_gaps.sql corrects
-- the stored days that follow a new one.
INSERT INTO user_days (tenant_id, day, user_id, gap_days)
WITH fresh AS (
    SELECT f.tenant_id, f.day, f.user_id
    FROM (
        SELECT DISTINCT tenant_id, CAST(ts AS DATE) AS day, user_id
        FROM events
        WHERE ingested_at > $1 AND ingested_at <= $2
    ) f
    ANTI JOIN (
        SELECT tenant_id, day, user_id
        FROM user_days
        WHERE day BETWEEN $3 AND $4
    ) r ON r.day = f.day AND r.tenant_id = f.tenant_id AND r.user_id = f.user_id
),
known AS (
    SELECT r.tenant_id, r.day, r.user_id
    FROM user_days r
    SEMI JOIN (SELECT DISTINCT tenant_id, user_id FROM fresh) u
           ON u.tenant_id = r.tenant_id AND u.user_id = r.user_id
    WHERE r.day >= CAST($3 AS DATE) - 30 AND r.day <= $4
    UNION ALL
    SELECT tenant_id, day, user_id FROM fresh
)
SELECT f.tenant_id, f.day, f.user_id,
       CAST(least(coalesce(f.day - max(k.day), 30), 30) AS UTINYINT) AS gap_days
FROM fresh f
LEFT JOIN known k
       ON k.tenant_id = f.tenant_id AND k.user_id = f.user_id
      AND k.day < f.day AND k.day >= f.day - 30
GROUP BY f.tenant_id, f.day, f.user_id
ORDER BY f.day;
