-- Raw events: one row per accepted event, the source of truth that the
-- rollups are built from and that metrics fall back to.
--
-- Engine: ReplacingMergeTree, not MergeTree. Kafka delivers at least once (a
-- consumer that dies between writing a block and committing its offsets
-- re-reads it), so the same event can be inserted twice. Both copies have
-- the same sorting key, so merges keep one of them. Merges run whenever
-- ClickHouse likes, so readers that count events must not trust a plain
-- count(): read `events FINAL` (exact, merges at read time) or count
-- distinct event_id. uniqExact(user_id) is right either way.
-- No version column: the copies are identical but for ingested_at, and
-- which one survives does not matter.
--
-- Sorting key (tenant_id, toDate(ts), event, user_id, ts, event_id):
--   tenant_id first: every query and every row policy is per tenant, so a
--     tenant's rows are one contiguous range of the index;
--   toDate(ts) next: time-range scans within a tenant skip whole days;
--   event: per-event scans (funnel steps, adoption of one feature) read
--     only that event's granules of each day;
--   user_id: a user's events of a day sit together, which helps uniq and
--     compression;
--   ts, event_id: make the key unique per event, which is what
--     ReplacingMergeTree deduplicates on (the embedded store's duplicate key
--     is the same: tenant_id, event_id, ts).
-- The primary index keeps only the first four (ts and event_id would
-- make it big and do not help pruning).
--
-- properties and context are Map(LowCardinality(String), String), not a
-- JSON string: the contract keeps them flat (scalar values only), so a map
-- holds them exactly; properties['plan'] reads one key without parsing JSON
-- per row, and keys repeat so LowCardinality keys compress well. Values are
-- the JSON scalars as text ("3", "true"; JSON null becomes ""); metrics
-- cast with toFloat64OrNull() where they need numbers.
CREATE TABLE IF NOT EXISTS {{database}}.events
(
    tenant_id     LowCardinality(String),
    ts            DateTime64(3, 'UTC'),
    event         LowCardinality(String),
    user_id       String,
    session_id    String,
    event_id      UUID,
    event_version UInt32,
    properties    Map(LowCardinality(String), String),
    context       Map(LowCardinality(String), String),
    -- When ClickHouse stored the row: freshness is max(ingested_at).
    ingested_at   DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
PRIMARY KEY (tenant_id, toDate(ts), event, user_id)
ORDER BY (tenant_id, toDate(ts), event, user_id, ts, event_id)
TTL toDateTime(ts) + INTERVAL {{retention_days}} DAY;
