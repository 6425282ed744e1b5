package backfill

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	sqlfiles "github.com/pulse-analytics/pulse/sql"
)

// csvSteps spools a CSV source into slice files for the bulk lane: each
// slice holds one step's records, each prefixed with its row and
// line numbers in the source, so that DuckDB reads the slice in parallel
// and still names every row as the row-by-row lane would. Slices are
// written beside the store (same disk, not memory), or in the run's spool
// directory for ClickHouse, and removed when done.
type csvSteps struct {
	in     *input
	comma  byte // the field delimiter, of the source and of the slices
	dir    string
	header []string
	plan   plan
	rec    []byte
	row    int64 // data records read
	line   int64 // lines read
	skips  int64
	sizes  stepSizes
	steps  int // steps taken
	// spooled are the slices written and not yet done with: the bulk lane
	// cuts the next step while it stores the one before.
	spooledMu sync.Mutex
	spooled   map[string]bool
	out       []byte
	// badQuote: the last record's quoting is one encoding/csv refuses.
	badQuote bool
	// doneBytes is the source's bytes read up to the end of the last step
	// done (fraction).
	doneBytes int64
	// stop, once set, ends the bulk lane for the source after the rows
	// spooled before it: a bulkFallback hands the source to the row-by-row
	// lane, another error (a read error) fails it.
	stop error
}

var crlf = []byte("\r\n")

// slicePattern names spooled CSV slices (os.CreateTemp and filepath.Glob
// both read * as the varying part).
const slicePattern = ".pulse-backfill-slice-*.csv"

func (r *run) openBulkCSV(src Source, dir string, besideStore bool, sizes stepSizes) (bulkSource, bulkPlan, bool, error) {
	// Slices a killed run left beside the store: this process holds the
	// store, so no other backfill is spooling there.
	if stale, _ := filepath.Glob(filepath.Join(dir, slicePattern)); besideStore && len(stale) > 0 {
		for _, path := range stale {
			os.Remove(path)
		}
		r.logger.Info("removed CSV slices of an earlier, interrupted run", "files", len(stale))
	}
	in, err := openInput(src, nil)
	if err != nil {
		return nil, bulkPlan{}, false, err
	}
	cs := &csvSteps{in: in, comma: r.cfg.Delimiter, dir: dir, spooled: map[string]bool{}, sizes: sizes}
	rec, err := cs.record()
	if errors.Is(err, io.EOF) {
		in.Close()
		return nil, bulkPlan{}, false, nil // empty: nothing to bulk load
	}
	if err != nil {
		in.Close()
		return nil, bulkPlan{}, false, err
	}
	header, err := csvRecords(bytes.NewReader(rec), cs.comma).Read()
	if err != nil {
		in.Close()
		return nil, bulkPlan{}, false, nil // the row-by-row lane reports it
	}
	cs.line += int64(bytes.Count(rec, []byte{'\n'}))
	p, err := r.cfg.Mapping.resolveHeader(header)
	if err != nil {
		in.Close()
		return nil, bulkPlan{}, false, err
	}
	types := make([]string, len(header))
	for i := range types {
		types[i] = "VARCHAR"
	}
	bp, ok := newBulkPlan(&p, types, true, r.cfg.TS)
	bp.CSVDelim = sqlfiles.QuoteString(string(rune(cs.comma)))
	if !ok {
		in.Close()
		return nil, bp, false, nil
	}
	cs.header, cs.plan = p.columns, p
	return cs, bp, true, nil
}

