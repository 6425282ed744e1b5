-- Add to user_days the (tenant, day, user) keys of the events committed in
-- (ingested_at $1, $2] that it does not hold yet. ingested_at grows with
-- every commit, so zonemaps limit the read to the new rows; user_days is
-- read only for the new events' days [$3, $4], so the cost follows the new
-- events, not the table.
INSERT INTO user_days
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
ORDER BY f.day;
