package backfill

import (
	"bytes"
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pulse-analytics/pulse/ingest"
	sqlfiles "github.com/pulse-analytics/pulse/sql"
	"github.com/pulse-analytics/pulse/store"
)

// The bulk lane (sql/duckdb/backfill/bulk.sql) loads Parquet and CSV into
// the embedded store with INSERT ... SELECT: DuckDB reads, checks and
// writes the rows that are certainly valid; the others, and later copies
// of an event, go through the event contract in Go as every row of the
// row-by-row lane does. It covers files with an event_id column (rows
// without one need their content-derived id, computed in Go).

// bulkSliceRows bounds the rows of one bulk step: a step is checkpointed
// whole, and its key check (for copies within it) holds its keys in memory.
const bulkSliceRows = 1 << 19

var bulkTemplate = sqlfiles.Template(sqlfiles.DuckDB, "backfill/bulk")

// bulkField is one event field as bulk.sql reads it.
type bulkField struct {
	Col  string // quoted source column; "" when absent
	Kind string // text, timestamp, timestamptz, integer, uuid, nested, other
	CSV  bool
}

// bulkExtra is a column that becomes a key of properties.
type bulkExtra struct {
	Key string // SQL string literal
	Col string // quoted column
}

// bulkPlan is the template data of bulk.sql for one source.
type bulkPlan struct {
	Parquet    bool
	CSV        bool
	CSVColumns string
	Extras     []bulkExtra
	fields     map[string]bulkField
}

// Field is called by the template.
func (p bulkPlan) Field(name string) bulkField {
	f := p.fields[name]
	f.CSV = p.CSV
	return f
}

