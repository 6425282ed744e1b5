package backfill

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulse-analytics/pulse/chstore"
	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/store"
)

// goRowsChunk is how many rows the contract's share of a bulk step is read
// and stored in at a time, bounding memory when many rows need Go;
// earlyContractRows, how many of them the check decodes (the usual share
// of a step, a few hundred rows, all of it).
const (
	goRowsChunk       = 16 * chunkRows
	earlyContractRows = 4 * chunkRows
)

// bulkSource is a source the bulk lane reads step by step.
type bulkSource interface {
	// next returns the next step after row skip, or ok false at the end.
	next(ctx context.Context, skip int64) (step bulkStep, ok bool, err error)
	// fillGo appends the listed rows of a step to c, as the row-by-row
	// lane reads them.
	fillGo(c *chunk, step bulkStep, rows []int64) error
	// rowPlan is how the rows fillGo returns map onto event fields, and
	// whether ts comes from a typed timestamp column.
	rowPlan() (*plan, bool)
	// done releases a step (a spooled CSV slice).
	done(step bulkStep)
	fraction() float64
	skipped() int64
	Close() error
}

// bulkFile loads one source through the bulk lane; it reports false, and
// reads nothing, when the lane cannot take the source.
func (r *run) bulkFile(ctx context.Context, src Source, key sourceKey, cp *Checkpoint, resumable bool) (bool, error) {
	if r.cfg.RowByRow || src.Path == Stdin {
		return false, nil
	}
	var db *dbsql.DB
	var st *store.Store
	var ch *chstore.BulkInserter
	spoolDir := ""
	switch t := r.cfg.Target.(type) {
	case *Embedded:
		db, st, spoolDir = t.st.DB, t.st, filepath.Dir(t.path)
	case *ClickHouse:
		if t.bulk == nil {
			return false, nil
		}
		ch = t.bulk
	case nil:
		// --dry-run: the checks alone, the contract judging the rows they
		// do not pass; nothing is stored.
	default:
		return false, nil
	}
	if st == nil {
		// ClickHouse and --dry-run: a private DuckDB checks the file, and
		// steps are spooled in a directory of this run's own.
		dir, err := newSpoolDir()
		if err != nil {
			return false, fmt.Errorf("create a spool directory for the bulk lane: %w", err)
		}
		defer os.RemoveAll(dir)
		// For ClickHouse one core less than the machine's: the other is
		// the contract's, or a local server's.
		threads := runtime.NumCPU()
		if ch != nil {
			threads = max(1, threads-1)
		}
		if db, err = openPrivateDuckDB(checkMemoryMB, threads, dir); err != nil {
			return false, fmt.Errorf("open DuckDB to check files: %w", err)
		}
		defer db.Close()
		spoolDir = dir
	}
	var bs bulkSource
	var plan bulkPlan
	var ok bool
	var err error
	sizes := r.bulkStepSizes(src.Format, ch != nil)
	switch src.Format {
	case FormatParquet:
		bs, plan, ok, err = r.openBulkParquet(ctx, src.Path, sizes)
	case FormatCSV:
		bs, plan, ok, err = r.openBulkCSV(src, spoolDir, st != nil, sizes)
	default:
		return false, nil
	}
	if err != nil || !ok {
		return false, err
	}
	defer bs.Close()
	defer func() { r.summary.Resumed += bs.skipped() }()
	if ps, ok := bs.(*parquetSteps); ok {
		restore, err := r.makeRoomForPages(ctx, db, st != nil, ps.pr.largestPage, src.Path)
		if err != nil {
			return true, err
		}
		defer restore()
	}
	plan.ClickHouse = ch != nil
	l, err := newBulkLoader(ctx, db, plan, r.contract)
	if err != nil {
		return true, err
	}
	l.st, l.ch, l.spoolDir = st, ch, spoolDir
	var rollups *rollupRefresher
	if st != nil {
		// The rollups follow the events' ingested_at watermark, in
		// transactions of their own: beside the load after each stored
		// step, and once more at the end of the file. A crash before that
		// leaves them to the next refresh (the next load, or the gateway's
		// start), not wrong. ClickHouse's views keep its rollups.
		defer func() {
			start := time.Now()
			if err := st.RefreshRollups(context.WithoutCancel(ctx)); err != nil {
				r.logger.Warn("refresh the rollups after a bulk load", "source", src.Path, "err", err)
			}
			r.logger.Debug("rollups refreshed", "source", src.Path, "took", time.Since(start))
		}()
		rollups = startRollupRefresher(context.WithoutCancel(ctx), st, r.logger, src.Path)
		defer rollups.stop()
	}
	r.fraction.Store(math.Float64bits(0))
	name := src.Path
	startRows := cp.Rows
	// Steps are pipelined: DuckDB checks step n+1 while it inserts step n
	// (the check only reads the source), so that each core has one of the
	// two mostly single-threaded scans.
	type checked struct {
		step bulkStep
		c    bulkCheck
		err  error
	}
	var pending *checked
	steps := 0
	// durable stores the deferred rows and writes the checkpoint: every
	// way out of the lane passes here first.
	durable := func() error {
		if err := r.flushDeferred(ctx, l); err != nil {
			return err
		}
		if resumable {
			if err := r.syncRejects(); err != nil {
				return err
			}
			return r.cfg.State.Save(key, *cp)
		}
		return nil
	}
	finish := func() error {
		p := pending
		pending = nil
		err := p.err
		if err == nil {
			err = r.bulkStep(ctx, l, bs, p.step, p.c, name, cp)
		}
		if err == nil && rollups != nil {
			rollups.stepStored()
		}
		err = errors.Join(err, l.release(ctx, p.step))
		bs.done(p.step)
		if errors.Is(err, ErrTooManyRejects) {
			// The step is stored: its checkpoint goes before the run fails.
			return errors.Join(err, durable())
		}
		if err != nil {
			return err
		}
		r.fraction.Store(math.Float64bits(bs.fraction()))
		if !l.stepDone() {
			return nil // the checkpoint waits for the deferred rows
		}
		return durable()
	}
	fallback := func(err error) (bool, error) {
		var f *bulkFallback
		if !errors.As(err, &f) {
			return true, err
		}
		if err := durable(); err != nil {
			return true, err
		}
		if invalidParquetText(f.err) {
			// DuckDB refuses to read on from the value, in whichever lane:
			// the row-by-row lane would fail the same way, so say it here.
			loaded := "no row is loaded"
			if cp.Rows > 0 {
				loaded = fmt.Sprintf("rows 1 to %d are loaded", cp.Rows)
			}
			return true, errInvalidParquetText(f.err, loaded)
		}
		// DuckDB could not read the file as planned (a malformed CSV
		// record, a value it cannot cast): the row-by-row lane takes over
		// after the last step, which is durable. Its skipping of the rows
		// this run loaded is not a resume.
		if f.mostlyContract {
			r.logger.Info("most rows need the contract's checks; loading the rest row by row", "source", name, "after_row", cp.Rows, "detail", f.err)
		} else {
			r.logger.Warn("bulk load stopped; loading the rest row by row", "source", name, "after_row", cp.Rows, "err", f.err)
		}
		r.summary.Resumed -= cp.Rows - startRows
		return false, nil
	}
	interrupted := func(err error) (bool, error) {
		if pending != nil {
			l.release(ctx, pending.step)
			bs.done(pending.step)
		}
		if err := durable(); err != nil {
			return true, err
		}
		return true, fmt.Errorf("interrupted after row %d (durable; run the same command again to resume): %w", cp.Rows, err)
	}
	// Each step is cut (a CSV slice spooled) beside the check of the one
	// before it and the insert of the one before that; every way out waits
	// for the cut under way, which bs.Close must not race.
	type cut struct {
		step bulkStep
		more bool
		err  error
	}
	cutNext := func() chan cut {
		ch := make(chan cut, 1)
		go func() {
			step, more, err := bs.next(ctx, startRows)
			ch <- cut{step, more, err}
		}()
		return ch
	}
	upcoming := cutNext()
	defer func() {
		if upcoming != nil {
			<-upcoming
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return interrupted(err)
		}
		c := <-upcoming
		upcoming = nil
		step, more, err := c.step, c.more, c.err
		if err != nil {
			// The steps checked so far are stored first: the row-by-row
			// lane takes over after them, or a run that fails on a read
			// error resumes after them.
			if pending != nil {
				if err := finish(); err != nil {
					return fallback(err)
				}
			}
			return fallback(err)
		}
		if !more {
			break
		}
		upcoming = cutNext()
		step.slot = steps % 2
		steps++
		next := make(chan *checked, 1)
		go func() {
			start := time.Now()
			c, err := l.check(ctx, step)
			if err == nil && len(c.goRows) > 0 {
				// The first rows for the contract are decoded here, beside
				// the previous step's insert, not after this step's.
				c.decodedRows = min(len(c.goRows), earlyContractRows)
				c.decoded, err = r.decodeContractRows(bs, step, c.goRows[:c.decodedRows])
			}
			r.logger.Debug("bulk check", "source", name, "from_row", step.from, "contract_rows", len(c.goRows), "raw", c.raw, "took", time.Since(start))
			if err != nil && ctx.Err() == nil {
				err = &bulkFallback{err: err}
			}
			next <- &checked{step: step, c: c, err: err}
		}()
		var err2 error
		if pending != nil {
			err2 = finish()
		}
		pending = <-next
		if err2 != nil {
			l.release(ctx, pending.step)
			bs.done(pending.step)
			return fallback(err2)
		}
		if rows := pending.step.to - pending.step.from; pending.err == nil && int64(2*len(pending.c.goRows)) > rows {
			// The contract's share would be decoded and held a chunk at a
			// time beside the step; the row-by-row lane streams it, as fast.
			err := &bulkFallback{err: fmt.Errorf("%d of rows %d to %d need the contract's checks", len(pending.c.goRows), pending.step.from, pending.step.to-1), mostlyContract: true}
			l.release(ctx, pending.step)
			bs.done(pending.step)
			pending = nil
			return fallback(err)
		}
	}
	if err := ctx.Err(); err != nil {
		return interrupted(err)
	}
	if pending != nil {
		if err := finish(); err != nil {
			return fallback(err)
		}
	}
	if resumable {
		cp.Complete = true
	}
	return true, durable()
}

