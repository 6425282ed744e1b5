// Package ops reads the operational figures of a running pulse pipeline
// from its independent sources: the gateway's /metrics, the Kafka consumer
// group's lag, ClickHouse's system tables and the store's own figures
// (DAU, freshness). Each source answers on its own, so one that is down
// never hides the others. `pulse top` (package tui) shows the figures live
// and `pulse status` prints them once and checks them against thresholds.
//
// ops depends on no other pulse package but sql, so that the gateway can
// serve ops.StoreStats without an import cycle.
package ops

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Reading is the latest result of one source: the figures of its last
// successful read and the error of its last attempt, if that failed.
type Reading[T any] struct {
	// Enabled is false for a source that is not configured.
	Enabled bool
	// Value holds the figures read at At; zero until a read succeeds.
	Value T
	// At is when Value was read (zero: never).
	At time.Time
	// Err is the last attempt's error, nil when it succeeded. Value then
	// holds older figures, or none.
	Err error
}

// OK says the last attempt succeeded.
func (r Reading[T]) OK() bool { return r.Enabled && r.Err == nil && !r.At.IsZero() }

// Set records a read: its figures when err is nil, the error otherwise
// (keeping the figures of the last good read).
func (r *Reading[T]) Set(v T, at time.Time, err error) {
	r.Err = err
	if err == nil {
		r.Value, r.At = v, at
	}
}

// ErrNotServed means a source exists but does not offer the figures, such
// as a gateway from before GET /v1/stats: shown as "n/a", not as a failure.
var ErrNotServed = errors.New("not served")

// Snapshot is the latest reading of every source.
type Snapshot struct {
	Gateway    Reading[GatewayFigures]
	Kafka      Reading[KafkaFigures]
	ClickHouse Reading[ClickHouseFigures]
	// Store holds the store figures (DAU, freshness) from whichever store
	// the pipeline writes: the embedded store (through the gateway or the
	// file) or ClickHouse.
	Store Reading[StoreStats]
}

// Sources are the configured sources; a nil field is not configured.
type Sources struct {
	Gateway    *GatewaySource
	Kafka      *KafkaSource
	ClickHouse *ClickHouseSource
	Store      StoreSource
}

// Collect reads every configured source once, concurrently, each within
// timeout. The gateway is scraped twice, window apart, because its rates
// and shares are differences between two scrapes.
func Collect(ctx context.Context, src Sources, window, timeout time.Duration) Snapshot {
	snap := Snapshot{
		Gateway:    Reading[GatewayFigures]{Enabled: src.Gateway != nil},
		Kafka:      Reading[KafkaFigures]{Enabled: src.Kafka != nil},
		ClickHouse: Reading[ClickHouseFigures]{Enabled: src.ClickHouse != nil},
		Store:      Reading[StoreStats]{Enabled: src.Store != nil},
	}
	var wg sync.WaitGroup
	run := func(fn func(ctx context.Context)) {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			fn(ctx)
		})
	}
	if src.Gateway != nil {
		wg.Go(func() {
			v, err := collectGateway(ctx, src.Gateway, window, timeout)
			snap.Gateway.Set(v, time.Now(), err)
		})
	}
	if src.Kafka != nil {
		run(func(ctx context.Context) {
			v, err := src.Kafka.Lag(ctx)
			snap.Kafka.Set(v, time.Now(), err)
		})
	}
	if src.ClickHouse != nil {
		run(func(ctx context.Context) {
			v, err := src.ClickHouse.Health(ctx)
			snap.ClickHouse.Set(v, time.Now(), err)
		})
	}
	if src.Store != nil {
		run(func(ctx context.Context) {
			v, err := src.Store.Stats(ctx)
			snap.Store.Set(v, time.Now(), err)
		})
	}
	wg.Wait()
	return snap
}

func collectGateway(ctx context.Context, g *GatewaySource, window, timeout time.Duration) (GatewayFigures, error) {
	scrape := func() (GatewayScrape, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return g.Scrape(ctx)
	}
	first, err := scrape()
	if err != nil {
		return GatewayFigures{}, err
	}
	select {
	case <-time.After(window):
	case <-ctx.Done():
		return GatewayFigures{}, ctx.Err()
	}
	second, err := scrape()
	if err != nil {
		return GatewayFigures{}, err
	}
	return GatewayRates(&first, second), nil
}
