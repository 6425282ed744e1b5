package cmd

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pulse-analytics/pulse/chstore"
	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/ops"
	"github.com/pulse-analytics/pulse/store"
)

// defaultOpsGroup is `pulse load`'s consumer group, which feeds the
// embedded store from Kafka; ClickHouse's Kafka engine consumes as
// pulse_clickhouse (chstore.DefaultConsumerGroup).
const defaultOpsGroup = "pulse-load"

// opsOptions are the flags `pulse top` and `pulse status` share: where
// each source is, how often to read, and the thresholds.
type opsOptions struct {
	gateway    string
	brokers    []string
	group      string
	topic      string
	clickhouse string
	database   string
	dataPath   string
	interval   time.Duration
	timeout    time.Duration
	tenant     string
	thresholds ops.Thresholds
}

func (o *opsOptions) addFlags(f *pflag.FlagSet, intervalHelp string) {
	f.StringVar(&o.gateway, "gateway", "http://127.0.0.1:8080", `gateway base URL whose /metrics (and `+ops.StatsPath+`) are read; "" for none`)
	f.StringSliceVar(&o.brokers, "brokers", nil, "Kafka seed brokers host:port,... for the consumer group's lag (none: no Kafka figures)")
	f.StringVar(&o.group, "group", defaultOpsGroup, "Kafka consumer group that feeds the store (pulse load's; ClickHouse's is "+chstore.DefaultConsumerGroup+")")
	f.StringVar(&o.topic, "topic", ingest.DefaultKafkaTopic, `Kafka topic of the events; "" for every topic the group reads`)
	f.StringVar(&o.clickhouse, "clickhouse", "", "ClickHouse DSN (clickhouse://host:9000 or http://host:8123): health figures, and the store figures from its events table")
	f.StringVar(&o.database, "database", chstore.DefaultDatabase, "ClickHouse database that holds pulse's tables")
	f.StringVar(&o.dataPath, "data", "", "embedded store file to read the store figures from, read-only; while a gateway holds it, its "+ops.StatsPath+" answers (default: ask the gateway)")
	f.DurationVar(&o.interval, "refresh", 2*time.Second, intervalHelp)
	f.DurationVar(&o.timeout, "timeout", 5*time.Second, "longest one read of one source may take")
	f.StringVar(&o.tenant, "tenant", "", "tenant whose DAU is shown (default all tenants)")
	f.Int64Var(&o.thresholds.MaxLag, "max-lag", -1, "most messages the group may be behind, over the topic's partitions (-1: no check)")
	f.DurationVar(&o.thresholds.MaxFreshness, "max-freshness", 0, "oldest the newest stored event may be, e.g. 5m (0: no check)")
	f.Float64Var(&o.thresholds.MaxErrorRate, "max-error-rate", -1, "highest share 0..1 of gateway event requests not answered 2xx over the window (-1: no check)")
}

func (o *opsOptions) validate() error {
	t := o.thresholds
	switch {
	case o.interval < 100*time.Millisecond:
		return usageErrorf("--refresh must be at least 100ms, got %s", o.interval)
	case o.timeout <= 0:
		return usageErrorf("--timeout must be positive, got %s", o.timeout)
	case o.gateway == "" && len(o.brokers) == 0 && o.clickhouse == "" && o.dataPath == "":
		return usageErrorf("nothing to read: give --gateway, --data, --clickhouse or --brokers")
	case o.tenant != "" && !ingest.ValidTenantID(o.tenant):
		return usageErrorf("--tenant %q is not a tenant_id: 1 to %d letters, digits, '.', '_' or '-'", o.tenant, ingest.MaxTenantIDLen)
	case t.MaxLag < -1:
		return usageErrorf("--max-lag is a number of messages, 0 or more (-1: no check), got %d", t.MaxLag)
	case t.MaxFreshness < 0:
		return usageErrorf("--max-freshness is a positive duration such as 5m (0: no check), got %s", t.MaxFreshness)
	case math.IsNaN(t.MaxErrorRate) || t.MaxErrorRate > 1 || (t.MaxErrorRate < 0 && t.MaxErrorRate != -1):
		return usageErrorf("--max-error-rate is a share between 0 and 1 (0.05 = 5%%; -1: no check), got %g", t.MaxErrorRate)
	case t.MaxLag >= 0 && len(o.brokers) == 0:
		return usageErrorf("--max-lag needs --brokers to read the lag from")
	case t.MaxErrorRate >= 0 && o.gateway == "":
		return usageErrorf("--max-error-rate needs --gateway to read the error rate from")
	case t.MaxFreshness > 0 && o.gateway == "" && o.clickhouse == "" && o.dataPath == "":
		return usageErrorf("--max-freshness needs a store: --clickhouse, --data or --gateway")
	case len(o.brokers) > 0 && o.group == "":
		return usageErrorf("--group must name the consumer group whose lag to read")
	case o.clickhouse != "" && o.dataPath != "":
		return usageErrorf("--clickhouse and --data both name the store: give one")
	}
	if o.gateway != "" {
		u, err := url.Parse(o.gateway)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageErrorf("--gateway %q must be a URL such as http://127.0.0.1:8080", o.gateway)
		}
	}
	return nil
}