// makeRoomForPages raises the memory limit of the DuckDB that reads a
// Parquet file in the bulk lane (the embedded store's, or the private one
// that checks it) by what its largest page needs, and returns what
// restores it.
func (r *run) makeRoomForPages(ctx context.Context, db *dbsql.DB, isStore bool, page int64, path string) (func(), error) {
	base, restore := int64(checkMemoryMB), ""
	if isStore {
		restore = r.cfg.Target.(*Embedded).memoryLimit
		mb, ok := megabytes(restore)
		if !ok {
			return func() {}, nil // a form DuckDB takes that pulse does not read: left as given
		}
		base = mb
	}
	limit, err := raiseForPages(ctx, db, base, page)
	if err != nil {
		return nil, err
	}
	if limit == "" {
		return func() {}, nil
	}
	r.logger.Info("raised DuckDB's memory limit for a file with big pages", "source", path, "largest_page_mb", page>>20, "memory_limit", limit)
	return func() {
		if restore == "" {
			return // the private DuckDB closes with the file
		}
		if err := setMemoryLimit(context.WithoutCancel(ctx), db, restore); err != nil {
			r.logger.Warn("restore the embedded store's memory limit", "err", err)
		}
	}, nil
}

// checkMemoryMB caps the private DuckDB that checks files for ClickHouse
// and --dry-run; what does not fit (a CSV step's stage) spills to the
// run's spool directory.
const checkMemoryMB = 256

