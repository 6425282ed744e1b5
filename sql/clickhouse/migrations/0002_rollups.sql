-- Daily rollups, fed by materialized views on events: daily_active_users and
-- daily_event_counts (aggregates), user_days and user_event_days (who was
-- active). They exist before the Kafka ingest (0003) starts writing events,
-- so they see every row.
--
-- A materialized view sees each insert block on its own, and one day's rows
-- arrive in many blocks, so the rollups store mergeable partial aggregates,
-- never finished numbers:
--   daily_active_users keeps uniqExactState(user_id) per tenant, day and
--   event. Read it with uniqExactMerge: over the events of a day for DAU,
--   over 7 or 30 daily rows for WAU and MAU. Summing daily uniques would
--   count a user once per day. uniqExact, not uniq: the metrics are checked
--   for exact equality against the embedded store, and uniq is an estimate
--   (32-bit hashes, sampling past 65,536 values). The exact state holds each user id
--   of a day, which is fine at the scale of one self-hosted tenant-day.
--   Redelivered duplicates do not matter to a set of users.
--
--   daily_event_counts is a SummingMergeTree of count() per tenant, day and
--   event: cheap to keep and to read, but a redelivered Kafka block is
--   counted again (the view sees the duplicate before events merges it
--   away). Redelivery happens only when a consumer fails between writing and
--   committing, so these counts are for trends and dashboards; metrics that
--   must match the embedded store exactly count from events FINAL.
--
-- Each rollup has its own TTL (--rollup-retention-days): they are small, so
-- they can outlive the raw events.
CREATE TABLE IF NOT EXISTS {{database}}.daily_active_users
(
    tenant_id LowCardinality(String),
    day       Date,
    event     LowCardinality(String),
    users     AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day, event)
TTL day + INTERVAL {{rollup_retention_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.daily_active_users_mv
TO {{database}}.daily_active_users
AS SELECT
    tenant_id,
    toDate(ts) AS day,
    event,
    uniqExactState(user_id) AS users
FROM {{database}}.events
GROUP BY tenant_id, day, event;

CREATE TABLE IF NOT EXISTS {{database}}.daily_event_counts
(
    tenant_id LowCardinality(String),
    day       Date,
    event     LowCardinality(String),
    events    UInt64
)
ENGINE = SummingMergeTree(events)
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day, event)
TTL day + INTERVAL {{rollup_retention_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.daily_event_counts_mv
TO {{database}}.daily_event_counts
AS SELECT
    tenant_id,
    toDate(ts) AS day,
    event,
    count() AS events
FROM {{database}}.events
GROUP BY tenant_id, day, event;

-- user_days and user_event_days mirror the embedded store's rollups of the
-- same names: one row per tenant, UTC day (and event) and user that was
-- active. Retention, funnels and adoption need to know which users were
-- active, which a uniq state cannot tell. ReplacingMergeTree collapses the
-- repeats (a user's many events of a day, redelivered blocks) when parts
-- merge, so readers use FINAL, DISTINCT or uniqExact, never count().
CREATE TABLE IF NOT EXISTS {{database}}.user_days
(
    tenant_id LowCardinality(String),
    day       Date,
    user_id   String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day, user_id)
TTL day + INTERVAL {{rollup_retention_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.user_days_mv
TO {{database}}.user_days
AS SELECT DISTINCT
    tenant_id,
    toDate(ts) AS day,
    user_id
FROM {{database}}.events;

CREATE TABLE IF NOT EXISTS {{database}}.user_event_days
(
    tenant_id LowCardinality(String),
    day       Date,
    event     LowCardinality(String),
    user_id   String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day, event, user_id)
TTL day + INTERVAL {{rollup_retention_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.user_event_days_mv
TO {{database}}.user_event_days
AS SELECT DISTINCT
    tenant_id,
    toDate(ts) AS day,
    event,
    user_id
FROM {{database}}.events;
