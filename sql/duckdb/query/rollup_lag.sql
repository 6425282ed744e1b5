-- Events committed after the rollups' last refresh: left behind when a
-- gateway stopped without refreshing them (kill -9, crash); the next
-- pulse ingest catches up. ingested_at grows with every commit, so the
-- per-block min/max of ingested_at skip the older rows.
SELECT count(*)
FROM events
WHERE ingested_at > (SELECT max(refreshed_through) FROM rollup_watermark);
