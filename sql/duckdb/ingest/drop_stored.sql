-- Remove from the batch every event already stored and return their
-- positions. A duplicate is the same (tenant_id, event_id, ts): a client
-- retry resends all three. The explicit ts range ($1, $2 = the batch's
-- min/max ts) lets zonemaps skip every block that cannot hold a match.
DELETE FROM batch_keys k
USING (
    SELECT tenant_id, event_id, ts
    FROM events
    WHERE ts BETWEEN $1 AND $2
) stored
WHERE stored.event_id = k.event_id AND stored.ts = k.ts AND stored.tenant_id = k.tenant_id
RETURNING k.idx;
