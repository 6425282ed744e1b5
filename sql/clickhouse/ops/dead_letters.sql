-- Kafka messages refused into the dead-letter table in the last hour:
-- not valid JSON, or breaking the event contract.
SELECT toUInt64(count()) AS dead_letters
FROM {database:Identifier}.events_dead_letters
WHERE received_at >= now64(3, 'UTC') - INTERVAL 1 HOUR;
