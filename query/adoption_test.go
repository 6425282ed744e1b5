package query

import (
	"testing"

	"github.com/pulse-analytics/pulse/ingest"
)

func TestAdoptionPerWeek(t *testing.T) {
	export := ev("acme", "u2", "report_exported", "2026-03-02T00:00:00.000Z")
	b := openFixture(t,
		[]ingest.Event{
			// u1 first exported before the range, again on 03-03.
			ev("acme", "u1", "report_exported", "2026-02-20T10:00:00.000Z"),
			ev("acme", "u1", "page_viewed", "2026-03-01T10:00:00.000Z"),
			ev("acme", "u1", "report_exported", "2026-03-03T10:00:00.000Z"),
			// u2 is active in the last millisecond of Sunday 03-01 and adopts
			// in the first of Monday 03-02.
			ev("acme", "u2", "page_viewed", "2026-03-01T23:59:59.999Z"),
			export,
			// u3 is active but never uses the feature.
			ev("acme", "u3", "page_viewed", "2026-03-04T10:00:00.000Z"),
			// u5 adopted on Saturday 02-28: week 02-23, but before the range.
			ev("acme", "u5", "report_exported", "2026-02-28T10:00:00.000Z"),
			// globex's u2 is not acme's.
			ev("globex", "u2", "report_exported", "2026-03-01T10:00:00.000Z"),
		},
		// Late arrival (u4 adopts on 03-09) and a retried duplicate.
		[]ingest.Event{ev("acme", "u4", "report_exported", "2026-03-09T10:00:00.000Z"), export},
	)
	got := mustRun(t, b, Adoption{Scope: Scope{Tenant: "acme"}, Range: days("2026-03-01", "2026-03-10"), Feature: "report_exported", Period: Week})
	// Week 02-23, in range only 03-01: active u1, u2; nobody exported that
	//   day; adopters to date: u1 (02-20), u5 (02-28).
	// Week 03-02: active u2, u1, u3; exported u2, u1 = 2/3; new: u2; total 3.
	// Week 03-09 (03-09..03-10): active and exported u4; new: u4; total 4.
	expectRows(t, got, []string{"period", "active_users", "feature_users", "adoption_rate", "new_adopters", "total_adopters"}, []string{
		"2026-02-23 | 2 | 0 | 0 | 0 | 2",
		"2026-03-02 | 3 | 2 | 0.6667 | 1 | 3",
		"2026-03-09 | 1 | 1 | 1 | 1 | 4",
	})
	// A tenant with no data gets its periods with zeros.
	got = mustRun(t, b, Adoption{Scope: Scope{Tenant: "nobody"}, Range: days("2026-03-01", "2026-03-02"), Feature: "report_exported", Period: Day})
	expectRows(t, got, []string{"period", "active_users", "feature_users", "adoption_rate", "new_adopters", "total_adopters"}, []string{
		"2026-03-01 | 0 | 0 | NULL | 0 | 0",
		"2026-03-02 | 0 | 0 | NULL | 0 | 0",
	})
}
