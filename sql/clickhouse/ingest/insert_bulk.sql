-- One step of backfill's bulk lane: the rows as a Parquet body, sent over
-- HTTP (see migrations/0005_backfill_bulk.sql). parallel_view_processing
-- lets the engine feed the rollup views of events side by side instead of
-- one after another.
INSERT INTO {{database}}.events_bulk SETTINGS parallel_view_processing = 1 FORMAT Parquet
