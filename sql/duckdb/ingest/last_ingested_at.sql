SELECT coalesce(max(ingested_at), TIMESTAMP '1970-01-01') FROM events;
