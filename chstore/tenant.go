package chstore

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	sqlfiles "github.com/pulse-analytics/pulse/sql"
)

// TenantReaderName is the ClickHouse user (and row policy) name of a
// tenant's reader: <database>_tenant_<tenant>.
func TenantReaderName(p Params, tenant string) string {
	return p.Database + "_tenant_" + tenant
}

// EnsureTenantReader creates or updates the read-only user of one tenant:
// it holds the <database>_tenant role and sees only rows whose tenant_id is
// tenant, on events and every rollup. It is idempotent: running it again
// sets the password and restores the grant and row policy. The schema
// (migration 0004_access) must be applied first.
func EnsureTenantReader(ctx context.Context, conn driver.Conn, p Params, tenant, password string) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	if !tenantRE.MatchString(tenant) {
		return "", fmt.Errorf("tenant %q must be 1-64 letters, digits, '.', '_' or '-' (the event contract's tenant_id)", tenant)
	}
	if password == "" {
		return "", fmt.Errorf("the tenant reader's password is empty")
	}
	user := TenantReaderName(p, tenant)
	vars := p.vars()
	// The tenant may hold '.' and '-', so the name is back-quoted; the
	// pattern above excludes back-quotes.
	vars["tenant_user"] = "`" + user + "`"
	text, err := render(sqlfiles.Statement(sqlfiles.ClickHouse, "access/tenant_reader"), vars)
	if err != nil {
		return "", err
	}
	args := []any{clickhouse.Named("password", password), clickhouse.Named("tenant", tenant)}
	for _, stmt := range sqlfiles.SplitStatements(text) {
		if err := conn.Exec(ctx, stmt, args...); err != nil {
			return "", explain(fmt.Errorf("tenant reader %s: %w", user, err))
		}
	}
	return user, nil
}
