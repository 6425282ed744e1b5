// Package load is the consumer behind `pulse load`: it reads the event
// topic in a consumer group and writes large batches into the embedded
// store or ClickHouse, with invalid records going to a dead-letter sink.
//
// Offsets are the loader's only state, and a batch's offsets are committed
// only after its events and dead letters are durable:
//
//	poll (rebalances blocked) -> decode -> store events -> write dead letters
//	-> commit the batch's offsets -> allow rebalances
//
// Nothing is lost: a record's offset is committed after it is stored, so a
// crash at any point re-reads every record not yet stored. Nothing is
// counted twice: a crash after storing but before committing re-reads
// stored records, and the stores absorb them (the embedded store skips an
// event whose tenant_id, event_id and ts it holds; ClickHouse's events table
// is a ReplacingMergeTree on that key and the metrics read it FINAL). Dead
// letters are at least once: a re-read writes them again, with the same
// topic, partition and offset.
package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pulse-analytics/pulse/ingest"
)

// Events is where a batch's valid events go. Insert must be idempotent on
// (tenant_id, event_id, ts): a batch whose offsets were not committed is
// read and inserted again after a crash. It returns how many events were
// new (or written, for a store that cannot tell). *store.Store is one.
type Events interface {
	Insert(ctx context.Context, events []ingest.Event) (int, error)
}

// Stats count what a Run did.
type Stats struct {
	// Records read from Kafka and stored (as events or dead letters).
	Records int64
	// Events stored, and how many of them were new: fewer when records are
	// read again after a crash. ClickHouse counts every event as new.
	Events, NewEvents int64
	DeadLetters       int64
	Batches           int64
}

const (
	// idlePoll is the longest a poll waits while no batch is open, so that
	// progress, commit retries and the drained check run.
	idlePoll = 500 * time.Millisecond
	// storeTimeout bounds one attempt to store a batch.
	storeTimeout = 5 * time.Minute
	// kafkaTimeout bounds commits, admin requests and leaving the group.
	kafkaTimeout = 10 * time.Second
	// commitRetryInterval spaces retries of a failed commit while idle.
	commitRetryInterval = time.Second
)

// Loader moves the topic into a store. Build it with New; Run it once.
type Loader struct {
	cfg    Config
	events Events
	dead   DeadLetters
	dec    *Decoder
	target string

	// stored holds, per partition, the last record stored but not yet
	// committed. The rebalance callbacks read it from the client's
	// goroutine; mu guards it.
	mu     sync.Mutex
	stored map[topicPartition]*kgo.Record

	// rebalanceWanted is set when the group waits on this member's batch,
	// so the batch is stored without waiting for it to fill.
	rebalanceWanted atomic.Bool
	stats           Stats

	// polled, when set, is told the batch's size after every poll (tests).
	polled func(batchRecords int)
}

type topicPartition struct {
	topic     string
	partition int32
}

// New checks cfg and returns a loader that stores into events and dead.
// target describes the store for logs.
func New(cfg Config, events Events, dead DeadLetters, target string) (*Loader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Loader{
		cfg: cfg, events: events, dead: dead, dec: NewDecoder(cfg), target: target,
		stored: map[topicPartition]*kgo.Record{},
	}, nil
}

// batch is the records read since the last store, decoded.
type batch struct {
	events  []ingest.Event
	dead    []DeadLetter
	last    map[topicPartition]*kgo.Record
	records int
	bytes   int
	started time.Time
	// Steps already done, so that a retry does not repeat them.
	eventsStored, deadStored bool
	newEvents                int
}

func (b *batch) empty() bool { return b.records == 0 }

func (b *batch) reset() {
	clear(b.events)
	clear(b.dead)
	b.events, b.dead = b.events[:0], b.dead[:0]
	clear(b.last)
	b.records, b.bytes, b.newEvents = 0, 0, 0
	b.eventsStored, b.deadStored = false, false
}

func (l *Loader) add(b *batch, r *kgo.Record) {
	if b.empty() {
		b.started = time.Now()
	}
	b.records++
	b.bytes += len(r.Value)
	if ev, dl := l.dec.Decode(r); dl != nil {
		b.dead = append(b.dead, *dl)
	} else {
		b.events = append(b.events, ev)
	}
	// Only what a commit needs, not the value.
	b.last[topicPartition{r.Topic, r.Partition}] = &kgo.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, LeaderEpoch: r.LeaderEpoch}
}

