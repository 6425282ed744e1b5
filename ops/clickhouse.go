package ops

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	sqlfiles "github.com/pulse-analytics/pulse/sql"
)

// ClickHouseSource reads ClickHouse's health from its system tables and
// the store figures from pulse's tables.
type ClickHouseSource struct {
	// Open connects (cmd wires chstore.Open). It is called on the first
	// read and again after a failed connect, so a server that is down
	// when pulse top starts is picked up once it is back.
	Open func(ctx context.Context) (driver.Conn, error)
	// Database holds pulse's tables (default "pulse").
	Database string
	// Label names the server for people (the DSN without its password).
	Label string

	mu   sync.Mutex
	conn driver.Conn
}

// connect returns the connection, opening it if needed.
func (c *ClickHouseSource) connect(ctx context.Context) (driver.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		conn, err := c.Open(ctx)
		if err != nil {
			return nil, err
		}
		c.conn = conn
	}
	return c.conn, nil
}

// Close closes the connection, if one was opened.
func (c *ClickHouseSource) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

// ClickHouseFigures are ClickHouse's health figures. Counters (the
// *Errors fields) run since the server started.
type ClickHouseFigures struct {
	// InsertErrors is failed INSERT queries (ProfileEvent FailedInsertQuery).
	InsertErrors uint64
	// ConsumeErrors is the Kafka engine's failures: consumer errors,
	// messages it could not parse or push, failed offset commits and
	// rebalance errors.
	ConsumeErrors uint64
	// DeadLetters is messages refused into events_dead_letters in the
	// last hour.
	DeadLetters uint64
	// ActiveParts is pulse's active data parts; MaxPartsInPartition the
	// most in one partition of one table (TOO_MANY_PARTS is per partition).
	ActiveParts         uint64
	MaxPartsInPartition uint64
	// Merges is merges running now on pulse's tables.
	Merges uint64
	// PulseBytes is pulse's active parts' bytes on disk; DiskUsed and
	// DiskTotal are the server's disks (every disk, used = total - free).
	PulseBytes, DiskUsed, DiskTotal uint64
	// LastError is the server's most recent error of any kind, if any.
	LastError *ServerError
}

// ServerError is one row of system.errors.
type ServerError struct {
	Name    string
	At      time.Time
	Message string
}

// databaseRE is the identifier rule chstore applies to the database name.
var databaseRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

func (c *ClickHouseSource) ctx(ctx context.Context, extra clickhouse.Parameters) (context.Context, error) {
	if !databaseRE.MatchString(c.Database) {
		return nil, fmt.Errorf("invalid ClickHouse database %q", c.Database)
	}
	params := clickhouse.Parameters{"database": c.Database}
	for k, v := range extra {
		params[k] = v
	}
	return clickhouse.Context(ctx, clickhouse.WithParameters(params)), nil
}

// chErr wraps a failed query, pointing at the schema when pulse's
// database or a table is missing.
func (c *ClickHouseSource) chErr(step string, err error) error {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) && (ex.Code == codeUnknownDatabase || ex.Code == codeUnknownTable) {
		return fmt.Errorf("clickhouse %s: %w (is pulse's schema applied to database %s? see pulse schema apply, or set --database)", step, err, c.Database)
	}
	return fmt.Errorf("clickhouse %s: %w", step, err)
}

// ClickHouse error codes the messages explain.
const (
	codeUnknownTable    = 60
	codeUnknownDatabase = 81
)

func chStatement(name string) string { return sqlfiles.Statement(sqlfiles.ClickHouse, "ops/"+name) }

// Health reads the server's figures. The dead-letter count needs pulse's
// schema; the rest only the system tables.
func (c *ClickHouseSource) Health(ctx context.Context) (ClickHouseFigures, error) {
	conn, err := c.connect(ctx)
	if err != nil {
		return ClickHouseFigures{}, err
	}
	qctx, err := c.ctx(ctx, nil)
	if err != nil {
		return ClickHouseFigures{}, err
	}
	var f ClickHouseFigures
	var partitions uint64
	steps := []struct {
		name string
		scan func(driver.Row) error
	}{
		{"parts", func(r driver.Row) error {
			return r.Scan(&partitions, &f.ActiveParts, &f.PulseBytes, &f.MaxPartsInPartition)
		}},
		{"merges", func(r driver.Row) error { return r.Scan(&f.Merges) }},
		{"disks", func(r driver.Row) error { return r.Scan(&f.DiskUsed, &f.DiskTotal) }},
		{"error_counters", func(r driver.Row) error { return r.Scan(&f.InsertErrors, &f.ConsumeErrors) }},
		{"dead_letters", func(r driver.Row) error { return r.Scan(&f.DeadLetters) }},
	}
	for _, s := range steps {
		if err := s.scan(conn.QueryRow(qctx, chStatement(s.name))); err != nil {
			return ClickHouseFigures{}, c.chErr(s.name, err)
		}
	}
	rows, err := conn.Query(qctx, chStatement("last_error"))
	if err != nil {
		return ClickHouseFigures{}, c.chErr("last_error", err)
	}
	defer rows.Close()
	if rows.Next() {
		var e ServerError
		if err := rows.Scan(&e.Name, &e.At, &e.Message); err != nil {
			return ClickHouseFigures{}, c.chErr("last_error", err)
		}
		f.LastError = &e
	}
	if err := rows.Err(); err != nil {
		return ClickHouseFigures{}, c.chErr("last_error", err)
	}
	return f, nil
}

// Stats reads the store figures from pulse's events table.
func (c *ClickHouseSource) Stats(ctx context.Context) (StoreStats, error) {
	conn, err := c.connect(ctx)
	if err != nil {
		return StoreStats{}, err
	}
	qctx, err := c.ctx(ctx, nil)
	if err != nil {
		return StoreStats{}, err
	}
	s := StoreStats{Tenants: []TenantDAU{}}
	var newest *time.Time
	if err := conn.QueryRow(qctx, chStatement("store_totals")).Scan(&s.At, &s.Events, &newest); err != nil {
		return StoreStats{}, c.chErr("store totals", err)
	}
	s.At = s.At.UTC()
	if newest != nil {
		ts := newest.UTC()
		s.NewestTS = &ts
	}
	qctx, err = c.ctx(ctx, clickhouse.Parameters{"now": s.At.Format("2006-01-02 15:04:05.000")})
	if err != nil {
		return StoreStats{}, err
	}
	rows, err := conn.Query(qctx, chStatement("tenant_dau"))
	if err != nil {
		return StoreStats{}, c.chErr("DAU", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d TenantDAU
		if err := rows.Scan(&d.Tenant, &d.Today, &d.YesterdaySameTime); err != nil {
			return StoreStats{}, c.chErr("DAU", err)
		}
		s.Tenants = append(s.Tenants, d)
	}
	if err := rows.Err(); err != nil {
		return StoreStats{}, c.chErr("DAU", err)
	}
	return s, nil
}

// Describe names the store.
func (c *ClickHouseSource) Describe() string { return "ClickHouse " + c.Label }
