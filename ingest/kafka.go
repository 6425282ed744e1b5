package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Defaults of KafkaConfig; a zero field takes the default.
const (
	DefaultKafkaTopic              = "product_events"
	DefaultKafkaLinger             = 5 * time.Millisecond
	DefaultKafkaBatchMaxBytes      = 1_000_012 // Kafka's max.message.bytes default
	DefaultKafkaMaxBufferedRecords = 100_000
	DefaultKafkaMaxBufferedBytes   = 64 << 20
	DefaultKafkaCompression        = "zstd"
	DefaultKafkaProduceTimeout     = 30 * time.Second
	DefaultKafkaCloseTimeout       = 10 * time.Second
	DefaultKafkaAdminTimeout       = 10 * time.Second // Ready and EnsureTopic without a ctx deadline
)

// KafkaCompressions lists the accepted values of KafkaConfig.Compression,
// for flag help and errors.
const KafkaCompressions = "zstd, lz4, snappy, gzip, none"

// KafkaConfig configures the Kafka sink. The zero value of every field but
// Brokers means its default.
type KafkaConfig struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// Topic receives every event, keyed by tenant_id. Default "product_events".
	Topic string
	// Linger is how long a partition waits for more records before it sends
	// a batch: up to this much latency buys larger batches. Default 5ms;
	// negative disables lingering.
	Linger time.Duration
	// BatchMaxBytes caps one record batch before compression; keep it at or
	// below the topic's max.message.bytes. Default 1,000,012 bytes.
	BatchMaxBytes int32
	// MaxBufferedRecords bounds the records produced but not yet acknowledged;
	// past it Store fails fast with ErrBackpressure. Default 100,000.
	MaxBufferedRecords int
	// MaxBufferedBytes bounds the bytes (keys plus values) produced but not
	// yet acknowledged; past it Store fails fast with ErrBackpressure.
	// Default 64 MiB.
	MaxBufferedBytes int
	// Compression is the preferred batch codec, one of KafkaCompressions.
	// zstd and lz4 fall back to snappy on brokers that lack them. Default zstd.
	Compression string
	// ProduceTimeout is how long a record may wait, buffered time included,
	// before the client gives up on it (delivery.timeout.ms). A record already
	// sent under idempotence is only failed once that is safe. At least 1s
	// (kgo refuses less); default 30s.
	ProduceTimeout time.Duration
	// CloseTimeout bounds how long Close waits for buffered records to be
	// acknowledged. Default 10s.
	CloseTimeout time.Duration
}

// withDefaults returns cfg with every zero field set to its default.
func (cfg KafkaConfig) withDefaults() KafkaConfig {
	if cfg.Topic == "" {
		cfg.Topic = DefaultKafkaTopic
	}
	if cfg.Linger == 0 {
		cfg.Linger = DefaultKafkaLinger
	}
	if cfg.BatchMaxBytes == 0 {
		cfg.BatchMaxBytes = DefaultKafkaBatchMaxBytes
	}
	if cfg.MaxBufferedRecords == 0 {
		cfg.MaxBufferedRecords = DefaultKafkaMaxBufferedRecords
	}
	if cfg.MaxBufferedBytes == 0 {
		cfg.MaxBufferedBytes = DefaultKafkaMaxBufferedBytes
	}
	if cfg.Compression == "" {
		cfg.Compression = DefaultKafkaCompression
	}
	if cfg.ProduceTimeout == 0 {
		cfg.ProduceTimeout = DefaultKafkaProduceTimeout
	}
	if cfg.CloseTimeout == 0 {
		cfg.CloseTimeout = DefaultKafkaCloseTimeout
	}
	return cfg
}

// compressionCodecs maps a Compression name to kgo's preference list; the
// client uses the first codec the broker supports.
func compressionCodecs(name string) ([]kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "zstd":
		return []kgo.CompressionCodec{kgo.ZstdCompression(), kgo.Lz4Compression(), kgo.SnappyCompression()}, nil
	case "lz4":
		return []kgo.CompressionCodec{kgo.Lz4Compression(), kgo.SnappyCompression()}, nil
	case "snappy":
		return []kgo.CompressionCodec{kgo.SnappyCompression()}, nil
	case "gzip":
		return []kgo.CompressionCodec{kgo.GzipCompression()}, nil
	case "none":
		return []kgo.CompressionCodec{kgo.NoCompression()}, nil
	}
	return nil, fmt.Errorf("kafka: unknown compression %q (valid: %s)", name, KafkaCompressions)
}

