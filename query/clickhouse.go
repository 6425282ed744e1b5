package query

import (
	"context"
	"fmt"
	"math/big"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/pulse-analytics/pulse/chstore"
	"github.com/pulse-analytics/pulse/output"
	sqlfiles "github.com/pulse-analytics/pulse/sql"
)

// ClickHouse answers metric queries from the ClickHouse schema that
// chstore applies. Statements name their tables as {db:Identifier}.table;
// the database is bound as the parameter db on every statement.
type ClickHouse struct {
	conn     driver.Conn
	database string
}

// OpenClickHouse connects with a clickhouse-go DSN (see chstore.Open) and
// reads the pulse objects of database (default chstore.DefaultDatabase).
func OpenClickHouse(ctx context.Context, dsn, database string) (*ClickHouse, error) {
	if database == "" {
		database = chstore.DefaultDatabase
	}
	conn, err := chstore.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	return &ClickHouse{conn: conn, database: database}, nil
}

// NewClickHouse wraps an open connection (the caller keeps ownership only
// until Close, which closes it).
func NewClickHouse(conn driver.Conn, database string) *ClickHouse {
	if database == "" {
		database = chstore.DefaultDatabase
	}
	return &ClickHouse{conn: conn, database: database}
}

// Dialect implements Backend.
func (c *ClickHouse) Dialect() sqlfiles.Dialect { return sqlfiles.ClickHouse }

// Close implements Backend.
func (c *ClickHouse) Close() error { return c.conn.Close() }

