package chstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	sqlfiles "github.com/pulse-analytics/pulse/sql"
)

// Migration is one numbered schema change, sql/clickhouse/migrations/NNNN_name.sql.
type Migration struct {
	Version int
	Name    string
	// Template is the file as embedded, before rendering.
	Template string
	// Checksum is the hex SHA-256 of Template. It is recorded on apply, so
	// an applied migration whose file was edited later is caught.
	Checksum string
}

// ID is the migration's file name without .sql, e.g. "0001_events".
func (m Migration) ID() string { return fmt.Sprintf("%04d_%s", m.Version, m.Name) }

// Statements renders the migration with p and splits it into statements.
func (m Migration) Statements(p Params) ([]string, error) {
	text, err := Render(m.Template, p)
	if err != nil {
		return nil, fmt.Errorf("render migration %s: %w", m.ID(), err)
	}
	return sqlfiles.SplitStatements(text), nil
}

// Migrations lists the schema's migrations in apply order.
func Migrations() ([]Migration, error) {
	files, err := sqlfiles.Folder(sqlfiles.ClickHouse, "migrations")
	if err != nil {
		return nil, err
	}
	out := make([]Migration, 0, len(files))
	for _, f := range files {
		base := strings.TrimPrefix(f.Name, "migrations/")
		num, name, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 || name == "" {
			return nil, fmt.Errorf("migration file %s must be named NNNN_name.sql", f.Name)
		}
		if n := len(out); n > 0 && out[n-1].Version == version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[n-1].ID(), base, version)
		}
		sum := sha256.Sum256([]byte(f.SQL))
		out = append(out, Migration{Version: version, Name: name, Template: f.SQL, Checksum: hex.EncodeToString(sum[:])})
	}
	return out, nil
}

// bookkeeping renders a statement of sql/clickhouse/schema.
func bookkeeping(name string, p Params) (string, error) {
	return Render(sqlfiles.Statement(sqlfiles.ClickHouse, "schema/"+name), p)
}

// preamble creates the database and the schema_migrations table; it runs
// before any migration and is idempotent.
func preamble(p Params) ([]string, error) {
	var out []string
	for _, name := range []string{"create_database", "schema_migrations"} {
		text, err := bookkeeping(name, p)
		if err != nil {
			return nil, err
		}
		out = append(out, sqlfiles.SplitStatements(text)...)
	}
	return out, nil
}

