package cmd

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/pulse-analytics/pulse/chstore"
	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/load"
	"github.com/pulse-analytics/pulse/store"
)

type loadOptions struct {
	dataPath      string
	clickhouseDSN string
	database      string
	deadLetters   string
	memoryLimit   string
	once          bool
	untilIdle     time.Duration

	cfg load.Config
}

func newLoadCmd(_ Streams) *cobra.Command {
	opts := &loadOptions{}
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Load the Kafka event topic into the embedded store or ClickHouse",
		Long: `Consume the event topic (what 'pulse ingest --brokers' produces) in a
consumer group and write it in large batches into the embedded store (--data,
the default) or ClickHouse (--clickhouse, for deployments without ClickHouse's
Kafka engine). 'pulse ingest --brokers ...' plus 'pulse load' is the
Kafka/Redpanda + embedded store deployment.

Each record is checked against the event contract again. Records that are
not valid events go to the dead letters with topic, partition, offset, the
reason and the raw value (cut to --dead-letter-max-bytes): an NDJSON file for
the embedded store (--dead-letters, default next to --data), the table
<database>.events_dead_letters for ClickHouse. An event's ts may be at most
--max-future-skew ahead of its record's timestamp (when Kafka took it), not
of the loader's clock, so replayed and backfilled events load as accepted.

Offsets are committed only after a batch's events and dead letters are
durable, and partitions cannot move between a poll and that commit. A crash
or kill re-reads at most the batches not committed; re-read events are not
counted twice (the embedded store skips events it holds; ClickHouse's events
table merges them and the metrics read it FINAL). Dead letters may repeat
after a crash, with the same topic, partition and offset. SIGTERM stores and
commits the batch in hand, leaves the group and exits 0.

ClickHouse needs its schema first ('pulse schema apply --clickhouse DSN'); the
embedded store migrates itself.

Every flag can also be set by an environment variable PULSE_<FLAG> (dashes as
underscores) or a key in the --config YAML file (top level or under "load:").
--brokers, --topic and --data are the same keys as for 'pulse ingest'.`,
		Example: `  pulse load --brokers 10.0.0.5:9092 --data /var/lib/pulse.db
  pulse load --brokers 10.0.0.5:9092 --clickhouse clickhouse://default:@ch:9000 --database pulse
  pulse load --brokers 127.0.0.1:9092 --until-idle 5s     # backfill: exit once caught up`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			return loadRun(cmd.Context(), opts)
		},
	}
	addLoadFlags(cmd, opts)
	return cmd
}

func addLoadFlags(cmd *cobra.Command, opts *loadOptions) {
	f := cmd.Flags()
	f.StringSliceVar(&opts.cfg.Brokers, "brokers", nil, "Kafka/Redpanda seed brokers host:port,...")
	f.StringVar(&opts.cfg.Topic, "topic", ingest.DefaultKafkaTopic, "topic to load")
	f.StringVar(&opts.cfg.Group, "group", load.DefaultGroup, "consumer group; its committed offsets are where loading resumes")
	f.StringVar(&opts.dataPath, "data", "", "embedded store file (default "+store.DefaultPath+" unless --clickhouse is given)")
	f.StringVar(&opts.memoryLimit, "memory-limit", "256MB", "DuckDB memory limit for the embedded store")
	f.StringVar(&opts.clickhouseDSN, "clickhouse", "", "load into ClickHouse instead: clickhouse://user:pass@host:9000 or http://user:pass@host:8123")
	f.StringVar(&opts.database, "database", chstore.DefaultDatabase, "ClickHouse database that holds pulse's tables (with --clickhouse)")
	f.StringVar(&opts.deadLetters, "dead-letters", "", "NDJSON file for invalid records (embedded store; default <data without extension>-dead-letters.ndjson)")
	f.IntVar(&opts.cfg.MaxDeadLetterBytes, "dead-letter-max-bytes", load.DefaultMaxDeadLetterBytes, "most bytes of a record's value kept in its dead letter")
	f.IntVar(&opts.cfg.BatchEvents, "batch-events", load.DefaultBatchEvents, "most records in one batch (bounds the events held in memory)")
	f.IntVar(&opts.cfg.BatchBytes, "batch-bytes", load.DefaultBatchBytes, "most record bytes in one batch")
	f.DurationVar(&opts.cfg.BatchInterval, "batch-interval", load.DefaultBatchInterval, "store a partial batch after it has waited this long")
	f.BoolVar(&opts.once, "once", false, "exit 0 once the group has caught up with the end of the topic")
	f.DurationVar(&opts.untilIdle, "until-idle", 0, "exit 0 once caught up and no record has arrived for this long (e.g. 5s; 0 = run until stopped)")
	f.IntVar(&opts.cfg.MaxRecordBytes, "max-record-bytes", load.DefaultMaxRecordBytes, "largest record value decoded as an event (the topic holds normalised events, larger than what clients sent)")
	f.DurationVar(&opts.cfg.MaxFutureSkew, "max-future-skew", ingest.DefaultMaxFutureSkew, "how far an event's ts may be ahead of its record's timestamp; match the gateway's")
	f.DurationVar(&opts.cfg.SessionTimeout, "session-timeout", load.DefaultSessionTimeout, "consumer group session timeout: how long partitions of a loader that died stay unassigned")
	f.DurationVar(&opts.cfg.ProgressInterval, "progress-interval", load.DefaultProgressInterval, "how often to log progress (rate and lag); negative for never")
	annotateEnv(cmd, "brokers", "topic", "group", "data", "clickhouse", "database", "dead-letters", "batch-events", "batch-interval", "until-idle")
}

