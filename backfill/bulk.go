package backfill

import (
	"bytes"
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pulse-analytics/pulse/chstore"
	"github.com/pulse-analytics/pulse/ingest"
	sqlfiles "github.com/pulse-analytics/pulse/sql"
	"github.com/pulse-analytics/pulse/store"
)

// The bulk lane (sql/duckdb/backfill/bulk.sql) loads Parquet and CSV into
// the embedded store with INSERT ... SELECT: DuckDB reads, checks and
// writes the rows that are certainly valid; the others, and later copies
// of an event, go through the event contract in Go as every row of the
// row-by-row lane does. Without an event_id column, DuckDB derives each
// row's id from its content as contentID does.

// Default rows of one bulk step: a step is checkpointed whole, and its key
// check (for copies within it) holds its keys in memory; a CSV step's
// stage table (two are alive while the pipeline overlaps steps) must fit
// the store's memory limit. Alone, chDB 26.9 stored a step of 262,144 rows
// for about 30% less per row than one of 524,288.
// Into the embedded store steps are whole row groups (storeRowGroupRows).
const (
	BulkParquetRows    = 4 * storeRowGroupRows
	BulkCSVRows        = 2 * storeRowGroupRows
	BulkClickHouseRows = 1 << 18
)

// storeRowGroupRows is DuckDB's row group size, the embedded store's.
// Each insert writes its own row groups, and DuckDB's checkpoint rewrites
// the small ones left at the end of each insert: with 262,144-row steps
// (two full groups and one of 16,384 rows) the load's final checkpoint
// took as long as a quarter of the load itself; with whole groups, 5 ms.
const storeRowGroupRows = 122_880

var bulkTemplate = sqlfiles.Template(sqlfiles.DuckDB, "backfill/bulk")

// bulkField is one event field as bulk.sql reads it.
type bulkField struct {
	Col  string // the column as the step's rows name it (bulkColumn.As); "" when absent
	Src  string // the column as the source names it, quoted
	Kind string // text, timestamp, timestamptz, integer, double, uuid, nested, other
	CSV  bool
}

// bulkColumn is a source column the step's rows read (bulk.sql's
// "columns"): Src as the source names it, quoted, read as As, a name of
// the lane's own.
type bulkColumn struct {
	Src, As string
}

// bulkExtra is a column that becomes a key of properties; as a member of
// properties (bulkPlan.Members), Props stands for the properties column's
// own members instead.
type bulkExtra struct {
	Key   string // SQL string literal
	Col   string // the column as the step's rows name it
	CSV   bool   // an empty cell is an absent value
	Props bool
}

// bulkPlan is the template data of bulk.sql for one source.
type bulkPlan struct {
	Parquet    bool
	CSV        bool
	CSVColumns string
	CSVDelim   string // SQL literal
	// ParquetFile is the Parquet file as a source (parquet.sql's "file",
	// or "unnumbered_file" when Positional).
	ParquetFile string
	// Positional: the Parquet file has a column of its own named
	// file_row_number, which hides DuckDB's row numbers (and makes its
	// file_row_number option fail): rows are numbered by position.
	Positional bool
	// ClickHouse: the rows go to ClickHouse's events_bulk ("spool"), not
	// to the embedded store ("insert").
	ClickHouse bool
	// Columns are the source columns the rows read, fields and extras.
	Columns []bulkColumn
	Extras  []bulkExtra
	// Members are the members of properties in column order: the extras,
	// and the properties column's own where it stands (Props).
	Members []bulkExtra
	// Stage is the table a CSV step is staged in ("" reads the source).
	Stage string
	// Checked: the statement reads rows whose fate go_rows decided, and
	// may normalise text ts and event_id by casts alone (bulk.sql's "read").
	Checked bool
	// DerivedID: the source has no event_id column; each row's id is
	// derived from its content (bulk.sql's "content_id").
	DerivedID bool
	// AbsentIDs: the event_id column may lack a row's id (null, or an
	// empty CSV cell), which the statements then derive (bulk.sql's
	// "read"): always for CSV, for Parquet when the column's statistics
	// count nulls.
	AbsentIDs bool
	// IDs is the table that holds a step's derived ids for the insert
	// (bulk.sql's "derive_ids"; "" for none).
	IDs string
	// TSUnit is --ts-unit (s, ms, us, ns): digits in a text ts, and an
	// integer ts column, count it since the epoch ("epoch_ms").
	TSUnit string
	// ZonelessUTC: --ts-zone UTC, a text ts without a zone is UTC.
	ZonelessUTC bool
	// NaiveInGo: --ts-zone names another zone, which the contract's lane
	// applies to typed timestamps without one (DuckDB's zone rules could
	// resolve a daylight-saving fold otherwise than Go's).
	NaiveInGo bool
	// Raw: the statement is "go_rows_raw".
	Raw    bool
	fields map[string]bulkField
}

