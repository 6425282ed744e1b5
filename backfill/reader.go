package backfill

import (
	"bufio"
	"context"
	dbsql "database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver

	"github.com/pulse-analytics/pulse/ingest"
	sqlfiles "github.com/pulse-analytics/pulse/sql"
)

// chunk is a run of consecutive source rows, read by one reader goroutine
// and turned into events by a worker. Rows are numbered from 1 in source
// order: the CSV record after the header, the NDJSON line, the Parquet row.
type chunk struct {
	// last is the number of the last row the chunk covers; rows before it
	// that are not in the chunk (blank lines) need no work.
	last int64

	// Rows as JSON objects (NDJSON): row i is data[ends[i-1]:ends[i]].
	// Rows as JSON cells (Parquet): cell j is data[ends[j-1]:ends[j]], and
	// row i is cells cellEnds[i-1] to cellEnds[i].
	data      []byte
	ends      []int
	jsonCells bool
	// Rows as CSV records: row i is cells[cellEnds[i-1]:cellEnds[i]].
	cells    []string
	cellEnds []int

	nums  []int64 // row number of each row
	lines []int64 // line where each row starts (text formats), 0 otherwise

	// Filled in by the worker.
	events  []ingest.Event
	rejects []Reject
	done    chan struct{}
}

// appendRecord adds a CSV record's cells as row number row, read from
// line.
func (c *chunk) appendRecord(cells []string, row, line int64) {
	c.cells = append(c.cells, cells...)
	c.cellEnds = append(c.cellEnds, len(c.cells))
	c.nums = append(c.nums, row)
	c.lines = append(c.lines, line)
	c.last = row
}

func (c *chunk) len() int { return len(c.nums) }

// rowReader reads a source's rows in order, in chunks.
type rowReader interface {
	// fill appends up to max rows to c, skipping rows numbered skip or
	// less, and sets c.last. It returns io.EOF once the source is exhausted
	// (c may still hold rows).
	fill(c *chunk, max int, skip int64) error
	// skipped counts the rows passed over because of skip.
	skipped() int64
	Close() error
}

// csvReader streams CSV records with encoding/csv; the first record is the
// header.
type csvReader struct {
	in      *input
	r       *csv.Reader
	plan    plan
	row     int64
	skips   int64
	rejects []Reject // records that are not CSV, reported by fill
	capped  *recordCap
}

// maxCSVRecordBytes bounds one CSV record, which the readers hold whole:
// a quote left open would otherwise make the rest of the file one record.
// An event is far smaller (the contract's limit is 32 KiB by default).
const maxCSVRecordBytes = 64 << 20

// errRecordTooLong names the record by where it starts ("row 12",
// "line 14").
func errRecordTooLong(start string) error {
	return inputErrorf("the CSV record at %s is longer than %d MiB: a quoted field that never closes? (fix the quoting from there on)", start, maxCSVRecordBytes>>20)
}

// recordCap fails reading once the CSV record being read grows past
// maxCSVRecordBytes: encoding/csv has no such limit.
type recordCap struct {
	in   io.Reader
	read int64
	// recordStart is the offset the record being read starts at, set
	// after each record.
	recordStart int64
	// start names the record being read.
	start func() string
}

func (c *recordCap) Read(p []byte) (int, error) {
	if c.read-c.recordStart > maxCSVRecordBytes {
		return 0, errRecordTooLong(c.start())
	}
	n, err := c.in.Read(p)
	c.read += int64(n)
	return n, err
}

// csvRecords reads CSV records separated by comma, each with as many
// fields as it holds: the builder reports a wrong column count per row.
func csvRecords(in io.Reader, comma byte) *csv.Reader {
	r := csv.NewReader(in)
	r.Comma = rune(comma)
	r.FieldsPerRecord = -1
	return r
}

