-- Daily active users per tenant: today (UTC) so far, and yesterday up to
-- the same time of day (events dated ahead of now count in neither). {now:DateTime64(3, 'UTC')} is the reading's time,
-- from store_totals.sql, so both figures use the server's clock. The
-- filter on toDate(ts) matches the events table's primary key, so only
-- two days of each tenant's granules are read.
SELECT tenant_id,
       toInt64(uniqExactIf(user_id, toDate(ts) = toDate({now:DateTime64(3, 'UTC')})
                                     AND ts <= {now:DateTime64(3, 'UTC')})) AS dau_today,
       toInt64(uniqExactIf(user_id, toDate(ts) = toDate({now:DateTime64(3, 'UTC')}) - 1
                                     AND ts <= {now:DateTime64(3, 'UTC')} - INTERVAL 1 DAY)) AS dau_yesterday_same_time
FROM {database:Identifier}.events
WHERE toDate(ts) >= toDate({now:DateTime64(3, 'UTC')}) - 1
  AND toDate(ts) <= toDate({now:DateTime64(3, 'UTC')})
GROUP BY tenant_id
ORDER BY tenant_id;
