-- Whether column $2 of Parquet file $1 may hold nulls, from its footer
-- (no rows are decoded): not when the schema requires a value (as
-- ClickHouse writes non-Nullable columns), else by the row groups' null
-- counts, NULL (maybe) when one has none or the column is not found.
-- A wrong "no" costs speed alone: a row without an id goes to the
-- contract.
SELECT CASE
    WHEN (SELECT any_value(repetition_type) FROM parquet_schema($1) WHERE name = $2) = 'REQUIRED' THEN false
    ELSE (SELECT bool_or(stats_null_count IS NULL OR stats_null_count > 0) FROM parquet_metadata($1) WHERE path_in_schema = $2)
END;
