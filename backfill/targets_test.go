package backfill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pulse-analytics/pulse/chstore"
	"github.com/pulse-analytics/pulse/gen"
	"github.com/pulse-analytics/pulse/ingest"
)

// The Kafka test runs against kfake, or a real broker when
// PULSE_TEST_KAFKA_BROKERS is set (scripts/kafka.sh start); the ClickHouse
// test needs PULSE_TEST_CLICKHOUSE_DSN (scripts/chdb.sh start). make test
// sets both.
const (
	kafkaBrokersEnv = "PULSE_TEST_KAFKA_BROKERS"
	clickhouseEnv   = "PULSE_TEST_CLICKHOUSE_DSN"
)

func randomName(t *testing.T, prefix string) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

func TestKafkaTargetReplaysThroughTheTopic(t *testing.T) {
	var brokers []string
	if env := os.Getenv(kafkaBrokersEnv); env != "" {
		brokers = strings.Split(env, ",")
	} else {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		brokers = c.ListenAddrs()
	}
	ctx := context.Background()
	topic := randomName(t, "pulse-test-backfill-")
	cfg := ingest.KafkaConfig{Brokers: brokers, Topic: topic}

	_, err := OpenKafka(ctx, cfg)
	var se *SchemaError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing topic: %v; want a SchemaError saying the topic does not exist", err)
	}
	creator, err := ingest.NewKafkaSink(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := creator.EnsureTopic(ctx, 3, 1); err != nil {
		t.Fatal(err)
	}
	creator.Close()

	events := generated(t, 1500)
	path := writeFile(t, t.TempDir(), "events.csv", encode(t, events, gen.FormatCSV))
	target, err := OpenKafka(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sources, _ := Expand([]string{path}, "")
	state := &StateDir{Dir: t.TempDir(), Target: target.ID()}
	summary, err := Run(ctx, Config{Sources: sources, Target: target, State: state, BatchRows: 500})
	if closeErr := target.Close(); err == nil {
		err = closeErr
	}
	if err != nil || summary.Loaded != 1500 || summary.DuplicatesKnown {
		t.Fatalf("summary %+v, %v; want 1500 loaded, duplicates not countable", summary, err)
	}

	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var got []string
	deadline, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(got) < len(events) && deadline.Err() == nil {
		fetches := client.PollFetches(deadline)
		fetches.EachRecord(func(r *kgo.Record) {
			var ev struct {
				EventID  string `json:"event_id"`
				TenantID string `json:"tenant_id"`
			}
			if err := json.Unmarshal(r.Value, &ev); err != nil {
				t.Errorf("record is not event JSON: %v", err)
			}
			if string(r.Key) != ev.TenantID {
				t.Errorf("record key %q; want the tenant %q", r.Key, ev.TenantID)
			}
			got = append(got, ev.EventID)
		})
	}
	slices.Sort(got)
	if !slices.Equal(got, ids(events)) {
		t.Fatalf("topic holds %d records; want the file's %d events once each", len(got), len(events))
	}
}

// clickhouseDatabase names a fresh database on the test ClickHouse
// (PULSE_TEST_CLICKHOUSE_DSN), without pulse's schema, dropped when the
// test ends; the test is skipped without a ClickHouse.
func clickhouseDatabase(t *testing.T) (dsn string, conn driver.Conn, p chstore.Params) {
	t.Helper()
	dsn = os.Getenv(clickhouseEnv)
	if dsn == "" {
		t.Skipf("%s is not set; run scripts/chdb.sh start and set %s=http://127.0.0.1:8123/ to run this test", clickhouseEnv, clickhouseEnv)
	}
	conn, err := chstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	p = chstore.DefaultParams()
	p.Database = randomName(t, "pulse_test_backfill_")
	p.Topic, p.ConsumerGroup = p.Database, p.Database
	t.Cleanup(func() {
		if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+p.Database+" SYNC"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
		conn.Close()
	})
	return dsn, conn, p
}

func TestClickHouseTarget(t *testing.T) {
	dsn, conn, p := clickhouseDatabase(t)
	ctx := context.Background()
	_, err := OpenClickHouse(ctx, dsn, p)
	var se *SchemaError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "pulse schema apply --clickhouse") {
		t.Fatalf("no schema: %v; want a SchemaError telling to run pulse schema apply", err)
	}
	if _, err := chstore.Apply(ctx, conn, p); err != nil {
		t.Fatal(err)
	}

	events := generated(t, 2000)
	dir := t.TempDir()
	path := parquetOf(t, dir, "events.parquet", events)
	state := filepath.Join(dir, "state")
	run := func() Summary {
		target, err := OpenClickHouse(ctx, dsn, p)
		if err != nil {
			t.Fatal(err)
		}
		defer target.Close()
		sources, _ := Expand([]string{path}, "")
		summary, err := Run(ctx, Config{Sources: sources, Target: target, State: &StateDir{Dir: state, Target: target.ID()}, BatchRows: 700})
		if err != nil {
			t.Fatal(err)
		}
		return summary
	}
	if s := run(); s.Loaded != 2000 || s.DuplicatesKnown {
		t.Fatalf("first run: %+v; want 2000 loaded, duplicates not counted (ClickHouse merges them away unseen)", s)
	}
	if s := run(); s.Loaded != 0 || s.Resumed != 2000 {
		t.Fatalf("second run: %+v; want nothing loaded, 2000 loaded before", s)
	}
	var n, distinct uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM "+p.Database+".events").Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != 2000 || distinct != 2000 {
		t.Fatalf("events holds %d rows (%d distinct ids); want 2000", n, distinct)
	}
}