// record reads one CSV record: lines up to one that leaves no quoted
// field open (a quoted field may hold newlines), as encoding/csv splits
// them, so that both lanes number rows alike. cs.badQuote tells whether
// encoding/csv refuses the record's quoting.
func (cs *csvSteps) record() ([]byte, error) {
	cs.rec = cs.rec[:0]
	cs.badQuote = false
	open := false
	lineStart := 0
	for {
		piece, err := cs.in.r.ReadSlice('\n')
		cs.rec = append(cs.rec, piece...)
		if len(cs.rec) > maxCSVRecordBytes {
			return nil, errRecordTooLong(fmt.Sprintf("line %d", cs.line+1))
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !(errors.Is(err, io.EOF) && len(cs.rec) > 0) {
			return nil, err
		}
		var bad bool
		open, bad = scanQuotes(cs.rec[lineStart:], open, cs.comma)
		cs.badQuote = cs.badQuote || bad
		lineStart = len(cs.rec)
		if !open || err != nil {
			return cs.rec, nil
		}
	}
}

// scanQuotes scans one line of a CSV record as encoding/csv parses it
// and reports whether a quoted field is still open at its end, so that
// the record goes on with the next line (open says whether the line
// starts inside one), and whether a quote is out of place: one anywhere
// but at the start of a field, or after a closing quote, is an error to
// encoding/csv that ends the record with the line.
func scanQuotes(line []byte, open bool, comma byte) (stillOpen, bad bool) {
	for i := 0; ; {
		if !open {
			if i < len(line) && line[i] == '"' {
				open, i = true, i+1
				continue
			}
			field := line[i:]
			end := bytes.IndexByte(field, comma)
			if end >= 0 {
				field = field[:end]
			}
			if bytes.IndexByte(field, '"') >= 0 {
				return false, true
			}
			if end < 0 {
				return false, false
			}
			i += end + 1
			continue
		}
		end := bytes.IndexByte(line[i:], '"')
		if end < 0 {
			return true, false
		}
		i += end + 1
		switch {
		case i < len(line) && line[i] == '"': // an escaped quote
			i++
		case i < len(line) && line[i] == comma:
			open, i = false, i+1
		case i == len(line) || line[i] == '\n' || (line[i] == '\r' && i+2 == len(line) && line[i+1] == '\n'):
			return false, false
		default:
			return false, true
		}
	}
}

func (cs *csvSteps) next(_ context.Context, skip int64) (bulkStep, bool, error) {
	if cs.stop != nil {
		return bulkStep{}, false, cs.stop
	}
	f, err := os.CreateTemp(cs.dir, slicePattern)
	if err != nil {
		return bulkStep{}, false, fmt.Errorf("spool a CSV slice: %w", err)
	}
	cs.spooledMu.Lock()
	cs.spooled[f.Name()] = true
	cs.spooledMu.Unlock()
	flushed := &countingWriter{w: f}
	w := bufio.NewWriterSize(flushed, 1<<20)
	cw := csv.NewWriter(w)
	cw.Comma = rune(cs.comma)
	cw.Write(append([]string{"__pulse_row", "__pulse_line"}, cs.header...))
	cw.Flush()
	step := bulkStep{path: f.Name()}
	offset := func() int64 { return flushed.n + int64(w.Buffered()) }
	rows := cs.sizes.size(cs.steps, -1)
	cs.steps++
	for step.to-step.from < rows {
		rec, err := cs.record()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				cs.stop = err
			}
			break
		}
		start := cs.line + 1
		cs.line += int64(bytes.Count(rec, []byte{'\n'}))
		if string(rec) == "\n" || string(rec) == "\r\n" {
			continue // encoding/csv skips empty lines; so do row numbers
		}
		cs.row++
		if cs.row <= skip {
			cs.skips++
			continue
		}
		if cs.badQuote {
			// DuckDB reads quotes more leniently than encoding/csv, which
			// rejects the row: from here the row-by-row lane reads the
			// file, after the steps before this row.
			cs.stop = &bulkFallback{err: fmt.Errorf("row %d (line %d) is not valid CSV (a quote out of place)", cs.row, start)}
			break
		}
		if step.from == 0 {
			step.from = cs.row
		}
		step.to = cs.row + 1
		cs.out = strconv.AppendInt(cs.out[:0], cs.row, 10)
		cs.out = append(cs.out, cs.comma)
		cs.out = strconv.AppendInt(cs.out, start, 10)
		cs.out = append(cs.out, cs.comma)
		// encoding/csv reads \r\n as \n, inside quotes too; so must DuckDB.
		cs.out = append(cs.out, rec...)
		if bytes.Contains(rec, crlf) {
			cs.out = append(cs.out[:len(cs.out)-len(rec)], bytes.ReplaceAll(rec, crlf, []byte{'\n'})...)
		}
		if cs.out[len(cs.out)-1] != '\n' {
			cs.out = append(cs.out, '\n')
		}
		step.offsets = append(step.offsets, offset())
		w.Write(cs.out)
	}
	step.offsets = append(step.offsets, offset())
	step.readTo = cs.in.consumed.Load()
	if cs.in.compression == compressionNone {
		step.readTo -= int64(cs.in.r.Buffered()) // read ahead, not yet spooled
	}
	err = errors.Join(cw.Error(), w.Flush(), f.Close())
	if err != nil || step.from == 0 {
		cs.unspool(f.Name())
		if err == nil {
			err = cs.stop
		}
		return bulkStep{}, false, err
	}
	return step, true, nil
}

