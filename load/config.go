package load

import (
	"errors"
	"fmt"
	"time"

	"github.com/pulse-analytics/pulse/ingest"
)

// Defaults of Config; a zero field takes its default.
const (
	DefaultGroup         = "pulse-load"
	DefaultBatchEvents   = 50_000
	DefaultBatchBytes    = 64 << 20
	DefaultBatchInterval = time.Second
	// DefaultMaxRecordBytes is far above the gateway's 32 KiB: the gateway
	// limits what clients send, while a topic carries the normalised form,
	// which can be larger (event_id and defaults added, JSON re-escaped). The
	// loader only refuses absurd records.
	DefaultMaxRecordBytes     = 1 << 20
	DefaultMaxDeadLetterBytes = 64 << 10
	DefaultProgressInterval   = 10 * time.Second
	// DefaultFetchMaxBytes and DefaultMaxConcurrentFetches bound what the
	// client buffers ahead of the batch: about 3 x 16 MiB.
	DefaultFetchMaxBytes        = 16 << 20
	DefaultMaxConcurrentFetches = 3
	DefaultStoreAttempts        = 5
	// DefaultSessionTimeout is how long a loader that died without leaving
	// the group (kill -9, a crashed host) holds its partitions: a restarted
	// loader waits that long for them. kgo's default is 45s; heartbeats are
	// sent in the background, so a long store does not need a long session.
	DefaultSessionTimeout = 10 * time.Second
)

// Config configures a Loader. Every field but Brokers has a default.
type Config struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// Topic carries the events. Default "product_events".
	Topic string
	// Group is the consumer group; its committed offsets are the loader's
	// only state. Default "pulse-load".
	Group string
	// BatchEvents caps the records (events and dead letters) in one batch,
	// and so the events held in memory. Default 50,000.
	BatchEvents int
	// BatchBytes caps the record bytes in one batch; a batch may pass it by
	// one poll. Default 64 MiB.
	BatchBytes int
	// BatchInterval is the longest a partial batch waits for more records
	// before it is stored. Default 1s.
	BatchInterval time.Duration
	// ExitWhenDrained makes Run return once the group has committed up to
	// the end of every partition and no record arrived for IdleFor.
	ExitWhenDrained bool
	IdleFor         time.Duration
	// ProgressInterval is how often a progress line is logged. Default 10s;
	// negative turns it off.
	ProgressInterval time.Duration
	// MaxRecordBytes is the largest record value decoded as an event.
	// Default 1 MiB.
	MaxRecordBytes int
	// MaxFutureSkew is how far an event's ts may be ahead of its record's
	// timestamp. Default 24h, the gateway's default.
	MaxFutureSkew time.Duration
	// MaxDeadLetterBytes bounds the raw value kept in a dead letter.
	// Default 64 KiB.
	MaxDeadLetterBytes int
	// FetchMaxBytes is the most a broker returns per fetch
	// (fetch.max.bytes). Default 16 MiB.
	FetchMaxBytes int32
	// MaxConcurrentFetches bounds the fetches in flight or buffered.
	// Default 3.
	MaxConcurrentFetches int
	// StoreAttempts is how often a batch is tried before Run gives up and
	// returns the error, leaving its offsets uncommitted. Default 5.
	StoreAttempts int
	// SessionTimeout is the group session timeout (session.timeout.ms),
	// within the broker's group.min/max.session.timeout.ms (6s to 30m by
	// default). Default 10s.
	SessionTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = ingest.DefaultKafkaTopic
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.BatchEvents == 0 {
		c.BatchEvents = DefaultBatchEvents
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.BatchInterval == 0 {
		c.BatchInterval = DefaultBatchInterval
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = DefaultProgressInterval
	}
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if c.MaxFutureSkew == 0 {
		c.MaxFutureSkew = ingest.DefaultMaxFutureSkew
	}
	if c.MaxDeadLetterBytes == 0 {
		c.MaxDeadLetterBytes = DefaultMaxDeadLetterBytes
	}
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = DefaultFetchMaxBytes
	}
	if c.MaxConcurrentFetches == 0 {
		c.MaxConcurrentFetches = DefaultMaxConcurrentFetches
	}
	if c.StoreAttempts == 0 {
		c.StoreAttempts = DefaultStoreAttempts
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	return c
}

// Validate reports settings that cannot work, as the flags name them.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(len(c.Brokers) > 0, "no Kafka brokers given (set --brokers host:port,...)")
	check(c.BatchEvents >= 1, "--batch-events must be at least 1, got %d", c.BatchEvents)
	check(c.BatchBytes >= 1, "--batch-bytes must be positive, got %d", c.BatchBytes)
	check(c.BatchInterval > 0, "--batch-interval must be positive, got %s", c.BatchInterval)
	check(c.IdleFor >= 0, "--until-idle must not be negative, got %s", c.IdleFor)
	check(c.MaxRecordBytes >= 256, "--max-record-bytes must be at least 256, got %d", c.MaxRecordBytes)
	check(c.MaxFutureSkew > 0, "--max-future-skew must be positive, got %s", c.MaxFutureSkew)
	check(c.MaxDeadLetterBytes >= 1, "--dead-letter-max-bytes must be positive, got %d", c.MaxDeadLetterBytes)
	check(c.FetchMaxBytes >= 1, "fetch max bytes must be positive, got %d", c.FetchMaxBytes)
	check(c.StoreAttempts >= 1, "store attempts must be at least 1, got %d", c.StoreAttempts)
	check(c.SessionTimeout >= time.Second, "--session-timeout must be at least 1s (brokers require 6s by default), got %s", c.SessionTimeout)
	return errors.Join(errs...)
}
