-- The row groups of Parquet file $1 in file order, with their row counts:
-- backfill reads the file one row group (or a slice of a big one) at a
-- time, so that memory does not grow with the file.
SELECT row_group_id, any_value(row_group_num_rows) AS num_rows
FROM parquet_metadata($1)
GROUP BY row_group_id
ORDER BY row_group_id;
