-- user_days.gap_days: for each active (tenant, user, day), the days since
-- that user's previous active day in the tenant, capped at 30 (30 when
-- there is none). With it, weekly and monthly active users come from one
-- scan and a histogram by (day, gap_days), without sorting each user's
-- days at query time: the 7- and 30-day windows a day opens overlap the
-- previous day's by 7 - gap and 30 - gap days (see metrics/active.sql).
-- The rollup refresh keeps it: new rows get their gap on insert
-- (refresh/01_user_days.sql); rows after a late-arriving day are corrected
-- (rollups/correct_gaps.sql).
--
-- DuckDB cannot add a NOT NULL column to a table with rows, so the table
-- is rebuilt, in day order as the refresh appends.
CREATE TABLE user_days_next (
    tenant_id VARCHAR  NOT NULL,
    day       DATE     NOT NULL,
    user_id   VARCHAR  NOT NULL,
    gap_days  UTINYINT NOT NULL
);

INSERT INTO user_days_next
SELECT tenant_id, day, user_id,
       CAST(least(coalesce(day - lag(day) OVER (PARTITION BY tenant_id, user_id ORDER BY day), 30), 30) AS UTINYINT)
FROM user_days
ORDER BY day, tenant_id, user_id;

DROP TABLE user_days;

ALTER TABLE user_days_next RENAME TO user_days;
