-- Every DuckDB pulse opens works in UTC: the store's naive TIMESTAMPs hold
-- UTC, and DuckDB otherwise takes the process's zone for the casts between
-- TIMESTAMP and TIMESTAMPTZ (a time.Time parameter is a TIMESTAMPTZ where
-- DuckDB cannot tell the type, e.g. an INSERT's ingested_at, which would
-- be stored shifted by the zone's offset), and renders TIMESTAMPTZ in it (a
-- zone whose offset has seconds, Africa/Monrovia before 1972, would lose
-- them).
SET GLOBAL TimeZone = 'UTC';
