-- Whether user_days holds a day after $1, the first day of the events a
-- refresh adds, and at most 30 days after their last day $2, before the
-- refresh adds its own: only such a day can follow a new day and need
-- its gap corrected (correct_gaps.sql). In time-ordered ingest and
-- backfill none does, and zonemaps on day answer without a scan.
SELECT EXISTS (
    SELECT 1 FROM user_days WHERE day > CAST($1 AS DATE) AND day <= CAST($2 AS DATE) + 30
);
