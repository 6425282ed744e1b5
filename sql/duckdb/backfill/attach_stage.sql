-- The in-memory database that holds the bulk lane's CSV stage tables:
-- attached to the store's DuckDB instance, so that every connection (the
-- check's and the writer's) sees them, and never written to the file.
ATTACH IF NOT EXISTS ':memory:' AS pulse_bulk;
