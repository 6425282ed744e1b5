package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pulse-analytics/pulse/gen"
	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/store"
)

// The loader tests run against kfake, or against the real broker named by
// PULSE_TEST_KAFKA_BROKERS (scripts/kafka.sh start), which CI sets. Each
// test has its own topic and group.
const kafkaBrokersEnv = "PULSE_TEST_KAFKA_BROKERS"

type testKafka struct {
	brokers []string
	topic   string
	group   string
	admin   *kadm.Client
}

var topicUnsafe = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// newTestKafka returns the suite's cluster with a fresh topic of 3
// partitions, deleted at the end on a real broker.
func newTestKafka(t *testing.T) *testKafka {
	t.Helper()
	var brokers []string
	if env := os.Getenv(kafkaBrokersEnv); env != "" {
		brokers = strings.Split(env, ",")
	} else {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			t.Fatalf("start kfake: %v", err)
		}
		t.Cleanup(c.Close)
		brokers = c.ListenAddrs()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	name := fmt.Sprintf("pulse-test-%s-%d", topicUnsafe.ReplaceAllString(t.Name(), "_"), time.Now().UnixNano())
	k := &testKafka{brokers: brokers, topic: name, group: name, admin: kadm.NewClient(cl)}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := k.admin.CreateTopic(ctx, 3, 1, nil, name); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		k.admin.DeleteTopic(ctx, name)
	})
	return k
}

