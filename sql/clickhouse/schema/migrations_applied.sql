SELECT version, name, checksum FROM {{database}}.schema_migrations FINAL ORDER BY version;
