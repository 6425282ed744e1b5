package chstore

import (
	"bytes"
	"strings"
	"testing"

	sqlfiles "github.com/pulse-analytics/pulse/sql"
)

func TestRenderReplacesKnownPlaceholders(t *testing.T) {
	got, err := render("CREATE DATABASE {{database}}; -- {{database}} {x}", map[string]string{"database": "pulse"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "CREATE DATABASE pulse; -- pulse {x}"; got != want {
		t.Fatalf("render = %q, want %q", got, want)
	}
}

func TestRenderRefusesWhatIsNotAKnownPlaceholder(t *testing.T) {
	vars := map[string]string{"database": "pulse"}
	tests := []struct {
		name, tmpl, wantErr string
	}{
		{"unknown name", "SELECT 1 FROM {{databse}}.events", "unknown placeholder {{databse}}"},
		{"upper case", "{{Database}}", "malformed placeholder"},
		{"spaces", "{{ database }}", "malformed placeholder"},
		{"empty", "{{}}", "malformed placeholder"},
		{"never closed", "CREATE DATABASE {{database", "never closed"},
		{"stray close", "CREATE DATABASE database}}", "without"},
		{"close before open", "x}} {{database}}", "without"},
		{"line number", "SELECT 1\nFROM {{nope}}", "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(tt.tmpl, vars)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("render(%q) error = %v, want one containing %q", tt.tmpl, err, tt.wantErr)
			}
		})
	}
}

func TestValidateRefusesValuesUnsafeInDDL(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Params)
	}{
		{"database with a quote", func(p *Params) { p.Database = "pulse'--" }},
		{"database with a semicolon", func(p *Params) { p.Database = "pulse;DROP" }},
		{"database with a dot", func(p *Params) { p.Database = "a.b" }},
		{"database starting with a digit", func(p *Params) { p.Database = "1pulse" }},
		{"empty database", func(p *Params) { p.Database = "" }},
		{"database too long", func(p *Params) { p.Database = strings.Repeat("a", 49) }},
		{"source with a space", func(p *Params) { p.Source = "events queue" }},
		{"no brokers", func(p *Params) { p.Brokers = nil }},
		{"broker without port", func(p *Params) { p.Brokers = []string{"kafka1"} }},
		{"broker port zero", func(p *Params) { p.Brokers = []string{"kafka1:0"} }},
		{"broker with a quote", func(p *Params) { p.Brokers = []string{"ka'fka:9092"} }},
		{"broker list in one value", func(p *Params) { p.Brokers = []string{"a:1,b:2"} }},
		{"topic with a quote", func(p *Params) { p.Topic = "events'" }},
		{"empty topic", func(p *Params) { p.Topic = "" }},
		{"group with a space", func(p *Params) { p.ConsumerGroup = "my group" }},
		{"zero partitions", func(p *Params) { p.Partitions = 0 }},
		{"more consumers than partitions", func(p *Params) { p.Partitions, p.KafkaConsumers = 2, 3 }},
		{"zero consumers", func(p *Params) { p.KafkaConsumers = 0 }},
		{"zero retention", func(p *Params) { p.RetentionDays = 0 }},
		{"negative rollup retention", func(p *Params) { p.RollupRetentionDays = -1 }},
		{"absurd dead-letter retention", func(p *Params) { p.DeadLetterRetentionDays = 1 << 30 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams()
			tt.change(&p)
			if err := p.Validate(); err == nil {
				t.Fatalf("Validate accepted %+v", p)
			}
			if _, err := Render("SELECT 1", p); err == nil {
				t.Fatal("Render accepted invalid params")
			}
		})
	}
}

func TestValidateAcceptsUsualSettings(t *testing.T) {
	p := DefaultParams()
	p.Database = "analytics_prod"
	p.Brokers = []string{"kafka-1.internal:9092", "10.0.0.7:9093", "[::1]:9092"}
	p.Topic = "product.events-v1"
	p.ConsumerGroup = "clickhouse_pulse-1"
	p.Partitions, p.KafkaConsumers = 12, 12
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestRenderedSchemaIsDeterministic(t *testing.T) {
	p := DefaultParams()
	first, err := Statements(p)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		again, err := Statements(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(again, "\n;\n") != strings.Join(first, "\n;\n") {
			t.Fatal("Statements differ between runs with the same params")
		}
	}
	var a, b bytes.Buffer
	if err := WriteDDL(&a, p); err != nil {
		t.Fatal(err)
	}
	if err := WriteDDL(&b, p); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Fatal("WriteDDL output differs between runs")
	}
}

