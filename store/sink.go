package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pulse-analytics/pulse/ingest"
)

// SinkConfig tunes group commit into the embedded store.
type SinkConfig struct {
	// FlushInterval is how long the writer waits for more events once the
	// first one of a flush is queued (default 2ms). While a flush commits,
	// new requests queue up and share the next one, so under load flushes
	// grow without waiting.
	FlushInterval time.Duration
	// FlushEvents caps the events committed in one transaction (default 20,000).
	FlushEvents int
	// MaxBufferedEvents bounds the queue; beyond it Store returns
	// ingest.ErrBackpressure at once (default 200,000).
	MaxBufferedEvents int
	// RollupInterval is how often the writer adds newly committed events to
	// the rollups, between flushes (default 1s). Queries see rollups at most
	// this much behind the events.
	RollupInterval time.Duration
}

func (c *SinkConfig) withDefaults() {
	if c.FlushInterval == 0 {
		c.FlushInterval = 2 * time.Millisecond
	}
	if c.FlushEvents == 0 {
		c.FlushEvents = 20_000
	}
	if c.MaxBufferedEvents == 0 {
		c.MaxBufferedEvents = 200_000
	}
	if c.RollupInterval == 0 {
		c.RollupInterval = time.Second
	}
}

// Sink is the gateway's embedded-store sink: requests queue their events
// and wait while one writer goroutine commits them in shared transactions.
type Sink struct {
	store   *Store
	cfg     SinkConfig
	metrics *ingest.Metrics
	// insert is Store.Insert, replaceable in tests to simulate a slow disk.
	insert func(context.Context, []ingest.Event) (int, error)

	mu       sync.Mutex
	queue    []*pendingWrite
	buffered int
	closed   bool
	wake     chan struct{}
	done     chan struct{}
}

type pendingWrite struct {
	events []ingest.Event
	result chan error
}

// NewSink starts the writer goroutine. Close stops it after draining.
func NewSink(st *Store, cfg SinkConfig, m *ingest.Metrics) *Sink {
	cfg.withDefaults()
	s := &Sink{
		store: st, cfg: cfg, metrics: m, insert: st.InsertEvents,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	go s.run()
	return s
}

// errSinkClosed is returned to requests that arrive during shutdown.
var errSinkClosed = errors.New("embedded store is shutting down")

// Store queues events and waits until they are committed. A full queue
// fails at once with ingest.ErrBackpressure rather than blocking.
func (s *Sink) Store(ctx context.Context, events []ingest.Event) error {
	if len(events) == 0 {
		return nil
	}
	p := &pendingWrite{events: events, result: make(chan error, 1)}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return fmt.Errorf("%w: %w", ingest.ErrBackpressure, errSinkClosed)
	case s.buffered+len(events) > s.cfg.MaxBufferedEvents:
		s.mu.Unlock()
		return ingest.ErrBackpressure
	}
	s.queue = append(s.queue, p)
	s.buffered += len(events)
	s.metrics.BufferDepth.Set(float64(s.buffered))
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	select {
	case err := <-p.result:
		return err
	case <-ctx.Done():
		// The events may still be committed; the client was not told so
		// and will retry, and de-duplication by event_id absorbs that.
		return ctx.Err()
	}
}

// Ready checks that the store answers queries.
func (s *Sink) Ready(ctx context.Context) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return errSinkClosed
	}
	return s.store.DB.PingContext(ctx)
}

// Close commits everything queued, then stops the writer. The store itself
// stays open; its owner closes it.
func (s *Sink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-s.done
	return nil
}

func (s *Sink) run() {
	defer close(s.done)
	// Catch up on events a crash left out of the rollups, and fold in the
	// last flushes on the way out.
	s.refreshRollups()
	defer s.refreshRollups()
	ticker := time.NewTicker(s.cfg.RollupInterval)
	defer ticker.Stop()
	dirty := false
	for {
		select {
		case <-s.wake:
		case <-ticker.C:
			if dirty {
				s.refreshRollups()
				dirty = false
			}
			continue
		}
		dirty = true
		s.mu.Lock()
		if s.buffered < s.cfg.FlushEvents && !s.closed {
			// Linger so that concurrent requests share this commit.
			s.mu.Unlock()
			time.Sleep(s.cfg.FlushInterval)
			s.mu.Lock()
		}
		for len(s.queue) > 0 {
			batch := s.takeLocked()
			s.mu.Unlock()
			s.flush(batch)
			s.mu.Lock()
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return
		}
	}
}

// takeLocked removes up to FlushEvents events' worth of whole requests.
func (s *Sink) takeLocked() []*pendingWrite {
	n, events := 0, 0
	for n < len(s.queue) && (n == 0 || events+len(s.queue[n].events) <= s.cfg.FlushEvents) {
		events += len(s.queue[n].events)
		n++
	}
	batch := s.queue[:n:n]
	s.queue = s.queue[n:]
	s.buffered -= events
	s.metrics.BufferDepth.Set(float64(s.buffered))
	return batch
}

func (s *Sink) refreshRollups() {
	if err := s.store.RefreshRollups(context.Background()); err != nil {
		// Events stay committed; the next refresh picks them up.
		slog.Error("refresh rollups", "err", err)
	}
}

func (s *Sink) flush(batch []*pendingWrite) {
	var events []ingest.Event
	if len(batch) == 1 {
		events = batch[0].events
	} else {
		total := 0
		for _, p := range batch {
			total += len(p.events)
		}
		events = make([]ingest.Event, 0, total)
		for _, p := range batch {
			events = append(events, p.events...)
		}
	}
	start := time.Now()
	_, err := s.insert(context.Background(), events)
	s.metrics.FlushDuration.Observe(time.Since(start).Seconds())
	s.metrics.FlushSize.Observe(float64(len(events)))
	if err != nil {
		s.metrics.FlushErrors.Inc()
		slog.Error("embedded store flush failed", "events", len(events), "err", err)
		err = fmt.Errorf("embedded store: %w", err)
	}
	for _, p := range batch {
		p.result <- err
	}
}
