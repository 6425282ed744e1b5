-- Events stored and the newest event's ts (epoch milliseconds, NULL when
-- the store is empty), for `pulse top` / `pulse status` freshness.
SELECT count(*) AS events, epoch_ms(max(ts)) AS newest_ts_ms
FROM events;
