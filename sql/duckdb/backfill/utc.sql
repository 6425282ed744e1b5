-- The private DuckDBs that read and check files render TIMESTAMPTZ in UTC:
-- by default DuckDB uses the process's zone, and one whose offset has
-- seconds (Africa/Monrovia before 1972) would lose them.
SET GLOBAL TimeZone = 'UTC';
