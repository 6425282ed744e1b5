-- Events stored and the newest event's ts not later than $now_us (the
-- reading's time, microseconds since the epoch; epoch milliseconds, NULL
-- when there is none), for `pulse top` / `pulse status` freshness. Events
-- dated ahead of now (the contract allows clock skew) are left out of the
-- newest: one of them would make freshness negative, and hide for up to
-- the skew that nothing else arrives.
SELECT count(*) AS events,
       epoch_ms(max(ts) FILTER (WHERE ts <= make_timestamp($now_us))) AS newest_ts_ms
FROM events;