func (o *loadOptions) validate() error {
	switch {
	case len(o.cfg.Brokers) == 0:
		return usageErrorf("pulse load needs --brokers host:port,... (or %s)", EnvName("brokers"))
	case o.clickhouseDSN != "" && o.dataPath != "":
		return usageErrorf("pulse load: give either --clickhouse DSN or --data PATH, not both (check %s and %s in the environment and the config file)", EnvName("clickhouse"), EnvName("data"))
	case o.clickhouseDSN != "" && o.deadLetters != "":
		return usageErrorf("pulse load: with --clickhouse, dead letters go to the table %s.events_dead_letters; drop --dead-letters", o.database)
	case o.once && o.untilIdle > 0:
		return usageErrorf("pulse load: give --once or --until-idle, not both")
	case o.untilIdle < 0:
		return usageErrorf("--until-idle must not be negative, got %s", o.untilIdle)
	// load.Config reads zero as "the default"; a flag set to zero is a mistake.
	case o.cfg.BatchEvents < 1:
		return usageErrorf("--batch-events must be at least 1, got %d", o.cfg.BatchEvents)
	case o.cfg.BatchBytes < 1:
		return usageErrorf("--batch-bytes must be positive, got %d", o.cfg.BatchBytes)
	case o.cfg.BatchInterval <= 0:
		return usageErrorf("--batch-interval must be positive, got %s", o.cfg.BatchInterval)
	case o.cfg.SessionTimeout <= 0 || o.cfg.MaxFutureSkew <= 0:
		return usageErrorf("--session-timeout and --max-future-skew must be positive")
	case o.cfg.MaxRecordBytes < 1 || o.cfg.MaxDeadLetterBytes < 1:
		return usageErrorf("--max-record-bytes and --dead-letter-max-bytes must be positive")
	}
	if o.clickhouseDSN != "" {
		p := chstore.DefaultParams()
		p.Database = o.database
		if err := p.Validate(); err != nil {
			return &UsageError{Err: fmt.Errorf("invalid --database: %w", err)}
		}
	} else if o.dataPath == "" {
		o.dataPath = store.DefaultPath
	}
	if o.deadLetters == "" && o.clickhouseDSN == "" {
		o.deadLetters = load.DefaultDeadLetterPath(o.dataPath)
	}
	o.cfg.ExitWhenDrained = o.once || o.untilIdle > 0
	o.cfg.IdleFor = o.untilIdle
	if err := o.cfg.Validate(); err != nil {
		return &UsageError{Err: err}
	}
	return nil
}

func loadRun(ctx context.Context, opts *loadOptions) error {
	open := openEmbeddedTarget
	if opts.clickhouseDSN != "" {
		open = openClickHouseTarget
	}
	events, dead, target, closeTarget, err := open(ctx, opts)
	if err != nil {
		return err
	}
	defer closeTarget()
	loader, err := load.New(opts.cfg, events, dead, target)
	if err != nil {
		return &UsageError{Err: err}
	}
	_, err = loader.Run(ctx)
	return err
}

// openEmbeddedTarget opens the store file and its dead-letter file.
func openEmbeddedTarget(ctx context.Context, opts *loadOptions) (load.Events, load.DeadLetters, string, func(), error) {
	st, err := store.Open(ctx, store.Options{Path: opts.dataPath, MemoryLimit: opts.memoryLimit})
	if err != nil {
		return nil, nil, "", nil, err
	}
	file, err := load.OpenDeadLetterFile(opts.deadLetters)
	if err != nil {
		st.Close()
		return nil, nil, "", nil, err
	}
	closeTarget := func() {
		if err := file.Close(); err != nil {
			slog.Error("close dead-letter file", "path", file.Path(), "err", err)
		}
		if err := st.Close(); err != nil {
			slog.Error("close embedded store", "path", opts.dataPath, "err", err)
		}
	}
	target := fmt.Sprintf("embedded store %s (dead letters in %s)", opts.dataPath, opts.deadLetters)
	return st, file, target, closeTarget, nil
}

// openClickHouseTarget connects and refuses a database whose schema is not
// applied.
func openClickHouseTarget(ctx context.Context, opts *loadOptions) (load.Events, load.DeadLetters, string, func(), error) {
	conn, err := chstore.Open(ctx, opts.clickhouseDSN)
	if err != nil {
		return nil, nil, "", nil, err
	}
	p := chstore.DefaultParams()
	p.Database = opts.database
	if err := load.CheckClickHouseSchema(ctx, conn, p); err != nil {
		conn.Close()
		return nil, nil, "", nil, err
	}
	load.WarnIfKafkaEngineReads(ctx, conn, p, opts.cfg.Topic)
	closeTarget := func() {
		if err := conn.Close(); err != nil {
			slog.Error("close clickhouse connection", "err", err)
		}
	}
	target := fmt.Sprintf("clickhouse database %s (dead letters in %s.events_dead_letters)", p.Database, p.Database)
	return load.ClickHouseEvents{Conn: conn, Params: p}, load.ClickHouseDeadLetters{Conn: conn, Params: p}, target, closeTarget, nil
}