// Field is called by the template.
func (p bulkPlan) Field(name string) bulkField {
	f := p.fields[name]
	f.CSV = p.CSV
	return f
}

// epochExpr is the data of bulk.sql's "epoch_ms".
type epochExpr struct{ Expr, Unit string }

// WithUnit is called by the template.
func (p bulkPlan) WithUnit(expr string) epochExpr { return epochExpr{Expr: expr, Unit: p.TSUnit} }

// With is called by the template: another expression in the same unit.
func (e epochExpr) With(expr string) epochExpr { e.Expr = expr; return e }

// rowNumberColumn is the name DuckDB gives a Parquet file's row numbers;
// like every DuckDB name, it matches whatever the case.
const rowNumberColumn = "file_row_number"

// newBulkPlan maps a source's columns, with their DuckDB types (all
// VARCHAR for CSV), onto bulk.sql. ok is false when the bulk lane cannot
// take the source: an extra column whose name the contract would refuse
// as a property key.
//
// The step's rows name column i c<i>, whatever the source calls it: the
// SQL names its own values too (p_in, row_no, n_props, ...), and a source
// column under one of those names must not be read in their place. CSV
// columns are named so by read_csv itself (CSVColumns), the slice's row
// and line numbers src_row and src_line.
func newBulkPlan(p *plan, types []string, csv bool, ts TSRule) (bp bulkPlan, ok bool) {
	bp = bulkPlan{Parquet: !csv, CSV: csv, fields: map[string]bulkField{}}
	if ts.Unit != 0 {
		bp.TSUnit = unitName(ts.Unit)
	}
	bp.ZonelessUTC = ts.Zone != nil && ts.zoneUTC()
	bp.NaiveInGo = !ts.zoneUTC()
	props := false
	for i, column := range p.columns {
		col := bulkColumn{Src: sqlfiles.QuoteIdent(column), As: fmt.Sprintf("c%d", i)}
		if csv {
			col.Src = col.As
		} else if strings.EqualFold(column, rowNumberColumn) {
			bp.Positional = true
		}
		field := p.fields[i]
		if field == "" {
			if !plainKey(column) {
				return bp, false
			}
			bp.Columns = append(bp.Columns, col)
			bp.Extras = append(bp.Extras, bulkExtra{Key: sqlfiles.QuoteString(column), Col: col.As, CSV: csv})
			bp.Members = append(bp.Members, bp.Extras[len(bp.Extras)-1])
			continue
		}
		if field == fieldProperties {
			bp.Members, props = append(bp.Members, bulkExtra{Props: true}), true
		}
		if field != fieldProperties && field != fieldContext {
			bp.Columns = append(bp.Columns, col) // the objects are read as p_in and c_in
		}
		bp.fields[field] = bulkField{Col: col.As, Src: col.Src, Kind: columnKind(field, types[i])}
	}
	if !props {
		bp.Members = append(bp.Members, bulkExtra{Props: true})
	}
	bp.DerivedID = bp.fields[fieldEventID].Col == ""
	bp.AbsentIDs = csv && !bp.DerivedID
	if csv {
		var b strings.Builder
		b.WriteString("{'src_row': 'VARCHAR', 'src_line': 'VARCHAR'")
		for i := range p.columns {
			fmt.Fprintf(&b, ", 'c%d': 'VARCHAR'", i)
		}
		b.WriteString("}")
		bp.CSVColumns = b.String()
	}
	return bp, true
}

