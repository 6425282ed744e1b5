-- The server's time, events stored and the newest event's ts (NULL when
-- there is none). count() counts rows before ReplacingMergeTree merges
-- drop duplicate deliveries: good enough for a glance, not for billing.
SELECT now64(3, 'UTC') AS at,
       toInt64(count()) AS events,
       maxOrNull(ts) AS newest_ts
FROM {database:Identifier}.events;
