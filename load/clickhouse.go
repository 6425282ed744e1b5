package load

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/pulse-analytics/pulse/chstore"
	"github.com/pulse-analytics/pulse/ingest"
)

// ClickHouseEvents stores batches in <database>.events with
// chstore.InsertEvents. A batch inserted again after a crash duplicates
// rows until events (a ReplacingMergeTree on the event's key) merges them,
// and the metrics read events FINAL or count distinct event_id meanwhile;
// only the daily_event_counts rollup counts such a batch twice (see
// migration 0002).
type ClickHouseEvents struct {
	Conn   driver.Conn
	Params chstore.Params
}

// Insert writes events and returns how many were written: ClickHouse
// cannot tell new events from redelivered ones at insert time.
func (c ClickHouseEvents) Insert(ctx context.Context, events []ingest.Event) (int, error) {
	if err := chstore.InsertEvents(ctx, c.Conn, c.Params, events); err != nil {
		return 0, err
	}
	return len(events), nil
}

// insertDeadLetters has the columns of the events_dead_letters table of
// migration 0003, which the Kafka engine path fills too.
const insertDeadLetters = "INSERT INTO {{database}}.events_dead_letters (received_at, topic, partition, offset, reason, error, tenant_id, raw_message)"

// ClickHouseDeadLetters writes dead letters to <database>.events_dead_letters.
// That table is a plain MergeTree: a batch written again after a crash
// leaves two rows with the same topic, partition and offset.
type ClickHouseDeadLetters struct {
	Conn   driver.Conn
	Params chstore.Params
}

// Write inserts letters in one batch.
func (c ClickHouseDeadLetters) Write(ctx context.Context, letters []DeadLetter) error {
	if len(letters) == 0 {
		return nil
	}
	query, err := chstore.Render(insertDeadLetters, c.Params)
	if err != nil {
		return err
	}
	batch, err := c.Conn.PrepareBatch(ctx, query)
	if err != nil {
		return fmt.Errorf("prepare insert into %s.events_dead_letters: %w (is the schema applied?)", c.Params.Database, err)
	}
	defer batch.Close()
	for _, d := range letters {
		// raw_message is a String column: bytes, UTF-8 or not, as received.
		if err := batch.Append(d.ReceivedAt.UTC(), d.Topic, uint64(d.Partition), uint64(d.Offset), d.Reason, d.Error, d.TenantID, string(d.Raw)); err != nil {
			return fmt.Errorf("dead letter %s/%d@%d: %w", d.Topic, d.Partition, d.Offset, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert %d dead letters into %s.events_dead_letters: %w", len(letters), c.Params.Database, err)
	}
	return nil
}

// CheckClickHouseSchema refuses a database whose schema is not applied:
// the loader would otherwise fail on its first batch, after reading it.
func CheckClickHouseSchema(ctx context.Context, conn driver.Conn, p chstore.Params) error {
	pending, err := chstore.Pending(ctx, conn, p)
	if err != nil {
		return err
	}
	if len(pending) == 0 {
		return nil
	}
	ids := make([]string, len(pending))
	for i, m := range pending {
		ids[i] = m.ID()
	}
	return fmt.Errorf("clickhouse database %s is missing %d schema migration(s) (%s): run `pulse schema apply --clickhouse DSN --database %s` first",
		p.Database, len(pending), strings.Join(ids, ", "), p.Database)
}

// kafkaEngineTopics lists the topics the schema's Kafka engine table
// reads, if its view into events is attached.
const kafkaEngineTopics = `
SELECT q.engine_full
FROM system.tables AS q
WHERE q.database = ? AND q.name = 'events_queue' AND q.engine = 'Kafka'
  AND (SELECT count() FROM system.tables WHERE database = ? AND name = 'events_queue_mv') > 0`

// WarnIfKafkaEngineReads logs a warning when ClickHouse's own Kafka engine
// pipeline (migration 0003) is attached and reads topic: then ClickHouse
// loads the topic too. Events stay exact (events merges the copies and the
// metrics read it FINAL), but every dead letter is written twice and the
// daily_event_counts rollup counts every event twice.
func WarnIfKafkaEngineReads(ctx context.Context, conn driver.Conn, p chstore.Params, topic string) {
	var engine string
	err := conn.QueryRow(ctx, kafkaEngineTopics, p.Database, p.Database).Scan(&engine)
	if err != nil || !strings.Contains(engine, "kafka_topic_list = '"+topic+"'") {
		return
	}
	slog.Warn("clickhouse's Kafka engine also reads this topic: events are still counted once, but dead letters and daily_event_counts twice; "+
		"detach it when pulse load feeds ClickHouse", "topic", topic, "detach", "DETACH TABLE "+p.Database+".events_queue_mv PERMANENTLY")
}
