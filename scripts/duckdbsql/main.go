// Command duckdbsql runs SQL statements on a DuckDB file with the embedded
// store's settings (2 threads, 256MB memory limit) and reports each one's
// time on stderr. scripts/backfill-bench.sh uses it to measure DuckDB's own
// INSERT ... SELECT FROM read_parquet/read_csv beside pulse backfill: the
// engine's speed with no checks, no duplicate detection and no rollups.
//
//	go run ./scripts/duckdbsql DB 'SQL' ['SQL' ...]
package main

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"log/slog"
	"os"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: duckdbsql DB 'SQL' ['SQL' ...]")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Args[1], os.Args[2:]); err != nil {
		slog.Error("duckdbsql failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, path string, statements []string) error {
	db, err := dbsql.Open("duckdb", path+"?threads=2&memory_limit=256MB")
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range statements {
		start := time.Now()
		res, err := db.ExecContext(ctx, q)
		if err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		n, _ := res.RowsAffected()
		slog.Info("statement done", "rows", n, "took", time.Since(start).Round(time.Millisecond), "sql", q)
	}
	return nil
}
