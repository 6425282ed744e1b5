-- Correct user_days.gap_days of the stored days that follow a day this
-- refresh added (a late event, a backfill, a refresh across midnight):
-- recompute the gap of each day in ($1, $2 + 30] as the distance to the
-- day before it. That day is at most 30 days back or the gap is capped,
-- so the days from $1 - 30 suffice; one sort by user and day (lag) finds
-- it, where a join of each day to its user's month before fans out by the
-- user's active days. The refresh runs it only when stored_after.sql
-- found stored days after $1 (never in time-ordered ingest).
UPDATE user_days
SET gap_days = fix.gap_days
FROM (
    SELECT tenant_id, user_id, day, gap_days
    FROM (
        SELECT tenant_id, user_id, day, gap_days AS stored,
               CAST(least(coalesce(day - lag(day) OVER (PARTITION BY tenant_id, user_id ORDER BY day), 30), 30) AS UTINYINT) AS gap_days
        FROM user_days
        WHERE day >= CAST($1 AS DATE) - 30 AND day <= CAST($2 AS DATE) + 30
    )
    WHERE day > CAST($1 AS DATE) AND gap_days != stored
) fix
WHERE user_days.tenant_id = fix.tenant_id
  AND user_days.user_id = fix.user_id
  AND user_days.day = fix.day;
