-- Backfill's bulk lane (pulse backfill into ClickHouse over HTTP): pulse
-- checks a Parquet or CSV file with DuckDB, step by step, and sends the
-- rows it found certainly valid as one Parquet body per step into
-- events_bulk, sorted by the events table's sorting key so that the insert
-- finds its block already sorted. The view below turns properties and
-- context, JSON text in the body, into the events table's maps; the engine
-- does it while it stores the step, and pulse never builds the maps row by
-- row.
--
-- JSONExtract renders a number from its parsed value (1.50 becomes "1.5"),
-- where the Kafka path's JSONEachRow and pulse's own batches keep it as
-- written. The bulk lane therefore sends here only objects whose numbers
-- read back as written (sql/duckdb/backfill/bulk.sql, "number"); objects
-- with other numbers reach events through pulse's batches.
CREATE TABLE IF NOT EXISTS {{database}}.events_bulk
(
    tenant_id     String,
    ts            DateTime64(3, 'UTC'),
    event         String,
    user_id       String,
    session_id    String,
    event_id      UUID,
    event_version UInt32,
    properties    String,
    context       String
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.events_bulk_mv
TO {{database}}.events
AS SELECT
    tenant_id,
    ts,
    event,
    user_id,
    session_id,
    event_id,
    event_version,
    JSONExtract(properties, 'Map(String, String)') AS properties,
    JSONExtract(context, 'Map(String, String)') AS context
FROM {{database}}.events_bulk;
