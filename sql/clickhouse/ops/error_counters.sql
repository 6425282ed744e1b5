-- Error counters since the server started (system.events, ProfileEvents):
-- failed INSERT queries, and the Kafka engine's consumer-side failures
-- (consumer errors, messages it failed to parse or push to the views,
-- offset commits that failed, rebalance errors). A counter the server
-- has never incremented is absent from system.events, hence sumIf.
SELECT toUInt64(sumIf(value, event = 'FailedInsertQuery')) AS insert_errors,
       toUInt64(sumIf(value, event IN ('KafkaConsumerErrors', 'KafkaMessagesFailed',
                                       'KafkaCommitFailures', 'KafkaRebalanceErrors'))) AS consume_errors
FROM system.events;
