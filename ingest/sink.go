package ingest

import (
	"context"
	"errors"
)

// Sink makes accepted events durable. Store returns nil only once every
// event is durable: committed to the embedded store, or acknowledged by
// Kafka with acks=all. It never blocks beyond ctx.
type Sink interface {
	Store(ctx context.Context, events []Event) error
	// Ready reports whether the sink can currently take events.
	Ready(ctx context.Context) error
	// Close flushes everything already handed to Store and releases the sink.
	Close() error
}

// ErrBackpressure means the sink's bounded buffer is full; the gateway turns
// it into 503 with Retry-After instead of queueing without bound.
var ErrBackpressure = errors.New("sink buffer is full; retry later")