// fillGo reads the listed rows back from the step's slice: each from its
// offset when they are few (the usual handful the contract checks), else
// in one pass over the slice.
func (cs *csvSteps) fillGo(c *chunk, step bulkStep, rows []int64) error {
	f, err := os.Open(step.path)
	if err != nil {
		return err
	}
	defer f.Close()
	if len(rows)*16 < len(step.offsets) {
		for _, row := range rows {
			i := row - step.from
			record, err := csvRecords(io.NewSectionReader(f, step.offsets[i], step.offsets[i+1]-step.offsets[i]), cs.comma).Read()
			if err != nil {
				return fmt.Errorf("read a CSV slice for row %d: %w", row, err)
			}
			got, line, err := sliceRow(record)
			if err != nil {
				return err
			}
			if got != row {
				return fmt.Errorf("read a CSV slice: row %d found where row %d starts", got, row)
			}
			c.appendRecord(record[2:], row, line)
		}
		return nil
	}
	r := csvRecords(bufio.NewReaderSize(f, 1<<20), cs.comma)
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil {
		return fmt.Errorf("read a CSV slice: %w", err)
	}
	for len(rows) > 0 {
		record, err := r.Read()
		if err != nil {
			return fmt.Errorf("read a CSV slice for row %d: %w", rows[0], err)
		}
		row, line, err := sliceRow(record)
		if err != nil {
			return err
		}
		if row != rows[0] {
			continue
		}
		c.appendRecord(record[2:], row, line)
		rows = rows[1:]
	}
	return nil
}

// sliceRow reads the row and line numbers in front of a slice record.
func sliceRow(record []string) (row, line int64, err error) {
	row, err = strconv.ParseInt(record[0], 10, 64)
	if err != nil || len(record) < 2 {
		return 0, 0, fmt.Errorf("read a CSV slice: bad row number %q", record[0])
	}
	line, _ = strconv.ParseInt(record[1], 10, 64)
	return row, line, nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (cw *countingWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.n += int64(n)
	return n, err
}

func (cs *csvSteps) done(step bulkStep) {
	cs.doneBytes = max(cs.doneBytes, step.readTo)
	cs.unspool(step.path)
}

// unspool removes a slice.
func (cs *csvSteps) unspool(path string) {
	cs.spooledMu.Lock()
	defer cs.spooledMu.Unlock()
	if cs.spooled[path] {
		os.Remove(path)
		delete(cs.spooled, path)
	}
}

// fraction is the share of the source's bytes whose rows are done: the
// spooling reads a step ahead of the one being stored.
func (cs *csvSteps) fraction() float64 {
	if cs.in.size <= 0 {
		return -1
	}
	return min(1, float64(cs.doneBytes)/float64(cs.in.size))
}

func (cs *csvSteps) rowPlan() (*plan, bool) { return &cs.plan, false }
func (cs *csvSteps) skipped() int64         { return cs.skips }

func (cs *csvSteps) Close() error {
	cs.spooledMu.Lock()
	defer cs.spooledMu.Unlock()
	for path := range cs.spooled {
		os.Remove(path)
	}
	return cs.in.Close()
}
