package cmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pulse-analytics/pulse/chstore"
	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/store"
)

// TestQueryClickHousePrintsWhatTheEmbeddedStorePrints loads the same events
// into an embedded store and a fresh ClickHouse database and checks that
// `pulse query ... --clickhouse DSN --database DB` prints byte for byte what
// `pulse query ... --data FILE` prints. Runs when PULSE_TEST_CLICKHOUSE_DSN
// is set (see chstore's engine tests).
func TestQueryClickHousePrintsWhatTheEmbeddedStorePrints(t *testing.T) {
	dsn := os.Getenv("PULSE_TEST_CLICKHOUSE_DSN")
	if dsn == "" {
		t.Skip("PULSE_TEST_CLICKHOUSE_DSN is not set")
	}
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var events []ingest.Event
	for i, e := range []struct {
		tenant, user, name string
		hours              int
		props              string
	}{
		{"acme", "u1", "signup", 0, `{"plan":"pro"}`},
		{"acme", "u1", "project_created", 2, `{}`},
		{"acme", "u1", "api_request", 24, `{"latency_ms":120,"status":503}`},
		{"acme", "u2", "api_request", 25, `{"latency_ms":80,"status":200}`},
		{"acme", "u2", "signup", 26, `{"plan":null}`},
		{"acme", "u3", "api_request", 49, `{"latency_ms":95.5,"status":500}`},
		{"globex", "u1", "signup", 0, `{"plan":"free"}`},
	} {
		events = append(events, ingest.Event{
			EventID: uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(i)}).String(), Event: e.name, UserID: e.user, TenantID: e.tenant,
			SessionID: "s", TS: base.Add(time.Duration(e.hours) * time.Hour), EventVersion: 1,
			Properties: []byte(e.props), Context: []byte(`{"os":"iOS"}`),
		})
	}
	path := filepath.Join(t.TempDir(), "pulse.db")
	st, err := store.Open(ctx, store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Insert(ctx, events); err != nil {
		st.Close()
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	conn, err := chstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := chstore.DefaultParams()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	p.Database = "pulse_cmdq_" + hex.EncodeToString(b[:])
	p.Topic, p.ConsumerGroup = p.Database, p.Database
	t.Cleanup(func() {
		if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+p.Database+" SYNC"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
		conn.Close()
	})
	if _, err := chstore.Apply(ctx, conn, p); err != nil {
		t.Fatal(err)
	}
	// Twice: redelivered events must not change any figure.
	for range 2 {
		if err := chstore.InsertEvents(ctx, conn, p, events); err != nil {
			t.Fatal(err)
		}
	}

	rng := []string{"--from", "2026-03-01", "--to", "2026-03-04"}
	for _, args := range [][]string{
		{"active", "--tenant", "acme", "--format", "csv"},
		{"active", "--all-tenants", "--format", "json"},
		{"events", "--all-tenants", "--interval", "day", "--by", "properties.plan", "--format", "json"},
		{"funnel", "--tenant", "acme", "--steps", "signup,project_created", "--window", "1d", "--format", "csv"},
		{"retention", "--tenant", "acme", "--start-event", "signup", "--return-event", "api_request", "--period", "day", "--periods", "3", "--format", "csv"},
		{"adoption", "--all-tenants", "--feature", "api_request", "--period", "day", "--format", "csv"},
		{"latency", "--tenant", "acme", "--event", "api_request", "--field", "properties.latency_ms", "--interval", "day", "--format", "csv"},
		{"errors", "--tenant", "acme", "--event", "api_request", "--where", "properties.status>=500", "--interval", "day", "--format", "csv"},
	} {
		args = append(args, rng...)
		want, wantErr, code := queryExec(t, false, "", append(args, "--data", path)...)
		if code != 0 {
			t.Fatalf("%v --data: exit %d: %s", args, code, wantErr)
		}
		got, gotErr, code := queryExec(t, false, "", append(args, "--clickhouse", dsn, "--database", p.Database)...)
		if code != 0 {
			t.Errorf("%v --clickhouse: exit %d: %.600s", args, code, gotErr)
			continue
		}
		if got != want {
			t.Errorf("%v: outputs differ\nembedded:\n%s\nclickhouse:\n%s", args, want, got)
		}
	}
	if _, errOut, code := queryExec(t, false, "", "sql", "DROP TABLE "+p.Database+".events", "--clickhouse", dsn, "--database", p.Database); code != 2 {
		t.Errorf("query sql DROP TABLE: exit %d, want 2: %s", code, errOut)
	}
}
