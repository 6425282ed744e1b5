// Package backfill loads historical events from files (CSV, NDJSON,
// Parquet; gzip or zstd compressed) into a pulse target: the embedded
// store, ClickHouse or Kafka. Every row passes the gateway's event
// contract; loads are idempotent and resume after a crash from durable
// per-file checkpoints.
//
// Data flow, per file: one reader goroutine streams rows in chunks (CSV
// with encoding/csv, NDJSON line by line, Parquet through a private
// in-memory DuckDB one row group at a time); workers reshape each row into
// event JSON (mapping, extra columns into properties) and decode it with
// ingest.Contract; the calling goroutine puts the chunks back in order,
// writes rejects, stores batches and, after each durable batch, the
// checkpoint. Memory is bounded by the chunks in flight and one batch.
package backfill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pulse-analytics/pulse/ingest"
)

// Defaults of Config.
const (
	DefaultBatchRows     = 50_000
	DefaultProgressEvery = 5 * time.Second
	chunkRows            = 4096
)

// Config is one backfill run.
type Config struct {
	Sources []Source
	Mapping Mapping
	// TS reads epoch numbers and timestamps without a zone (--ts-unit,
	// --ts-zone).
	TS TSRule
	// Delimiter separates CSV fields (--delimiter); 0 is a comma.
	Delimiter byte
	// Target receives the events; nil validates only (--dry-run).
	Target Target
	// State holds the checkpoints; nil disables resuming.
	State *StateDir
	// RejectsPath is where rejected rows are listed (NDJSON, or CSV when
	// it ends in .csv); the file appears only if a row is rejected.
	RejectsPath string
	MaxRejects  Limit
	// BatchRows is the number of events per Target.Store call.
	BatchRows int
	// Workers decode rows in parallel; default GOMAXPROCS.
	Workers int
	// BulkRows is the number of rows per bulk step (default
	// BulkParquetRows, BulkCSVRows, BulkClickHouseRows).
	BulkRows int
	// RowByRow turns the bulk lane off: every row goes through the contract
	// in Go (the lane's differential tests compare the two).
	RowByRow bool
	// Stdin is read for the source "-".
	Stdin io.Reader
	// Contract validates rows; default ingest.NewContract(). Its NewID is
	// replaced: rows without event_id get contentID.
	Contract *ingest.Contract
	// Progress, when set, is called every ProgressEvery and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
	Logger        *slog.Logger
}

// Limit is --max-rejects: a row count, or a percentage of the rows read.
// The zero value is no limit.
type Limit struct {
	kind  limitKind
	value float64
}

type limitKind uint8

const (
	limitNone limitKind = iota
	limitCount
	limitPercent
)

// MaxRejectCount fails a run once more than n rows are rejected.
func MaxRejectCount(n int64) Limit { return Limit{limitCount, float64(n)} }

// MaxRejectPercent fails a run that rejects more than pct% of its rows.
func MaxRejectPercent(pct float64) Limit { return Limit{limitPercent, pct} }

// ParseLimit reads "100" or "0.5%"; "" means no limit.
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Limit{}, nil
	}
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || v < 0 || v > 100 || math.IsNaN(v) {
			return Limit{}, inputErrorf("invalid --max-rejects %q: a percentage must be between 0%% and 100%%", s)
		}
		return MaxRejectPercent(v), nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return Limit{}, inputErrorf("invalid --max-rejects %q: give a row count such as 100 or a percentage such as 0.5%%", s)
	}
	return MaxRejectCount(v), nil
}

func (l Limit) String() string {
	switch l.kind {
	case limitCount:
		return strconv.FormatFloat(l.value, 'f', -1, 64)
	case limitPercent:
		return strconv.FormatFloat(l.value, 'f', -1, 64) + "%"
	}
	return "none"
}

// ErrTooManyRejects fails a run whose rejected rows exceed --max-rejects.
var ErrTooManyRejects = errors.New("too many rejected rows")

