package ops_test

import (
	"context"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/pulse-analytics/pulse/chstore"
	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/ops"
)

// clickhouseEnv names a ClickHouse engine to test against (scripts/chdb.sh
// start prints one); the tests skip without it.
const clickhouseEnv = "PULSE_TEST_CLICKHOUSE_DSN"

// testClickHouse applies pulse's schema to a database of this test's own
// and returns a source reading it.
func testClickHouse(t *testing.T) (*ops.ClickHouseSource, driver.Conn, chstore.Params) {
	t.Helper()
	dsn := os.Getenv(clickhouseEnv)
	if dsn == "" {
		t.Skipf("%s is not set; run scripts/chdb.sh start and set it to run this test", clickhouseEnv)
	}
	ctx := context.Background()
	conn, err := chstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := chstore.DefaultParams()
	p.Database = unique(t, "pulse_ops_")
	p.Topic, p.ConsumerGroup = p.Database, p.Database
	t.Cleanup(func() {
		if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+p.Database+" SYNC"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
		conn.Close()
	})
	if _, err := chstore.Apply(ctx, conn, p); err != nil {
		t.Fatalf("apply schema: %v", err)
	}
	src := &ops.ClickHouseSource{
		Open:     func(ctx context.Context) (driver.Conn, error) { return chstore.Open(ctx, dsn) },
		Database: p.Database, Label: dsn,
	}
	t.Cleanup(func() { src.Close() })
	return src, conn, p
}

func TestClickHouseStatsCompareTodayWithYesterdayUpToTheSameTime(t *testing.T) {
	src, conn, p := testClickHouse(t)
	ctx := context.Background()
	// The figures use the server's clock, so the events are placed
	// around it: an hour ago today is not possible just after midnight.
	now := time.Now().UTC()
	if now.Hour() < 2 || now.Hour() >= 23 {
		t.Skip("too close to midnight UTC for today/yesterday fixtures")
	}
	err := chstore.InsertEvents(ctx, conn, p, []ingest.Event{
		event("acme", "u1", now.Add(-time.Hour)),
		event("acme", "u2", now.Add(-time.Minute)),
		event("acme", "u1", now.Add(-25*time.Hour)),
		event("acme", "u3", now.Add(-23*time.Hour)), // later in yesterday than now
		event("globex", "u9", now.Add(-26*time.Hour)),
		event("acme", "u6", now.Add(time.Hour)), // dated ahead of now (clock skew): neither, nor newest
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := src.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []ops.TenantDAU{
		{Tenant: "acme", Today: 2, YesterdaySameTime: 1},
		{Tenant: "globex", Today: 0, YesterdaySameTime: 1},
	}
	if !reflect.DeepEqual(s.Tenants, want) {
		t.Errorf("tenants = %+v, want %+v", s.Tenants, want)
	}
	if s.Events != 6 {
		t.Errorf("events = %d, want 6", s.Events)
	}
	// The newest event is a minute old by this machine's clock, which is
	// the engine's here.
	if age, ok := s.Freshness(); !ok || age < 50*time.Second || age > 5*time.Minute {
		t.Errorf("freshness = %v, %v; want about a minute", age, ok)
	}
}

func TestClickHouseStatsOfAnEmptyStoreHaveNoFreshness(t *testing.T) {
	src, _, _ := testClickHouse(t)
	s, err := src.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.NewestTS != nil || s.Events != 0 || len(s.Tenants) != 0 || s.At.IsZero() {
		t.Errorf("stats = %+v, want the server's time and nothing else", s)
	}
}

func TestClickHouseHealthReadsTheSystemTables(t *testing.T) {
	src, conn, p := testClickHouse(t)
	ctx := context.Background()
	if err := chstore.InsertEvents(ctx, conn, p, []ingest.Event{event("acme", "u1", time.Now())}); err != nil {
		t.Fatal(err)
	}
	f, err := src.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// One insert into events fans out to the rollups' views: a part each.
	if f.ActiveParts < 1 || f.MaxPartsInPartition < 1 || f.PulseBytes == 0 {
		t.Errorf("parts = %d (max %d per partition), %d bytes; want at least one part with bytes", f.ActiveParts, f.MaxPartsInPartition, f.PulseBytes)
	}
	if f.DiskTotal == 0 || f.DiskUsed > f.DiskTotal {
		t.Errorf("disk used %d of %d, want a total and used within it", f.DiskUsed, f.DiskTotal)
	}
	if f.DeadLetters != 0 {
		t.Errorf("dead letters = %d, want 0", f.DeadLetters)
	}
}

func TestClickHouseSourceConnectsOnceTheServerAnswers(t *testing.T) {
	src := &ops.ClickHouseSource{
		Open:     func(ctx context.Context) (driver.Conn, error) { return chstore.Open(ctx, "http://127.0.0.1:1/") },
		Database: "pulse",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := src.Health(ctx); err == nil {
		t.Fatal("health of a server that is down: err = nil")
	}
	// The failed connect is not kept: the next read tries again.
	if _, err := src.Stats(ctx); err == nil {
		t.Fatal("stats of a server that is down: err = nil")
	}
	if err := src.Close(); err != nil {
		t.Errorf("close without a connection: %v", err)
	}
}
