package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaBrokersEnv points the suite at a real broker (scripts/kafka.sh start)
// instead of kfake; CI sets it.
const kafkaBrokersEnv = "PULSE_TEST_KAFKA_BROKERS"

// testKafka is the cluster a test runs against: a real broker when
// PULSE_TEST_KAFKA_BROKERS is set, kfake otherwise.
type testKafka struct {
	brokers []string
	fake    *kfake.Cluster // nil for a real broker
}

// newTestKafka returns the suite's cluster. Tests that must control the
// broker (stall or fail requests, stop it) use newFakeKafka instead.
func newTestKafka(t *testing.T) *testKafka {
	t.Helper()
	if env := os.Getenv(kafkaBrokersEnv); env != "" {
		return &testKafka{brokers: strings.Split(env, ",")}
	}
	return newFakeKafka(t)
}

func newFakeKafka(t *testing.T) *testKafka {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("start kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return &testKafka{brokers: c.ListenAddrs(), fake: c}
}

var topicUnsafe = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// uniqueTopic names a topic after the test, unique across runs so that a
// shared real broker never mixes tests' records.
func uniqueTopic(t *testing.T) string {
	name := topicUnsafe.ReplaceAllString(t.Name(), "_")
	if len(name) > 150 {
		name = name[:150]
	}
	return fmt.Sprintf("pulse-test-%s-%d", name, time.Now().UnixNano())
}

// newSink returns a sink on a fresh topic of 3 partitions, created with
// EnsureTopic, and its metrics. The sink is closed and, on a real broker,
// the topic deleted when the test ends.
func (k *testKafka) newSink(t *testing.T, cfg KafkaConfig) (*KafkaSink, *Metrics) {
	t.Helper()
	cfg.Brokers = k.brokers
	if cfg.Topic == "" {
		cfg.Topic = uniqueTopic(t)
	}
	m := NewMetrics(prometheus.NewRegistry())
	s, err := NewKafkaSink(cfg, m)
	if err != nil {
		t.Fatalf("NewKafkaSink: %v", err)
	}
	t.Cleanup(func() {
		_ = s.Close() // before the topic goes, or its flush would retry in vain
		if k.fake == nil {
			k.deleteTopic(t, cfg.Topic)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.EnsureTopic(ctx, 3, 1); err != nil {
		t.Fatalf("EnsureTopic: %v", err)
	}
	return s, m
}

func (k *testKafka) deleteTopic(t *testing.T, topic string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.brokers...))
	if err != nil {
		t.Errorf("admin client: %v", err)
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).DeleteTopic(ctx, topic); err != nil {
		t.Logf("delete topic %s: %v", topic, err)
	}
}

// consume reads n records from the start of topic.
func (k *testKafka) consume(t *testing.T, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(k.brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records from %s before the deadline", len(recs), n, topic)
		}
		fetches.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", topic, p, err)
		})
		recs = append(recs, fetches.Records()...)
	}
	return recs
}

// waitBuffered waits until the sink's client holds n unacknowledged records.
func waitBuffered(t *testing.T, s *KafkaSink, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.client.BufferedProduceRecords() != n {
		if time.Now().After(deadline) {
			t.Fatalf("buffered records = %d, want %d", s.client.BufferedProduceRecords(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testEvent(i int, tenant string) Event {
	return Event{
		EventID:      fmt.Sprintf("0190a6d2-7c3e-7b1a-8000-%012d", i),
		Event:        "page_view",
		UserID:       fmt.Sprintf("user-%d", i),
		TenantID:     tenant,
		SessionID:    "session-1",
		TS:           time.Date(2026, 11, 25, 9, 4, 36, 123_456_789, time.FixedZone("CET", 3600)),
		EventVersion: 1,
		Properties:   json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)),
	}
}

func testEvents(n int, tenants ...string) []Event {
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = testEvent(i, tenants[i%len(tenants)])
	}
	return evs
}

// storeAsync runs Store in the background; the channel yields its result.
func storeAsync(s *KafkaSink, events []Event) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Store(context.Background(), events) }()
	return done
}

// lingering makes the sink hold records unsent until Close flushes them:
// a stalled cluster that works the same on kfake and a real broker.
const lingering = time.Minute

