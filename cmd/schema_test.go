package cmd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulse-analytics/pulse/chstore"
)

// schemaExec runs `pulse schema args...` and returns stdout, stderr and the
// exit code.
func schemaExec(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(t.Context(), append([]string{"schema"}, args...), Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return out.String(), errOut.String(), code
}

func TestSchemaPrintWritesTheRenderedClickHouseDDL(t *testing.T) {
	out, stderr, code := schemaExec(t, "print", "--database", "analytics", "--retention-days", "90", "--brokers", "k1:9092,k2:9092", "--topic", "events.v1")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"CREATE DATABASE IF NOT EXISTS analytics;",
		"CREATE TABLE IF NOT EXISTS analytics.events\n",
		"TTL toDateTime(ts) + INTERVAL 90 DAY",
		"kafka_broker_list = 'k1:9092,k2:9092'",
		"kafka_topic_list = 'events.v1'",
		"-- migration 0004_access",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestSchemaPrintTakesSettingsFromTheEnvironment(t *testing.T) {
	t.Setenv("PULSE_DATABASE", "from_env")
	t.Setenv("PULSE_KAFKA_CONSUMERS", "3")
	out, stderr, code := schemaExec(t, "print")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "CREATE TABLE IF NOT EXISTS from_env.events") || !strings.Contains(out, "kafka_num_consumers = 3") {
		t.Fatal("PULSE_DATABASE / PULSE_KAFKA_CONSUMERS not applied")
	}
	out, _, _ = schemaExec(t, "print", "--database", "from_flag")
	if !strings.Contains(out, "from_flag.events") {
		t.Fatal("the flag did not win over the environment")
	}
}

func TestSchemaPrintDuckDBDialectWritesTheEmbeddedStoreMigrations(t *testing.T) {
	out, stderr, code := schemaExec(t, "print", "--dialect", "duckdb")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "-- migration 0001_events") || !strings.Contains(out, "CREATE TABLE events") {
		t.Fatalf("unexpected output:\n%s", out)
	}
}

func TestSchemaUsageMistakesExit2(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unsafe database name", []string{"print", "--database", "x;DROP"}, "database"},
		{"unknown dialect", []string{"print", "--dialect", "mysql"}, "--dialect"},
		{"plan without a target", []string{"plan"}, "--clickhouse DSN"},
		{"apply with two targets", []string{"apply", "--clickhouse", "http://localhost:8123", "--data", "x.db"}, "not both"},
		{"more consumers than partitions", []string{"print", "--partitions", "2", "--kafka-consumers", "3"}, "kafka consumers"},
		{"broker without port", []string{"print", "--brokers", "kafka1"}, "host:port"},
		{"tenant-user without tenant", []string{"tenant-user", "--clickhouse", "http://localhost:8123", "--password-env", "PW"}, "--tenant"},
		{"tenant-user with empty password", []string{"tenant-user", "--clickhouse", "http://localhost:8123", "--tenant", "acme", "--password-env", "PULSE_TEST_UNSET_PASSWORD"}, "is empty or unset"},
		{"stray argument", []string{"plna"}, "unknown command"},
		{"unknown flag", []string{"print", "--retention", "3"}, "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := schemaExec(t, tt.args...)
			if code != ExitUsage || !strings.Contains(stderr, tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want exit 2 mentioning %q", code, stderr, tt.wantErr)
			}
		})
	}
}

func TestSchemaPlanAndApplyOnTheEmbeddedStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pulse.db")
	out, stderr, code := schemaExec(t, "plan", "--data", path)
	if code != ExitRuntime || !strings.Contains(out, "0001_events") || stderr != "" {
		t.Fatalf("plan on a new file: exit %d, stdout %q, stderr %q; want exit 1 listing 0001_events and no error", code, out, stderr)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("plan created the store file")
	}
	out, stderr, code = schemaExec(t, "apply", "--data", path)
	if code != ExitOK || !strings.Contains(out, "applied 0001_events") {
		t.Fatalf("apply: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	out, _, code = schemaExec(t, "plan", "--data", path)
	if code != ExitOK || !strings.Contains(out, "up to date") {
		t.Fatalf("plan after apply: exit %d, stdout %q; want 0, up to date", code, out)
	}
	out, _, code = schemaExec(t, "apply", "--data", path)
	if code != ExitOK || !strings.Contains(out, "nothing to apply") {
		t.Fatalf("second apply: exit %d, stdout %q; want a no-op", code, out)
	}
}

// TestSchemaPlanAndApplyOnClickHouse needs a ClickHouse engine: see
// chstore/engine_test.go for PULSE_TEST_CLICKHOUSE_DSN.
func TestSchemaPlanAndApplyOnClickHouse(t *testing.T) {
	dsn := os.Getenv("PULSE_TEST_CLICKHOUSE_DSN")
	if dsn == "" {
		t.Skip("PULSE_TEST_CLICKHOUSE_DSN is not set; run scripts/chdb.sh start and set PULSE_TEST_CLICKHOUSE_DSN=http://127.0.0.1:8123/ to run this test")
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	db := "pulse_cmdtest_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		conn, err := chstore.Open(context.Background(), dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" SYNC"); err != nil {
			t.Error(err)
		}
	})
	target := []string{"--clickhouse", dsn, "--database", db, "--topic", db, "--consumer-group", db}

	out, stderr, code := schemaExec(t, append([]string{"plan"}, target...)...)
	if code != ExitRuntime || !strings.Contains(out, "0001_events") || stderr != "" {
		t.Fatalf("plan before apply: exit %d, stdout %q, stderr %q; want exit 1 listing the migrations", code, out, stderr)
	}
	out, stderr, code = schemaExec(t, append([]string{"apply"}, target...)...)
	if code != ExitOK || !strings.Contains(out, "applied 0004_access") {
		t.Fatalf("apply: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	out, _, code = schemaExec(t, append([]string{"plan"}, target...)...)
	if code != ExitOK || !strings.Contains(out, "up to date") {
		t.Fatalf("plan after apply: exit %d, stdout %q; want 0", code, out)
	}
	out, _, code = schemaExec(t, append([]string{"apply"}, target...)...)
	if code != ExitOK || !strings.Contains(out, "nothing to apply") {
		t.Fatalf("second apply: exit %d, stdout %q; want a no-op", code, out)
	}
	t.Setenv("PULSE_TEST_TENANT_PASSWORD", "s3cret")
	out, stderr, code = schemaExec(t, "tenant-user", "--clickhouse", dsn, "--database", db, "--tenant", "acme", "--password-env", "PULSE_TEST_TENANT_PASSWORD")
	if code != ExitOK || !strings.Contains(out, db+"_tenant_acme") {
		t.Fatalf("tenant-user: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}
