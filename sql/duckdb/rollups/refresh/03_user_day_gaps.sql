-- Correct user_days.gap_days of the stored days that follow a day this
-- refresh added (a late event, a backfill, a refresh across midnight):
-- recompute the gap of each day in ($3, $4 + 30] from the days before it.
-- In time-ordered ingest that range lies in the future and holds no rows,
-- so zonemaps on day make this a no-op.
-- The refresh binds the same four parameters to every statement; this one
-- needs only the days, and names $1 <= $2 (always true) so that DuckDB
-- takes all four.
UPDATE user_days
SET gap_days = fix.gap_days
FROM (
    SELECT s.tenant_id, s.user_id, s.day,
           CAST(least(coalesce(s.day - max(p.day), 30), 30) AS UTINYINT) AS gap_days,
           any_value(s.gap_days) AS stored
    FROM user_days s
    LEFT JOIN user_days p
           ON p.tenant_id = s.tenant_id AND p.user_id = s.user_id
          AND p.day < s.day AND p.day >= s.day - 30
          AND p.day >= CAST($3 AS DATE) - 30 AND p.day <= CAST($4 AS DATE) + 30
    WHERE s.day > $3 AND s.day <= CAST($4 AS DATE) + 30
    GROUP BY s.tenant_id, s.user_id, s.day
) fix
WHERE fix.gap_days != fix.stored
  AND $1 <= $2
  AND user_days.tenant_id = fix.tenant_id
  AND user_days.user_id = fix.user_id
  AND user_days.day = fix.day;
