package query

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/pulse-analytics/pulse/chstore"
	"github.com/pulse-analytics/pulse/gen"
	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/output"
	"github.com/pulse-analytics/pulse/store"
)

// TestDifferentialEmbeddedVsClickHouse loads one generated data set into
// the embedded store and into a fresh ClickHouse database (a part of it
// twice, as a Kafka redelivery would), runs every metric for every tenant
// and for all tenants on both backends, and compares the results cell by
// cell. It runs when PULSE_TEST_CLICKHOUSE_DSN is set:
//
//	scripts/chdb.sh start 58123
//	PULSE_TEST_CLICKHOUSE_DSN=http://127.0.0.1:58123/ go test ./query/ -run Differential
//
// Two comparisons per query:
//   - the metric's Run output (what `pulse query` prints: ratios and
//     percentiles rounded to RatioDecimals in Go) must be identical: same
//     columns, same column types, same cells;
//   - the statement's raw rows (before rounding) must agree exactly for
//     everything but floats, which may differ by 1e-9 relative: the two
//     engines divide and interpolate in their own order of operations.
func TestDifferentialEmbeddedVsClickHouse(t *testing.T) {
	dsn := os.Getenv("PULSE_TEST_CLICKHOUSE_DSN")
	if dsn == "" {
		t.Skip("PULSE_TEST_CLICKHOUSE_DSN is not set; run scripts/chdb.sh start and set it to run the differential test")
	}
	ctx := context.Background()
	began := time.Now()

	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 0, 60)
	var events []ingest.Event
	err := gen.Generate(ctx, gen.Config{Seed: 42, Tenants: 5, Users: 2000, Start: start, End: end}, func(e ingest.Event) error {
		events = append(events, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tenantSet := map[string]bool{}
	var tenants []string
	for _, e := range events {
		if !tenantSet[e.TenantID] {
			tenantSet[e.TenantID] = true
			tenants = append(tenants, e.TenantID)
		}
	}
	t.Logf("generated %d events of %d tenants in %s", len(events), len(tenants), time.Since(began).Round(time.Millisecond))

	// Embedded store.
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
	emb, err := OpenEmbedded(ctx, EmbeddedOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()

	// ClickHouse, in a database of this test.
	conn, p, ch := clickhouseTestDB(t, dsn)
	const batch = 50_000
	for i := 0; i < len(events); i += batch {
		if err := chstore.InsertEvents(ctx, conn, p, events[i:min(i+batch, len(events))]); err != nil {
			t.Fatal(err)
		}
	}
	countEvents := func() (n, ids uint64) {
		t.Helper()
		q := "SELECT (SELECT count() FROM " + p.Database + ".events FINAL), (SELECT uniqExact(event_id) FROM " + p.Database + ".events)"
		if err := conn.QueryRow(ctx, q).Scan(&n, &ids); err != nil {
			t.Fatal(err)
		}
		return n, ids
	}
	n0, ids0 := countEvents()
	if n0 != uint64(len(events)) || ids0 != uint64(len(events)) {
		t.Fatalf("ClickHouse holds %d events (FINAL), %d event ids; want %d", n0, ids0, len(events))
	}
	// Redelivery: a tenth of the events, inserted again (the same rows a
	// consumer re-reads after failing before its offset commit).
	redelivered := events[len(events)/3 : len(events)/3+len(events)/10]
	if err := chstore.InsertEvents(ctx, conn, p, redelivered); err != nil {
		t.Fatal(err)
	}
	if n, ids := countEvents(); n != n0 || ids != ids0 {
		t.Fatalf("after redelivering %d events: %d events (FINAL), %d ids; want %d unchanged", len(redelivered), n, ids, n0)
	}
	var raw uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+p.Database+".events").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded both stores in %s; ClickHouse raw rows %d (redelivered %d), deduplicated %d",
		time.Since(began).Round(time.Millisecond), raw, len(redelivered), n0)

	// pulse query sql: one read-only SELECT runs, anything else is refused.
	tbl, err := SQL{Text: "SELECT count() AS n FROM " + p.Database + ".events FINAL;"}.Run(ctx, ch)
	if err != nil {
		t.Fatalf("query sql: %v", err)
	}
	if len(tbl.Rows) != 1 || tbl.Rows[0][0] != int64(n0) || tbl.Columns[0].Type != output.Int {
		t.Fatalf("query sql: got %v %v, want one Int row %d", tbl.Columns, tbl.Rows, n0)
	}
	for _, text := range []string{
		"DROP TABLE " + p.Database + ".events",
		"INSERT INTO " + p.Database + ".user_days VALUES ('x', today(), 'u')",
		"SELECT 1; SELECT 2",
		"SELECT 1; DROP TABLE " + p.Database + ".events",
		"TRUNCATE TABLE " + p.Database + ".events",
		"SET max_threads = 1",
		"this is not sql",
		"  ;  ",
	} {
		_, err := SQL{Text: text}.Run(ctx, ch)
		var refused *RefusedError
		if !errors.As(err, &refused) {
			t.Errorf("query sql %q: got %v, want a *RefusedError", text, err)
		}
	}
	if n, _ := countEvents(); n != n0 {
		t.Fatalf("after the refused statements: %d events, want %d", n, n0)
	}

	rng := Range{Start: start, End: end}
	latency, err := ParseField("--field", "properties.latency_ms")
	if err != nil {
		t.Fatal(err)
	}
	serverError, err := ParseCondition("properties.status>=500")
	if err != nil {
		t.Fatal(err)
	}
	post, err := ParseCondition("properties.method=POST")
	if err != nil {
		t.Fatal(err)
	}
	plan, _ := ParseField("--by", "properties.plan")
	osField, _ := ParseField("--by", "context.os")
	trial, _ := ParseField("--by", "properties.trial")

	scopes := []Scope{{AllTenants: true}}
	for _, tn := range tenants {
		scopes = append(scopes, Scope{Tenant: tn})
	}
	compared := 0
	var cells cellCounts
	for _, sc := range scopes {
		name := sc.Tenant
		if sc.AllTenants {
			name = "all-tenants"
		}
		metrics := map[string]Metric{
			"active":             Active{Scope: sc, Range: rng},
			"active/page_viewed": Active{Scope: sc, Range: rng, Event: gen.EventPageViewed},
			"active/late-range":  Active{Scope: sc, Range: Range{Start: start.AddDate(0, 0, 40), End: end.AddDate(0, 0, 3)}},
			"events/day":         Events{Scope: sc, Range: rng, Interval: Day, Top: 5},
			"events/hour/api":    Events{Scope: sc, Range: Range{Start: start.AddDate(0, 0, 20).Add(90 * time.Minute), End: start.AddDate(0, 0, 23)}, Interval: Hour, Event: gen.EventAPIRequest, Top: 5},
			"events/week/plan":   Events{Scope: sc, Range: rng, Interval: Week, By: &plan, Top: 2},
			"events/month/os":    Events{Scope: sc, Range: rng, Interval: Month, By: &osField, Top: 3},
			"events/day/trial":   Events{Scope: sc, Range: rng, Interval: Day, Event: gen.EventSignup, By: &trial, Top: 1},
			"funnel/7d":          Funnel{Scope: sc, Range: rng, Steps: gen.FunnelSteps(), Window: 7 * 24 * time.Hour},
			"funnel/1h":          Funnel{Scope: sc, Range: Range{Start: start.AddDate(0, 0, 10), End: start.AddDate(0, 0, 30)}, Steps: gen.FunnelSteps()[:3], Window: time.Hour},
			"retention/day":      Retention{Scope: sc, Range: rng, StartEvent: gen.EventSignup, ReturnEvent: gen.EventSessionStarted, Period: Day, Periods: 14, Counts: true},
			"retention/week":     Retention{Scope: sc, Range: rng, StartEvent: gen.EventSignup, ReturnEvent: gen.EventSessionStarted, Period: Week, Periods: 8},
			"adoption/day":       Adoption{Scope: sc, Range: rng, Feature: gen.Features()[0], Period: Day},
			"adoption/week":      Adoption{Scope: sc, Range: rng, Feature: gen.Features()[1], Period: Week},
			"adoption/month":     Adoption{Scope: sc, Range: Range{Start: start.AddDate(0, 0, 15), End: end}, Feature: gen.Features()[2], Period: Month},
			"latency/day":        Latency{Scope: sc, Range: rng, Interval: Day, Event: gen.EventAPIRequest, Field: latency},
			"latency/day/errors": Latency{Scope: sc, Range: rng, Interval: Day, Event: gen.EventAPIRequest, Field: latency, Where: &serverError},
			"latency/week/post":  Latency{Scope: sc, Range: rng, Interval: Week, Event: gen.EventAPIRequest, Field: latency, Where: &post},
			"errors/day":         ErrorRate{Scope: sc, Range: rng, Interval: Day, Event: gen.EventAPIRequest, Where: serverError},
			"errors/week/post":   ErrorRate{Scope: sc, Range: rng, Interval: Week, Event: gen.EventAPIRequest, Where: post},
		}
		for mname, m := range metrics {
			if err := m.Validate(); err != nil {
				t.Fatalf("%s %s: %v", name, mname, err)
			}
			want, err := m.Run(ctx, emb)
			if err != nil {
				t.Fatalf("%s %s: embedded: %v", name, mname, err)
			}
			got, err := m.Run(ctx, ch)
			if err != nil {
				t.Errorf("%s %s: clickhouse: %.400v", name, mname, err)
				continue
			}
			if len(want.Rows) == 0 {
				t.Errorf("%s %s: the embedded store returned no rows; the comparison would prove nothing", name, mname)
			}
			cells.add(compareTables(t, name+" "+mname, want, got, 0))
			compared++
		}
		// The raw statement rows, before rounding.
		for _, m := range []struct {
			name   string
			metric string
			params Params
		}{
			{"funnel", "funnel", rng.timeParams(Params{"tenant": sc.tenantParam(), "steps": gen.FunnelSteps(), "window_ms": int64(7 * 24 * time.Hour / time.Millisecond)})},
			{"latency", "latency", func() Params {
				p := rng.timeParams(Params{"tenant": sc.tenantParam(), "interval": "day", "event": gen.EventAPIRequest})
				latency.params(p, "field_")
				(*Condition)(nil).params(p)
				return p
			}()},
			{"active", "active", rng.dayParams(Params{"tenant": sc.tenantParam(), "event": nil})},
		} {
			want, err := run(ctx, emb, m.metric, m.params)
			if err != nil {
				t.Fatalf("%s raw %s: embedded: %v", name, m.name, err)
			}
			got, err := run(ctx, ch, m.metric, m.params)
			if err != nil {
				t.Errorf("%s raw %s: clickhouse: %.400v", name, m.name, err)
				continue
			}
			cells.add(compareTables(t, name+" raw "+m.name, want, got, 1e-9))
			compared++
		}
	}
	t.Logf("compared %d results (%d rows, %d cells, %d of them non-NULL floats) in %s",
		compared, cells.rows, cells.cells, cells.floats, time.Since(began).Round(time.Millisecond))
}

// compareTables reports every difference between two tables: columns
// (names and output types), row counts and cells. Floats may differ by tol
// relative (0: exactly equal).
func compareTables(t *testing.T, what string, want, got *output.Table, tol float64) (c cellCounts) {
	t.Helper()
	if !reflect.DeepEqual(want.Columns, got.Columns) {
		t.Errorf("%s: columns differ:\nembedded   %v\nclickhouse %v", what, want.Columns, got.Columns)
		return c
	}
	if len(want.Rows) != len(got.Rows) {
		t.Errorf("%s: %d rows embedded, %d clickhouse", what, len(want.Rows), len(got.Rows))
	}
	bad := 0
	for i := 0; i < min(len(want.Rows), len(got.Rows)); i++ {
		c.rows++
		for j := range want.Columns {
			c.cells++
			if _, ok := want.Rows[i][j].(float64); ok {
				c.floats++
			}
			if !sameCell(want.Rows[i][j], got.Rows[i][j], tol) {
				bad++
				if bad <= 5 {
					t.Errorf("%s: row %d column %s: embedded %#v, clickhouse %#v\nembedded row   %v\nclickhouse row %v",
						what, i, want.Columns[j].Name, want.Rows[i][j], got.Rows[i][j], want.Rows[i], got.Rows[i])
				}
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d differing cells in all", what, bad)
	}
	return c
}

// cellCounts say how much a comparison covered.
type cellCounts struct{ rows, cells, floats int }

func (c *cellCounts) add(o cellCounts) {
	c.rows += o.rows
	c.cells += o.cells
	c.floats += o.floats
}

func sameCell(a, b any, tol float64) bool {
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case float64:
		y, ok := b.(float64)
		if !ok {
			return false
		}
		if x == y || (math.IsNaN(x) && math.IsNaN(y)) {
			return true
		}
		return tol > 0 && math.Abs(x-y) <= tol*math.Max(math.Abs(x), math.Abs(y))
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	}
	return reflect.DeepEqual(a, b) || fmt.Sprint(a) == fmt.Sprint(b) && reflect.TypeOf(a) == reflect.TypeOf(b)
}

// TestDifferentialEdgeCases compares both backends on a hand-made data set
// aimed at the corners of the semantics: funnel steps at the same
// millisecond, a step exactly one window after step 1, chains whose step 1
// is in range but later steps past the end, JSON null and missing
// properties, numeric text, and partial weeks and months.
func TestDifferentialEdgeCases(t *testing.T) {
	dsn := os.Getenv("PULSE_TEST_CLICKHOUSE_DSN")
	if dsn == "" {
		t.Skip("PULSE_TEST_CLICKHOUSE_DSN is not set")
	}
	ctx := context.Background()
	events := []ingest.Event{
		// Funnel a -> b -> c, window 1h.
		ev("t1", "same-ms", "a", "2026-03-02T10:00:00.000Z"),
		ev("t1", "same-ms", "b", "2026-03-02T10:00:00.000Z"),
		ev("t1", "same-ms", "c", "2026-03-02T10:00:00.000Z"),
		ev("t1", "edge", "a", "2026-03-02T10:00:00.000Z"),
		ev("t1", "edge", "b", "2026-03-02T10:30:00.000Z"),
		ev("t1", "edge", "c", "2026-03-02T11:00:00.000Z"), // exactly one window: counts
		ev("t1", "late", "a", "2026-03-02T10:00:00.000Z"),
		ev("t1", "late", "b", "2026-03-02T10:30:00.000Z"),
		ev("t1", "late", "c", "2026-03-02T11:00:00.001Z"), // one ms too late
		ev("t1", "reanchor", "a", "2026-03-02T08:00:00.000Z"),
		ev("t1", "reanchor", "b", "2026-03-02T08:10:00.000Z"),
		ev("t1", "reanchor", "a", "2026-03-02T09:30:00.000Z"),
		ev("t1", "reanchor", "b", "2026-03-02T09:40:00.000Z"),
		ev("t1", "reanchor", "c", "2026-03-02T10:00:00.000Z"),
		ev("t1", "reverse", "b", "2026-03-02T09:00:00.000Z"),
		ev("t1", "reverse", "a", "2026-03-02T09:10:00.000Z"),
		ev("t1", "past-end", "a", "2026-03-07T23:59:00.000Z"),
		ev("t1", "past-end", "b", "2026-03-08T00:20:00.000Z"),
		ev("t1", "after-end", "a", "2026-03-08T00:10:00.000Z"),
		ev("t1", "after-end", "b", "2026-03-08T00:20:00.000Z"),
		// Properties: present, JSON null, missing, numeric text, bool.
		ev("t2", "u1", "req", "2026-03-03T01:00:00.000Z", `{"ms":10,"status":500,"tier":"gold"}`),
		ev("t2", "u1", "req", "2026-03-03T02:00:00.000Z", `{"ms":"20","status":"404","tier":null}`),
		ev("t2", "u2", "req", "2026-03-03T03:00:00.000Z", `{"ms":null,"status":200}`),
		ev("t2", "u2", "req", "2026-03-04T03:00:00.000Z", `{"ms":"fast","status":503,"tier":"silver","flag":true}`),
		ev("t2", "u3", "req", "2026-03-05T03:00:00.000Z", `{"ms":7.25,"status":500.0,"tier":"gold"}`),
		ev("t2", "u3", "req", "2026-03-06T03:00:00.000Z", `{"ms":1e3,"status":201,"tier":"bronze"}`),
		ev("t2", "u3", "other", "2026-02-20T03:00:00.000Z"),
		ev("t2", "u4", "other", "2026-03-07T23:59:59.999Z"),
	}
	emb, ch := loadBoth(t, events)

	rng := Range{Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)}
	ms, _ := ParseField("--field", "properties.ms")
	tier, _ := ParseField("--by", "properties.tier")
	flag, _ := ParseField("--by", "properties.flag")
	status5xx, _ := ParseCondition("properties.status>=500")
	gold, _ := ParseCondition("properties.tier=gold")
	notGold, _ := ParseCondition("properties.tier!=gold")
	for _, sc := range []Scope{{AllTenants: true}, {Tenant: "t1"}, {Tenant: "t2"}, {Tenant: "nobody"}} {
		for name, m := range map[string]Metric{
			"funnel":          Funnel{Scope: sc, Range: rng, Steps: []string{"a", "b", "c"}, Window: time.Hour},
			"funnel/2":        Funnel{Scope: sc, Range: rng, Steps: []string{"a", "b"}, Window: time.Hour},
			"events/tier":     Events{Scope: sc, Range: rng, Interval: Day, By: &tier, Top: 1},
			"events/flag":     Events{Scope: sc, Range: rng, Interval: Week, By: &flag, Top: 3},
			"events/month":    Events{Scope: sc, Range: Range{Start: rng.Start.Add(-72 * time.Hour), End: rng.End}, Interval: Month, Top: 3},
			"latency":         Latency{Scope: sc, Range: rng, Interval: Day, Event: "req", Field: ms},
			"latency/gold":    Latency{Scope: sc, Range: rng, Interval: Week, Event: "req", Field: ms, Where: &gold},
			"errors/5xx":      ErrorRate{Scope: sc, Range: rng, Interval: Day, Event: "req", Where: status5xx},
			"errors/not-gold": ErrorRate{Scope: sc, Range: rng, Interval: Hour, Event: "req", Where: notGold},
			"active":          Active{Scope: sc, Range: rng},
			"active/req":      Active{Scope: sc, Range: rng, Event: "req"},
			"adoption":        Adoption{Scope: sc, Range: rng, Feature: "req", Period: Week},
			"retention":       Retention{Scope: sc, Range: rng, StartEvent: "req", ReturnEvent: "req", Period: Day, Periods: 3, Counts: true},
		} {
			if err := m.Validate(); err != nil {
				t.Fatalf("%v %s: %v", sc, name, err)
			}
			want, err := m.Run(ctx, emb)
			if err != nil {
				t.Fatalf("%v %s: embedded: %v", sc, name, err)
			}
			got, err := m.Run(ctx, ch)
			if err != nil {
				t.Errorf("%v %s: clickhouse: %.400v", sc, name, err)
				continue
			}
			compareTables(t, fmt.Sprintf("%+v %s", sc, name), want, got, 0)
		}
	}
}

// clickhouseTestDB creates a fresh database with pulse's schema on the
// test ClickHouse, dropped when the test ends, and opens a backend on it.
func clickhouseTestDB(t *testing.T, dsn string) (driver.Conn, chstore.Params, *ClickHouse) {
	t.Helper()
	ctx := context.Background()
	conn, err := chstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := chstore.DefaultParams()
	var suffix [4]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		t.Fatal(err)
	}
	p.Database = "pulse_diff_" + hex.EncodeToString(suffix[:])
	p.Topic, p.ConsumerGroup = p.Database, p.Database
	ch := NewClickHouse(conn, p.Database)
	t.Cleanup(func() {
		if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+p.Database+" SYNC"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
		ch.Close()
	})
	if _, err := chstore.Apply(ctx, conn, p); err != nil {
		t.Fatal(err)
	}
	return conn, p, ch
}

