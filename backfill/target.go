package backfill

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/pulse-analytics/pulse/chstore"
	"github.com/pulse-analytics/pulse/ingest"
	sqlfiles "github.com/pulse-analytics/pulse/sql"
	"github.com/pulse-analytics/pulse/store"
)

// Target is where backfilled events go.
type Target interface {
	// Store makes events durable before it returns. It returns how many
	// were new, or -1 when the target cannot tell (it de-duplicates
	// later, or not at all).
	Store(ctx context.Context, events []ingest.Event) (int, error)
	// ID names the target in checkpoints: the same files loaded into
	// another target start from scratch.
	ID() string
	// DefaultStateDir is where checkpoints go unless --state says.
	DefaultStateDir() (string, error)
	Close() error
}

// checkpointer is a target with work left for its Close (the embedded
// store's checkpoint) that a run does before it reports its time.
type checkpointer interface {
	Checkpoint(ctx context.Context) error
}

// SchemaError means the target lacks pulse's schema; the message says how
// to apply it.
type SchemaError struct{ Err error }

func (e *SchemaError) Error() string { return e.Err.Error() }
func (e *SchemaError) Unwrap() error { return e.Err }

// Embedded is the embedded DuckDB store as a target.
type Embedded struct {
	st          *store.Store
	path        string
	memoryLimit string // as given (--memory-limit)
}

// OpenEmbedded opens an existing embedded store whose schema is current.
// It does not create or migrate the file: that is `pulse schema apply`'s.
func OpenEmbedded(ctx context.Context, path, memoryLimit string) (*Embedded, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, &SchemaError{fmt.Errorf("embedded store %s does not exist: create it with 'pulse schema apply --data %s' (or point --data at an existing store)", path, path)}
	}
	if err := checkEmbeddedSchema(ctx, path); err != nil {
		return nil, err
	}
	// One DuckDB thread: the bulk lane runs its statements side by side on
	// connections of their own (a step's insert, the next step's checks, a
	// rollup refresh), each on its caller's thread. DuckDB's worker threads
	// would add little: a Parquet row group is read on one thread, and a
	// caller whose query has no task left for it spins until the worker
	// running the last one is done (2M rows: about 13% of the CPU time).
	st, err := store.Open(ctx, store.Options{Path: path, MemoryLimit: memoryLimit, Threads: 1})
	if err != nil {
		return nil, err
	}
	return &Embedded{st: st, path: path, memoryLimit: memoryLimit}, nil
}

// checkEmbeddedSchema reads the store's applied migrations without
// writing to it.
func checkEmbeddedSchema(ctx context.Context, path string) error {
	db, err := dbsql.Open("duckdb", path+"?access_mode=READ_ONLY")
	if err == nil {
		err = db.PingContext(ctx)
	}
	if err != nil {
		if db != nil {
			db.Close()
		}
		if strings.Contains(err.Error(), "lock") {
			return fmt.Errorf("embedded store %s is in use by another pulse process (a running 'pulse ingest'?): stop it, backfill, then start it again: %w", path, err)
		}
		return fmt.Errorf("open embedded store %s: %w", path, err)
	}
	defer db.Close()
	applied := map[int]bool{}
	rows, err := db.QueryContext(ctx, sqlfiles.Statement(sqlfiles.DuckDB, "migrations_applied"))
	if err == nil {
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			applied[v] = true
		}
		err = errors.Join(rows.Err(), rows.Close())
	}
	if err != nil && !strings.Contains(err.Error(), "schema_migrations") {
		return fmt.Errorf("read the schema version of embedded store %s: %w", path, err)
	}
	all, err := store.Migrations()
	if err != nil {
		return err
	}
	var pending []string
	for _, m := range all {
		if !applied[m.Version] {
			pending = append(pending, fmt.Sprintf("%04d_%s", m.Version, m.Name))
		}
	}
	if len(pending) > 0 {
		return &SchemaError{fmt.Errorf("embedded store %s lacks migrations %s: run 'pulse schema apply --data %s' first", path, strings.Join(pending, ", "), path)}
	}
	return nil
}

func (e *Embedded) Store(ctx context.Context, events []ingest.Event) (int, error) {
	return e.st.Insert(ctx, events)
}

func (e *Embedded) ID() string {
	abs, err := filepath.Abs(e.path)
	if err != nil {
		abs = e.path
	}
	return "embedded:" + abs
}

// DefaultStateDir keeps checkpoints next to the store file, so that they
// go with it.
func (e *Embedded) DefaultStateDir() (string, error) { return e.path + stateDirSuffix, nil }

// stateDirSuffix ends the name of the embedded store's checkpoint directory.
const stateDirSuffix = ".backfill"