// plainKey reports whether a column name is a property key bulk.sql's
// check would accept: 1 to 128 characters, starting with a visible ASCII
// character, without quotes or backslashes.
func plainKey(name string) bool {
	if name == "" || utf8.RuneCountInString(name) > ingest.MaxPropertyKeyLen || !utf8.ValidString(name) {
		return false
	}
	if c := name[0]; c < '!' || c > '~' {
		return false
	}
	return !strings.ContainsAny(name, "\"\\") && !strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// columnKind tells bulk.sql how to read a column of a DuckDB type.
func columnKind(field, typ string) string {
	switch {
	case typ == "VARCHAR" || typ == "JSON":
		return "text"
	case strings.HasPrefix(typ, "STRUCT") || strings.HasPrefix(typ, "MAP"):
		if field == fieldProperties || field == fieldContext {
			return "nested"
		}
	case typ == "UUID":
		return "uuid"
	case typ == "TIMESTAMP" || typ == "TIMESTAMP_MS" || typ == "TIMESTAMP_S" || typ == "TIMESTAMP_NS":
		// Nanoseconds too: cast to TIMESTAMP they round towards zero, as
		// epoch_ms does; bulk.sql leaves what that rounds to 1970 (ts_ms 0)
		// to the contract.
		return "timestamp"
	case typ == "TIMESTAMPTZ" || typ == "TIMESTAMP WITH TIME ZONE":
		return "timestamptz"
	case slices.Contains([]string{"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "HUGEINT"}, typ):
		return "integer"
	case typ == "DOUBLE":
		return "double"
	}
	return "other"
}

// bulkObject is a properties-like text as bulk.sql's "keys" check reads
// it: Expr names it; NoNull refuses null values (ClickHouse's maps hold
// none); AsParsed asks for numbers that read back as written once parsed
// (events_bulk's view renders them from their value).
type bulkObject struct {
	Expr     string
	NoNull   bool
	AsParsed bool
}

// Object is called by the template.
func (p bulkPlan) Object(expr string) bulkObject {
	return bulkObject{Expr: expr, NoNull: p.ClickHouse, AsParsed: p.ClickHouse && !p.Raw}
}

// keyLimit is the data of bulk.sql's "bad_objects": the object_keys table
// and the most keys an object of it may have.
type keyLimit struct {
	Table string
	Max   int
}

// KeysOf is called by the template: objects of table may hold
// ingest.MaxProperties less taken keys (the extra columns merged in).
func (p bulkPlan) KeysOf(table string, taken int) keyLimit {
	return keyLimit{Table: table, Max: ingest.MaxProperties - taken}
}

// Named is called by the template.
func (o bulkObject) Named(expr string) bulkObject { o.Expr = expr; return o }

// IDText is called by the template: the statement reads a text event_id
// from the source, not from a stage that holds it parsed.
func (p bulkPlan) IDText() bool {
	return p.Stage == "" && p.fields["event_id"].Kind == "text"
}

// DerivedLate is called by the template: ids are derived from content
// and no stage holds them, so every statement that reads them derives
// them again ("stored" only for the rows that may be stored).
func (p bulkPlan) DerivedLate() bool { return p.DerivedID && p.Stage == "" }

func (p bulkPlan) statement(name string) (string, error) {
	p.Checked = name != "go_rows" && name != "stage"
	p.Raw = name == "go_rows_raw"
	var b bytes.Buffer
	if err := bulkTemplate.ExecuteTemplate(&b, name, p); err != nil {
		return "", fmt.Errorf("bulk statement %s: %w", name, err)
	}
	return b.String(), nil
}

// bulkStep is one slice of a source, rows [from, to) (numbered from 1),
// that DuckDB reads from path.
type bulkStep struct {
	path     string
	from, to int64
	// readTo is how many of the source's bytes were read when the step
	// was cut (CSV): once it is done, the progress up to there.
	readTo int64
	// offsets are where each row's record starts in a CSV slice, then
	// where the last one ends: the contract's few rows are read from
	// there, not by parsing the slice up to them.
	offsets []int64
	// slot picks one of two stage tables: a step is checked while the one
	// before it is inserted.
	slot int
}

// bulkCheck is what DuckDB found in a step: the rows for the contract, in
// order, and the ts bounds of the others; for ClickHouse, the file the
// others were spooled to.
type bulkCheck struct {
	goRows []int64
	// minTS and maxTS bound the step's ts, in epoch milliseconds.
	minTS, maxTS int64
	spool        string
	// raw: the step goes to events_bulk_raw (bulkLoader.raw).
	raw bool
	// decoded are the first decodedRows of goRows, through the contract
	// already.
	decoded     []*chunk
	decodedRows int
}

// fast is how many rows of the step the bulk insert takes.
func (c bulkCheck) fast(step bulkStep) int64 { return step.to - step.from - int64(len(c.goRows)) }

// bulkLoader runs bulk steps for one source: DuckDB (db) reads and checks
// the source, and the rows it passes go to the embedded store (st) in one
// INSERT ... SELECT, or to ClickHouse (ch) as a Parquet file spooled in
// spoolDir.
type bulkLoader struct {
	db *dbsql.DB
	st *store.Store
	ch *chstore.BulkInserter
	// raw: the source's objects hold many numbers events_bulk's view would
	// render anew; its steps are checked for and sent to events_bulk_raw,
	// which keeps them as written (set by the first such step).
	raw      bool
	spoolDir string
	skew     time.Duration
	now      func() time.Time
	// maxEventBytes is the contract's event size limit: rows whose
	// event could reach it are the contract's (bulk.sql's "go_rows").
	maxEventBytes int
	staged        bool
	// derivesIDs: the check derives the step's ids for the insert
	// (bulkPlan.IDs).
	derivesIDs bool
	// stmts are the statements per stage slot.
	stmts [2]map[string]string
	// deferred are rows the contract passed, held back for ClickHouse
	// until deferredMaxRows or deferredMaxSteps: stored with each step,
	// a few hundred rows a time, they cost ClickHouse a new part in every
	// table and partition they touch, and about a fifth of the load's time
	// (2M generated rows on chDB). A step's checkpoint waits for them.
	deferred      []ingest.Event
	deferredSteps int
}

// dryRun: no target (--dry-run), nothing is stored; the rows the check
// passes count as valid.
func (l *bulkLoader) dryRun() bool { return l.st == nil && l.ch == nil }

const (
	deferredMaxRows  = 1 << 16
	deferredMaxSteps = 8
)

// stepDone counts a stored step and reports whether the steps so far may
// be made durable: the deferred rows are due, or there are none.
func (l *bulkLoader) stepDone() (durable bool) {
	if l.ch == nil {
		return true
	}
	l.deferredSteps++
	return len(l.deferred) >= deferredMaxRows || l.deferredSteps >= deferredMaxSteps
}

func newBulkLoader(ctx context.Context, db *dbsql.DB, plan bulkPlan, c *ingest.Contract) (*bulkLoader, error) {
	// A CSV stage holds the derived ids already; ClickHouse's spool
	// derives them itself, in the check.
	l := &bulkLoader{db: db, skew: c.MaxFutureSkew, now: c.Now, maxEventBytes: c.MaxEventBytes, staged: plan.CSV,
		derivesIDs: plan.DerivedID && !plan.CSV && !plan.ClickHouse}
	if l.staged || l.derivesIDs {
		if _, err := db.ExecContext(ctx, stmt("backfill/attach_stage")); err != nil {
			return nil, fmt.Errorf("attach the stage database: %w", err)
		}
	}
	names := []string{"go_rows", "copies", "all_copies", "stored", "insert"}
	if plan.ClickHouse {
		names = []string{"go_rows", "copies", "all_copies", "spool", "go_rows_raw"}
	}
	if l.staged {
		names = append(names, "stage", "drop_stage")
	}
	if l.derivesIDs {
		names = append(names, "derive_ids", "drop_ids")
	}
	for slot := range l.stmts {
		l.stmts[slot] = map[string]string{}
		if l.staged {
			plan.Stage = fmt.Sprintf("pulse_bulk.step_%d", slot)
		}
		if l.derivesIDs {
			plan.IDs = fmt.Sprintf("pulse_bulk.ids_%d", slot)
		}
		for _, name := range names {
			s, err := plan.statement(name)
			if err != nil {
				return nil, err
			}
			l.stmts[slot][name] = s
		}
	}
	return l, nil
}

// release drops a step's stage table and spooled file.
func (l *bulkLoader) release(ctx context.Context, step bulkStep) error {
	if l.ch != nil {
		if err := os.Remove(l.spoolPath(step)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	for _, drop := range []string{"drop_stage", "drop_ids"} {
		if s, ok := l.stmts[step.slot][drop]; ok {
			if _, err := l.db.ExecContext(context.WithoutCancel(ctx), s); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *bulkLoader) spoolPath(step bulkStep) string {
	return filepath.Join(l.spoolDir, fmt.Sprintf("step-%d.parquet", step.slot))
}

// check finds the rows of a step that need the contract, with two
// queries side by side, and for ClickHouse spools the others. It reads and
// writes nothing of the target, so it also runs beside the previous
// step's insert.
func (l *bulkLoader) check(ctx context.Context, step bulkStep) (bulkCheck, error) {
	var c bulkCheck
	// ts later than now plus the allowed skew is the contract's to refuse;
	// one millisecond of margin keeps the bound conservative.
	maxTS := l.now().Add(l.skew).UnixMilli() - 1
	stmts := l.stmts[step.slot]
	if l.staged {
		if _, err := l.db.ExecContext(ctx, stmts["stage"], step.path, step.from, step.to); err != nil {
			return c, err
		}
	}
	var invalid []int64
	var invalidErr, idsErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		goRows := "go_rows"
		if l.raw {
			goRows = "go_rows_raw"
		}
		invalid, invalidErr = queryRowNumbers(ctx, l.db, stmts[goRows], step.path, step.from, step.to, maxTS, l.maxEventBytes)
	}()
	idsDone := make(chan struct{})
	if l.derivesIDs && !l.dryRun() {
		// Here, not in the insert: the insert is the pipeline's longest
		// stretch, and hashing every row there made it a third longer.
		go func() {
			defer close(idsDone)
			_, idsErr = l.db.ExecContext(ctx, stmts["derive_ids"], step.path, step.from, step.to)
		}()
	} else {
		close(idsDone)
	}
	copies, err := l.copies(ctx, step, &c)
	<-done
	<-idsDone
	if err = errors.Join(err, invalidErr, idsErr); err != nil {
		return c, err
	}
	if l.ch != nil && !l.raw && int64(4*len(invalid)) > step.to-step.from {
		// Mostly numbers events_bulk would render anew, as a double
		// column makes them: from here the file's steps go to
		// events_bulk_raw, which keeps them as written.
		l.raw = true
		invalid, invalidErr = queryRowNumbers(ctx, l.db, stmts["go_rows_raw"], step.path, step.from, step.to, maxTS, l.maxEventBytes)
		if invalidErr != nil {
			return c, invalidErr
		}
	}
	c.raw = l.raw
	c.goRows = append(invalid, copies...)
	slices.Sort(c.goRows)
	c.goRows = slices.Compact(c.goRows)
	if l.ch != nil && c.fast(step) > 0 {
		// Spooling here, not in insert, keeps ClickHouse busy: the
		// engine stores step n while DuckDB checks and spools step n+1.
		c.spool = l.spoolPath(step)
		if _, err := l.db.ExecContext(ctx, stmts["spool"], step.path, step.from, step.to, rowMask(step, c.goRows), c.spool); err != nil {
			return c, err
		}
	}
	return c, nil
}

// querier is a connection pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*dbsql.Rows, error)
}

// queryRowNumbers returns the row numbers a query lists, in its order.
func queryRowNumbers(ctx context.Context, db querier, query string, args ...any) ([]int64, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// copies returns the rows that share a key (bulk.sql's "copy_key") with
// another row of the step, and sets the step's ts bounds in c.
func (l *bulkLoader) copies(ctx context.Context, step bulkStep, c *bulkCheck) ([]int64, error) {
	rows, err := l.db.QueryContext(ctx, l.stmts[step.slot]["copies"], step.path, step.from, step.to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	more := false
	for rows.Next() {
		var first, last, copies, lo, hi dbsql.NullInt64
		if err := rows.Scan(&first, &last, &copies, &lo, &hi); err != nil {
			return nil, err
		}
		switch {
		case !copies.Valid:
			if lo.Valid {
				c.minTS, c.maxTS = lo.Int64, hi.Int64
			}
		case copies.Int64 == 2:
			out = append(out, first.Int64, last.Int64)
		default:
			more = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !more {
		return out, nil
	}
	all, err := queryRowNumbers(ctx, l.db, l.stmts[step.slot]["all_copies"], step.path, step.from, step.to)
	return append(out, all...), err
}

// insert stores the step's rows that the check passed and returns how
// many were new (for ClickHouse, how many were sent: its events table
// drops copies when it merges; for a dry run, how many passed).
func (l *bulkLoader) insert(ctx context.Context, step bulkStep, c bulkCheck) (int64, error) {
	if c.fast(step) == 0 || l.dryRun() {
		return c.fast(step), nil
	}
	if l.ch != nil {
		return c.fast(step), l.send(ctx, c.spool, c.raw)
	}
	return l.st.Bulk(ctx, func(ctx context.Context, tx *dbsql.Tx, ingestedAt time.Time) (int64, error) {
		stmts := l.stmts[step.slot]
		stored, err := queryRowNumbers(ctx, tx, stmts["stored"], step.path, step.from, step.to, c.minTS, c.maxTS)
		if err != nil {
			return 0, err
		}
		mask := rowMask(step, c.goRows, stored)
		r, err := tx.ExecContext(ctx, stmts["insert"], step.path, step.from, step.to, ingestedAt, mask)
		if err != nil {
			return 0, err
		}
		return r.RowsAffected()
	})
}

// send posts a spooled step to ClickHouse.
func (l *bulkLoader) send(ctx context.Context, spool string, raw bool) error {
	f, err := os.Open(spool)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	return l.ch.InsertParquet(ctx, f, info.Size(), raw)
}

// rowMask marks the rows of a step in any of the lists for bulk.sql's
// "for_contract": one character per row of the step, '1' for a listed row.
func rowMask(step bulkStep, lists ...[]int64) string {
	mask := bytes.Repeat([]byte{'0'}, int(step.to-step.from))
	for _, rows := range lists {
		for _, n := range rows {
			mask[n-step.from] = '1'
		}
	}
	return string(mask)
}

// rowListLiteral writes row numbers as a DuckDB list literal, bound as a
// string and cast in SQL: one parameter however many rows.
func rowListLiteral(rows []int64) string {
	b := make([]byte, 0, 2+len(rows)*8)
	b = append(b, '[')
	for i, n := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, n, 10)
	}
	return string(append(b, ']'))
}
