-- Raw events, one row per accepted event. DuckDB has no clustering key:
-- rows arrive roughly in ts order, so per-block min/max (zonemaps) on ts
-- prune time-range scans; per-tenant reads go through the rollups.
-- ts is a naive TIMESTAMP holding UTC with millisecond precision.
CREATE TABLE events (
    tenant_id     VARCHAR   NOT NULL,
    ts            TIMESTAMP NOT NULL,
    event         VARCHAR   NOT NULL,
    user_id       VARCHAR   NOT NULL,
    session_id    VARCHAR   NOT NULL,
    event_id      UUID      NOT NULL,
    event_version INTEGER   NOT NULL,
    properties    JSON      NOT NULL,
    context       JSON      NOT NULL,
    ingested_at   TIMESTAMP NOT NULL
);
