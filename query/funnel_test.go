package query

import (
	"testing"
	"time"

	"github.com/pulse-analytics/pulse/ingest"
)

func funnelFixture(t *testing.T) *Embedded {
	signup := ev("acme", "u1", "signup", "2026-03-01T10:00:00.000Z")
	return openFixture(t,
		[]ingest.Event{
			// u1: step 2 at the same millisecond as step 1, step 3 exactly one
			// window (1d) after step 1: both count. Level 3.
			signup,
			ev("acme", "u1", "project_created", "2026-03-01T10:00:00.000Z"),
			ev("acme", "u1", "activated", "2026-03-02T10:00:00.000Z"),
			// u2: project_created before signup (wrong order), so activated
			// has no step 2 to follow. Level 1.
			ev("acme", "u2", "project_created", "2026-03-01T09:00:00.000Z"),
			ev("acme", "u2", "signup", "2026-03-01T10:00:00.000Z"),
			ev("acme", "u2", "activated", "2026-03-01T11:00:00.000Z"),
			// u3: step 2 one millisecond past the window. Level 1.
			ev("acme", "u3", "signup", "2026-03-01T12:00:00.000Z"),
			ev("acme", "u3", "project_created", "2026-03-02T12:00:00.001Z"),
			// u5: step 1 in the range's last millisecond, step 2 after the
			// range but inside the window. Level 2, 5h 0.001s.
			ev("acme", "u5", "signup", "2026-03-02T23:59:59.999Z"),
			ev("acme", "u5", "project_created", "2026-03-03T05:00:00.000Z"),
			// u6: from the 00:00 signup activated is 43h away; from the 20:00
			// signup the chain completes: level 3, shortest 1h to step 2 and
			// 23h to step 3.
			ev("acme", "u6", "signup", "2026-03-01T00:00:00.000Z"),
			ev("acme", "u6", "signup", "2026-03-01T20:00:00.000Z"),
			ev("acme", "u6", "project_created", "2026-03-01T21:00:00.000Z"),
			ev("acme", "u6", "activated", "2026-03-02T19:00:00.000Z"),
			// Another tenant's u1 never mixes with acme's.
			ev("globex", "u1", "signup", "2026-03-01T10:00:00.000Z"),
			ev("globex", "u1", "project_created", "2026-03-01T10:30:00.000Z"),
		},
		[]ingest.Event{
			// u4 arrives late and out of order: a signup before the range
			// starts no chain, the one at 00:00:00.000 does. Level 2, 1h.
			ev("acme", "u4", "project_created", "2026-03-01T01:00:00.000Z"),
			ev("acme", "u4", "signup", "2026-02-28T23:59:59.999Z"),
			ev("acme", "u4", "signup", "2026-03-01T00:00:00.000Z"),
			// A retried duplicate of u1's signup.
			signup,
		},
	)
}

func TestFunnelFollowsWindowFunnelSemantics(t *testing.T) {
	b := funnelFixture(t)
	got := mustRun(t, b, Funnel{
		Scope: Scope{Tenant: "acme"}, Range: days("2026-03-01", "2026-03-02"),
		Steps: []string{"signup", "project_created", "activated"}, Window: 24 * time.Hour,
	})
	// Step 1: u1..u6 = 6 users, median 0.
	// Step 2: u1 (0 ms), u4 (1h), u6 (1h), u5 (5h 0.001s) = 4; 4/6 = 0.6667;
	//         median of 0, 3600, 3600, 18000.001 s = (3600 + 3600) / 2.
	// Step 3: u6 (23h = 82800 s), u1 (24h = 86400 s) = 2; 2/4 = 0.5,
	//         2/6 = 0.3333; median (82800 + 86400) / 2 = 84600.
	expectRows(t, got, []string{"step", "event", "users", "conversion_from_previous", "conversion_from_first", "median_seconds_from_first"}, []string{
		"1 | signup | 6 | 1 | 1 | 0",
		"2 | project_created | 4 | 0.6667 | 0.6667 | 3600",
		"3 | activated | 2 | 0.5 | 0.3333 | 84600",
	})
}

func TestFunnelOverAllTenantsKeepsTenantsApart(t *testing.T) {
	b := funnelFixture(t)
	got := mustRun(t, b, Funnel{
		Scope: Scope{AllTenants: true}, Range: days("2026-03-01", "2026-03-02"),
		Steps: []string{"signup", "project_created"}, Window: time.Hour,
	})
	// acme within 1h: u1 (0 ms), u4 (exactly 1h), u6 (1h from the 20:00
	// signup) reach step 2; u5 needs 5h. globex's u1: 30 min.
	expectRows(t, got, []string{"tenant_id", "step", "event", "users", "conversion_from_previous", "conversion_from_first", "median_seconds_from_first"}, []string{
		"acme | 1 | signup | 6 | 1 | 1 | 0",
		"acme | 2 | project_created | 3 | 0.5 | 0.5 | 3600",
		"globex | 1 | signup | 1 | 1 | 1 | 0",
		"globex | 2 | project_created | 1 | 1 | 1 | 1800",
	})
}

func TestFunnelOfEmptyRangeHasZeroUsers(t *testing.T) {
	b := funnelFixture(t)
	got := mustRun(t, b, Funnel{
		Scope: Scope{Tenant: "acme"}, Range: days("2026-04-01", "2026-04-30"),
		Steps: []string{"signup", "project_created"}, Window: time.Hour,
	})
	expectRows(t, got, []string{"step", "event", "users", "conversion_from_previous", "conversion_from_first", "median_seconds_from_first"}, []string{
		"1 | signup | 0 | NULL | NULL | NULL",
		"2 | project_created | 0 | NULL | NULL | NULL",
	})
}

func TestFunnelRejectsUnusableSteps(t *testing.T) {
	for name, steps := range map[string][]string{
		"one step":      {"signup"},
		"repeated step": {"signup", "page_viewed", "signup"},
		"empty name":    {"signup", ""},
	} {
		t.Run(name, func(t *testing.T) {
			q := Funnel{Scope: Scope{Tenant: "acme"}, Range: days("2026-03-01", "2026-03-02"), Steps: steps, Window: time.Hour}
			if err := q.Validate(); err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
		})
	}
}
