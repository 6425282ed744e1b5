-- The newest committed ingested_at after the watermark $1, and the days the
-- events committed since then fall on. The constant bound lets zonemaps on
-- ingested_at skip every block committed before the watermark.
SELECT max(ingested_at), CAST(min(ts) AS DATE), CAST(max(ts) AS DATE)
FROM events
WHERE ingested_at > $1;