// KafkaSink is a Sink that produces each event to a Kafka topic, keyed by
// tenant_id, and reports it durable once the brokers acknowledge it with
// acks=all. Records of one tenant land in one partition, in order.
type KafkaSink struct {
	cfg     KafkaConfig
	client  *kgo.Client
	admin   *kadm.Client
	metrics *Metrics

	closeOnce sync.Once
	closeErr  error
}

var _ Sink = (*KafkaSink)(nil)

// NewKafkaSink builds the producer client. It does not contact the brokers:
// call Ready (or EnsureTopic) to check the cluster. A nil m gets collectors
// registered nowhere.
func NewKafkaSink(cfg KafkaConfig, m *Metrics) (*KafkaSink, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka: no brokers configured (set --brokers, e.g. 127.0.0.1:9092)")
	}
	if cfg.MaxBufferedRecords < 0 || cfg.MaxBufferedBytes < 0 {
		return nil, fmt.Errorf("kafka: max buffered records (%d) and bytes (%d) must be positive", cfg.MaxBufferedRecords, cfg.MaxBufferedBytes)
	}
	codecs, err := compressionCodecs(cfg.Compression)
	if err != nil {
		return nil, err
	}
	linger := cfg.Linger
	if linger < 0 {
		linger = 0
	}
	client, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.DefaultProduceTopic(cfg.Topic),
		// Idempotence is kgo's default; acks=all is required for it and is
		// what makes Store's nil mean durable on every in-sync replica.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(codecs...),
		kgo.ProducerLinger(linger),
		kgo.ProducerBatchMaxBytes(cfg.BatchMaxBytes),
		kgo.MaxBufferedRecords(cfg.MaxBufferedRecords),
		kgo.MaxBufferedBytes(cfg.MaxBufferedBytes),
		// kgo's batch timeout is taken from a batch's first record, which
		// may have lingered: add the linger so it does not eat the budget.
		kgo.RecordDeliveryTimeout(cfg.ProduceTimeout+linger),
		// A leader change (or a just-created topic) stalls its partitions'
		// produces until the next metadata refresh: allow one after 1s, not
		// kgo's default 5s, which would fill the buffer and shed load.
		kgo.MetadataMinAge(time.Second),
		// The default partitioner hashes keys like the Java client
		// (murmur2), so a tenant's events share one partition.
	)
	if err != nil {
		return nil, fmt.Errorf("kafka: invalid client configuration: %w", err)
	}
	if m == nil {
		m = NewMetrics(prometheus.NewRegistry())
	}
	return &KafkaSink{cfg: cfg, client: client, admin: kadm.NewClient(client), metrics: m}, nil
}

// Config returns the configuration in use, defaults filled in.
func (s *KafkaSink) Config() KafkaConfig { return s.cfg }

// Store produces every event and returns nil once all of them are
// acknowledged with acks=all. A full buffer fails the call at once with an
// error that wraps ErrBackpressure (and kgo.ErrMaxBuffered): the caller
// retries the whole call, and event_id de-duplication downstream absorbs the
// records of the call that were buffered before the buffer filled. Those
// records are still delivered; their results are discarded.
func (s *KafkaSink) Store(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	start := time.Now()
	defer s.observeBufferDepth()

	err := s.store(ctx, events)
	switch {
	case err == nil:
		s.metrics.FlushSize.Observe(float64(len(events)))
		s.metrics.FlushDuration.Observe(time.Since(start).Seconds())
	case errors.Is(err, ErrBackpressure), errors.Is(err, context.Canceled):
		// Load shedding and callers that went away are not failed flushes:
		// the gateway counts the first, and the second says nothing of Kafka.
	default:
		s.metrics.FlushErrors.Inc()
	}
	return err
}