// Empty reports whether the store holds no events: checkpoints next to
// an emptied store are stale.
func (e *Embedded) Empty(ctx context.Context) (bool, error) {
	var last time.Time
	if err := e.st.DB.QueryRowContext(ctx, sqlfiles.Statement(sqlfiles.DuckDB, "ingest/last_ingested_at")).Scan(&last); err != nil {
		return false, err
	}
	return last.Year() <= 1970, nil
}

// Checkpoint folds the load's write-ahead log into the store file, inside
// the run's timing: closing the store would do it anyway. It brings the
// rollups up to every committed event first: a run killed between a bulk
// step's commit and the rollup refresh leaves them behind, and the run
// that resumes may find nothing left to load.
func (e *Embedded) Checkpoint(ctx context.Context) error {
	if err := e.st.RefreshRollups(ctx); err != nil {
		return fmt.Errorf("refresh the rollups: %w", err)
	}
	return e.st.Checkpoint(ctx)
}

func (e *Embedded) Close() error { return e.st.Close() }

// ClickHouse writes straight into <database>.events with native batches.
// Re-inserted rows merge away in the ReplacingMergeTree, so Store cannot
// count duplicates.
type ClickHouse struct {
	conn   driver.Conn
	params chstore.Params
	dsn    string
	// bulk takes the bulk lane's Parquet steps; nil for a native-protocol
	// DSN, which loads row by row.
	bulk *chstore.BulkInserter
}

// OpenClickHouse connects and checks that the schema is fully applied.
func OpenClickHouse(ctx context.Context, dsn string, p chstore.Params) (*ClickHouse, error) {
	conn, err := chstore.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	pending, err := chstore.Pending(ctx, conn, p)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("check the ClickHouse schema: %w", err)
	}
	if len(pending) > 0 {
		conn.Close()
		ids := make([]string, len(pending))
		for i, m := range pending {
			ids[i] = m.ID()
		}
		return nil, &SchemaError{fmt.Errorf("ClickHouse database %s lacks migrations %s: run 'pulse schema apply --clickhouse DSN --database %s' first", p.Database, strings.Join(ids, ", "), p.Database)}
	}
	bulk, _, err := chstore.NewBulkInserter(dsn, p)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &ClickHouse{conn: conn, params: p, dsn: dsn, bulk: bulk}, nil
}

func (c *ClickHouse) Store(ctx context.Context, events []ingest.Event) (int, error) {
	return -1, chstore.InsertEvents(ctx, c.conn, c.params, events)
}

func (c *ClickHouse) ID() string {
	host := c.dsn
	if u, err := url.Parse(c.dsn); err == nil {
		host = u.Host
	}
	return "clickhouse:" + host + "/" + c.params.Database
}

func (c *ClickHouse) DefaultStateDir() (string, error) { return userStateDir() }
func (c *ClickHouse) Close() error {
	if c.bulk != nil {
		c.bulk.Close()
	}
	return c.conn.Close()
}

// Kafka replays events through the topic the gateway produces to, acks=all;
// ClickHouse consumes them from there. Kafka keeps every copy: duplicates
// merge away in ClickHouse's ReplacingMergeTree.
type Kafka struct {
	sink *ingest.KafkaSink
}

// OpenKafka builds the producer and checks that the topic exists.
func OpenKafka(ctx context.Context, cfg ingest.KafkaConfig) (*Kafka, error) {
	sink, err := ingest.NewKafkaSink(cfg, nil)
	if err != nil {
		return nil, err
	}
	if err := sink.Ready(ctx); err != nil {
		sink.Close()
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return nil, &SchemaError{fmt.Errorf("%w: create it first: 'pulse ingest --brokers ...' creates it at start, and 'pulse schema apply --clickhouse DSN --brokers ...' points ClickHouse at it", err)}
		}
		return nil, err
	}
	return &Kafka{sink: sink}, nil
}

func (k *Kafka) Store(ctx context.Context, events []ingest.Event) (int, error) {
	return -1, k.sink.Store(ctx, events)
}

func (k *Kafka) ID() string {
	cfg := k.sink.Config()
	return "kafka:" + strings.Join(cfg.Brokers, ",") + "/" + cfg.Topic
}

func (k *Kafka) DefaultStateDir() (string, error) { return userStateDir() }
func (k *Kafka) Close() error                     { return k.sink.Close() }

// userStateDir is $XDG_STATE_HOME/pulse/backfill, by default
// ~/.local/state/pulse/backfill: targets without a local file keep their
// checkpoints with the user.
func userStateDir() (string, error) {
	if dir := os.Getenv("XDG_STATE_HOME"); dir != "" {
		return filepath.Join(dir, "pulse", "backfill"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory for checkpoints: give --state DIR: %w", err)
	}
	return filepath.Join(home, ".local", "state", "pulse", "backfill"), nil
}
