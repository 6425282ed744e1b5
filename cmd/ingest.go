package cmd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/ops"
	"github.com/pulse-analytics/pulse/store"
)

type ingestOptions struct {
	listen      string
	dataPath    string
	brokers     []string
	topic       string
	partitions  int32
	memoryLimit string
	pprofListen string

	contract ingest.Contract
	gateway  ingest.GatewayConfig
	sink     store.SinkConfig
	kafka    ingest.KafkaConfig
}

func newIngestCmd(streams Streams) *cobra.Command {
	opts := &ingestOptions{contract: *ingest.NewContract()}
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Run the HTTP gateway that accepts product events",
		Long: `Run the HTTP gateway for product events.

Events are validated against the event contract (docs/events.md), rate-limited
per client IP and per tenant, and acknowledged (2xx) only once durable: committed
to the embedded store (a DuckDB file, the default) or, with --brokers, acknowledged
by Kafka/Redpanda with acks=all.

Endpoints:
  POST /v1/events   one event (application/json)
  POST /v1/batch    a JSON array or NDJSON (application/x-ndjson) of events
  POST /events      one event or a JSON array
  GET  /healthz     process is up
  GET  /readyz      sink reachable and not shutting down
  GET  /metrics     Prometheus metrics

Every flag can also be set by an environment variable PULSE_<FLAG> (dashes as
underscores, e.g. PULSE_TENANT_RATE=5000) or a key in the --config YAML file
(top level or under "ingest:"). Flags win over the environment, which wins over
the file.`,
		Example: `  pulse ingest                          # embedded store ./pulse.db on :8080
  pulse ingest --data /var/lib/pulse.db --listen 127.0.0.1:9000
  pulse ingest --brokers 10.0.0.5:9092,10.0.0.6:9092 --topic product_events`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			return ingestRun(cmd.Context(), opts, streams)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.listen, "listen", ":8080", "address to listen on")
	f.StringVar(&opts.dataPath, "data", store.DefaultPath, "embedded store file (used when --brokers is not given)")
	f.StringSliceVar(&opts.brokers, "brokers", nil, "Kafka/Redpanda seed brokers host:port,... (instead of the embedded store)")
	f.StringVar(&opts.topic, "topic", ingest.DefaultKafkaTopic, "Kafka topic for events (with --brokers)")
	f.Int32Var(&opts.partitions, "partitions", 6, "partitions when the gateway creates a missing topic (with --brokers); match ClickHouse kafka_num_consumers")
	f.StringVar(&opts.pprofListen, "pprof-listen", "", "serve Go's /debug/pprof profiles on this separate address (e.g. 127.0.0.1:6060); off by default")
	f.StringVar(&opts.memoryLimit, "memory-limit", "256MB", "DuckDB memory limit for the embedded store")

	f.IntVar(&opts.contract.MaxEventBytes, "max-event-bytes", ingest.DefaultMaxEventBytes, "largest accepted event, in bytes of JSON")
	f.DurationVar(&opts.contract.MaxFutureSkew, "max-future-skew", ingest.DefaultMaxFutureSkew, "how far in the future an event's ts may be")
	f.IntVar(&opts.gateway.MaxBatchEvents, "max-batch-events", 1000, "most events in one request")
	f.Int64Var(&opts.gateway.MaxBodyBytes, "max-body-bytes", 5<<20, "largest request body after decompression, in bytes")
	f.Int64Var(&opts.gateway.MaxInFlightBytes, "max-in-flight-bytes", 64<<20, "request bytes held in memory at once; beyond it requests get 503")
	f.Float64Var(&opts.gateway.IPRate, "ip-rate", 50_000, "events/s allowed per client IP (0 = no limit)")
	f.IntVar(&opts.gateway.IPBurst, "ip-burst", 0, "token-bucket burst per client IP (default 2 x --ip-rate)")
	f.Float64Var(&opts.gateway.TenantRate, "tenant-rate", 20_000, "events/s allowed per tenant (0 = no limit)")
	f.IntVar(&opts.gateway.TenantBurst, "tenant-burst", 0, "token-bucket burst per tenant (default 2 x --tenant-rate)")
	f.DurationVar(&opts.gateway.AckTimeout, "ack-timeout", 10*time.Second, "longest a request waits for durability before 503")
	f.DurationVar(&opts.gateway.RetryAfter, "retry-after", time.Second, "Retry-After sent with 503")

	f.DurationVar(&opts.sink.FlushInterval, "flush-interval", 2*time.Millisecond, "group commit: wait this long for more events before a flush")
	f.IntVar(&opts.sink.FlushEvents, "flush-events", 20_000, "group commit: most events per flush")
	f.IntVar(&opts.sink.MaxBufferedEvents, "max-buffered-events", 50_000, "events queued for the sink before requests get 503")

	f.DurationVar(&opts.kafka.Linger, "kafka-linger", ingest.DefaultKafkaLinger, "Kafka producer linger (with --brokers)")
	f.StringVar(&opts.kafka.Compression, "kafka-compression", ingest.DefaultKafkaCompression, "Kafka batch compression: "+ingest.KafkaCompressions)
	f.IntVar(&opts.kafka.MaxBufferedRecords, "kafka-max-buffered", ingest.DefaultKafkaMaxBufferedRecords, "Kafka records buffered before requests get 503")
	namesEnv(f)
	return cmd
}

