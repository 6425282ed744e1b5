-- Raises (or restores) the memory limit of a DuckDB pulse opened; the
-- value is rendered by pulse (a number of megabytes, or the limit given).
SET GLOBAL memory_limit = '{{.}}';