// Run consumes until ctx ends (then it stores and commits the batch it
// holds, leaves the group and returns nil) or, with ExitWhenDrained, until
// the topic is drained. An error means the batch in hand was not stored;
// its offsets are not committed, so the next run reads it again.
func (l *Loader) Run(ctx context.Context) (Stats, error) {
	cl, err := kgo.NewClient(l.clientOptions()...)
	if err != nil {
		return l.stats, fmt.Errorf("kafka: invalid client configuration: %w", err)
	}
	defer l.close(cl)
	adm := kadm.NewClient(cl)
	if err := l.checkTopic(ctx, adm); err != nil {
		return l.stats, err
	}
	slog.Info("pulse load ready", "brokers", strings.Join(l.cfg.Brokers, ","), "topic", l.cfg.Topic, "group", l.cfg.Group,
		"target", l.target, "batch_events", l.cfg.BatchEvents, "batch_interval", l.cfg.BatchInterval)

	b := &batch{last: map[topicPartition]*kgo.Record{}}
	start := time.Now()
	lastRecord, lastCommitTry := start, time.Time{}
	progress := newProgress(start)
	for {
		wait := idlePoll
		if !b.empty() {
			wait = time.Until(b.started.Add(l.cfg.BatchInterval))
		}
		pollCtx, cancel := context.WithTimeout(ctx, max(wait, time.Millisecond))
		fetches := cl.PollRecords(pollCtx, l.cfg.BatchEvents-b.records)
		cancel()
		if err := fetchError(fetches); err != nil {
			return l.stats, err
		}
		fetches.EachRecord(func(r *kgo.Record) { l.add(b, r) })
		if fetches.NumRecords() > 0 {
			lastRecord = time.Now()
		}
		if l.polled != nil {
			l.polled(b.records)
		}
		stopping := ctx.Err() != nil
		due := stopping || b.records >= l.cfg.BatchEvents || b.bytes >= l.cfg.BatchBytes ||
			time.Since(b.started) >= l.cfg.BatchInterval || l.rebalanceWanted.Load()
		if !b.empty() && due {
			if err := l.flush(ctx, cl, b); err != nil {
				return l.stats, err
			}
		}
		if b.empty() {
			// Every record polled is stored (and its commit tried): the
			// group may move partitions now.
			l.rebalanceWanted.Store(false)
			cl.AllowRebalance()
		}
		if stopping {
			slog.Info("pulse load stopped; every record read is stored", l.statsAttrs(time.Since(start))...)
			return l.stats, nil
		}
		if b.empty() && l.pending() && time.Since(lastCommitTry) >= commitRetryInterval {
			lastCommitTry = time.Now()
			l.commit(ctx, cl)
		}
		if l.cfg.ProgressInterval > 0 && time.Since(progress.at) >= l.cfg.ProgressInterval {
			progress.log(ctx, l, adm)
		}
		if l.cfg.ExitWhenDrained && b.empty() && time.Since(lastRecord) >= l.cfg.IdleFor {
			if lag, err := l.lag(ctx, adm); err == nil && lag == 0 {
				slog.Info("pulse load drained the topic; exiting", l.statsAttrs(time.Since(start))...)
				return l.stats, nil
			}
		}
	}
}

func (l *Loader) clientOptions() []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(l.cfg.Brokers...),
		kgo.ConsumerGroup(l.cfg.Group),
		kgo.ConsumeTopics(l.cfg.Topic),
		// A new group starts at the beginning of the topic: loading is a
		// replay of everything Kafka still holds.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Offsets are committed by flush, after the batch is stored, never
		// on a timer.
		kgo.DisableAutoCommit(),
		// No rebalance between a poll and the commit of what it returned:
		// partitions cannot move while their records are being stored.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsCallbackBlocked(func(context.Context, *kgo.Client) { l.rebalanceWanted.Store(true) }),
		kgo.OnPartitionsRevoked(l.onRevoked),
		kgo.OnPartitionsLost(l.onLost),
		kgo.SessionTimeout(l.cfg.SessionTimeout),
		// Memory: at most MaxConcurrentFetches fetches of FetchMaxBytes are
		// buffered ahead of the batch (kgo's defaults are 50 MiB per broker,
		// unbounded).
		kgo.FetchMaxBytes(l.cfg.FetchMaxBytes),
		kgo.MaxConcurrentFetches(l.cfg.MaxConcurrentFetches),
		// After a broker restart or leader move, refresh metadata after 1s
		// rather than kgo's default 5s.
		kgo.MetadataMinAge(time.Second),
		kgo.WithLogger(kgoLogger{}),
	}
}