// Summary is what a run did.
type Summary struct {
	Files int
	// Rows were read by this run: loaded, duplicate or rejected.
	Rows     int64
	Loaded   int64
	Rejected int64
	// Duplicates were already in the target (or repeated in the input);
	// DuplicatesKnown is false for targets that cannot tell (ClickHouse
	// and Kafka de-duplicate later), which count every row as loaded.
	Duplicates      int64
	DuplicatesKnown bool
	// Resumed rows were passed over: earlier runs stored them (checkpoint).
	Resumed int64
	// Relisted rejects are an earlier, interrupted run's, listed again in
	// this run's rejects file (they are not in Rejected).
	Relisted int64
	// Bulk rows were checked and stored by DuckDB's bulk lane (embedded
	// store, Parquet and CSV); the others went through the contract in Go.
	Bulk        int64
	Elapsed     time.Duration
	RejectsPath string
	DryRun      bool
}

// RowsPerSecond is the rate of rows read.
func (s Summary) RowsPerSecond() float64 {
	return float64(s.Rows) / max(s.Elapsed.Seconds(), 1e-9)
}

// Progress is a snapshot for progress reporting.
type Progress struct {
	File      string
	FileIndex int // from 1
	Files     int
	Rows      int64
	Loaded    int64
	Rejected  int64
	Elapsed   time.Duration
	// Fraction of the input done, from bytes (text formats) or rows
	// (Parquet); -1 when unknown (standard input).
	Fraction float64
	Done     bool
}

// RowsPerSecond is the rate of rows read so far.
func (p Progress) RowsPerSecond() float64 {
	return float64(p.Rows) / max(p.Elapsed.Seconds(), 1e-9)
}

// ETA estimates the time left from the fraction done.
func (p Progress) ETA() (time.Duration, bool) {
	if p.Fraction <= 0 || p.Fraction > 1 {
		return 0, false
	}
	return time.Duration(float64(p.Elapsed) * (1 - p.Fraction) / p.Fraction), true
}

// run is the state of one Run.
type run struct {
	cfg Config
	// fillGoMu serialises a bulk source's fillGo: the check of one step and
	// the insert of the one before may both read rows for the contract.
	fillGoMu sync.Mutex
	logger   *slog.Logger
	contract *ingest.Contract
	rejects  *rejectsFile
	summary  Summary
	start    time.Time

	// Progress, read by the progress goroutine.
	rows, loaded, rejected atomic.Int64
	fileIndex              atomic.Int64
	fraction               atomic.Uint64 // float64 bits
	sizes                  []int64
	totalSize              int64

	storeEmpty *bool // embedded target: cached emptiness check

	// journal takes the current source's rejects (resumable runs);
	// journals are all the run opened, removed when it succeeds.
	journal  *rejectsJournal
	journals []string
}

// checkRejectCount fails the run once more rows than a --max-rejects count
// are rejected (a percentage is judged at the end).
func (r *run) checkRejectCount(rejected int64) error {
	limit := r.cfg.MaxRejects
	if limit.kind != limitCount || float64(rejected) <= limit.value {
		return nil
	}
	rows := "rows"
	if rejected == 1 {
		rows = "row"
	}
	return fmt.Errorf("%w: %d %s rejected, more than --max-rejects %s (see %s); the rows stored before stay stored", ErrTooManyRejects, rejected, rows, limit, r.cfg.RejectsPath)
}

