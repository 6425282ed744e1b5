package chstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/pulse-analytics/pulse/ingest"
)

func TestFlatMapReadsScalarsLikeTheKafkaPath(t *testing.T) {
	got, err := flatMap(json.RawMessage(`{"plan":"pro","q":"x\"y","seats":1.50,"big":12345678901234567890,"trial":false,"coupon":null}`))
	if err != nil {
		t.Fatal(err)
	}
	// What JSONEachRow reads into Map(String, String) for the same object,
	// in the same order.
	want := []string{"plan", "pro", "q", `x"y`, "seats", "1.50", "big", "12345678901234567890", "trial", "false", "coupon", ""}
	if !slices.Equal(got.kv, want) {
		t.Fatalf("flatMap = %q, want %q", got.kv, want)
	}
	if _, err := flatMap(json.RawMessage(`{"a":{"b":1}}`)); err == nil {
		t.Fatal("nested object accepted")
	}
	if m, err := flatMap(nil); err != nil || len(m.kv) != 0 {
		t.Fatalf("empty properties: %v %v", m, err)
	}
}

func TestInsertEventsBatchReachesEventsAndRollups(t *testing.T) {
	conn, p := testEngine(t)
	ctx := context.Background()
	if _, err := Apply(ctx, conn, p); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	var events []ingest.Event
	for i := 0; i < 50; i++ {
		events = append(events, ingest.Event{
			EventID: fmt.Sprintf("0193a1b2-0000-7000-8000-%012d", i), Event: "signup", UserID: fmt.Sprintf("u%d", i%7),
			TenantID: "acme", SessionID: "s", TS: day.Add(time.Duration(i) * time.Minute), EventVersion: 2,
			Properties: json.RawMessage(`{"plan":"pro","seats":3}`),
		})
	}
	// Twice: the second batch is a redelivery of the first.
	for i := 0; i < 2; i++ {
		if err := InsertEvents(ctx, conn, p, events); err != nil {
			t.Fatal(err)
		}
	}
	var n, users uint64
	var plan string
	var version uint32
	err := conn.QueryRow(ctx, "SELECT count(), uniqExact(user_id), any(properties['plan']), any(event_version) FROM "+p.Database+".events FINAL").Scan(&n, &users, &plan, &version)
	if err != nil {
		t.Fatal(err)
	}
	if n != 50 || users != 7 || plan != "pro" || version != 2 {
		t.Fatalf("events FINAL: %d rows, %d users, plan %q, version %d; want 50, 7, pro, 2", n, users, plan, version)
	}
	var dau uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExactMerge(users) FROM "+p.Database+".daily_active_users WHERE tenant_id = 'acme'").Scan(&dau); err != nil {
		t.Fatal(err)
	}
	if dau != 7 {
		t.Fatalf("DAU from the rollup = %d, want 7", dau)
	}
}

func TestInsertEventsWithoutSchemaIsAServerException(t *testing.T) {
	conn, p := testEngine(t)
	err := InsertEvents(context.Background(), conn, p, []ingest.Event{{EventID: "0193a1b2-0000-7000-8000-000000000001", TenantID: "t", TS: time.Now()}})
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || (ex.Code != 60 && ex.Code != 81) {
		t.Fatalf("error = %v, want a *clickhouse.Exception UNKNOWN_TABLE (60) or UNKNOWN_DATABASE (81)", err)
	}
}