// checkTopic fails fast when the brokers cannot be reached or the topic is
// missing, instead of polling nothing forever.
func (l *Loader) checkTopic(ctx context.Context, adm *kadm.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	topics, err := adm.ListTopics(ctx, l.cfg.Topic)
	if err != nil {
		return fmt.Errorf("kafka: cannot reach brokers %s: %w (is Kafka running? check --brokers)", strings.Join(l.cfg.Brokers, ","), err)
	}
	td, ok := topics[l.cfg.Topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("kafka: topic %q does not exist on %s (check --topic; `pulse ingest --brokers` creates it when it starts)", l.cfg.Topic, strings.Join(l.cfg.Brokers, ","))
	}
	if td.Err != nil {
		return fmt.Errorf("kafka: topic %q is not usable: %w", l.cfg.Topic, td.Err)
	}
	return nil
}

// fetchError returns the error that ends the run, if any. A poll's own
// deadline is not one; errors kgo keeps retrying are logged.
func fetchError(fetches kgo.Fetches) error {
	var fatal error
	fetches.EachError(func(topic string, partition int32, err error) {
		switch {
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		case errors.Is(err, kgo.ErrClientClosed):
			fatal = fmt.Errorf("kafka: client closed: %w", err)
		default:
			slog.Warn("kafka fetch error; the client retries", "topic", topic, "partition", partition, "err", err)
		}
	})
	return fatal
}

// flush stores the batch, writes its dead letters, then commits its
// offsets. A store error is retried; if it persists, flush returns it and
// nothing of the batch is committed. A failed commit is only logged: the
// offsets are committed by the next flush, a retry, or the revoke callback,
// and a record read again meanwhile is de-duplicated.
func (l *Loader) flush(ctx context.Context, cl *kgo.Client, b *batch) error {
	began := time.Now()
	// The batch is stored even when ctx ends: shutting down stores what was
	// read rather than reading it again next time.
	work := context.WithoutCancel(ctx)
	err := l.retry(ctx, "store events", func() error {
		if b.eventsStored || len(b.events) == 0 {
			return nil
		}
		attempt, cancel := context.WithTimeout(work, storeTimeout)
		defer cancel()
		n, err := l.events.Insert(attempt, b.events)
		if err != nil {
			return err
		}
		b.eventsStored, b.newEvents = true, n
		return nil
	})
	if err == nil {
		err = l.retry(ctx, "write dead letters", func() error {
			if b.deadStored || len(b.dead) == 0 {
				return nil
			}
			attempt, cancel := context.WithTimeout(work, storeTimeout)
			defer cancel()
			if err := l.dead.Write(attempt, b.dead); err != nil {
				return err
			}
			b.deadStored = true
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("batch of %d records not stored, offsets not committed (it is read again on restart): %w", b.records, err)
	}

	l.mu.Lock()
	for tp, r := range b.last {
		l.stored[tp] = r
	}
	l.mu.Unlock()
	l.commit(work, cl)

	l.stats.Records += int64(b.records)
	l.stats.Events += int64(len(b.events))
	l.stats.NewEvents += int64(b.newEvents)
	l.stats.DeadLetters += int64(len(b.dead))
	l.stats.Batches++
	slog.Debug("batch stored", "records", b.records, "events", len(b.events), "new_events", b.newEvents,
		"dead_letters", len(b.dead), "took", time.Since(began).Round(time.Millisecond))
	if len(b.dead) > 0 {
		slog.Warn("records refused as dead letters", "count", len(b.dead), "first_reason", b.dead[0].Reason, "first_error", b.dead[0].Error)
	}
	b.reset()
	return nil
}

// retry runs step until it succeeds, StoreAttempts run out, or ctx ends
// (shutdown gets no more retries), backing off from 500ms to 8s.
func (l *Loader) retry(ctx context.Context, what string, step func() error) error {
	backoff := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := step()
		if err == nil {
			return nil
		}
		if attempt >= l.cfg.StoreAttempts || ctx.Err() != nil {
			return fmt.Errorf("%s (attempt %d): %w", what, attempt, err)
		}
		slog.Warn("batch not stored; retrying", "step", what, "attempt", attempt, "retry_in", backoff, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 8*time.Second)
	}
}

// commit commits every stored offset. On failure the offsets stay pending.
func (l *Loader) commit(ctx context.Context, cl *kgo.Client) {
	l.commitPartitions(ctx, cl, nil)
}

// commitPartitions commits the stored offsets of the given partitions (all
// when only is nil) and forgets those committed.
func (l *Loader) commitPartitions(ctx context.Context, cl *kgo.Client, only map[string][]int32) bool {
	l.mu.Lock()
	var recs []*kgo.Record
	for tp, r := range l.stored {
		if only == nil || contains(only[tp.topic], tp.partition) {
			recs = append(recs, r)
		}
	}
	l.mu.Unlock()
	if len(recs) == 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, kafkaTimeout)
	defer cancel()
	if err := cl.CommitRecords(ctx, recs...); err != nil {
		slog.Warn("kafka: offset commit failed; retrying later (the records are stored: a re-read is de-duplicated)", "partitions", len(recs), "err", err)
		return false
	}
	l.mu.Lock()
	for _, r := range recs {
		tp := topicPartition{r.Topic, r.Partition}
		if l.stored[tp] == r {
			delete(l.stored, tp)
		}
	}
	l.mu.Unlock()
	return true
}

