-- The rows of Parquet file $1 whose 1-based numbers are in $2 (a list
-- literal such as [3,17]), in file order, each column rendered as JSON
-- text as parquet_rows does: the bulk lane hands these rows to the event
-- contract.
SELECT CAST(to_json(COLUMNS(*)) AS VARCHAR)
FROM (
    SELECT * EXCLUDE (file_row_number)
    FROM read_parquet($1, file_row_number = true)
    WHERE file_row_number + 1 IN (SELECT unnest(CAST($2 AS BIGINT[])))
    ORDER BY file_row_number
) AS t;
