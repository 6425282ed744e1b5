// Package query defines pulse's product metrics: it validates a metric's
// parameters, picks the metric's statement for the store's SQL dialect
// (sql/<dialect>/metrics/<metric>.sql), binds the parameters and shapes
// the rows into an output.Table. The arithmetic lives in the SQL files, so
// a second dialect is a second set of files, not new Go code.
package query

import (
	"context"
	"errors"
	"fmt"

	"github.com/pulse-analytics/pulse/output"
	sqlfiles "github.com/pulse-analytics/pulse/sql"
)

// Backend is a store that answers metric queries. The embedded DuckDB file
// is one; a ClickHouse connection, or the HTTP API of a running gateway
// that holds the embedded file, are others.
type Backend interface {
	// Dialect selects the folder of statements the metrics use.
	Dialect() sqlfiles.Dialect
	// Query runs the named statement (a path below sql/<dialect>/ without
	// .sql, e.g. "metrics/active") with named parameters: every $name the
	// statement uses must be in params. A nil value binds SQL NULL.
	Query(ctx context.Context, statement string, params Params) (*output.Table, error)
	// QueryText runs a user's own SQL after checking that it is exactly one
	// read-only statement; otherwise it returns a *RefusedError.
	QueryText(ctx context.Context, text string) (*output.Table, error)
	Close() error
}

// Params are a statement's named parameters.
type Params map[string]any

// RefusedError is SQL text that QueryText will not run: not a single
// read-only statement, or not SQL at all. It is the caller's mistake
// (exit 2), unlike errors while running a statement.
type RefusedError struct {
	Reason string
}

func (e *RefusedError) Error() string { return e.Reason }

// ErrNoStore means the embedded store file does not exist.
var ErrNoStore = errors.New("no embedded store")

// metricStatement is the statement file of a metric.
func metricStatement(name string) string { return "metrics/" + name }

// run executes a metric's statement and wraps its errors with the metric's
// name, so a failing query says which metric failed.
func run(ctx context.Context, b Backend, metric string, params Params) (*output.Table, error) {
	t, err := b.Query(ctx, metricStatement(metric), params)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", metric, err)
	}
	return t, nil
}