func (l *Loader) pending() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.stored) > 0
}

// onRevoked commits what is stored of partitions moving to another member,
// so it starts where this one stopped. It runs only while rebalances are
// allowed, when every polled record is stored.
func (l *Loader) onRevoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	l.commitPartitions(ctx, cl, revoked)
	l.forget(revoked)
}

// onLost forgets partitions taken away without a chance to commit (the
// session expired): their new owner re-reads from the last commit, and the
// store de-duplicates.
func (l *Loader) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	slog.Warn("kafka: partitions lost to the group; their uncommitted records will be read again", "partitions", fmt.Sprint(lost))
	l.forget(lost)
}

func (l *Loader) forget(parts map[string][]int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for topic, ps := range parts {
		for _, p := range ps {
			delete(l.stored, topicPartition{topic, p})
		}
	}
}

func contains(ps []int32, p int32) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// close allows the final revoke (which commits what is stored), leaves the
// group so its partitions move at once, and closes the client.
func (l *Loader) close(cl *kgo.Client) {
	cl.AllowRebalance()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTimeout)
	defer cancel()
	if err := cl.LeaveGroupContext(ctx); err != nil {
		slog.Warn("kafka: leaving the group failed; its partitions move after the session timeout", "err", err)
	}
	cl.Close()
}

// lag is how many records of the topic the group has not committed: the
// end offsets less the committed ones (or the start, where none is).
func (l *Loader) lag(ctx context.Context, adm *kadm.Client) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, kafkaTimeout)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, l.cfg.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("list end offsets: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, l.cfg.Topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("list start offsets: %w", err)
	}
	committed, err := adm.FetchOffsets(ctx, l.cfg.Group)
	if err != nil {
		return 0, fmt.Errorf("fetch committed offsets: %w", err)
	}
	var total int64
	var partErr error
	ends.Each(func(end kadm.ListedOffset) {
		from := int64(0)
		if s, ok := starts.Lookup(end.Topic, end.Partition); ok {
			from = s.Offset
		}
		if c, ok := committed.Lookup(end.Topic, end.Partition); ok {
			if c.Err != nil {
				partErr = c.Err
			} else if c.At >= 0 {
				from = c.At
			}
		}
		total += max(end.Offset-from, 0)
	})
	if partErr != nil {
		return 0, fmt.Errorf("fetch committed offsets: %w", partErr)
	}
	return total, nil
}

func (l *Loader) statsAttrs(elapsed time.Duration) []any {
	return []any{"records", l.stats.Records, "events", l.stats.Events, "new_events", l.stats.NewEvents,
		"dead_letters", l.stats.DeadLetters, "batches", l.stats.Batches, "elapsed", elapsed.Round(time.Millisecond)}
}

// progress logs a line per interval: the rate since the last line and the
// group's lag (one round of admin requests, skipped when they fail).
type progress struct {
	at     time.Time
	events int64
}

func newProgress(now time.Time) *progress { return &progress{at: now} }

func (p *progress) log(ctx context.Context, l *Loader, adm *kadm.Client) {
	now := time.Now()
	rate := float64(l.stats.Events-p.events) / now.Sub(p.at).Seconds()
	attrs := []any{"events_per_s", int64(rate), "events", l.stats.Events, "new_events", l.stats.NewEvents, "dead_letters", l.stats.DeadLetters}
	if lag, err := l.lag(ctx, adm); err == nil {
		attrs = append(attrs, "lag", lag)
	}
	slog.Info("pulse load progress", attrs...)
	p.at, p.events = now, l.stats.Events
}

// kgoLogger sends the client's warnings and errors (and, at debug, its
// group and connection news) to slog.
type kgoLogger struct{}

func (kgoLogger) Level() kgo.LogLevel {
	if slog.Default().Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelWarn
}

func (kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	msg = "kafka: " + msg
	switch level {
	case kgo.LogLevelError:
		slog.Error(msg, keyvals...)
	case kgo.LogLevelWarn:
		slog.Warn(msg, keyvals...)
	default:
		slog.Debug(msg, keyvals...)
	}
}
