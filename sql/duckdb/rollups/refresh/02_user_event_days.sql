-- Add to user_event_days the (tenant, day, event, user) keys of the
-- batch's new events that it does not hold yet, comparing only rows of the
-- batch's own days.
INSERT INTO user_event_days
SELECT DISTINCT k.tenant_id, CAST(k.ts AS DATE) AS day, k.event, k.user_id
FROM batch_keys k
WHERE NOT EXISTS (
    SELECT 1
    FROM user_event_days r
    WHERE r.day BETWEEN (SELECT CAST(min(ts) AS DATE) FROM batch_keys)
                    AND (SELECT CAST(max(ts) AS DATE) FROM batch_keys)
      AND r.day = CAST(k.ts AS DATE)
      AND r.tenant_id = k.tenant_id
      AND r.event = k.event
      AND r.user_id = k.user_id
);
