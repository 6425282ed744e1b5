package query

import (
	"testing"

	"github.com/pulse-analytics/pulse/ingest"
)

func retentionFixture(t *testing.T) *Embedded {
	session := ev("acme", "u1", "session_started", "2026-03-02T00:00:00.000Z")
	return openFixture(t,
		[]ingest.Event{
			// u1: cohort 03-01 (signup in its last millisecond); back on 03-02
			// (first millisecond) and 03-04.
			ev("acme", "u1", "signup", "2026-03-01T23:59:59.999Z"),
			session,
			ev("acme", "u1", "session_started", "2026-03-04T08:00:00.000Z"),
			// u2: cohort 03-01; a session the same day (period 0, not shown)
			// and one on 03-03.
			ev("acme", "u2", "signup", "2026-03-01T00:00:00.000Z"),
			ev("acme", "u2", "session_started", "2026-03-01T00:05:00.000Z"),
			ev("acme", "u2", "session_started", "2026-03-03T12:00:00.000Z"),
			// u3's first signup is before the range: in no cohort.
			ev("acme", "u3", "signup", "2026-02-27T12:00:00.000Z"),
			ev("acme", "u3", "signup", "2026-03-02T12:00:00.000Z"),
			ev("acme", "u3", "session_started", "2026-03-03T12:00:00.000Z"),
			// u4: cohort 03-02, never returns.
			ev("acme", "u4", "signup", "2026-03-02T09:00:00.000Z"),
			// globex's u1 returns on 03-03; acme's u1 did not.
			ev("globex", "u1", "signup", "2026-03-01T09:00:00.000Z"),
			ev("globex", "u1", "session_started", "2026-03-03T09:00:00.000Z"),
		},
		[]ingest.Event{
			// Late, out of order: u6 in cohort 03-03, back on 03-04; and a
			// retried duplicate of u1's session.
			ev("acme", "u6", "session_started", "2026-03-04T10:00:00.000Z"),
			ev("acme", "u6", "signup", "2026-03-03T10:00:00.000Z"),
			session,
		},
	)
}

func TestRetentionTriangleByDay(t *testing.T) {
	b := retentionFixture(t)
	got := mustRun(t, b, Retention{
		Scope: Scope{Tenant: "acme"}, Range: days("2026-03-01", "2026-03-04"),
		StartEvent: "signup", ReturnEvent: "session_started", Period: Day, Periods: 3,
	})
	// 03-01: u1, u2. day_1 = 03-02: u1 → 1/2; day_2 = 03-03: u2 → 1/2;
	//        day_3 = 03-04: u1 → 1/2.
	// 03-02: u4, who never returns: 0, 0; day_3 = 03-05 is after the range.
	// 03-03: u6, back on 03-04: 1/1.
	// 03-04: nobody signed up; its periods lie after the range.
	expectRows(t, got, []string{"cohort", "users", "day_1", "day_2", "day_3"}, []string{
		"2026-03-01 | 2 | 0.5 | 0.5 | 0.5",
		"2026-03-02 | 1 | 0 | 0 | NULL",
		"2026-03-03 | 1 | 1 | NULL | NULL",
		"2026-03-04 | 0 | NULL | NULL | NULL",
	})
}

func TestRetentionCountsByWeekForAllTenants(t *testing.T) {
	b := retentionFixture(t)
	got := mustRun(t, b, Retention{
		Scope: Scope{AllTenants: true}, Range: days("2026-02-23", "2026-03-08"),
		StartEvent: "signup", ReturnEvent: "session_started", Period: Week, Periods: 2, Counts: true,
	})
	// ISO weeks: 02-23 .. 03-01 and 03-02 .. 03-08.
	// acme week 02-23: u3 (02-27), u1, u2 (03-01). Week 1 (03-02): u1, u3, u2
	//   returned (u2's 03-01 session is in week 0). Week 2 starts 03-09,
	//   after the range.
	// acme week 03-02: u4, u6; no later week in range.
	// globex week 02-23: u1, back on 03-03 (week 1).
	expectRows(t, got, []string{"tenant_id", "cohort", "users", "week_1", "week_2"}, []string{
		"acme | 2026-02-23 | 3 | 3 | NULL",
		"acme | 2026-03-02 | 2 | NULL | NULL",
		"globex | 2026-02-23 | 1 | 1 | NULL",
		"globex | 2026-03-02 | 0 | NULL | NULL",
	})
}