// spoolPrefix names the spool directories of ClickHouse bulk loads and
// dry runs in the temporary directory, followed by the owner's process id: a run removes
// those whose process is gone (killed runs).
const spoolPrefix = "pulse-backfill-"

func newSpoolDir() (string, error) {
	stale, _ := filepath.Glob(filepath.Join(os.TempDir(), spoolPrefix+"*"))
	for _, dir := range stale {
		pid, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(dir), spoolPrefix), "-")
		if n, err := strconv.Atoi(pid); err == nil && processGone(n) {
			os.RemoveAll(dir)
		}
	}
	return os.MkdirTemp("", fmt.Sprintf("%s%d-*", spoolPrefix, os.Getpid()))
}

// bulkFallback hands a source back to the row-by-row lane.
type bulkFallback struct {
	err error
	// mostlyContract: most rows need the contract (their ts in a zone
	// DuckDB does not apply, numbers ClickHouse would render otherwise),
	// which is the file's shape, not a fault.
	mostlyContract bool
}

func (f *bulkFallback) Error() string { return "bulk lane: " + f.err.Error() }

// bulkStep stores one checked step: DuckDB's share, then the contract's.
func (r *run) bulkStep(ctx context.Context, l *bulkLoader, bs bulkSource, step bulkStep, c bulkCheck, name string, cp *Checkpoint) error {
	start := time.Now()
	// A checked step is stored whole even when ctx ends meanwhile (Ctrl-C),
	// so that its checkpoint can be written; its size bounds the wait.
	inserted, err := l.insert(context.WithoutCancel(ctx), step, c)
	if err != nil {
		return &bulkFallback{err: err}
	}
	if l.ch != nil {
		r.summary.DuplicatesKnown = false // ClickHouse merges copies away unseen
	}
	fast := c.fast(step)
	loaded, dups, rejected := inserted, fast-inserted, int64(0)
	store := func(chunks []*chunk) error {
		stored, known, rej, err := r.storeContractRows(ctx, l, chunks, name)
		loaded, dups, rejected = loaded+stored, dups+known, rejected+rej
		return err
	}
	// The rows the check decoded, then the rest a chunk at a time.
	if err := store(c.decoded); err != nil {
		return err
	}
	for i := c.decodedRows; i < len(c.goRows); i += goRowsChunk {
		chunks, err := r.decodeContractRows(bs, step, c.goRows[i:min(i+goRowsChunk, len(c.goRows))])
		if err != nil {
			return err
		}
		if err := store(chunks); err != nil {
			return err
		}
	}
	r.logger.Debug("bulk step", "source", name, "from_row", step.from, "to_row", step.to-1, "bulk", fast, "inserted", inserted,
		"contract_rows", len(c.goRows), "took", time.Since(start))
	r.rows.Add(step.to - step.from)
	r.loaded.Add(loaded)
	r.summary.Duplicates += dups
	r.summary.Bulk += fast
	cp.Rows, cp.Loaded, cp.Rejected = step.to-1, cp.Loaded+loaded, cp.Rejected+rejected
	return r.checkRejectCount(r.rejected.Load())
}