// produce writes values round-robin over the partitions and returns the
// records as written (with partition and offset).
func (k *testKafka) produce(t *testing.T, values []string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.brokers...), kgo.DefaultProduceTopic(k.topic),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	records := make([]*kgo.Record, len(values))
	for i, v := range values {
		records[i] = &kgo.Record{Value: []byte(v)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return records
}

// committed returns the group's committed offset per partition.
func (k *testKafka) committed(t *testing.T) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offsets, err := k.admin.FetchOffsets(ctx, k.group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for p, o := range offsets[k.topic] {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if o.At >= 0 {
			out[p] = o.At
		}
	}
	return out
}

// ends returns the end offset per partition.
func (k *testKafka) ends(t *testing.T) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	listed, err := k.admin.ListEndOffsets(ctx, k.topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

func (k *testKafka) config() Config {
	return Config{Brokers: k.brokers, Topic: k.topic, Group: k.group, BatchEvents: 100, BatchInterval: 50 * time.Millisecond,
		ExitWhenDrained: true, ProgressInterval: -1}
}

// eventValues returns n generated events as the gateway writes them to
// Kafka, and their ids.
func eventValues(t *testing.T, n int64) ([]string, []string) {
	t.Helper()
	var values, ids []string
	cfg := gen.Config{Seed: 3, Tenants: 3, Users: 50, MaxEvents: n,
		Start: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)}
	err := gen.Generate(context.Background(), cfg, func(ev ingest.Event) error {
		b, err := json.Marshal(ev)
		values, ids = append(values, string(b)), append(ids, ev.EventID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return values, ids
}

// target is an embedded store and a dead-letter file in a temp dir.
type target struct {
	store      *store.Store
	deadPath   string
	deadLetter *DeadLetterFile
}

func newTarget(t *testing.T) *target {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), store.Options{Path: filepath.Join(dir, "pulse.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	path := filepath.Join(dir, "dead.ndjson")
	dl, err := OpenDeadLetterFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dl.Close() })
	return &target{store: st, deadPath: path, deadLetter: dl}
}

// copies counts stored rows per event_id.
func (tg *target) copies(t *testing.T) map[string]int {
	t.Helper()
	rows, err := tg.store.DB.Query(`SELECT event_id::VARCHAR, count(*) FROM events GROUP BY ALL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		out[id] = n
	}
	return out
}

// storedOnce fails unless exactly ids are stored, once each.
func (tg *target) storedOnce(t *testing.T, ids []string) {
	t.Helper()
	copies := tg.copies(t)
	for _, id := range ids {
		if copies[id] != 1 {
			t.Fatalf("event %s stored %d times", id, copies[id])
		}
	}
	if len(copies) != len(ids) {
		t.Fatalf("stored %d distinct events, want %d", len(copies), len(ids))
	}
}

func run(t *testing.T, cfg Config, events Events, dead DeadLetters) (Stats, error) {
	t.Helper()
	l, err := New(cfg, events, dead, "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return l.Run(ctx)
}

func TestLoaderStoresEveryRecordAndCommitsItsOffsets(t *testing.T) {
	k := newTestKafka(t)
	values, ids := eventValues(t, 700)
	invalid := map[int]string{5: "{oops", 250: event(map[string]any{"tenant_id": "bad tenant"}), 601: ""}
	// In ascending order, each lands at its index.
	for _, i := range slices.Sorted(maps.Keys(invalid)) {
		values = slices.Insert(values, i, invalid[i])
	}
	records := k.produce(t, values)
	tg := newTarget(t)

	stats, err := run(t, k.config(), tg.store, tg.deadLetter)
	if err != nil {
		t.Fatal(err)
	}
	tg.storedOnce(t, ids)
	if stats.Records != int64(len(values)) || stats.Events != int64(len(ids)) || stats.NewEvents != int64(len(ids)) || stats.DeadLetters != 3 {
		t.Fatalf("stats %+v", stats)
	}
	if c, e := k.committed(t), k.ends(t); fmt.Sprint(c) != fmt.Sprint(e) {
		t.Fatalf("committed %v, end offsets %v", c, e)
	}
	letters, torn, err := ReadDeadLetterFile(tg.deadPath)
	if err != nil || torn {
		t.Fatalf("dead letters: %v (torn %v)", err, torn)
	}
	if len(letters) != len(invalid) {
		t.Fatalf("%d dead letters, want %d", len(letters), len(invalid))
	}
	for _, d := range letters {
		var src *kgo.Record
		for i, v := range invalid {
			if r := records[i]; string(r.Value) == v && r.Partition == d.Partition && r.Offset == d.Offset {
				src = r
			}
		}
		if src == nil || d.Topic != k.topic || string(d.Raw) != string(src.Value) || d.Reason == "" {
			t.Fatalf("dead letter %+v matches no invalid record", d)
		}
	}
}

// storeThenFail stores the first batch, then stores the second and fails
// as if the process died before committing it.
type storeThenFail struct {
	*store.Store
	calls atomic.Int32
}

func (s *storeThenFail) Insert(ctx context.Context, events []ingest.Event) (int, error) {
	n, err := s.Store.Insert(ctx, events)
	if s.calls.Add(1) == 2 && err == nil {
		return 0, errors.New("crash after store, before commit")
	}
	return n, err
}

func TestLoaderReReadsABatchStoredButNotCommittedWithoutDuplicates(t *testing.T) {
	k := newTestKafka(t)
	values, ids := eventValues(t, 500)
	k.produce(t, values)
	tg := newTarget(t)
	cfg := k.config()
	cfg.StoreAttempts = 1

	crashing := &storeThenFail{Store: tg.store}
	if _, err := run(t, cfg, crashing, tg.deadLetter); err == nil || !strings.Contains(err.Error(), "offsets not committed") {
		t.Fatalf("run: %v, want the store error", err)
	}
	committed := int64(0)
	for _, o := range k.committed(t) {
		committed += o
	}
	stored := int64(len(tg.copies(t)))
	if committed >= stored || committed == 0 {
		t.Fatalf("committed %d records with %d stored: the failed batch must be stored but not committed", committed, stored)
	}

	stats, err := run(t, cfg, tg.store, tg.deadLetter)
	if err != nil {
		t.Fatal(err)
	}
	tg.storedOnce(t, ids)
	if stats.Records != int64(len(values))-committed {
		t.Fatalf("restart read %d records, want the %d uncommitted", stats.Records, int64(len(values))-committed)
	}
	if dup := stats.Events - stats.NewEvents; dup != stored-committed {
		t.Fatalf("restart skipped %d stored events, want %d (the stored, uncommitted batch)", dup, stored-committed)
	}
}

// failing never stores.
type failing struct{}

func (failing) Insert(context.Context, []ingest.Event) (int, error) {
	return 0, errors.New("disk full")
}

func TestLoaderCommitsNothingItCouldNotStore(t *testing.T) {
	k := newTestKafka(t)
	values, _ := eventValues(t, 50)
	k.produce(t, append(values, "not json"))
	tg := newTarget(t)
	cfg := k.config()
	cfg.StoreAttempts = 2

	_, err := run(t, cfg, failing{}, tg.deadLetter)
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "attempt 2") {
		t.Fatalf("run: %v, want the store error after 2 attempts", err)
	}
	if c := k.committed(t); len(c) != 0 {
		t.Fatalf("committed %v after a failed store", c)
	}
	if letters, _, _ := ReadDeadLetterFile(tg.deadPath); len(letters) != 0 {
		t.Fatalf("dead letters of an unstored batch were written: %d", len(letters))
	}
}

func TestLoaderOnShutdownStoresAndCommitsTheBatchInHand(t *testing.T) {
	k := newTestKafka(t)
	values, ids := eventValues(t, 300)
	k.produce(t, values)
	tg := newTarget(t)
	cfg := k.config()
	// The batch would wait an hour: only the shutdown stores it.
	cfg.BatchEvents, cfg.BatchInterval, cfg.ExitWhenDrained = 10_000, time.Hour, false

	l, err := New(cfg, tg.store, tg.deadLetter, "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	l.polled = func(n int) {
		if n == len(values) {
			once.Do(cancel)
		}
	}
	done := make(chan error, 1)
	var stats Stats
	go func() {
		var err error
		stats, err = l.Run(ctx)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("loader did not stop")
	}
	if ctx.Err() == nil {
		t.Fatal("loader returned before it was stopped")
	}
	tg.storedOnce(t, ids)
	if stats.Batches != 1 {
		t.Fatalf("stored %d batches, want the one held at shutdown", stats.Batches)
	}
	if c, e := k.committed(t), k.ends(t); fmt.Sprint(c) != fmt.Sprint(e) {
		t.Fatalf("committed %v, end offsets %v", c, e)
	}
}

func TestLoaderResumesFromTheGroupsCommittedOffsets(t *testing.T) {
	k := newTestKafka(t)
	values, ids := eventValues(t, 400)
	k.produce(t, values[:250])
	tg := newTarget(t)
	first, err := run(t, k.config(), tg.store, tg.deadLetter)
	if err != nil {
		t.Fatal(err)
	}
	k.produce(t, values[250:])
	second, err := run(t, k.config(), tg.store, tg.deadLetter)
	if err != nil {
		t.Fatal(err)
	}
	if first.Records != 250 || second.Records != 150 || second.NewEvents != 150 {
		t.Fatalf("first run %+v, second %+v: want 250 then the 150 new records", first, second)
	}
	tg.storedOnce(t, ids)
}

func TestLoaderExitsAtOnceOnAnEmptyTopic(t *testing.T) {
	k := newTestKafka(t)
	tg := newTarget(t)
	start := time.Now()
	stats, err := run(t, k.config(), tg.store, tg.deadLetter)
	if err != nil || stats.Records != 0 {
		t.Fatalf("stats %+v, err %v", stats, err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("took %s to find an empty topic drained", took)
	}
}

func TestLoaderRefusesAMissingTopic(t *testing.T) {
	k := newTestKafka(t)
	tg := newTarget(t)
	cfg := k.config()
	cfg.Topic = "no-such-topic-" + fmt.Sprint(time.Now().UnixNano())
	_, err := run(t, cfg, tg.store, tg.deadLetter)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("err %v, want the topic named as missing", err)
	}
}
