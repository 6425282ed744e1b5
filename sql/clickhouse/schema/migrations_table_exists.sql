SELECT count() FROM system.tables WHERE database = ? AND name = 'schema_migrations';