func TestKafkaSinkStoreProducesKeyedNormalisedJSON(t *testing.T) {
	k := newTestKafka(t)
	s, m := k.newSink(t, KafkaConfig{})
	events := testEvents(30, "acme", "globex", "initech")

	if err := s.Store(context.Background(), events); err != nil {
		t.Fatalf("Store: %v", err)
	}

	recs := k.consume(t, s.Config().Topic, len(events))
	if len(recs) != len(events) {
		t.Fatalf("consumed %d records, want %d", len(recs), len(events))
	}
	want := make(map[string]Event, len(events))
	for _, ev := range events {
		want[ev.EventID] = ev
	}
	partitionOf := map[string]int32{}
	lastIndex := map[string]int{}
	for _, r := range recs {
		var got struct {
			EventID string `json:"event_id"`
			TS      string `json:"ts"`
		}
		if err := json.Unmarshal(r.Value, &got); err != nil {
			t.Fatalf("record value is not JSON: %v: %s", err, r.Value)
		}
		ev, ok := want[got.EventID]
		if !ok {
			t.Fatalf("unexpected record %s", r.Value)
		}
		delete(want, got.EventID)
		wantValue, _ := json.Marshal(ev)
		if string(r.Value) != string(wantValue) {
			t.Errorf("value = %s, want %s", r.Value, wantValue)
		}
		if string(r.Key) != ev.TenantID {
			t.Errorf("key = %q, want tenant_id %q", r.Key, ev.TenantID)
		}
		if got.TS != "2026-11-25T08:04:36.123Z" {
			t.Errorf("ts = %q, want UTC with milliseconds", got.TS)
		}
		// One tenant's events share a partition and keep their order.
		if p, seen := partitionOf[ev.TenantID]; seen && p != r.Partition {
			t.Errorf("tenant %s in partitions %d and %d", ev.TenantID, p, r.Partition)
		}
		partitionOf[ev.TenantID] = r.Partition
		var i int
		fmt.Sscanf(ev.UserID, "user-%d", &i)
		if last, seen := lastIndex[ev.TenantID]; seen && i < last {
			t.Errorf("tenant %s: event %d consumed after event %d", ev.TenantID, i, last)
		}
		lastIndex[ev.TenantID] = i
	}
	if len(want) > 0 {
		t.Errorf("%d events never reached the topic", len(want))
	}
	if got := testutil.CollectAndCount(m.FlushSize); got != 1 {
		t.Errorf("flush size observations = %d, want 1", got)
	}
	if got := testutil.ToFloat64(m.FlushErrors); got != 0 {
		t.Errorf("flush errors = %v, want 0", got)
	}
	if got := testutil.ToFloat64(m.BufferDepth); got != 0 {
		t.Errorf("buffer depth after an acknowledged store = %v, want 0", got)
	}
}

func TestKafkaSinkStoreOfNothingSucceeds(t *testing.T) {
	k := newTestKafka(t)
	s, _ := k.newSink(t, KafkaConfig{})
	if err := s.Store(context.Background(), nil); err != nil {
		t.Fatalf("Store(nil) = %v, want nil", err)
	}
}

func TestKafkaSinkFullBufferFailsFastWithBackpressure(t *testing.T) {
	tests := []struct {
		name        string
		cfg         KafkaConfig
		pending     int // events already buffered by an earlier call
		events      int
		wantBackoff bool
	}{
		{name: "records limit reached", cfg: KafkaConfig{MaxBufferedRecords: 4}, pending: 4, events: 1, wantBackoff: true},
		{name: "call overflows the records limit", cfg: KafkaConfig{MaxBufferedRecords: 4}, pending: 2, events: 3, wantBackoff: true},
		{name: "bytes limit reached", cfg: KafkaConfig{MaxBufferedBytes: 600}, pending: 2, events: 2, wantBackoff: true},
		{name: "call larger than the whole buffer is no backpressure", cfg: KafkaConfig{MaxBufferedRecords: 4}, events: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newTestKafka(t)
			tt.cfg.Linger = lingering
			s, m := k.newSink(t, tt.cfg)
			events := testEvents(tt.pending+tt.events, "acme")

			var first <-chan error
			if tt.pending > 0 {
				first = storeAsync(s, events[:tt.pending])
				waitBuffered(t, s, int64(tt.pending))
			}

			start := time.Now()
			err := s.Store(context.Background(), events[tt.pending:])
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("Store took %s on a full buffer; want a fast rejection", elapsed)
			}
			if err == nil {
				t.Fatal("Store succeeded with a full buffer")
			}
			if got := errors.Is(err, ErrBackpressure); got != tt.wantBackoff {
				t.Fatalf("errors.Is(%v, ErrBackpressure) = %v, want %v", err, got, tt.wantBackoff)
			}
			if tt.wantBackoff && !errors.Is(err, kgo.ErrMaxBuffered) {
				t.Errorf("error %v does not wrap kgo.ErrMaxBuffered", err)
			}
			if got := testutil.ToFloat64(m.BufferDepth); got != float64(tt.pending) {
				t.Errorf("buffer depth = %v, want %d", got, tt.pending)
			}

			// The earlier call is unaffected: Close flushes it.
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if first != nil {
				if err := <-first; err != nil {
					t.Errorf("earlier Store = %v, want nil once flushed", err)
				}
			}
		})
	}
}

func TestKafkaSinkConcurrentCallsBeyondTheBufferAreShed(t *testing.T) {
	const limit, calls = 10, 40
	k := newTestKafka(t)
	s, _ := k.newSink(t, KafkaConfig{MaxBufferedRecords: limit, Linger: lingering})

	results := make(chan error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() { results <- s.Store(context.Background(), []Event{testEvent(i, "acme")}) })
	}
	// Every call either is shed at once or waits, buffered, for the flush.
	shed := 0
	for shed < calls-limit {
		select {
		case err := <-results:
			if !errors.Is(err, ErrBackpressure) {
				t.Fatalf("a call returned %v before the flush; want ErrBackpressure", err)
			}
			shed++
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d calls were shed; want %d", shed, calls-limit)
		}
	}
	waitBuffered(t, s, limit)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Errorf("buffered call = %v, want nil once flushed", err)
		}
	}
	if recs := k.consume(t, s.Config().Topic, limit); len(recs) != limit {
		t.Errorf("topic holds %d records, want %d", len(recs), limit)
	}
}

