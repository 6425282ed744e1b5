package query

import (
	"testing"

	"github.com/pulse-analytics/pulse/ingest"
)

func apiFixture(t *testing.T) *Embedded {
	req := func(tenant, ts, props string) ingest.Event { return ev(tenant, "u1", "api_request", ts, props) }
	retried := req("acme", "2026-03-01T23:59:59.999Z", `{"latency_ms":400,"status":503}`)
	return openFixture(t,
		[]ingest.Event{
			// 03-01: latencies 100, 200, 300 and 400 (in the day's last ms);
			// one value is not a number, one is missing.
			req("acme", "2026-03-01T00:00:00.000Z", `{"latency_ms":100,"status":200}`),
			req("acme", "2026-03-01T08:00:00.000Z", `{"latency_ms":300,"status":500}`),
			req("acme", "2026-03-01T09:00:00.000Z", `{"latency_ms":"200","status":"404"}`),
			req("acme", "2026-03-01T10:00:00.000Z", `{"latency_ms":"slow","status":200}`),
			req("acme", "2026-03-01T11:00:00.000Z", `{"status":null}`),
			retried,
			// 03-02 opens at its first millisecond.
			req("acme", "2026-03-02T00:00:00.000Z", `{"latency_ms":50,"status":201}`),
			// Other tenants and events are not counted.
			req("globex", "2026-03-01T12:00:00.000Z", `{"latency_ms":9999,"status":500}`),
			ev("acme", "u1", "page_viewed", "2026-03-01T12:00:00.000Z", `{"latency_ms":9999,"status":500}`),
		},
		[]ingest.Event{retried},
	)
}

func TestLatencyPercentilesPerDay(t *testing.T) {
	b := apiFixture(t)
	field, _ := ParseField("--field", "properties.latency_ms")
	got := mustRun(t, b, Latency{
		Scope: Scope{Tenant: "acme"}, Range: days("2026-03-01", "2026-03-03"), Interval: Day,
		Event: "api_request", Field: field,
	})
	// 03-01: 6 events, 4 numeric values 100, 200, 300, 400.
	//   p50 at position 3 × 0.5 = 1.5 → 200 + 0.5 × 100 = 250
	//   p95 at 2.85 → 300 + 0.85 × 100 = 385; p99 at 2.97 → 397
	// 03-02: one value, 50. 03-03: no events.
	expectRows(t, got, []string{"bucket", "events", "values", "p50", "p95", "p99"}, []string{
		"2026-03-01T00:00:00Z | 6 | 4 | 250 | 385 | 397",
		"2026-03-02T00:00:00Z | 1 | 1 | 50 | 50 | 50",
		"2026-03-03T00:00:00Z | 0 | 0 | NULL | NULL | NULL",
	})
}

func TestLatencyWithCondition(t *testing.T) {
	b := apiFixture(t)
	field, _ := ParseField("--field", "properties.latency_ms")
	where, err := ParseCondition("properties.status < 300")
	if err != nil {
		t.Fatal(err)
	}
	got := mustRun(t, b, Latency{
		Scope: Scope{Tenant: "acme"}, Range: days("2026-03-01", "2026-03-01"), Interval: Day,
		Event: "api_request", Field: field, Where: &where,
	})
	// status < 300: 100 (200) and "slow" (200); null and missing never match.
	expectRows(t, got, []string{"bucket", "events", "values", "p50", "p95", "p99"}, []string{
		"2026-03-01T00:00:00Z | 2 | 1 | 100 | 100 | 100",
	})
}

func TestErrorRatePerDay(t *testing.T) {
	b := apiFixture(t)
	where, err := ParseCondition("properties.status>=500")
	if err != nil {
		t.Fatal(err)
	}
	got := mustRun(t, b, ErrorRate{
		Scope: Scope{Tenant: "acme"}, Range: days("2026-03-01", "2026-03-03"), Interval: Day,
		Event: "api_request", Where: where,
	})
	// 03-01: 6 events; 500 and 503 match ("404" is a number below 500, null
	// and missing never match): 2/6. 03-02: 201. 03-03: none.
	expectRows(t, got, []string{"bucket", "events", "errors", "error_rate"}, []string{
		"2026-03-01T00:00:00Z | 6 | 2 | 0.3333",
		"2026-03-02T00:00:00Z | 1 | 0 | 0",
		"2026-03-03T00:00:00Z | 0 | 0 | NULL",
	})
}

func TestErrorRateWithTextCondition(t *testing.T) {
	b := apiFixture(t)
	where, err := ParseCondition(`properties.status = "404"`)
	if err != nil {
		t.Fatal(err)
	}
	got := mustRun(t, b, ErrorRate{
		Scope: Scope{AllTenants: true}, Range: days("2026-03-01", "2026-03-01"), Interval: Month,
		Event: "api_request", Where: where,
	})
	// Text comparison: only the string "404" matches.
	expectRows(t, got, []string{"tenant_id", "bucket", "events", "errors", "error_rate"}, []string{
		"acme | 2026-03-01T00:00:00Z | 6 | 1 | 0.1667",
		"globex | 2026-03-01T00:00:00Z | 1 | 0 | 0",
	})
}