// WriteDDL writes the whole schema rendered with p: the database and
// bookkeeping table, then every migration under a comment naming it. Each
// statement ends with ";" so the output runs in clickhouse-client
// --multiquery.
func WriteDDL(w io.Writer, p Params) error {
	pre, err := preamble(p)
	if err != nil {
		return err
	}
	all, err := Migrations()
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("-- pulse ClickHouse schema (database " + p.Database + ")\n\n")
	for _, stmt := range pre {
		b.WriteString(stmt + ";\n\n")
	}
	for _, m := range all {
		stmts, err := m.Statements(p)
		if err != nil {
			return err
		}
		b.WriteString("-- migration " + m.ID() + "\n")
		for _, stmt := range stmts {
			b.WriteString(stmt + ";\n\n")
		}
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// Statements returns every statement WriteDDL writes, in order.
func Statements(p Params) ([]string, error) {
	out, err := preamble(p)
	if err != nil {
		return nil, err
	}
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	for _, m := range all {
		stmts, err := m.Statements(p)
		if err != nil {
			return nil, err
		}
		out = append(out, stmts...)
	}
	return out, nil
}

// ChecksumError means an applied migration's file changed after it was
// applied. Migrations are immutable once applied: add a new one instead.
type ChecksumError struct {
	Migration       Migration
	AppliedChecksum string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("migration %s was edited after it was applied (checksum %.12s recorded, file has %.12s): revert the file and add a new migration for the change", e.Migration.ID(), e.AppliedChecksum, e.Migration.Checksum)
}

// Pending returns the migrations not yet recorded in <database>.schema_migrations,
// in apply order. It changes nothing: a database or bookkeeping table that
// does not exist yet means every migration is pending.
func Pending(ctx context.Context, conn driver.Conn, p Params) ([]Migration, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	applied, err := appliedChecksums(ctx, conn, p)
	if err != nil {
		return nil, err
	}
	var pending []Migration
	for _, m := range all {
		sum, ok := applied[m.Version]
		switch {
		case !ok:
			pending = append(pending, m)
		case sum != m.Checksum:
			return nil, &ChecksumError{Migration: m, AppliedChecksum: sum}
		}
	}
	return pending, nil
}

func appliedChecksums(ctx context.Context, conn driver.Conn, p Params) (map[int]string, error) {
	exists, err := bookkeeping("migrations_table_exists", p)
	if err != nil {
		return nil, err
	}
	var n uint64
	if err := conn.QueryRow(ctx, exists, p.Database).Scan(&n); err != nil {
		return nil, fmt.Errorf("look for %s.schema_migrations: %w", p.Database, err)
	}
	applied := map[int]string{}
	if n == 0 {
		return applied, nil
	}
	query, err := bookkeeping("migrations_applied", p)
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("read %s.schema_migrations: %w", p.Database, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			version        uint32
			name, checksum string
		)
		if err := rows.Scan(&version, &name, &checksum); err != nil {
			return nil, fmt.Errorf("read %s.schema_migrations: %w", p.Database, err)
		}
		applied[int(version)] = checksum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s.schema_migrations: %w", p.Database, err)
	}
	return applied, nil
}

// Apply creates the database and bookkeeping table if needed, runs the
// pending migrations in order and records each one after all its
// statements succeeded. It returns what it applied; running it again is a
// no-op. ClickHouse DDL is not transactional: a migration that fails half
// way stays unrecorded, and its statements are idempotent, so the next
// Apply completes it.
func Apply(ctx context.Context, conn driver.Conn, p Params) ([]Migration, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	pre, err := preamble(p)
	if err != nil {
		return nil, err
	}
	for _, stmt := range pre {
		if err := conn.Exec(ctx, stmt); err != nil {
			return nil, explain(fmt.Errorf("create database %s and its schema_migrations table: %w", p.Database, err))
		}
	}
	pending, err := Pending(ctx, conn, p)
	if err != nil {
		return nil, err
	}
	record, err := bookkeeping("migration_record", p)
	if err != nil {
		return nil, err
	}
	var applied []Migration
	for _, m := range pending {
		stmts, err := m.Statements(p)
		if err != nil {
			return applied, err
		}
		for i, stmt := range stmts {
			if err := conn.Exec(ctx, stmt); err != nil {
				return applied, explain(fmt.Errorf("migration %s, statement %d of %d: %w", m.ID(), i+1, len(stmts), err))
			}
		}
		if err := conn.Exec(ctx, record, uint32(m.Version), m.Name, m.Checksum); err != nil {
			return applied, fmt.Errorf("record migration %s: %w", m.ID(), err)
		}
		applied = append(applied, m)
	}
	return applied, nil
}

// Server error codes that have a likely cause worth telling.
const (
	codeBadArguments          = 36
	codeAccessDenied          = 497
	codeUnknownRole           = 511
	codeNoWritableAccessStore = 514
	codeAuthenticationFailed  = 516
)

// explain adds the likely cause to server errors a schema apply meets.
func explain(err error) error {
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		return err
	}
	switch ex.Code {
	case codeAccessDenied, codeNoWritableAccessStore, codeUnknownRole:
		return fmt.Errorf("%w (roles, users and row policies need SQL-driven access control: apply with a user that has access_management enabled, and a server with a writable access storage such as local_directory)", err)
	case codeBadArguments:
		if strings.Contains(ex.Message, "consumers") {
			return fmt.Errorf("%w (lower --kafka-consumers to at most the server's physical cores)", err)
		}
	case codeAuthenticationFailed:
		return fmt.Errorf("%w (check the user and password in --clickhouse)", err)
	}
	return err
}
