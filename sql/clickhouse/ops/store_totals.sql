-- The server's time, events stored and the newest event's ts not later
-- than now (NULL when there is none): events dated ahead of now (the
-- contract allows clock skew) would make freshness negative, and hide for
-- up to the skew that nothing else arrives. count() counts rows before
-- ReplacingMergeTree merges drop duplicate deliveries (a resumed load's
-- re-sent rows too), until the merge: good enough for a glance, not for
-- billing.
SELECT now64(3, 'UTC') AS at,
       toInt64(count()) AS events,
       maxOrNullIf(ts, ts <= at) AS newest_ts
FROM {database:Identifier}.events;