// Run loads every source, in order, and returns what it did; the summary
// is valid also when it returns an error.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	r := &run{cfg: cfg, logger: cfg.Logger, start: time.Now()}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.cfg.BatchRows <= 0 {
		r.cfg.BatchRows = DefaultBatchRows
	}
	if r.cfg.Workers <= 0 {
		r.cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if r.cfg.ProgressEvery <= 0 {
		r.cfg.ProgressEvery = DefaultProgressEvery
	}
	if r.cfg.Mapping.fieldFor == nil {
		r.cfg.Mapping, _ = ParseMapping(nil)
	}
	if r.cfg.Delimiter == 0 {
		r.cfg.Delimiter = ','
	}
	contract := ingest.NewContract()
	if cfg.Contract != nil {
		c := *cfg.Contract
		contract = &c
	}
	contract.NewID = func() string { return "" } // contentID fills it in
	r.contract = contract
	if r.cfg.RejectsPath == "" {
		r.cfg.RejectsPath = DefaultRejectsPath(r.start)
	}
	r.rejects = newRejectsFile(r.cfg.RejectsPath)
	r.summary.DryRun = cfg.Target == nil
	r.summary.DuplicatesKnown = true
	r.fraction.Store(math.Float64bits(0))
	for _, src := range cfg.Sources {
		var size int64
		if src.Path != Stdin {
			if info, err := os.Stat(src.Path); err == nil {
				size = info.Size()
			}
		}
		r.sizes = append(r.sizes, size)
		r.totalSize += size
	}

	stopProgress := r.startProgress()
	err := r.files(ctx)
	if cp, ok := cfg.Target.(checkpointer); ok && err == nil {
		// The loaded rows are committed already; a failed checkpoint
		// leaves them in the log, which the next open replays.
		start := time.Now()
		if cpErr := cp.Checkpoint(ctx); cpErr != nil {
			r.logger.Warn("checkpoint the store after the load (the rows are committed; the next load or the gateway's start catches the rollups up, and the next open replays the log)", "err", cpErr)
		}
		r.logger.Debug("store checkpointed", "took", time.Since(start))
	}
	stopProgress()

	path, closeErr := r.rejects.close()
	if err == nil && closeErr == nil {
		closeErr = removeJournals(r.journals)
	}
	r.summary.RejectsPath = path
	r.summary.Elapsed = time.Since(r.start)
	r.summary.Rows = r.rows.Load()
	r.summary.Loaded = r.loaded.Load()
	r.summary.Rejected = r.rejected.Load()
	if err == nil && closeErr != nil {
		err = closeErr
	}
	if limit := r.cfg.MaxRejects; err == nil && limit.kind == limitPercent && r.summary.Rows > 0 {
		pct := 100 * float64(r.summary.Rejected) / float64(r.summary.Rows)
		if pct > limit.value {
			err = fmt.Errorf("%w: %.2f%% of %d rows rejected, more than --max-rejects %s (see %s)", ErrTooManyRejects, pct, r.summary.Rows, r.cfg.MaxRejects, path)
		}
	}
	return r.summary, err
}

func (r *run) files(ctx context.Context) error {
	for i, src := range r.cfg.Sources {
		r.fileIndex.Store(int64(i))
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted before %s: %w", src.Path, err)
		}
		r.summary.Files++ // read, wholly or in part
		if err := r.file(ctx, src); err != nil {
			if src.Path == Stdin {
				return fmt.Errorf("standard input: %w", err)
			}
			return fmt.Errorf("%s: %w", src.Path, err)
		}
	}
	return nil
}

