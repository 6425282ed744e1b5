package query

import (
	"context"
	dbsql "database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/google/uuid"

	"github.com/pulse-analytics/pulse/output"
	sqlfiles "github.com/pulse-analytics/pulse/sql"
	"github.com/pulse-analytics/pulse/store"
)

// EmbeddedOptions say which embedded store file to read and how.
type EmbeddedOptions struct {
	// Path is the DuckDB file (default store.DefaultPath).
	Path string
	// MemoryLimit caps DuckDB's memory for the query (default 256MB);
	// larger sorts and aggregations spill to a temporary directory.
	MemoryLimit string
}

// Embedded reads the embedded DuckDB store, read-only: it never creates,
// migrates or writes the file, and several queries may share it.
type Embedded struct {
	st *store.Store
	// behind counts events the rollups do not cover yet (see rollup_lag).
	behind int64
	warned bool
}

// OpenEmbedded opens the store file read-only. A missing file is reported
// (wrapping ErrNoStore) rather than created, and a file written by an
// older pulse whose schema lacks the rollups is refused with advice.
func OpenEmbedded(ctx context.Context, opts EmbeddedOptions) (*Embedded, error) {
	if opts.Path == "" {
		opts.Path = store.DefaultPath
	}
	info, err := os.Stat(opts.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w at %s; run `pulse ingest` or `pulse gen | ...` first, or point --data at the file", ErrNoStore, opts.Path)
	case err != nil:
		return nil, fmt.Errorf("embedded store %s: %w", opts.Path, err)
	case info.IsDir():
		return nil, fmt.Errorf("embedded store %s is a directory; point --data at the store file", opts.Path)
	}
	st, err := store.Open(ctx, store.Options{Path: opts.Path, MemoryLimit: opts.MemoryLimit, ReadOnly: true})
	if err != nil {
		if holder := lockHolder.FindString(err.Error()); holder != "" {
			return nil, fmt.Errorf("embedded store %s is open for writing by another process (a running `pulse ingest`?), and DuckDB lets no other process read it meanwhile: stop that process or query a copy of the file (DuckDB: %s)", opts.Path, holder)
		}
		return nil, err
	}
	e := &Embedded{st: st}
	if err := e.checkSchema(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if err := st.DB.QueryRowContext(ctx, sqlfiles.Statement(sqlfiles.DuckDB, "query/rollup_lag")).Scan(&e.behind); err != nil {
		st.Close()
		return nil, fmt.Errorf("embedded store %s: read the rollup watermark: %w", opts.Path, err)
	}
	// Queries read the store and nothing else: no files, no network, even
	// through `pulse query sql` (which also only runs read-only statements).
	if _, err := st.DB.ExecContext(ctx, sqlfiles.Statement(sqlfiles.DuckDB, "query/lockdown")); err != nil {
		st.Close()
		return nil, fmt.Errorf("embedded store %s: %w", opts.Path, err)
	}
	return e, nil
}

// checkSchema refuses files whose migrations are behind this binary's:
// a read-only query cannot apply them, and the metrics need the rollups.
func (e *Embedded) checkSchema(ctx context.Context) error {
	migrations, err := store.Migrations()
	if err != nil {
		return err
	}
	want := migrations[len(migrations)-1].Version
	var have int
	err = e.st.DB.QueryRowContext(ctx, sqlfiles.Statement(sqlfiles.DuckDB, "query/schema_version")).Scan(&have)
	if err != nil {
		return fmt.Errorf("%s does not look like a pulse embedded store (no schema_migrations table): %w", e.st.Path(), err)
	}
	if have < want {
		return fmt.Errorf("embedded store %s has schema version %d but this pulse needs %d; open it once for writing (e.g. `pulse ingest --data %s`) to upgrade it", e.st.Path(), have, want, e.st.Path())
	}
	return nil
}

// lockHolder picks DuckDB's "Conflicting lock is held in PROGRAM (PID n)"
// out of its error, which names the process that holds the file.
var lockHolder = regexp.MustCompile(`Conflicting lock is held in [^.]*?\(PID [0-9]+\)|Conflicting lock[^.]*`)

// Dialect implements Backend.
func (e *Embedded) Dialect() sqlfiles.Dialect { return sqlfiles.DuckDB }

// Close implements Backend.
func (e *Embedded) Close() error { return e.st.Close() }

// paramRef finds the $name parameters a statement uses. Statement files
// keep "$" out of comments and string literals except as such references.
var paramRef = regexp.MustCompile(`\$([A-Za-z_][A-Za-z0-9_]*)`)

// Query implements Backend.
func (e *Embedded) Query(ctx context.Context, statement string, params Params) (*output.Table, error) {
	text := sqlfiles.Composed(sqlfiles.DuckDB, statement)
	if e.behind > 0 && !e.warned && (strings.Contains(text, "user_days") || strings.Contains(text, "user_event_days")) {
		e.warned = true
		slog.Warn("the rollups miss recent events (the gateway stopped before refreshing them); metrics read from them undercount until pulse ingest runs again on this file",
			"store", e.st.Path(), "events_missing", e.behind)
	}
	var args []any
	seen := map[string]bool{}
	for _, m := range paramRef.FindAllStringSubmatch(text, -1) {
		name := m[1]
		if seen[name] {
			continue
		}
		seen[name] = true
		v, ok := params[name]
		if !ok {
			return nil, fmt.Errorf("statement %s uses $%s, which was not given", statement, name)
		}
		args = append(args, dbsql.Named(name, v))
	}
	return e.table(ctx, text, args...)
}

// QueryText implements Backend. DuckDB's own parser decides what the text
// is: json_serialize_sql accepts only SELECT-like statements (SELECT, WITH,
// FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE) and reports how many it found.
func (e *Embedded) QueryText(ctx context.Context, text string) (*output.Table, error) {
	var (
		failed     bool
		errorType  dbsql.NullString
		message    dbsql.NullString
		statements int
	)
	err := e.st.DB.QueryRowContext(ctx, sqlfiles.Statement(sqlfiles.DuckDB, "query/check_read_only"), dbsql.Named("text", text)).
		Scan(&failed, &errorType, &message, &statements)
	if err != nil {
		return nil, fmt.Errorf("check the statement: %w", err)
	}
	switch {
	case failed && errorType.String == "parser":
		return nil, &RefusedError{Reason: "the SQL does not parse: " + message.String}
	case failed:
		return nil, &RefusedError{Reason: "only a single read-only statement runs here (SELECT, WITH ... SELECT, FROM, VALUES, DESCRIBE, SHOW or SUMMARIZE): " + message.String}
	case statements == 0:
		return nil, &RefusedError{Reason: "no SQL statement given: pass one, e.g. 'SELECT count(*) FROM events'"}
	case statements > 1:
		return nil, &RefusedError{Reason: fmt.Sprintf("got %d statements; pulse query sql runs exactly one (drop the extra semicolon-separated statements)", statements)}
	}
	return e.table(ctx, text)
}

func (e *Embedded) table(ctx context.Context, text string, args ...any) (*output.Table, error) {
	rows, err := e.st.DB.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	t := &output.Table{Columns: make([]output.Column, len(types))}
	for i, ct := range types {
		t.Columns[i] = output.Column{Name: ct.Name(), Type: columnType(ct.DatabaseTypeName())}
	}
	dest := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]any, len(dest))
		for i, v := range dest {
			row[i] = normalize(types[i].DatabaseTypeName(), v)
		}
		t.Rows = append(t.Rows, row)
	}
	return t, rows.Err()
}