// decodeContractRows reads the listed rows of a step and passes them
// through the event contract, as the row-by-row lane does.
func (r *run) decodeContractRows(bs bulkSource, step bulkStep, rows []int64) ([]*chunk, error) {
	r.fillGoMu.Lock()
	defer r.fillGoMu.Unlock()
	var chunks []*chunk
	for start := 0; start < len(rows); start += chunkRows {
		c := &chunk{}
		if err := bs.fillGo(c, step, rows[start:min(start+chunkRows, len(rows))]); err != nil {
			return nil, err
		}
		chunks = append(chunks, c)
	}
	r.decodeAll(chunks, bs)
	return chunks, nil
}

// storeContractRows lists the rejects of decoded chunks and stores their
// events: it returns how many were stored, how many were already stored,
// and how many were rejected. The embedded store stores them at once,
// without refreshing the rollups (the bulk lane refreshes once per file);
// for ClickHouse they are deferred (bulkLoader.deferred) and counted as
// stored.
func (r *run) storeContractRows(ctx context.Context, l *bulkLoader, chunks []*chunk, name string) (stored, dups, rejected int64, err error) {
	var events []ingest.Event
	for _, c := range chunks {
		if err := r.writeRejects(c.rejects, name); err != nil {
			return 0, 0, rejected, err
		}
		rejected += int64(len(c.rejects))
		events = append(events, c.events...)
	}
	r.rejected.Add(rejected)
	if len(events) == 0 || l.dryRun() {
		return int64(len(events)), 0, rejected, nil
	}
	if l.st == nil {
		l.deferred = append(l.deferred, events...)
		return int64(len(events)), 0, rejected, nil
	}
	n, err := l.st.InsertEvents(context.WithoutCancel(ctx), events)
	if err != nil {
		return 0, 0, rejected, fmt.Errorf("store rows %d to %d: %w", chunks[0].nums[0], chunks[len(chunks)-1].last, err)
	}
	return int64(n), int64(len(events) - n), rejected, nil
}

// flushDeferred stores the contract's deferred rows (ClickHouse) in one
// batch.
func (r *run) flushDeferred(ctx context.Context, l *bulkLoader) error {
	l.deferredSteps = 0
	if len(l.deferred) == 0 {
		return nil
	}
	if _, err := r.cfg.Target.Store(context.WithoutCancel(ctx), l.deferred); err != nil {
		return fmt.Errorf("store %d rows the contract checked: %w", len(l.deferred), err)
	}
	l.deferred = l.deferred[:0]
	return nil
}

// decodeAll decodes chunks of bs's rows on the run's workers.
func (r *run) decodeAll(chunks []*chunk, bs bulkSource) {
	p, tsRendered := bs.rowPlan()
	work := make(chan *chunk)
	var wg sync.WaitGroup
	for range min(r.cfg.Workers, len(chunks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := r.newWorker(p, tsRendered)
			for c := range work {
				w.decode(c)
			}
		}()
	}
	for _, c := range chunks {
		work <- c
	}
	close(work)
	wg.Wait()
}

// rollupRefresher refreshes the embedded store's rollups beside a bulk
// load: the load is bound by one insert at a time, which leaves a share of
// the cores to the refresh, and the rollups are then nearly current when
// the last step is stored instead of all to do.
type rollupRefresher struct {
	due  chan struct{}
	done chan struct{}
}

func startRollupRefresher(ctx context.Context, st *store.Store, logger *slog.Logger, source string) *rollupRefresher {
	rr := &rollupRefresher{due: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(rr.done)
		lowerPriority()
		for range rr.due {
			start := time.Now()
			if err := st.RefreshRollups(ctx); err != nil {
				// The next refresh covers these events too.
				logger.Warn("refresh the rollups during a bulk load", "source", source, "err", err)
			}
			logger.Debug("rollups refreshed beside the load", "source", source, "took", time.Since(start))
		}
	}()
	return rr
}

// stepStored asks for a refresh; one already asked for covers this step.
func (rr *rollupRefresher) stepStored() {
	select {
	case rr.due <- struct{}{}:
	default:
	}
}

// stop waits for the refresh under way.
func (rr *rollupRefresher) stop() {
	close(rr.due)
	<-rr.done
}
