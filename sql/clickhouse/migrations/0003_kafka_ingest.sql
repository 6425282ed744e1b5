-- Kafka ingest: events_queue (Kafka engine) -> events_queue_mv ->
-- events_staged (Null engine) -> events (valid rows) | events_dead_letters
-- (everything else, with a reason).
--
-- Every message is a normalised event (ingest.Event's JSON). The queue
-- reads ts as a String and the view parses it with
-- parseDateTime64BestEffortOrNull: JSONEachRow's own DateTime64 parser is
-- the basic one, which rejects ISO-8601 with a zone or turns what it cannot
-- read into 1970-01-01. kafka_handle_error_mode = 'stream' turns a message
-- that fails to parse into a row of column defaults with _raw_message and
-- _error set, instead of stopping the consumer or dropping it silently.
--
-- One view computes `reason` (empty when the row is a valid event), and the
-- two views below split on it, so "valid" is defined in one place. Objects
-- are created downstream first, so that the queue starts consuming (when
-- its view is attached, last) into a complete pipeline.
-- Statements are idempotent (IF NOT EXISTS): ClickHouse DDL is not
-- transactional, and re-running a half-applied migration completes it.
CREATE TABLE IF NOT EXISTS {{database}}.events_dead_letters
(
    received_at DateTime64(3, 'UTC'),
    topic       LowCardinality(String),
    partition   UInt64,
    offset      UInt64,
    -- Why the message was refused, from a short fixed list (see the view).
    reason      LowCardinality(String),
    -- The parser's message for a message that is not valid JSON, else ''.
    error       String,
    tenant_id   LowCardinality(String),
    -- The message as received, or re-encoded from its parsed fields when it
    -- parsed but broke the contract (Kafka keeps _raw_message only for
    -- messages that failed to parse).
    raw_message String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (received_at, topic, partition, offset)
TTL toDateTime(received_at) + INTERVAL {{dead_letter_retention_days}} DAY;

CREATE TABLE IF NOT EXISTS {{database}}.events_staged
(
    received_at   DateTime64(3, 'UTC'),
    topic         LowCardinality(String),
    partition     UInt64,
    offset        UInt64,
    raw_message   String,
    error         String,
    event_id      String,
    event         String,
    user_id       String,
    tenant_id     String,
    session_id    String,
    ts            String,
    event_version UInt32,
    properties    Map(String, String),
    context       Map(String, String),
    parsed_ts     Nullable(DateTime64(3, 'UTC')),
    reason        LowCardinality(String)
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.events_staged_to_events_mv
TO {{database}}.events
AS SELECT
    tenant_id,
    assumeNotNull(parsed_ts) AS ts,
    event,
    user_id,
    session_id,
    toUUID(event_id) AS event_id,
    -- The contract defaults a missing event_version to 1.
    if(event_version = 0, 1, event_version) AS event_version,
    properties,
    context,
    now64(3, 'UTC') AS ingested_at
FROM {{database}}.events_staged
WHERE reason = '';

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.events_staged_to_dead_letters_mv
TO {{database}}.events_dead_letters
AS SELECT
    received_at,
    topic,
    partition,
    offset,
    reason,
    error,
    tenant_id,
    if(raw_message != '', raw_message,
        formatRowNoNewline('JSONEachRow', event_id, event, user_id, tenant_id, session_id, ts, event_version, properties, context)) AS raw_message
FROM {{database}}.events_staged
WHERE reason != '';

-- The topic has {{partitions}} partitions (the gateway's --partitions). Each
-- consumer reads whole partitions, so more consumers than partitions idle,
-- and ClickHouse refuses more consumers than the server's physical cores.
-- kafka_thread_per_consumer lets each consumer flush its own blocks.
CREATE TABLE IF NOT EXISTS {{database}}.events_queue
(
    event_id      String,
    event         String,
    user_id       String,
    tenant_id     String,
    session_id    String,
    ts            String,
    event_version UInt32,
    properties    Map(String, String),
    context       Map(String, String)
)
ENGINE = Kafka
SETTINGS
    kafka_broker_list = '{{brokers}}',
    kafka_topic_list = '{{topic}}',
    kafka_group_name = '{{consumer_group}}',
    kafka_format = 'JSONEachRow',
    kafka_num_consumers = {{kafka_consumers}},
    kafka_thread_per_consumer = 1,
    kafka_handle_error_mode = 'stream',
    input_format_skip_unknown_fields = 1,
    input_format_json_read_numbers_as_strings = 1,
    input_format_json_read_bools_as_strings = 1
COMMENT 'pulse events: topic {{topic}}, {{partitions}} partitions, {{kafka_consumers}} consumers';

-- reason is the first rule a row breaks, mirroring the gateway's contract
-- (ingest/contract.go), so a producer other than the gateway cannot put
-- rows into events that the gateway would refuse. The ts checks require
-- ISO-8601 with a zone: parseDateTime64BestEffortOrNull alone would read a
-- zone-less time as UTC, a bare date, or a Unix timestamp.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.events_queue_mv
TO {{database}}.events_staged
AS SELECT
    now64(3, 'UTC') AS received_at,
    _topic AS topic,
    _partition AS partition,
    _offset AS offset,
    _raw_message AS raw_message,
    _error AS error,
    event_id,
    event,
    user_id,
    tenant_id,
    session_id,
    ts,
    event_version,
    properties,
    context,
    parseDateTime64BestEffortOrNull(ts, 3, 'UTC') AS parsed_ts,
    multiIf(
        length(_error) > 0, 'malformed message',
        trimBoth(tenant_id) = '', 'missing tenant_id',
        NOT match(tenant_id, '^[A-Za-z0-9._-]{1,64}$'), 'invalid tenant_id',
        trimBoth(event) = '', 'missing event',
        trimBoth(user_id) = '', 'missing user_id',
        trimBoth(session_id) = '', 'missing session_id',
        event_id = '', 'missing event_id',
        toUUIDOrNull(event_id) IS NULL, 'event_id is not a UUID',
        trimBoth(ts) = '', 'missing ts',
        match(ts, '^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?$'), 'ts has no time zone',
        NOT match(ts, '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?(Z|[+-][0-9]{2}:?[0-9]{2})$'), 'ts is not ISO-8601 with a zone',
        parsed_ts IS NULL, 'ts is not a valid time',
        parsed_ts < toDateTime64('1970-01-01 00:00:00', 3, 'UTC'), 'ts is before 1970',
        '') AS reason
FROM {{database}}.{{source}};
