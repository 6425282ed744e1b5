package store

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"strconv"
	"strings"

	sqlfiles "github.com/pulse-analytics/pulse/sql"
)

// Migration is one numbered schema change of the embedded store.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists the embedded store's migrations in apply order; each
// file sql/duckdb/migrations/NNNN_name.sql is version NNNN.
func Migrations() ([]Migration, error) {
	files, err := sqlfiles.Folder(sqlfiles.DuckDB, "migrations")
	if err != nil {
		return nil, err
	}
	out := make([]Migration, 0, len(files))
	for _, f := range files {
		base := strings.TrimPrefix(f.Name, "migrations/")
		num, name, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %s must be named NNNN_name.sql", f.Name)
		}
		out = append(out, Migration{Version: version, Name: name, SQL: f.SQL})
	}
	return out, nil
}

// Pending returns the migrations not yet recorded in schema_migrations.
func Pending(ctx context.Context, db *dbsql.DB) ([]Migration, error) {
	if _, err := db.ExecContext(ctx, sqlfiles.Statement(sqlfiles.DuckDB, "schema_migrations")); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	rows, err := db.QueryContext(ctx, sqlfiles.Statement(sqlfiles.DuckDB, "migrations_applied"))
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	var pending []Migration
	for _, m := range all {
		if !applied[m.Version] {
			pending = append(pending, m)
		}
	}
	return pending, nil
}

// Migrate applies pending migrations, each in its own transaction together
// with its schema_migrations row, and returns what it applied. Running it
// again is a no-op.
func Migrate(ctx context.Context, db *dbsql.DB) ([]Migration, error) {
	pending, err := Pending(ctx, db)
	if err != nil {
		return nil, err
	}
	for _, m := range pending {
		if err := applyMigration(ctx, db, m); err != nil {
			return nil, err
		}
	}
	return pending, nil
}

func applyMigration(ctx context.Context, db *dbsql.DB, m Migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, stmt := range sqlfiles.SplitStatements(m.SQL) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, sqlfiles.Statement(sqlfiles.DuckDB, "migration_record"), m.Version, m.Name); err != nil {
		return fmt.Errorf("record migration %04d: %w", m.Version, err)
	}
	return tx.Commit()
}
