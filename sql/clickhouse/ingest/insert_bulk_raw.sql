-- One step of backfill's bulk lane from a file whose objects hold many
-- numbers JSONExtract would rewrite (see migrations/0006_backfill_bulk_raw.sql);
-- otherwise as insert_bulk.sql.
INSERT INTO {{database}}.events_bulk_raw SETTINGS parallel_view_processing = 1 FORMAT Parquet
