-- Per-connection scratch table: the keys of the batch being committed.
-- The duplicate check and the rollups read it instead of the wide rows.
CREATE OR REPLACE TEMP TABLE batch_keys (
    idx       INTEGER   NOT NULL, -- position of the event in the batch
    tenant_id VARCHAR   NOT NULL,
    event_id  UUID      NOT NULL,
    ts        TIMESTAMP NOT NULL,
    user_id   VARCHAR   NOT NULL,
    event     VARCHAR   NOT NULL
);
