-- One row per applied migration. ReplacingMergeTree so that recording a
-- migration twice (a retried apply) leaves one row after merges; readers use
-- FINAL. checksum is the SHA-256 of the migration file before rendering, so
-- changing a setting such as --retention-days does not look like an edited
-- migration, while editing an applied file does.
CREATE TABLE IF NOT EXISTS {{database}}.schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version;
