package query

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// BenchmarkMetrics runs every metric in process against a large embedded
// store, e.g. the one scripts/query-bench.sh builds (10M events from
// `pulse gen --users 100000 --tenants 20`):
//
//	PULSE_BENCH_STORE=/tmp/pulse-query-bench/pulse.db PULSE_BENCH_TENANT=acme \
//	  PULSE_BENCH_END=2026-09-27 go test -run '^$' -bench Metrics -benchtime 10x ./query/
//
// PULSE_BENCH_END is the last day of the data; active covers the 90 days
// ending then, every other metric the 30 days ending then.
func BenchmarkMetrics(b *testing.B) {
	path := os.Getenv("PULSE_BENCH_STORE")
	if path == "" {
		b.Skip("set PULSE_BENCH_STORE to a store file (see scripts/query-bench.sh)")
	}
	tenant := envOr("PULSE_BENCH_TENANT", "acme")
	end := envOr("PULSE_BENCH_END", time.Now().UTC().Format(time.DateOnly))
	endDay, err := time.Parse(time.DateOnly, end)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	backend, err := OpenEmbedded(ctx, EmbeddedOptions{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	defer backend.Close()
	scope := Scope{Tenant: tenant}
	last90 := days(endDay.AddDate(0, 0, -89).Format(time.DateOnly), end)
	last30 := days(endDay.AddDate(0, 0, -29).Format(time.DateOnly), end)
	plan := Field{Source: "properties", Key: "plan"}
	status, _ := ParseCondition("properties.status>=500")
	for _, m := range []struct {
		name   string
		metric Metric
	}{
		{"active-90d", Active{Scope: scope, Range: last90}},
		{"active-event-90d", Active{Scope: scope, Range: last90, Event: "report_exported"}},
		{"events-day", Events{Scope: scope, Range: last30, Interval: Day}},
		{"events-hour-by-plan", Events{Scope: scope, Range: last30, Interval: Hour, By: &plan, Top: DefaultTop}},
		{"funnel", Funnel{Scope: scope, Range: last30, Window: 7 * 24 * time.Hour,
			Steps: strings.Split("signup,onboarding_started,project_created,teammate_invited,activated", ",")}},
		{"funnel-busy-steps", Funnel{Scope: scope, Range: last30, Window: 24 * time.Hour,
			Steps: []string{"session_started", "page_viewed", "api_request"}}},
		{"retention-week", Retention{Scope: scope, Range: last30, StartEvent: "signup", ReturnEvent: "session_started", Period: Week, Periods: 4}},
		{"retention-day", Retention{Scope: scope, Range: last30, StartEvent: "signup", ReturnEvent: "session_started", Period: Day, Periods: 14}},
		{"adoption-week", Adoption{Scope: scope, Range: last30, Feature: "report_exported", Period: Week}},
		{"latency-hour", Latency{Scope: scope, Range: last30, Interval: Hour, Event: "api_request", Field: Field{Source: "properties", Key: "latency_ms"}}},
		{"errors-hour", ErrorRate{Scope: scope, Range: last30, Interval: Hour, Event: "api_request", Where: status}},
		{"active-all-tenants-90d", Active{Scope: Scope{AllTenants: true}, Range: last90}},
	} {
		if err := m.metric.Validate(); err != nil {
			b.Fatal(err)
		}
		b.Run(m.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := m.metric.Run(ctx, backend); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