func (s *KafkaSink) store(ctx context.Context, events []Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	if len(events) > s.cfg.MaxBufferedRecords {
		return fmt.Errorf("kafka: %d events in one call exceed the buffer of %d records (send smaller batches or raise the max buffered records)", len(events), s.cfg.MaxBufferedRecords)
	}
	records := make([]*kgo.Record, len(events))
	var size int64
	for i, ev := range events {
		value, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("kafka: encode event %s: %w", ev.EventID, err)
		}
		// The record timestamp stays kgo's produce time: an event's own ts
		// may be days old and would age out at once under time retention.
		records[i] = &kgo.Record{Key: []byte(ev.TenantID), Value: value}
		size += int64(len(ev.TenantID) + len(value))
	}
	if size > int64(s.cfg.MaxBufferedBytes) {
		return fmt.Errorf("kafka: %d bytes of events in one call exceed the buffer of %d bytes (send smaller batches or raise the max buffered bytes)", size, s.cfg.MaxBufferedBytes)
	}

	// Refuse up front when the call clearly cannot fit, so that a saturated
	// buffer does not take in part of a call that will fail anyway. The check
	// races with other calls; TryProduce below is the real bound.
	if n, b := s.client.BufferedProduceRecords(), s.client.BufferedProduceBytes(); n+int64(len(records)) > int64(s.cfg.MaxBufferedRecords) ||
		b+size > int64(s.cfg.MaxBufferedBytes) {
		return s.backpressure(n, b)
	}

	// The channel holds every result, so promises never block the client's
	// promise goroutine, even for records whose call has already returned.
	results := make(chan error, len(records))
	var full atomic.Bool
	promise := func(_ *kgo.Record, err error) {
		if errors.Is(err, kgo.ErrMaxBuffered) {
			full.Store(true)
		}
		results <- err
	}
	produced := 0
	for _, r := range records {
		if full.Load() {
			break // the call fails anyway; leave the room to others
		}
		// Records are not tied to ctx: kgo fails a whole partition's batch
		// when the first record's context ends, so one caller going away
		// would fail other callers' records. ProduceTimeout bounds them.
		s.client.TryProduce(context.Background(), r, promise)
		produced++
	}

	for range produced {
		select {
		case err := <-results:
			if err != nil {
				return s.produceError(err)
			}
		case <-ctx.Done():
			return fmt.Errorf("kafka: %d events not acknowledged before the request ended: %w", len(records), ctx.Err())
		}
	}
	if produced < len(records) {
		return s.backpressure(s.client.BufferedProduceRecords(), s.client.BufferedProduceBytes())
	}
	return nil
}

func (s *KafkaSink) backpressure(records, bytes int64) error {
	return fmt.Errorf("kafka: %w: %d records (%d bytes) await acknowledgement, the limit is %d records (%d bytes); is Kafka slow? (%w)",
		ErrBackpressure, records, bytes, s.cfg.MaxBufferedRecords, s.cfg.MaxBufferedBytes, kgo.ErrMaxBuffered)
}

// produceError explains a record's failure.
func (s *KafkaSink) produceError(err error) error {
	switch {
	case errors.Is(err, kgo.ErrMaxBuffered):
		return s.backpressure(s.client.BufferedProduceRecords(), s.client.BufferedProduceBytes())
	case errors.Is(err, kgo.ErrClientClosed):
		return fmt.Errorf("kafka: sink is closed: %w", err)
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return fmt.Errorf("kafka: topic %q does not exist on %s (create it: pulse ingest --brokers creates it when it starts, or use kafka-topics.sh --create): %w",
			s.cfg.Topic, s.brokers(), err)
	case errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, kgo.ErrRecordRetries):
		return fmt.Errorf("kafka: events not acknowledged by %s within %s (are the brokers up and the topic's replicas in sync?): %w",
			s.brokers(), s.cfg.ProduceTimeout, err)
	case errors.Is(err, kerr.MessageTooLarge):
		return fmt.Errorf("kafka: an event is larger than the batch limit of %d bytes (raise the topic's max.message.bytes and the batch max bytes): %w",
			s.cfg.BatchMaxBytes, err)
	}
	return fmt.Errorf("kafka: produce to topic %q failed: %w", s.cfg.Topic, err)
}

func (s *KafkaSink) observeBufferDepth() {
	s.metrics.BufferDepth.Set(float64(s.client.BufferedProduceRecords()))
}

func (s *KafkaSink) brokers() string { return strings.Join(s.cfg.Brokers, ",") }

