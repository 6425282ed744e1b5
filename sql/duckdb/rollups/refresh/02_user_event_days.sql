-- Add to user_event_days the (tenant, day, event, user) keys of the events
-- committed in (ingested_at $1, $2] that it does not hold yet, reading it
-- only for the new events' days [$3, $4] (see 01_user_days.sql).
INSERT INTO user_event_days
SELECT f.tenant_id, f.day, f.event, f.user_id
FROM (
    SELECT DISTINCT tenant_id, CAST(ts AS DATE) AS day, event, user_id
    FROM events
    WHERE ingested_at > $1 AND ingested_at <= $2
) f
ANTI JOIN (
    SELECT tenant_id, day, event, user_id
    FROM user_event_days
    WHERE day BETWEEN $3 AND $4
) r ON r.day = f.day AND r.tenant_id = f.tenant_id AND r.event = f.event AND r.user_id = f.user_id
ORDER BY f.day;
