-- The newest migration applied to the store file.
SELECT CAST(coalesce(max(version), 0) AS INTEGER) FROM schema_migrations;
