-- Normalised events written straight into the events table (backfills,
-- tests), bypassing Kafka; the rollup views see them like any insert.
INSERT INTO {{database}}.events (tenant_id, ts, event, user_id, session_id, event_id, event_version, properties, context);
