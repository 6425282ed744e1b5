// Package chstore is the ClickHouse side of pulse's production path: the
// schema as numbered migrations (sql/clickhouse/migrations), rendered with
// validated settings, applied and recorded over a clickhouse-go connection.
package chstore

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Defaults of Params.
const (
	DefaultDatabase                = "pulse"
	DefaultSource                  = "events_queue"
	DefaultBroker                  = "localhost:9092"
	DefaultTopic                   = "product_events"
	DefaultConsumerGroup           = "pulse_clickhouse"
	DefaultPartitions              = 6
	DefaultKafkaConsumers          = 1
	DefaultRetentionDays           = 365
	DefaultRollupRetentionDays     = 730
	DefaultDeadLetterRetentionDays = 30
	maxRetentionDays               = 100 * 365
	maxPartitions                  = 10_000
)

// Params are the settings rendered into the schema. Every field is
// validated before it reaches SQL text.
type Params struct {
	// Database holds every pulse object. Default "pulse".
	Database string
	// Source is the table the ingest view reads: the Kafka table in
	// production, a stand-in table with the same columns in tests.
	// Default "events_queue".
	Source string
	// Brokers are the Kafka seed brokers as the ClickHouse server reaches
	// them, host:port. Default localhost:9092.
	Brokers []string
	// Topic carries the events. Default "product_events".
	Topic string
	// ConsumerGroup is the ClickHouse consumers' group. Default
	// "pulse_clickhouse".
	ConsumerGroup string
	// Partitions is the topic's partition count; KafkaConsumers may not
	// exceed it. Default 6 (the gateway's default when it creates the topic).
	Partitions int
	// KafkaConsumers is the Kafka table's kafka_num_consumers. ClickHouse
	// refuses more consumers than the server has physical cores. Default 1.
	KafkaConsumers int
	// RetentionDays is the events table's TTL. Default 365.
	RetentionDays int
	// RollupRetentionDays is each rollup table's TTL. Default 730.
	RollupRetentionDays int
	// DeadLetterRetentionDays is the dead-letter table's TTL. Default 30.
	DeadLetterRetentionDays int
}

// DefaultParams returns Params with every default set.
func DefaultParams() Params {
	return Params{
		Database:                DefaultDatabase,
		Source:                  DefaultSource,
		Brokers:                 []string{DefaultBroker},
		Topic:                   DefaultTopic,
		ConsumerGroup:           DefaultConsumerGroup,
		Partitions:              DefaultPartitions,
		KafkaConsumers:          DefaultKafkaConsumers,
		RetentionDays:           DefaultRetentionDays,
		RollupRetentionDays:     DefaultRollupRetentionDays,
		DeadLetterRetentionDays: DefaultDeadLetterRetentionDays,
	}
}

var (
	// identifierRE is what may go unquoted into DDL as a name. The length
	// leaves room for suffixes such as _tenant_none.
	identifierRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)
	// kafkaNameRE is Kafka's own rule for topic names; group names follow it
	// here too. Neither allows a quote, so the value is safe in '...'.
	kafkaNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)
	hostRE      = regexp.MustCompile(`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$`)
	// tenantRE is the event contract's tenant_id rule (ingest/contract.go).
	tenantRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

// Validate reports every setting that cannot be rendered safely.
func (p Params) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(identifierRE.MatchString(p.Database), "database %q must be letters, digits and _, not starting with a digit, at most 48 characters", p.Database)
	check(identifierRE.MatchString(p.Source), "source table %q must be letters, digits and _, not starting with a digit, at most 48 characters", p.Source)
	check(len(p.Brokers) > 0, "at least one Kafka broker is required (host:port)")
	for _, b := range p.Brokers {
		check(validBroker(b), "broker %q must be host:port", b)
	}
	check(kafkaNameRE.MatchString(p.Topic), "topic %q must be 1-249 letters, digits, '.', '_' or '-'", p.Topic)
	check(kafkaNameRE.MatchString(p.ConsumerGroup), "consumer group %q must be 1-249 letters, digits, '.', '_' or '-'", p.ConsumerGroup)
	check(p.Partitions >= 1 && p.Partitions <= maxPartitions, "partitions must be between 1 and %d, got %d", maxPartitions, p.Partitions)
	check(p.KafkaConsumers >= 1 && p.KafkaConsumers <= p.Partitions, "kafka consumers must be between 1 and the partition count (%d), got %d: a consumer without a partition idles", p.Partitions, p.KafkaConsumers)
	for _, r := range []struct {
		name string
		days int
	}{{"retention days", p.RetentionDays}, {"rollup retention days", p.RollupRetentionDays}, {"dead-letter retention days", p.DeadLetterRetentionDays}} {
		check(r.days >= 1 && r.days <= maxRetentionDays, "%s must be between 1 and %d, got %d", r.name, maxRetentionDays, r.days)
	}
	return errors.Join(errs...)
}

func validBroker(b string) bool {
	i := strings.LastIndexByte(b, ':')
	if i <= 0 {
		return false
	}
	port, err := strconv.Atoi(b[i+1:])
	return err == nil && port >= 1 && port <= 65535 && hostRE.MatchString(b[:i])
}

// vars are the template values; p must be valid.
func (p Params) vars() map[string]string {
	return map[string]string{
		"database":                   p.Database,
		"source":                     p.Source,
		"brokers":                    strings.Join(p.Brokers, ","),
		"topic":                      p.Topic,
		"consumer_group":             p.ConsumerGroup,
		"partitions":                 strconv.Itoa(p.Partitions),
		"kafka_consumers":            strconv.Itoa(p.KafkaConsumers),
		"retention_days":             strconv.Itoa(p.RetentionDays),
		"rollup_retention_days":      strconv.Itoa(p.RollupRetentionDays),
		"dead_letter_retention_days": strconv.Itoa(p.DeadLetterRetentionDays),
	}
}

// Render validates p and renders tmpl with it.
func Render(tmpl string, p Params) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	return render(tmpl, p.vars())
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