func newCSVReader(in *input, m Mapping, comma byte) (*csvReader, error) {
	capped := &recordCap{in: in.r}
	r := csvRecords(capped, comma)
	cr := &csvReader{in: in, r: r, capped: capped}
	capped.start = func() string {
		if cr.plan.fields == nil {
			return "the header"
		}
		return fmt.Sprintf("row %d", cr.row+1)
	}
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return cr, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the CSV header: %w", err)
	}
	capped.recordStart = r.InputOffset()
	if cr.plan, err = m.resolveHeader(header); err != nil {
		return nil, err
	}
	return cr, nil
}

// resolveHeader resolves the mapping against a CSV header, its names
// trimmed of spaces and of a byte-order mark.
func (m Mapping) resolveHeader(header []string) (plan, error) {
	columns := make([]string, len(header))
	for i, h := range header {
		columns[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	}
	p, err := m.resolve(columns)
	if err != nil {
		return p, inputErrorf("%v", err)
	}
	return p, nil
}

func (cr *csvReader) fill(c *chunk, max int, skip int64) error {
	if cr.plan.fields == nil {
		return io.EOF // no header: an empty file
	}
	for c.len() < max {
		record, err := cr.r.Read()
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		cr.capped.recordStart = cr.r.InputOffset()
		cr.row++
		c.last = cr.row
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return err
			}
			if cr.row > skip {
				c.rejects = append(c.rejects, Reject{Row: cr.row, Line: int64(pe.StartLine), Field: ingest.RootField, Reason: "not valid CSV: " + pe.Err.Error()})
			} else {
				cr.skips++
			}
			continue
		}
		if cr.row <= skip {
			cr.skips++
			continue
		}
		line, _ := cr.r.FieldPos(0)
		c.appendRecord(record, cr.row, int64(line))
	}
	return nil
}

func (cr *csvReader) skipped() int64 { return cr.skips }
func (cr *csvReader) Close() error   { return cr.in.Close() }

// MaxLineBytes bounds one NDJSON line; longer lines are rejected without
// being held in memory.
const MaxLineBytes = 1 << 20

// ndjsonReader streams lines; blank lines are skipped.
type ndjsonReader struct {
	in    *input
	r     *bufio.Reader
	line  int64
	skips int64
	rows  int64 // lines with something on them
}

func newNDJSONReader(in *input) *ndjsonReader {
	r := in.r
	if r.Size() < MaxLineBytes {
		r = bufio.NewReaderSize(r, MaxLineBytes)
	}
	return &ndjsonReader{in: in, r: r}
}

