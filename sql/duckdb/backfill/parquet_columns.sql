-- The columns of Parquet file $1 and their types, read from its footer
-- (no rows are decoded).
SELECT * FROM read_parquet($1) LIMIT 0;