func TestKafkaSinkStoreStopsAtTheContextDeadline(t *testing.T) {
	k := newTestKafka(t)
	s, m := k.newSink(t, KafkaConfig{Linger: lingering})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()

	start := time.Now()
	err := s.Store(ctx, testEvents(3, "acme"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Store = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Store returned %s after its deadline of 200ms", elapsed)
	}
	if got := testutil.ToFloat64(m.FlushErrors); got != 1 {
		t.Errorf("flush errors = %v, want 1", got)
	}
}

func TestKafkaSinkCloseFlushesBufferedEvents(t *testing.T) {
	k := newTestKafka(t)
	s, _ := k.newSink(t, KafkaConfig{Linger: lingering})
	events := testEvents(5, "acme", "globex")
	pending := storeAsync(s, events)
	waitBuffered(t, s, int64(len(events)))

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-pending; err != nil {
		t.Fatalf("Store = %v, want nil once Close flushed it", err)
	}
	if recs := k.consume(t, s.Config().Topic, len(events)); len(recs) != len(events) {
		t.Errorf("topic holds %d records, want %d", len(recs), len(events))
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := s.Store(context.Background(), events); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Store after Close = %v, want a closed-sink error", err)
	}
}

func TestKafkaSinkReady(t *testing.T) {
	k := newTestKafka(t)
	s, _ := k.newSink(t, KafkaConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("Ready with the topic present = %v, want nil", err)
	}

	missing, err := NewKafkaSink(KafkaConfig{Brokers: k.brokers, Topic: uniqueTopic(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer missing.Close()
	err = missing.Ready(ctx)
	if !errors.Is(err, kerr.UnknownTopicOrPartition) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Ready without the topic = %v, want a missing-topic error", err)
	}
}

func TestKafkaSinkEnsureTopicIsIdempotent(t *testing.T) {
	k := newTestKafka(t)
	s, _ := k.newSink(t, KafkaConfig{}) // creates the topic once
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.EnsureTopic(ctx, 3, 1); err != nil {
		t.Fatalf("EnsureTopic on an existing topic = %v, want nil", err)
	}
}

func TestKafkaSinkReadyFailsWhenTheClusterIsDown(t *testing.T) {
	k := newFakeKafka(t) // stopping the cluster needs kfake
	s, _ := k.newSink(t, KafkaConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("Ready before the cluster stopped = %v", err)
	}

	k.fake.Close()
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err := s.Ready(ctx)
	if err == nil || !strings.Contains(err.Error(), "cannot reach brokers") {
		t.Fatalf("Ready with the cluster down = %v, want cannot reach brokers", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Ready took %s with a 1s deadline", elapsed)
	}
}

func TestKafkaSinkStoreFailsUnlessAllReplicasAcknowledge(t *testing.T) {
	k := newFakeKafka(t) // refusing produce requests needs kfake
	s, m := k.newSink(t, KafkaConfig{ProduceTimeout: time.Second})
	k.fake.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		k.fake.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		if req.Acks != -1 {
			t.Errorf("produce request acks = %d, want -1 (all)", req.Acks)
		}
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotEnoughReplicas.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.Store(ctx, testEvents(3, "acme"))
	if err == nil {
		t.Fatal("Store succeeded although no produce was acknowledged")
	}
	t.Logf("Store: %v", err)
	if errors.Is(err, ErrBackpressure) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Store = %v, want the produce failure", err)
	}
	if got := testutil.ToFloat64(m.FlushErrors); got != 1 {
		t.Errorf("flush errors = %v, want 1", got)
	}
}

func TestNewKafkaSinkRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  KafkaConfig
		want string
	}{
		{"no brokers", KafkaConfig{}, "no brokers configured"},
		{"unknown compression", KafkaConfig{Brokers: []string{"127.0.0.1:9092"}, Compression: "brotli"}, "valid: zstd, lz4, snappy, gzip, none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKafkaSink(tt.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewKafkaSink = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestKafkaConfigDefaults(t *testing.T) {
	s, err := NewKafkaSink(KafkaConfig{Brokers: []string{"127.0.0.1:1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := s.Config()
	want := KafkaConfig{
		Brokers: []string{"127.0.0.1:1"}, Topic: "product_events", Linger: 5 * time.Millisecond,
		BatchMaxBytes: 1_000_012, MaxBufferedRecords: 100_000, MaxBufferedBytes: 64 << 20,
		Compression: "zstd", ProduceTimeout: 30 * time.Second, CloseTimeout: 10 * time.Second,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
}