// file loads one source from its checkpoint on.
func (r *run) file(ctx context.Context, src Source) error {
	var key sourceKey
	var cp Checkpoint
	resumable := r.cfg.State != nil && src.Path != Stdin
	if resumable {
		var err error
		reading := fmt.Sprintf("format=%s map=%s max-event-bytes=%d", src.Format, r.cfg.Mapping, r.contract.MaxEventBytes)
		// Added only when given, so that earlier checkpoints still match.
		if ts := r.cfg.TS.String(); ts != "" {
			reading += " ts=" + ts
		}
		if src.Format == FormatCSV && r.cfg.Delimiter != ',' {
			reading += fmt.Sprintf(" delimiter=%q", r.cfg.Delimiter)
		}
		if key, err = statSource(src.Path, reading); err != nil {
			return err
		}
		if cp, err = r.cfg.State.Load(key); err != nil {
			return err
		}
		if cp.Rows > 0 && r.staleCheckpoint(ctx) {
			r.logger.Warn("the embedded store is empty but a checkpoint says rows were loaded; loading from the start", "source", src.Path, "checkpoint_rows", cp.Rows)
			cp = r.cfg.State.fresh(key)
		}
		journal, carried, err := r.cfg.State.openJournal(key, cp.Rows)
		if err != nil {
			return err
		}
		r.journal = journal
		r.journals = append(r.journals, journal.path)
		defer func() {
			if err := journal.close(); err != nil {
				r.logger.Warn("close the rejects journal", "path", journal.path, "err", err)
			}
			r.journal = nil
		}()
		for _, rej := range carried {
			if err := r.rejects.write(rej); err != nil { // journaled already
				return err
			}
		}
		r.summary.Relisted += int64(len(carried))
		if len(carried) > 0 {
			r.logger.Info("listing the rejects of an earlier run's rows again", "source", src.Path, "rejects", len(carried))
		}
		if cp.Complete {
			r.summary.Resumed += cp.Rows
			r.logger.Info("already loaded by an earlier run; skipping", "source", src.Path, "rows", cp.Rows, "loaded", cp.Loaded, "rejected", cp.Rejected)
			return nil
		}
		if cp.Rows > 0 {
			r.logger.Info("resuming after the last durable row", "source", src.Path, "row", cp.Rows)
		}
	}

	if handled, err := r.bulkFile(ctx, src, key, &cp, resumable); handled || err != nil {
		return err
	}

	rr, p, tsRendered, progress, err := r.open(ctx, src)
	if err != nil {
		return err
	}
	defer rr.Close()

	defer func() { r.summary.Resumed += rr.skipped() }()
	r.fraction.Store(math.Float64bits(0))
	resumeFrom := cp.Rows // cp belongs to the store goroutine below

	stop := make(chan struct{})
	readerDone := make(chan struct{})
	work := make(chan *chunk, 2*r.cfg.Workers)
	ordered := make(chan *chunk, 4*r.cfg.Workers)
	var readErr error
	go func() {
		defer close(readerDone)
		defer close(work)
		defer close(ordered)
		for {
			if ctx.Err() != nil {
				return
			}
			c := &chunk{done: make(chan struct{})}
			err := rr.fill(c, chunkRows, resumeFrom)
			if c.len() > 0 || len(c.rejects) > 0 {
				select {
				case work <- c:
				case <-stop:
					return
				}
				select {
				case ordered <- c:
				case <-stop:
					return
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					readErr = err
				}
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range r.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := r.newWorker(p, tsRendered)
			for c := range work {
				w.decode(c)
				close(c.done)
			}
		}()
	}
	// On the way out, stop the reader and let the workers drain before the
	// reader's resources are closed (deferred above, so run after this).
	defer func() {
		close(stop)
		<-readerDone
		wg.Wait()
	}()

	name := src.Path
	if name == Stdin {
		name = "stdin"
	}
	// Batches are stored by their own goroutine, one at a time and in
	// order, while this one collects the next: storing (DuckDB's appender,
	// a ClickHouse insert, Kafka acks) overlaps with reading and decoding.
	// The store goroutine owns cp until it is done.
	storeQ := make(chan pendingBatch, 1)
	storeFailed := make(chan struct{})
	storeDone := make(chan error, 1)
	go func() {
		var err error
		for b := range storeQ {
			if err != nil || ctx.Err() != nil {
				continue // failed, or interrupted: the batch in hand is finished, queued ones dropped
			}
			if err = r.storeBatch(ctx, b, &cp); err == nil && resumable && r.cfg.Target != nil {
				if err = r.syncRejects(); err == nil {
					err = r.cfg.State.Save(key, cp)
				}
			}
			if err != nil {
				close(storeFailed)
			}
		}
		storeDone <- err
	}()
	finish := func() error {
		close(storeQ)
		return <-storeDone
	}

	batch := pendingBatch{events: make([]ingest.Event, 0, r.cfg.BatchRows)}
	sentLast := resumeFrom
	send := func() bool {
		if len(batch.events) == 0 && batch.last <= sentLast {
			return true // nothing new to store or checkpoint
		}
		select {
		case storeQ <- batch:
		case <-storeFailed:
			return false
		}
		sentLast = batch.last
		batch = pendingBatch{events: make([]ingest.Event, 0, r.cfg.BatchRows), last: batch.last}
		return true
	}

	for c := range ordered {
		select {
		case <-c.done:
		case <-ctx.Done():
		case <-storeFailed:
		}
		if ctx.Err() != nil || isClosed(storeFailed) {
			break
		}
		if err := r.writeRejects(c.rejects, name); err != nil {
			return errors.Join(err, finish())
		}
		rejected := r.rejected.Add(int64(len(c.rejects)))
		batch.rejected += int64(len(c.rejects))
		r.rows.Add(int64(c.len() + countReaderRejects(c)))
		if err := r.checkRejectCount(rejected); err != nil {
			return errors.Join(err, finish())
		}
		batch.events = append(batch.events, c.events...)
		batch.last = c.last
		r.fraction.Store(math.Float64bits(progress()))
		if len(batch.events) >= r.cfg.BatchRows && !send() {
			break
		}
	}
	if err := ctx.Err(); err != nil {
		if storeErr := finish(); storeErr != nil {
			return storeErr
		}
		return fmt.Errorf("interrupted after row %d (durable; run the same command again to resume): %w", cp.Rows, err)
	}
	if isClosed(storeFailed) {
		return finish()
	}
	// What was read before a read error is stored, so a rerun after the
	// cause is fixed resumes there.
	send()
	if err := finish(); err != nil {
		return errors.Join(readErr, err)
	}
	if readErr != nil {
		return readErr
	}
	if resumable && r.cfg.Target != nil {
		cp.Complete = true
		return r.cfg.State.Save(key, cp)
	}
	return nil
}

// pendingBatch is a batch of events covering the source rows up to last,
// of which rejected were rejected.
type pendingBatch struct {
	events   []ingest.Event
	last     int64
	rejected int64
}

// storeBatch stores a batch and advances cp (in memory) past it.
func (r *run) storeBatch(ctx context.Context, b pendingBatch, cp *Checkpoint) error {
	n := len(b.events)
	if r.cfg.Target != nil && len(b.events) > 0 {
		// The batch is stored whole even when ctx ends meanwhile, so that
		// its checkpoint can be written; targets bound the wait.
		stored, err := r.cfg.Target.Store(context.WithoutCancel(ctx), b.events)
		if err != nil {
			return fmt.Errorf("store rows %d to %d: %w", cp.Rows+1, b.last, err)
		}
		if stored >= 0 {
			n = stored
			r.summary.Duplicates += int64(len(b.events) - stored)
		} else {
			r.summary.DuplicatesKnown = false
		}
	}
	r.loaded.Add(int64(n))
	cp.Rows, cp.Loaded, cp.Rejected = b.last, cp.Loaded+int64(n), cp.Rejected+b.rejected
	return nil
}

// writeRejects lists a chunk's rejects, in order, naming their source.
func (r *run) writeRejects(rejects []Reject, name string) error {
	for _, rej := range rejects {
		rej.Source = name
		if err := r.reject(rej); err != nil {
			return err
		}
	}
	return nil
}

// reject lists a row in the rejects file and the source's journal.
func (r *run) reject(rej Reject) error {
	if err := r.rejects.write(rej); err != nil {
		return err
	}
	if r.journal != nil {
		return r.journal.write(rej)
	}
	return nil
}

// syncRejects makes the rejects so far durable before a checkpoint.
func (r *run) syncRejects() error {
	if err := r.rejects.flush(); err != nil {
		return err
	}
	return r.journal.sync()
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// countReaderRejects counts rejects that the reader made (rows that never
// reached a worker, such as CSV syntax errors): they are not in c.nums.
func countReaderRejects(c *chunk) int {
	n := 0
	for _, rej := range c.rejects {
		if _, found := slices.BinarySearch(c.nums, rej.Row); !found {
			n++
		}
	}
	return n
}

// open starts the reader of a source and returns with it the CSV plan,
// whether ts is a rendered timestamp, and a function telling the fraction
// of the source read.
func (r *run) open(ctx context.Context, src Source) (rowReader, *plan, bool, func() float64, error) {
	path := src.Path
	var cleanup func()
	if src.Format != FormatParquet || path == Stdin {
		in, err := openInput(src, r.cfg.Stdin)
		if err != nil {
			return nil, nil, false, nil, err
		}
		progress := func() float64 {
			if in.size <= 0 {
				return -1
			}
			return float64(in.consumed.Load()) / float64(in.size)
		}
		switch in.format {
		case FormatCSV:
			cr, err := newCSVReader(in, r.cfg.Mapping, r.cfg.Delimiter)
			if err != nil {
				in.Close()
				return nil, nil, false, nil, err
			}
			return cr, &cr.plan, false, progress, nil
		case FormatNDJSON:
			return newNDJSONReader(in), nil, false, progress, nil
		}
		// Parquet on standard input.
		path, cleanup, err = spoolStdin(in, os.TempDir())
		in.Close()
		if err != nil {
			return nil, nil, false, nil, err
		}
	}
	pr, err := newParquetReader(ctx, path, r.cfg.Mapping)
	if err != nil {
		if cleanup != nil {
			cleanup()
		}
		return nil, nil, false, nil, err
	}
	progress := func() float64 {
		if pr.total == 0 {
			return 1
		}
		return float64(pr.pos.Load()) / float64(pr.total)
	}
	var rr rowReader = pr
	if cleanup != nil {
		rr = cleanupReader{pr, cleanup}
	}
	return rr, &pr.plan, pr.tsRendered, progress, nil
}

type cleanupReader struct {
	rowReader
	cleanup func()
}

func (c cleanupReader) Close() error {
	err := c.rowReader.Close()
	c.cleanup()
	return err
}

// staleCheckpoint reports whether checkpoints cannot be trusted: the
// embedded store they describe has been emptied (replaced by a new file).
func (r *run) staleCheckpoint(ctx context.Context) bool {
	e, ok := r.cfg.Target.(*Embedded)
	if !ok {
		return false
	}
	if r.storeEmpty == nil {
		empty, err := e.Empty(ctx)
		if err != nil {
			r.logger.Warn("cannot tell whether the embedded store is empty", "err", err)
		}
		r.storeEmpty = &empty
	}
	return *r.storeEmpty
}

func (r *run) newWorker(p *plan, tsRendered bool) worker {
	return worker{run: r, b: newBuilder(r.cfg.Mapping, r.cfg.TS), plan: p, tsRendered: tsRendered}
}

// worker turns a chunk's rows into events and rejects.
type worker struct {
	run        *run
	b          *builder
	plan       *plan
	tsRendered bool
	buf        []byte
	idBuf      []byte
}

func (w *worker) decode(c *chunk) {
	c.events = make([]ingest.Event, 0, c.len())
	start, cellStart := 0, 0
	for i := range c.len() {
		var raw []byte
		var fe *ingest.FieldError
		switch {
		case c.jsonCells:
			ends := c.ends[cellStart:c.cellEnds[i]]
			w.buf, fe = w.b.fromJSONCells(w.buf[:0], w.plan, c.data, start, ends, w.tsRendered)
			raw = w.buf
			cellStart, start = c.cellEnds[i], ends[len(ends)-1]
		case c.cellEnds != nil:
			cells := c.cells[cellStart:c.cellEnds[i]]
			cellStart = c.cellEnds[i]
			w.buf, fe = w.b.fromCells(w.buf[:0], w.plan, cells)
			raw = w.buf
		default:
			row := c.data[start:c.ends[i]]
			start = c.ends[i]
			raw, fe = w.b.fromObject(w.buf[:0], row, w.tsRendered)
			if len(raw) > 0 && &raw[0] != &row[0] {
				w.buf = raw
			}
		}
		var ev ingest.Event
		if fe == nil {
			ev, fe = w.run.contract.Decode(raw)
		}
		if fe != nil {
			reason := fe.Reason
			if fe.Field == fieldTS {
				reason = w.run.cfg.TS.tsHint(reason)
			}
			c.rejects = append(c.rejects, Reject{Row: c.nums[i], Line: c.lines[i], Field: fe.Field, Reason: reason})
			continue
		}
		if ev.EventID == "" {
			ev.EventID, w.idBuf = contentID(&ev, w.idBuf)
		}
		c.events = append(c.events, ev)
	}
	slices.SortStableFunc(c.rejects, func(a, b Reject) int { return int(a.Row - b.Row) })
}

// startProgress reports progress every ProgressEvery until the returned
// function is called, which reports once more, as done.
func (r *run) startProgress() func() {
	if r.cfg.Progress == nil {
		return func() {}
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(r.cfg.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.cfg.Progress(r.progress(false))
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
		r.cfg.Progress(r.progress(true))
	}
}

func (r *run) progress(done bool) Progress {
	i := int(r.fileIndex.Load())
	p := Progress{
		FileIndex: i + 1, Files: len(r.cfg.Sources),
		Rows: r.rows.Load(), Loaded: r.loaded.Load(), Rejected: r.rejected.Load(),
		Elapsed: time.Since(r.start), Fraction: -1, Done: done,
	}
	if i < len(r.cfg.Sources) {
		p.File = r.cfg.Sources[i].Path
	}
	if r.totalSize > 0 && i < len(r.sizes) {
		var before int64
		for _, s := range r.sizes[:i] {
			before += s
		}
		f := math.Float64frombits(r.fraction.Load())
		if f >= 0 {
			p.Fraction = min(1, (float64(before)+f*float64(r.sizes[i]))/float64(r.totalSize))
		}
	}
	if done {
		p.Fraction = 1
	}
	return p
}