func (o *ingestOptions) validate() error {
	switch {
	case o.contract.MaxEventBytes < 256:
		return usageErrorf("--max-event-bytes must be at least 256, got %d", o.contract.MaxEventBytes)
	case o.gateway.MaxBatchEvents < 1:
		return usageErrorf("--max-batch-events must be at least 1, got %d", o.gateway.MaxBatchEvents)
	case o.gateway.MaxBodyBytes < int64(o.contract.MaxEventBytes):
		return usageErrorf("--max-body-bytes (%d) must be at least --max-event-bytes (%d)", o.gateway.MaxBodyBytes, o.contract.MaxEventBytes)
	case o.gateway.IPRate < 0 || o.gateway.TenantRate < 0:
		return usageErrorf("--ip-rate and --tenant-rate must be 0 (no limit) or positive")
	case o.sink.FlushEvents < 1 || o.sink.MaxBufferedEvents < o.gateway.MaxBatchEvents:
		return usageErrorf("--flush-events must be positive and --max-buffered-events (%d) at least --max-batch-events (%d)", o.sink.MaxBufferedEvents, o.gateway.MaxBatchEvents)
	case o.sink.FlushInterval < 0:
		return usageErrorf("--flush-interval must not be negative")
	}
	o.kafka.Brokers = o.brokers
	o.kafka.Topic = o.topic
	return nil
}

func ingestRun(ctx context.Context, opts *ingestOptions, streams Streams) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := ingest.NewMetrics(reg)

	if opts.pprofListen != "" {
		go servePprof(opts.pprofListen)
	}
	sink, st, err := openSink(ctx, opts, metrics)
	if err != nil {
		return err
	}
	if st != nil {
		defer func() {
			if err := st.Close(); err != nil {
				slog.Error("close embedded store", "err", err)
			}
		}()
		opts.gateway.Stats = func(ctx context.Context) (any, error) {
			return ops.ReadEmbeddedStats(ctx, st.DB, time.Now())
		}
	}

	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		sink.Close()
		return fmt.Errorf("listen on %s: %w (is another process using the port? choose one with --listen)", opts.listen, err)
	}
	target := "embedded store " + opts.dataPath
	if len(opts.brokers) > 0 {
		target = fmt.Sprintf("kafka %s topic %s", strings.Join(opts.brokers, ","), opts.topic)
	}
	slog.Info("pulse ingest ready", "listen", ln.Addr().String(), "sink", target)
	gw := ingest.NewGateway(opts.gateway, &opts.contract, sink, metrics, reg)
	if err := gw.Serve(ctx, ln); err != nil {
		return err
	}
	slog.Info("pulse ingest stopped; every acknowledged event is durable")
	return nil
}

// openSink builds the Kafka sink when brokers are given, the embedded
// store's group-commit sink otherwise; it also returns the store, which
// the caller closes after the sink.
func openSink(ctx context.Context, opts *ingestOptions, metrics *ingest.Metrics) (ingest.Sink, *store.Store, error) {
	if len(opts.brokers) > 0 {
		ks, err := ingest.NewKafkaSink(opts.kafka, metrics)
		if err != nil {
			return nil, nil, err
		}
		readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := ks.EnsureTopic(readyCtx, opts.partitions, -1); err != nil {
			ks.Close()
			return nil, nil, err
		}
		return ks, nil, nil
	}
	st, err := store.Open(ctx, store.Options{Path: opts.dataPath, MemoryLimit: opts.memoryLimit})
	if err != nil {
		return nil, nil, err
	}
	return store.NewSink(st, opts.sink, metrics), st, nil
}

// servePprof exposes profiles on their own address so they never share
// the public port.
func servePprof(addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	if err := http.ListenAndServe(addr, mux); err != nil {
		slog.Error("pprof listener", "addr", addr, "err", err)
	}
}