// loadBoth stores events in a new embedded store and in a fresh ClickHouse
// database (dropped when the test ends) and opens a backend on each.
func loadBoth(t *testing.T, events []ingest.Event) (*Embedded, *ClickHouse) {
	t.Helper()
	ctx := context.Background()
	emb := openFixture(t, events)
	conn, p, ch := clickhouseTestDB(t, os.Getenv("PULSE_TEST_CLICKHOUSE_DSN"))
	if err := chstore.InsertEvents(ctx, conn, p, events); err != nil {
		t.Fatal(err)
	}
	return emb, ch
}

// TestClickHouseParamsRoundTrip checks that every kind of value the metrics
// bind reaches ClickHouse unchanged, awkward characters included.
func TestClickHouseParamsRoundTrip(t *testing.T) {
	dsn := os.Getenv("PULSE_TEST_CLICKHOUSE_DSN")
	if dsn == "" {
		t.Skip("PULSE_TEST_CLICKHOUSE_DSN is not set")
	}
	ctx := context.Background()
	ch, err := OpenClickHouse(ctx, dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	steps := []string{"a'b", `c\d`, "tab\there", "new\nline", "ünï"}
	text := "x\\y'z\tw\n\"q\""
	bound := clickhouse.Parameters{}
	for name, v := range map[string]struct {
		value any
		typ   string
	}{
		"s": {steps, "Array(String)"}, "t": {text, "String"}, "n": {nil, "Nullable(String)"},
		"i": {int64(-1234567890123), "Int64"}, "f": {0.1, "Nullable(Float64)"}, "d": {"2026-03-01", "Date"},
	} {
		s, err := chParamText(v.value, v.typ)
		if err != nil {
			t.Fatal(err)
		}
		bound[name] = s
	}
	var (
		gotSteps []string
		gotText  string
		isNull   uint8
		gotInt   int64
		gotFloat float64
		gotDay   string
	)
	q := "SELECT {s:Array(String)}, {t:String}, {n:Nullable(String)} IS NULL, {i:Int64}, assumeNotNull({f:Nullable(Float64)}), toString({d:Date})"
	err = ch.conn.QueryRow(clickhouse.Context(ctx, clickhouse.WithParameters(bound)), q).
		Scan(&gotSteps, &gotText, &isNull, &gotInt, &gotFloat, &gotDay)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotSteps, steps) || gotText != text || isNull != 1 || gotInt != -1234567890123 || gotFloat != 0.1 || gotDay != "2026-03-01" {
		t.Fatalf("round trip: %q %q %d %d %v %q", gotSteps, gotText, isNull, gotInt, gotFloat, gotDay)
	}
}