// columnType maps a DuckDB type name to how output writes it.
func columnType(dbType string) output.Type {
	switch base, _, _ := strings.Cut(dbType, "("); base {
	case "VARCHAR", "ENUM", "UUID", "BLOB", "TIME", "BIT":
		return output.String
	case "BOOLEAN":
		return output.Bool
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
		"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT":
		return output.Int
	case "FLOAT", "DOUBLE", "DECIMAL":
		return output.Float
	case "DATE":
		return output.Date
	case "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		return output.Timestamp
	}
	return output.Other
}

// widenNumber turns Go's sized integers and floats into output's int64
// (or *big.Int beyond it) and float64; ok is false for anything else.
// Both backends' drivers scan into these.
func widenNumber(v any) (any, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x > 1<<63-1 {
			return new(big.Int).SetUint64(x), true
		}
		return int64(x), true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return nil, false
}

// widenBig returns a big integer as int64 when it fits.
func widenBig(x *big.Int) any {
	if x.IsInt64() {
		return x.Int64()
	}
	return x
}

// normalize turns what the driver scans into the few Go types output
// knows: string, int64 (or *big.Int), float64, bool, time.Time, and for
// nested values JSON-ready lists and string-keyed maps.
func normalize(dbType string, v any) any {
	if n, ok := widenNumber(v); ok {
		return n
	}
	switch x := v.(type) {
	case nil:
		return nil
	case []byte:
		if strings.HasPrefix(dbType, "UUID") && len(x) == 16 {
			return uuid.UUID(x).String()
		}
		if utf8.Valid(x) {
			return string(x)
		}
		return `\x` + hex.EncodeToString(x)
	case *big.Int:
		return widenBig(x)
	case duckdb.Decimal:
		return x.Float64()
	case time.Time:
		if dbType == "TIME" {
			return x.Format("15:04:05.999999")
		}
		return x
	case duckdb.UUID:
		return uuid.UUID(x).String()
	case duckdb.Interval:
		return map[string]any{"months": x.Months, "days": x.Days, "micros": x.Micros}
	case duckdb.OrderedMap:
		out := make(map[string]any, x.Len())
		for _, k := range x.Keys() {
			val, _ := x.Get(k)
			out[fmt.Sprint(k)] = normalize("", val)
		}
		return out
	case duckdb.Map:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[fmt.Sprint(k)] = normalize("", val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = normalize("", val)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = normalize("", val)
		}
		return out
	}
	return v
}
