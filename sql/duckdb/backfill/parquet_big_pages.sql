-- Where the first pages of Parquet file $1's column chunks of over $2
-- bytes (uncompressed) start: the dictionary page and the first data page.
-- A page is at most its chunk, so only these may hold a page too big for
-- the reading DuckDB's memory limit; backfill reads their headers. (Some
-- writers, DuckDB among them, write a whole column chunk as one page.)
SELECT page_offset, max(total_uncompressed_size) AS chunk_bytes FROM (
    SELECT data_page_offset AS page_offset, total_uncompressed_size FROM parquet_metadata($1)
    UNION ALL
    SELECT dictionary_page_offset, total_uncompressed_size FROM parquet_metadata($1)
)
WHERE page_offset IS NOT NULL AND total_uncompressed_size > $2
GROUP BY page_offset
ORDER BY page_offset;
