INSERT INTO {{database}}.schema_migrations (version, name, checksum) VALUES (?, ?, ?);