// sources builds the configured sources. Nothing connects here: each
// source connects on its first read, so one that is down does not keep
// the others from being read. The returned function releases them.
func (o *opsOptions) sources() (ops.Sources, func(), error) {
	var src ops.Sources
	var closers []func()
	release := func() {
		for _, c := range closers {
			c()
		}
	}
	if o.gateway != "" {
		src.Gateway = ops.NewGatewaySource(o.gateway)
		src.Store = ops.NewGatewayStoreSource(o.gateway)
	}
	if len(o.brokers) > 0 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(o.brokers...), kgo.DialTimeout(o.timeout))
		if err != nil {
			return ops.Sources{}, nil, usageErrorf("invalid --brokers: %v", err)
		}
		closers = append(closers, cl.Close)
		src.Kafka = &ops.KafkaSource{Admin: kadm.NewClient(cl), Group: o.group, Topic: o.topic}
	}
	if o.clickhouse != "" {
		dsn := o.clickhouse
		ch := &ops.ClickHouseSource{
			Open:     func(ctx context.Context) (driver.Conn, error) { return chstore.Open(ctx, dsn) },
			Database: o.database,
			Label:    redactDSN(dsn),
		}
		closers = append(closers, func() { _ = ch.Close() })
		src.ClickHouse = ch
		src.Store = ch
	}
	if o.dataPath != "" {
		path := o.dataPath
		embedded := &ops.EmbeddedStoreSource{
			Path: path,
			Now:  time.Now,
			Open: func(ctx context.Context) (*dbsql.DB, func() error, error) {
				st, err := store.Open(ctx, store.Options{Path: path, ReadOnly: true, MemoryLimit: "128MB", Threads: 1})
				if err != nil && strings.Contains(err.Error(), "Conflicting lock") {
					return nil, nil, fmt.Errorf("%w: %s (pulse ingest or pulse load): its figures come from the gateway's %s", ops.ErrStoreBusy, path, ops.StatsPath)
				}
				if err != nil {
					return nil, nil, err
				}
				return st.DB, st.Close, nil
			},
		}
		// While a gateway holds the file, ask it instead.
		if o.gateway != "" {
			embedded.Busy = ops.NewGatewayStoreSource(o.gateway)
		}
		src.Store = embedded
	}
	return src, release, nil
}

// redactDSN hides a DSN's password for display.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}

// sourceFailures lists the configured sources whose read failed; a source
// that does not serve the figures (ops.ErrNotServed) is not a failure.
func sourceFailures(s ops.Snapshot) []string {
	var out []string
	check := func(name string, enabled bool, err error) {
		if enabled && err != nil && !errors.Is(err, ops.ErrNotServed) {
			out = append(out, fmt.Sprintf("%s: %v", name, err))
		}
	}
	check("gateway", s.Gateway.Enabled, s.Gateway.Err)
	check("store", s.Store.Enabled, s.Store.Err)
	check("kafka", s.Kafka.Enabled, s.Kafka.Err)
	check("clickhouse", s.ClickHouse.Enabled, s.ClickHouse.Err)
	return out
}

// joinLines is for messages listing several problems.
func joinLines(lines []string) string { return strings.Join(lines, "; ") }