// chParamRef finds the {name:Type} parameters of a statement.
var chParamRef = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*):([^}]+)\}`)

// Query implements Backend.
func (c *ClickHouse) Query(ctx context.Context, statement string, params Params) (*output.Table, error) {
	text := sqlfiles.Composed(sqlfiles.ClickHouse, statement)
	bound := clickhouse.Parameters{}
	for _, m := range chParamRef.FindAllStringSubmatch(text, -1) {
		name, typ := m[1], strings.TrimSpace(m[2])
		if _, done := bound[name]; done {
			continue
		}
		if name == "db" {
			bound[name] = c.database
			continue
		}
		v, ok := params[name]
		if !ok {
			return nil, fmt.Errorf("statement %s uses {%s:%s}, which was not given", statement, name, typ)
		}
		s, err := chParamText(v, typ)
		if err != nil {
			return nil, fmt.Errorf("statement %s: parameter %s: %w", statement, name, err)
		}
		bound[name] = s
	}
	return c.table(clickhouse.Context(ctx, clickhouse.WithParameters(bound)), text)
}

// chParamText writes a Go value as the text form of a ClickHouse query
// parameter of type typ. NULL is \N (the type must be Nullable).
func chParamText(v any, typ string) (string, error) {
	switch x := v.(type) {
	case nil:
		if !strings.HasPrefix(typ, "Nullable(") {
			return "", fmt.Errorf("NULL for the non-Nullable type %s", typ)
		}
		return `\N`, nil
	case string:
		return escapeParam(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		if x {
			return "true", nil
		}
		return "false", nil
	case time.Time:
		if strings.Contains(typ, "Date(") || typ == "Date" || typ == "Nullable(Date)" {
			return x.UTC().Format(time.DateOnly), nil
		}
		return x.UTC().Format("2006-01-02 15:04:05.000"), nil
	case []string:
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(s) + "'"
		}
		// The array's own text form: its quoted elements carry the escapes,
		// with no further escaping layer around the whole value.
		return "[" + strings.Join(parts, ",") + "]", nil
	}
	return "", fmt.Errorf("unsupported value type %T", v)
}

// escapeParam escapes a parameter's text as ClickHouse's escaped text
// format reads it (backslash, tab, newline).
func escapeParam(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(s)
}

// QueryText implements Backend. ClickHouse's own parser decides what the
// text is, without running it: formatQuerySingleLine reads the text as a
// string parameter and accepts exactly one statement (it refuses
// multi-statements), returning it in canonical form. EXPLAIN AST of that
// canonical statement must have a SELECT at its root (SELECT, WITH ...
// SELECT, UNION). Only the canonical statement runs, never the raw text,
// and with readonly=1 (a real server enforces it; the chDB test adapter
// ignores settings).
func (c *ClickHouse) QueryText(ctx context.Context, text string) (*output.Table, error) {
	trimmed := strings.TrimSpace(text)
	for strings.HasSuffix(trimmed, ";") {
		trimmed = strings.TrimSpace(strings.TrimSuffix(trimmed, ";"))
	}
	if trimmed == "" {
		return nil, &RefusedError{Reason: "no SQL statement given: pass one, e.g. 'SELECT count(*) FROM events'"}
	}
	var canonical string
	pctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"text": escapeParam(trimmed)}))
	if err := c.conn.QueryRow(pctx, "SELECT formatQuerySingleLine({text:String})").Scan(&canonical); err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "Multi-statements"):
			return nil, &RefusedError{Reason: "got several statements; pulse query sql runs exactly one (drop the extra semicolon-separated statements)"}
		case strings.Contains(msg, "SYNTAX_ERROR") || strings.Contains(msg, "Syntax error"):
			return nil, &RefusedError{Reason: "the SQL does not parse: " + msg}
		}
		return nil, fmt.Errorf("check the statement: %w", err)
	}
	rows, err := c.conn.Query(ctx, "EXPLAIN AST "+canonical)
	if err != nil {
		return nil, &RefusedError{Reason: "only a single read-only SELECT statement runs here: " + err.Error()}
	}
	var root string
	if rows.Next() {
		if err := rows.Scan(&root); err != nil {
			rows.Close()
			return nil, err
		}
	}
	rows.Close()
	if !strings.HasPrefix(strings.TrimSpace(root), "SelectWithUnionQuery") {
		return nil, &RefusedError{Reason: "only a single read-only statement runs here (SELECT, WITH ... SELECT, UNION of SELECTs)"}
	}
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"readonly": 1}))
	return c.table(ctx, canonical)
}

func (c *ClickHouse) table(ctx context.Context, text string) (*output.Table, error) {
	rows, err := c.conn.Query(ctx, text)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	if len(types) == 0 {
		// No rows and, over HTTP, no header block either: ask for the
		// result's columns so that an empty table still has them, as the
		// embedded backend's does.
		rows.Close()
		return c.describe(ctx, text)
	}
	t := &output.Table{Columns: make([]output.Column, len(types))}
	for i, ct := range types {
		t.Columns[i] = output.Column{Name: ct.Name(), Type: chColumnType(ct.DatabaseTypeName())}
	}
	for rows.Next() {
		ptrs := make([]any, len(types))
		for i, ct := range types {
			ptrs[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]any, len(types))
		for i, p := range ptrs {
			row[i] = chNormalize(reflect.ValueOf(p).Elem().Interface())
		}
		t.Rows = append(t.Rows, row)
	}
	return t, rows.Err()
}

// describe returns the empty table of a statement's result columns.
func (c *ClickHouse) describe(ctx context.Context, text string) (*output.Table, error) {
	text = strings.TrimSpace(text)
	for strings.HasSuffix(text, ";") {
		text = strings.TrimSpace(strings.TrimSuffix(text, ";"))
	}
	rows, err := c.conn.Query(ctx, "DESCRIBE TABLE (\n"+text+"\n)")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	t := &output.Table{Columns: []output.Column{}}
	for rows.Next() {
		var name, typ, defaultType, defaultExpr, comment, codec, ttl string
		if err := rows.Scan(&name, &typ, &defaultType, &defaultExpr, &comment, &codec, &ttl); err != nil {
			return nil, err
		}
		t.Columns = append(t.Columns, output.Column{Name: name, Type: chColumnType(typ)})
	}
	return t, rows.Err()
}

// chColumnType maps a ClickHouse type name to how output writes it, the
// same way columnType does for DuckDB's names.
func chColumnType(dbType string) output.Type {
	base := dbType
	for _, wrap := range []string{"Nullable(", "LowCardinality("} {
		for strings.HasPrefix(base, wrap) {
			base = strings.TrimSuffix(strings.TrimPrefix(base, wrap), ")")
		}
	}
	name, _, _ := strings.Cut(base, "(")
	switch name {
	case "String", "FixedString", "UUID", "Enum8", "Enum16", "IPv4", "IPv6":
		return output.String
	case "Bool":
		return output.Bool
	case "Int8", "Int16", "Int32", "Int64", "Int128", "Int256",
		"UInt8", "UInt16", "UInt32", "UInt64", "UInt128", "UInt256":
		return output.Int
	case "Float32", "Float64", "Decimal", "Decimal32", "Decimal64", "Decimal128", "Decimal256":
		return output.Float
	case "Date", "Date32":
		return output.Date
	case "DateTime", "DateTime64":
		return output.Timestamp
	}
	return output.Other
}

// chNormalize turns what clickhouse-go scans into output's Go types.
func chNormalize(v any) any {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return nil
	}
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		return chNormalize(rv.Elem().Interface())
	}
	if n, ok := widenNumber(v); ok {
		return n
	}
	switch x := v.(type) {
	case string:
		return x
	case big.Int:
		return widenBig(&x)
	case bool:
		return x
	case time.Time:
		return x.UTC()
	case uuid.UUID:
		return x.String()
	case []byte:
		return string(x)
	}
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = chNormalize(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			out[fmt.Sprint(iter.Key().Interface())] = chNormalize(iter.Value().Interface())
		}
		return out
	}
	return v
}