func TestPrintedDDLIsTheStatementsInOrder(t *testing.T) {
	p := DefaultParams()
	p.Database, p.RetentionDays, p.Brokers = "analytics", 90, []string{"k1:9092", "k2:9092"}
	var out bytes.Buffer
	if err := WriteDDL(&out, p); err != nil {
		t.Fatal(err)
	}
	stmts, err := Statements(p)
	if err != nil {
		t.Fatal(err)
	}
	split := sqlfiles.SplitStatements(out.String())
	if len(split) != len(stmts) {
		t.Fatalf("printed DDL splits into %d statements, Statements has %d", len(split), len(stmts))
	}
	text := out.String()
	for _, want := range []string{
		"CREATE DATABASE IF NOT EXISTS analytics;",
		"CREATE TABLE IF NOT EXISTS analytics.events\n",
		"TTL toDateTime(ts) + INTERVAL 90 DAY",
		"kafka_broker_list = 'k1:9092,k2:9092'",
		"kafka_handle_error_mode = 'stream'",
		"FROM analytics.events_queue;",
		"-- migration 0001_events",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("printed DDL lacks %q", want)
		}
	}
	if strings.Contains(text, "{{") || strings.Contains(text, "}}") {
		t.Error("printed DDL still holds a placeholder")
	}
}

func TestMigrationsAreNumberedInOrderWithStableChecksums(t *testing.T) {
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no migrations embedded")
	}
	again, _ := Migrations()
	for i, m := range all {
		if m.Version != i+1 {
			t.Errorf("migration %s: version %d, want %d (no gaps)", m.ID(), m.Version, i+1)
		}
		if len(m.Checksum) != 64 || m.Checksum != again[i].Checksum {
			t.Errorf("migration %s: checksum %q is not a stable SHA-256", m.ID(), m.Checksum)
		}
		if _, err := m.Statements(DefaultParams()); err != nil {
			t.Errorf("migration %s does not render with the defaults: %v", m.ID(), err)
		}
	}
}

func TestEveryMigrationStatementIsIdempotent(t *testing.T) {
	// ClickHouse DDL is not transactional: a failed apply re-runs the whole
	// migration, so each statement must tolerate having run before.
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		stmts, _ := m.Statements(DefaultParams())
		for _, s := range stmts {
			body := strings.ToUpper(stripLeadingComments(s))
			ok := strings.Contains(body, "IF NOT EXISTS") || strings.HasPrefix(body, "GRANT ") || strings.Contains(body, "OR REPLACE")
			if !ok {
				t.Errorf("migration %s: statement is not idempotent:\n%s", m.ID(), s)
			}
		}
	}
}

func stripLeadingComments(s string) string {
	lines := strings.Split(s, "\n")
	for len(lines) > 0 && (strings.HasPrefix(strings.TrimSpace(lines[0]), "--") || strings.TrimSpace(lines[0]) == "") {
		lines = lines[1:]
	}
	return strings.Join(lines, "\n")
}

func TestTenantReaderRefusesUnsafeTenantBeforeConnecting(t *testing.T) {
	for _, tenant := range []string{"", "acme`; DROP USER x", "a b", strings.Repeat("t", 65)} {
		if _, err := EnsureTenantReader(t.Context(), nil, DefaultParams(), tenant, "pw"); err == nil {
			t.Errorf("tenant %q accepted", tenant)
		}
	}
	if _, err := EnsureTenantReader(t.Context(), nil, DefaultParams(), "acme", ""); err == nil {
		t.Error("empty password accepted")
	}
}

func TestParseDSNAcceptsNativeAndHTTP(t *testing.T) {
	tests := []struct {
		dsn      string
		wantHTTP bool
	}{
		{"clickhouse://default:pw@localhost:9000/", false},
		{"http://localhost:8123/", true},
		{"https://user:pw@ch.example.com:8443/", true},
	}
	for _, tt := range tests {
		opts, err := parseDSN(tt.dsn)
		if err != nil {
			t.Errorf("parseDSN(%q): %v", tt.dsn, err)
			continue
		}
		if isHTTP := opts.Protocol.String() == "http"; isHTTP != tt.wantHTTP {
			t.Errorf("parseDSN(%q) protocol %v, want http=%v", tt.dsn, opts.Protocol, tt.wantHTTP)
		}
	}
	for _, bad := range []string{"localhost:9000", "mysql://x:3306/", "::"} {
		if _, err := parseDSN(bad); err == nil {
			t.Errorf("parseDSN(%q) accepted", bad)
		}
	}
	if got := redact("http://u:secret@h:8123/"); strings.Contains(got, "secret") {
		t.Errorf("redact kept the password: %s", got)
	}
}