func (nr *ndjsonReader) fill(c *chunk, max int, skip int64) error {
	for c.len() < max {
		data, err := nr.r.ReadSlice('\n')
		tooLong := errors.Is(err, bufio.ErrBufferFull)
		for errors.Is(err, bufio.ErrBufferFull) { // drop the rest of the line
			_, err = nr.r.ReadSlice('\n')
		}
		if len(data) == 0 && errors.Is(err, io.EOF) {
			return io.EOF
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		nr.line++
		c.last = nr.line
		if nr.line <= skip {
			nr.skips++
		} else if tooLong {
			c.rejects = append(c.rejects, Reject{Row: nr.line, Line: nr.line, Field: ingest.RootField, Reason: fmt.Sprintf("line is longer than %d bytes", MaxLineBytes)})
		} else if line := trimSpace(data); len(line) > 0 {
			if nr.rows++; nr.rows == 1 && line[0] == '[' {
				// Every line would be rejected as malformed: say it once.
				return inputErrorf("line %d starts a JSON array; backfill reads one JSON object per line (NDJSON): convert the file with jq -c '.[]'", nr.line)
			}
			c.data = append(c.data, line...)
			c.ends = append(c.ends, len(c.data))
			c.nums = append(c.nums, nr.line)
			c.lines = append(c.lines, nr.line)
		}
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
	}
	return nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}

func (nr *ndjsonReader) skipped() int64 { return nr.skips }
func (nr *ndjsonReader) Close() error   { return nr.in.Close() }

// parquetSliceRows bounds the rows one query materialises: a row group
// bigger than this is read in slices.
const parquetSliceRows = 131_072

// parquetReader lets DuckDB decode the Parquet file, a row group (or a
// slice of one) per query on a private in-memory database, each row
// rendered as a JSON object. Memory stays bounded by the slice, not the
// file.
type parquetReader struct {
	ctx   context.Context
	db    *dbsql.DB
	path  string
	plan  plan
	total int64
	cells []dbsql.RawBytes
	dest  []any
	// ranges are the [from, to) row ranges still to read, 0-based.
	ranges [][2]int64
	// types are the DuckDB types of the columns.
	types []string
	// tsRendered: ts comes from a typed timestamp column.
	tsRendered bool
	// largestPage is the file's largest page, uncompressed, when it is big
	// (largestParquetPage): the DuckDBs that read the file make room for it.
	largestPage int64
	// sql reads this file.
	sql   parquetSQL
	rows  *dbsql.Rows
	next  int64 // 0-based number of the next row rows returns
	end   int64
	skips int64
	// pos is the next row, for progress (read by another goroutine).
	pos atomic.Int64
}

// parquetFile is the data of sql/duckdb/backfill/parquet.sql.
type parquetFile struct {
	BytesID string
	// Positional: the file has a column of its own named file_row_number
	// (in any case), which hides DuckDB's row numbers: its rows are
	// numbered by position (parquet.sql's "_by_position" statements).
	Positional bool
}

// parquetSQL is parquet.sql rendered for one file: the file as a source,
// and the statements that read its rows.
type parquetSQL struct {
	file, rows, listedRows string
}

var parquetTemplate = sqlfiles.Template(sqlfiles.DuckDB, "backfill/parquet")

func (f parquetFile) statements() (parquetSQL, error) {
	var out parquetSQL
	names := map[string]*string{"file": &out.file, "rows": &out.rows, "listed_rows": &out.listedRows}
	if f.Positional {
		names = map[string]*string{"unnumbered_file": &out.file, "rows_by_position": &out.rows, "listed_rows_by_position": &out.listedRows}
	}
	for name, dest := range names {
		var b strings.Builder
		if err := parquetTemplate.ExecuteTemplate(&b, name, f); err != nil {
			return out, fmt.Errorf("parquet statement %s: %w", name, err)
		}
		*dest = b.String()
	}
	return out, nil
}

// parquetReaderMB caps the reading DuckDB's memory (raised for a file
// whose pages need more: largestParquetPage).
const parquetReaderMB = 128

// openPrivateDuckDB opens an in-memory DuckDB of the run's own, its
// memory (in MB) and threads capped; tempDir, when set, is where it spills.
func openPrivateDuckDB(memoryMB int64, threads int, tempDir string) (*dbsql.DB, error) {
	params := url.Values{}
	params.Set("memory_limit", fmt.Sprintf("%dMB", memoryMB))
	params.Set("threads", fmt.Sprint(threads))
	if tempDir != "" {
		params.Set("temp_directory", tempDir)
	}
	db, err := dbsql.Open("duckdb", "?"+params.Encode())
	if err != nil {
		return nil, err
	}
	if _, err := db.Exec(stmt("utc")); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// mayLackIDs reports whether the event_id column may hold nulls (rows
// whose id is derived from their content), by the file's statistics;
// without them, it may.
func (pr *parquetReader) mayLackIDs() (bool, error) {
	i := slices.Index(pr.plan.fields, fieldEventID)
	if i < 0 {
		return true, nil
	}
	var nulls dbsql.NullBool
	if err := pr.db.QueryRowContext(pr.ctx, stmt("backfill/parquet_id_nulls"), pr.path, pr.plan.columns[i]).Scan(&nulls); err != nil {
		return false, fmt.Errorf("read the statistics of %s: %w", pr.path, err)
	}
	return !nulls.Valid || nulls.Bool, nil
}

func newParquetReader(ctx context.Context, path string, m Mapping) (*parquetReader, error) {
	// One thread keeps rows in file order and leaves the other core to the
	// contract checks.
	db, err := openPrivateDuckDB(parquetReaderMB, 1, "")
	if err != nil {
		return nil, fmt.Errorf("open DuckDB to read Parquet: %w", err)
	}
	db.SetMaxOpenConns(1)
	pr := &parquetReader{ctx: ctx, db: db, path: path}
	if err := pr.describe(m); err != nil {
		db.Close()
		return nil, err
	}
	if pr.largestPage, err = largestParquetPage(ctx, db, path); err != nil {
		db.Close()
		return nil, err
	}
	if _, err := raiseForPages(ctx, db, parquetReaderMB, pr.largestPage); err != nil {
		db.Close()
		return nil, err
	}
	return pr, nil
}

func (pr *parquetReader) describe(m Mapping) error {
	rows, err := pr.db.QueryContext(pr.ctx, stmt("backfill/parquet_columns"), pr.path)
	if err != nil {
		return fmt.Errorf("not a readable Parquet file: %w", err)
	}
	types, err := rows.ColumnTypes()
	rows.Close()
	if err != nil {
		return err
	}
	columns := make([]string, len(types))
	for i, t := range types {
		columns[i] = t.Name()
		pr.types = append(pr.types, t.DatabaseTypeName())
	}
	p, err := m.resolve(columns)
	if err != nil {
		return inputErrorf("%v", err)
	}
	var file parquetFile
	for i, f := range p.fields {
		if f == fieldTS && strings.HasPrefix(types[i].DatabaseTypeName(), "TIMESTAMP") {
			pr.tsRendered = true
		}
		if f == fieldEventID && pr.types[i] == "BLOB" {
			file.BytesID = sqlfiles.QuoteIdent(columns[i])
			pr.types[i] = "VARCHAR" // "file" reads it as text
		}
	}
	for _, c := range columns {
		file.Positional = file.Positional || strings.EqualFold(c, rowNumberColumn)
	}
	if pr.sql, err = file.statements(); err != nil {
		return err
	}
	pr.plan = p
	pr.cells = make([]dbsql.RawBytes, len(columns))
	pr.dest = make([]any, len(columns))
	for i := range pr.cells {
		pr.dest[i] = &pr.cells[i]
	}
	groups, err := pr.db.QueryContext(pr.ctx, stmt("backfill/parquet_row_groups"), pr.path)
	if err != nil {
		return fmt.Errorf("read the row groups of %s: %w", pr.path, err)
	}
	defer groups.Close()
	var from int64
	for groups.Next() {
		var id, n int64
		if err := groups.Scan(&id, &n); err != nil {
			return err
		}
		for lo := from; lo < from+n; lo += parquetSliceRows {
			pr.ranges = append(pr.ranges, [2]int64{lo, min(lo+parquetSliceRows, from+n)})
		}
		from += n
	}
	pr.total = from
	return groups.Err()
}

// readError explains an error reading the file's rows.
func (pr *parquetReader) readError(err error) error {
	if invalidParquetText(err) {
		return errInvalidParquetText(err, "the rows before it that were stored stay stored")
	}
	return fmt.Errorf("read the file: %w", err)
}

// invalidParquetText reports DuckDB's refusal of a Parquet string that is
// not UTF-8: it fails the query, whatever row it reads.
func invalidParquetText(err error) bool {
	return strings.Contains(err.Error(), "Invalid string encoding found in Parquet file")
}

// errInvalidParquetText says what to do about text that is not UTF-8;
// loaded says what of the file is stored.
func errInvalidParquetText(err error, loaded string) error {
	return fmt.Errorf("the file holds text that is not valid UTF-8, which DuckDB refuses to read (%s): "+
		"re-export the file with its text in UTF-8, or fix or leave out the rows with other bytes, then run the same command again to load the rest: %w", loaded, err)
}

func (pr *parquetReader) fill(c *chunk, max int, skip int64) error {
	for c.len() < max {
		if pr.rows == nil {
			if err := pr.query(skip); err != nil {
				return err
			}
		}
		if !pr.rows.Next() {
			if err := pr.rows.Err(); err != nil {
				return pr.readError(err)
			}
			pr.rows.Close()
			pr.rows = nil
			if pr.next != pr.end {
				return fmt.Errorf("read the file: the query for rows up to %d ended after row %d", pr.end, pr.next)
			}
			continue
		}
		if err := pr.rows.Scan(pr.dest...); err != nil {
			return pr.readError(err)
		}
		pr.next++
		pr.pos.Store(pr.next)
		pr.appendRow(c, pr.next)
	}
	return nil
}

// query starts the next range, passing over the rows at or before skip
// without reading them.
func (pr *parquetReader) query(skip int64) error {
	from, to, ok := pr.nextRange(skip)
	if !ok {
		pr.pos.Store(pr.total)
		return io.EOF
	}
	rows, err := pr.db.QueryContext(pr.ctx, pr.sql.rows, pr.path, from, to)
	if err != nil {
		return pr.readError(err)
	}
	pr.rows, pr.next, pr.end = rows, from, to
	return nil
}

// nextRange takes the next range still to read, 0-based [from, to),
// passing over (and counting) the rows at or before skip; ok is false at
// the end of the file.
func (pr *parquetReader) nextRange(skip int64) (from, to int64, ok bool) {
	for len(pr.ranges) > 0 && pr.ranges[0][1] <= skip {
		pr.skips += pr.ranges[0][1] - pr.ranges[0][0]
		pr.ranges = pr.ranges[1:]
	}
	if len(pr.ranges) == 0 {
		return 0, 0, false
	}
	from, to = pr.ranges[0][0], pr.ranges[0][1]
	pr.ranges = pr.ranges[1:]
	if from < skip {
		pr.skips += skip - from
		from = skip
	}
	return from, to, true
}

// appendRow appends the row just scanned into pr.cells to c as row n.
func (pr *parquetReader) appendRow(c *chunk, n int64) {
	c.last = n
	c.jsonCells = true
	for _, cell := range pr.cells {
		c.data = append(c.data, cell...)
		c.ends = append(c.ends, len(c.data))
	}
	c.cellEnds = append(c.cellEnds, len(c.ends))
	c.nums = append(c.nums, n)
	c.lines = append(c.lines, 0)
}

// fillListed appends the listed rows (numbered from 1, ascending) to c.
func (pr *parquetReader) fillListed(c *chunk, rows []int64) error {
	// A bulk step is finished even after Ctrl-C, so that it is checkpointed.
	res, err := pr.db.QueryContext(context.WithoutCancel(pr.ctx), pr.sql.listedRows, pr.path, rowListLiteral(rows))
	if err != nil {
		return pr.readError(err)
	}
	defer res.Close()
	i := 0
	for res.Next() {
		if i == len(rows) {
			return errors.New("read the file: more rows than listed")
		}
		if err := res.Scan(pr.dest...); err != nil {
			return pr.readError(err)
		}
		pr.appendRow(c, rows[i])
		i++
	}
	if err := res.Err(); err != nil {
		return pr.readError(err)
	}
	if i != len(rows) {
		return fmt.Errorf("read the file: %d of %d listed rows found", i, len(rows))
	}
	return nil
}

func (pr *parquetReader) skipped() int64 { return pr.skips }

func (pr *parquetReader) Close() error {
	if pr.rows != nil {
		pr.rows.Close()
	}
	return pr.db.Close()
}

func stmt(name string) string { return sqlfiles.Statement(sqlfiles.DuckDB, name) }

// spoolStdin copies a Parquet stream to a temporary file: DuckDB reads
// Parquet from its footer, so it needs a file it can seek in.
func spoolStdin(in *input, dir string) (path string, cleanup func(), err error) {
	f, err := os.CreateTemp(dir, "pulse-backfill-stdin-*.parquet")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.Remove(f.Name()) }
	if _, err := io.Copy(f, in.r); err != nil {
		f.Close()
		cleanup()
		return "", nil, fmt.Errorf("copy standard input to %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		cleanup()
		return "", nil, err
	}
	return f.Name(), cleanup, nil
}