// newBulkPlan maps a source's columns, with their DuckDB types (all
// VARCHAR for CSV), onto bulk.sql. ok is false when the bulk lane cannot
// take the source: no event_id column, or an extra column whose name the
// contract would refuse as a property key.
func newBulkPlan(p *plan, types []string, csv bool) (bp bulkPlan, ok bool) {
	bp = bulkPlan{Parquet: !csv, CSV: csv, fields: map[string]bulkField{}}
	for i, column := range p.columns {
		field := p.fields[i]
		if field == "" {
			if !plainKey(column) {
				return bp, false
			}
			bp.Extras = append(bp.Extras, bulkExtra{Key: sqlfiles.QuoteString(column), Col: sqlfiles.QuoteIdent(column)})
			continue
		}
		bp.fields[field] = bulkField{Col: sqlfiles.QuoteIdent(column), Kind: columnKind(field, types[i])}
	}
	if bp.fields[fieldEventID].Col == "" {
		return bp, false
	}
	if csv {
		var b strings.Builder
		b.WriteString("{'__pulse_row': 'VARCHAR', '__pulse_line': 'VARCHAR'")
		for _, c := range p.columns {
			b.WriteString(", " + sqlfiles.QuoteString(c) + ": 'VARCHAR'")
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
	case typ == "TIMESTAMP" || typ == "TIMESTAMP_MS" || typ == "TIMESTAMP_S":
		return "timestamp"
	case typ == "TIMESTAMPTZ" || typ == "TIMESTAMP WITH TIME ZONE":
		return "timestamptz"
	case slices.Contains([]string{"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "HUGEINT"}, typ):
		return "integer"
	}
	return "other"
}

func (p bulkPlan) statement(name string) (string, error) {
	var b bytes.Buffer
	if err := bulkTemplate.ExecuteTemplate(&b, name, p); err != nil {
		return "", fmt.Errorf("bulk statement %s: %w", name, err)
	}
	return b.String(), nil
}

// bulkStep is one slice of a source, rows [from, to) (numbered from 1),
// read by DuckDB from path and split into parts that run concurrently.
type bulkStep struct {
	path     string
	from, to int64
	parts    [][2]int64
}

// bulkResult is what a step did with the rows DuckDB stored; goRows are
// left for the contract, in order.
type bulkResult struct {
	inserted int64 // stored by the bulk insert
	fast     int64 // rows the bulk insert took (inserted or already stored)
	goRows   []int64
}

// bulkLoader runs bulk steps for one source against the embedded store.
type bulkLoader struct {
	st    *store.Store
	plan  bulkPlan
	skew  time.Duration
	now   func() time.Time
	stmts map[string]string
}

func newBulkLoader(st *store.Store, plan bulkPlan, c *ingest.Contract) (*bulkLoader, error) {
	l := &bulkLoader{st: st, plan: plan, skew: c.MaxFutureSkew, now: c.Now, stmts: map[string]string{}}
	for _, name := range []string{"go_rows", "later_copies", "insert"} {
		s, err := plan.statement(name)
		if err != nil {
			return nil, err
		}
		l.stmts[name] = s
	}
	return l, nil
}

// splitParts cuts [from, to) into n nearly equal ranges.
func splitParts(from, to int64, n int) [][2]int64 {
	var parts [][2]int64
	size := (to - from + int64(n) - 1) / int64(n)
	for lo := from; lo < to; lo += size {
		parts = append(parts, [2]int64{lo, min(lo+size, to)})
	}
	return parts
}

// run stores the step's certainly valid rows and returns the others.
func (l *bulkLoader) run(ctx context.Context, step bulkStep) (bulkResult, error) {
	var res bulkResult
	// ts later than now plus the allowed skew is the contract's to refuse;
	// one millisecond of margin keeps the bound conservative.
	maxTS := l.now().Add(l.skew).UnixMilli() - 1
	goRows := make([][]int64, len(step.parts))
	errs := make([]error, len(step.parts))
	var wg sync.WaitGroup
	for i, part := range step.parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			goRows[i], errs[i] = l.rowList(ctx, l.stmts["go_rows"], step.path, part[0], part[1], maxTS)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	copies, minTS, maxStored, err := l.laterCopies(ctx, step)
	if err != nil {
		return res, err
	}
	for _, rows := range goRows {
		res.goRows = append(res.goRows, rows...)
	}
	res.goRows = append(res.goRows, copies...)
	slices.Sort(res.goRows)
	res.goRows = slices.Compact(res.goRows)
	res.fast = step.to - step.from - int64(len(res.goRows))
	if res.fast == 0 {
		return res, nil
	}

	list := rowListLiteral(res.goRows)
	insert := l.stmts["insert"]
	parts := make([]store.BulkPart, len(step.parts))
	for i, part := range step.parts {
		parts[i] = func(ctx context.Context, tx *dbsql.Tx, ingestedAt time.Time) (int64, error) {
			r, err := tx.ExecContext(ctx, insert, step.path, part[0], part[1], ingestedAt, list, minTS, maxStored)
			if err != nil {
				return 0, err
			}
			return r.RowsAffected()
		}
	}
	res.inserted, err = l.st.Bulk(ctx, parts)
	return res, err
}

func (l *bulkLoader) rowList(ctx context.Context, query string, args ...any) ([]int64, error) {
	rows, err := l.st.DB.QueryContext(ctx, query, args...)
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

// laterCopies returns the rows of the step that repeat an earlier row's
// key, and the step's ts bounds for the duplicate check.
func (l *bulkLoader) laterCopies(ctx context.Context, step bulkStep) (copies []int64, minTS, maxTS time.Time, err error) {
	rows, err := l.st.DB.QueryContext(ctx, l.stmts["later_copies"], step.path, step.from, step.to)
	if err != nil {
		return nil, minTS, maxTS, err
	}
	defer rows.Close()
	for rows.Next() {
		var row, lo, hi dbsql.NullInt64
		if err := rows.Scan(&row, &lo, &hi); err != nil {
			return nil, minTS, maxTS, err
		}
		if row.Valid {
			copies = append(copies, row.Int64)
			continue
		}
		if lo.Valid {
			minTS, maxTS = time.UnixMilli(lo.Int64).UTC(), time.UnixMilli(hi.Int64).UTC()
		}
	}
	return copies, minTS, maxTS, rows.Err()
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