// Ready reports whether the brokers answer and the topic exists. It asks the
// cluster every time (no cached metadata), within ctx's deadline, or
// DefaultKafkaAdminTimeout when ctx has none.
func (s *KafkaSink) Ready(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	return s.describeTopic(ctx, false)
}

// withDefaultTimeout bounds admin calls whose ctx has no deadline, since kgo
// retries an unreachable cluster until its context ends.
func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, DefaultKafkaAdminTimeout)
}

// describeTopic asks the brokers, bypassing the client's metadata cache,
// whether the topic exists and, with leaders, whether every partition has a
// leader. A missing topic wraps kerr.UnknownTopicOrPartition.
func (s *KafkaSink) describeTopic(ctx context.Context, leaders bool) error {
	req := kmsg.NewPtrMetadataRequest()
	topic := kmsg.NewMetadataRequestTopic()
	topic.Topic = kmsg.StringPtr(s.cfg.Topic)
	req.Topics = append(req.Topics, topic)
	resp, err := req.RequestWith(ctx, s.client)
	if err != nil {
		return s.unreachable(err)
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != s.cfg.Topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				return fmt.Errorf("kafka: topic %q does not exist on %s (create it: pulse ingest --brokers creates it when it starts, or use kafka-topics.sh --create): %w", s.cfg.Topic, s.brokers(), err)
			}
			return fmt.Errorf("kafka: topic %q is not usable: %w", s.cfg.Topic, err)
		}
		if !leaders {
			return nil
		}
		for _, p := range t.Partitions {
			err := kerr.ErrorForCode(p.ErrorCode)
			if err == nil && p.Leader < 0 {
				err = kerr.LeaderNotAvailable
			}
			if err != nil {
				return fmt.Errorf("kafka: topic %q partition %d is not usable: %w", s.cfg.Topic, p.Partition, err)
			}
		}
		return nil
	}
	return fmt.Errorf("kafka: brokers %s did not describe topic %q: %w", s.brokers(), s.cfg.Topic, kerr.UnknownTopicOrPartition)
}

func (s *KafkaSink) unreachable(err error) error {
	return fmt.Errorf("kafka: cannot reach brokers %s: %w (is Kafka running? check --brokers)", s.brokers(), err)
}

// EnsureTopic creates the topic with the given partitions and replication
// factor unless it exists already (whatever its settings), so it is safe to
// call at every start. It returns once the brokers serve every partition:
// the controller acknowledges a creation before the brokers know the topic.
// Without a deadline in ctx it gives up after DefaultKafkaAdminTimeout.
func (s *KafkaSink) EnsureTopic(ctx context.Context, partitions int32, replicationFactor int16) error {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	_, err := s.admin.CreateTopic(ctx, partitions, replicationFactor, nil, s.cfg.Topic)
	var ke *kerr.Error
	switch {
	case err == nil, errors.Is(err, kerr.TopicAlreadyExists):
	case errors.Is(err, kerr.InvalidReplicationFactor):
		return fmt.Errorf("kafka: create topic %q: replication factor %d is more than the brokers available (use 1 for a single broker): %w", s.cfg.Topic, replicationFactor, err)
	case errors.Is(err, kerr.InvalidPartitions):
		return fmt.Errorf("kafka: create topic %q: %d partitions is not valid (use at least 1): %w", s.cfg.Topic, partitions, err)
	case errors.As(err, &ke):
		return fmt.Errorf("kafka: create topic %q: %w", s.cfg.Topic, err)
	default:
		return s.unreachable(err)
	}

	for {
		err := s.describeTopic(ctx, true)
		if err == nil || !kerr.IsRetriable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka: topic %q exists but the brokers did not serve it in time: %w", s.cfg.Topic, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close waits up to CloseTimeout for every buffered record to be
// acknowledged, then closes the client. Calls after the first return the
// first result.
func (s *KafkaSink) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CloseTimeout)
		defer cancel()
		if err := s.client.Flush(ctx); err != nil {
			s.closeErr = fmt.Errorf("kafka: %d events still unacknowledged after %s at close; they may be lost (is Kafka reachable?): %w",
				s.client.BufferedProduceRecords(), s.cfg.CloseTimeout, err)
		}
		s.client.Close()
		s.observeBufferDepth()
	})
	return s.closeErr
}
