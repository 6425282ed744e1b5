-- Rows [$2, $3) of Parquet file $1 (0-based file row numbers), in file
-- order (the reading connection runs one thread, so the scan is
-- sequential), each column rendered as JSON text: typed values keep their
-- JSON type, and backfill splices the cells into event JSON without
-- parsing whole rows. The filter on file_row_number lets DuckDB skip the
-- row groups outside the range.
SELECT CAST(to_json(COLUMNS(*)) AS VARCHAR)
FROM (
    SELECT * EXCLUDE (file_row_number)
    FROM read_parquet($1, file_row_number = true)
    WHERE file_row_number >= $2 AND file_row_number < $3
) AS t;
