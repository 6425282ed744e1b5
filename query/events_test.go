package query

import (
	"testing"

	"github.com/pulse-analytics/pulse/ingest"
)

func eventsFixture(t *testing.T) *Embedded {
	dup := ev("acme", "u1", "page_viewed", "2026-03-01T23:59:59.999Z", `{"plan":"pro"}`)
	return openFixture(t,
		[]ingest.Event{
			dup,
			ev("acme", "u2", "page_viewed", "2026-03-01T10:00:00.000Z", `{"plan":"free"}`),
			ev("acme", "u1", "page_viewed", "2026-03-02T00:00:00.000Z", `{"plan":"pro"}`),
			ev("acme", "u3", "page_viewed", "2026-03-02T09:00:00.000Z", `{"plan":"enterprise"}`),
			ev("acme", "u3", "signup", "2026-03-02T09:00:00.000Z"),
			ev("globex", "u1", "page_viewed", "2026-03-02T09:00:00.000Z", `{"plan":"pro"}`),
			// Outside the range on both sides.
			ev("acme", "u1", "page_viewed", "2026-02-28T23:59:59.999Z", `{"plan":"pro"}`),
			ev("acme", "u1", "page_viewed", "2026-03-04T00:00:00.000Z", `{"plan":"pro"}`),
		},
		// A client retry: the same event again, in a later batch.
		[]ingest.Event{dup},
		// Late arrival for 03-01, after 03-02's events were stored.
		[]ingest.Event{ev("acme", "u4", "page_viewed", "2026-03-01T00:00:00.000Z")},
	)
}

func TestEventsCountsPerDayAndEventName(t *testing.T) {
	b := eventsFixture(t)
	got := mustRun(t, b, Events{Scope: Scope{Tenant: "acme"}, Range: days("2026-03-01", "2026-03-03"), Interval: Day})
	// 03-01: page_viewed by u4 (00:00:00.000), u2, u1 (23:59:59.999; its retry
	//        is not counted again) = 3 events, 3 users; no signup.
	// 03-02: page_viewed by u1 (00:00:00.000) and u3 = 2; signup by u3 = 1.
	// 03-03: nothing, but both series are listed with zeros.
	// globex's u1 and the events of 02-28 and 03-04 are not counted.
	expectRows(t, got, []string{"bucket", "event", "events", "users"}, []string{
		"2026-03-01T00:00:00Z | page_viewed | 3 | 3",
		"2026-03-01T00:00:00Z | signup | 0 | 0",
		"2026-03-02T00:00:00Z | page_viewed | 2 | 2",
		"2026-03-02T00:00:00Z | signup | 1 | 1",
		"2026-03-03T00:00:00Z | page_viewed | 0 | 0",
		"2026-03-03T00:00:00Z | signup | 0 | 0",
	})
}

func TestEventsBreakdownKeepsTopValuesAndSumsTheRest(t *testing.T) {
	b := eventsFixture(t)
	by, err := ParseField("--by", "properties.plan")
	if err != nil {
		t.Fatal(err)
	}
	got := mustRun(t, b, Events{
		Scope: Scope{Tenant: "acme"}, Range: days("2026-03-01", "2026-03-02"), Interval: Week,
		Event: "page_viewed", By: &by, Top: 2,
	})
	// page_viewed in range: pro ×2 (u1), free ×1 (u2), enterprise ×1 (u3),
	// no plan ×1 (u4 → "(none)"). Top 2: pro, then the tie at 1 event goes
	// to the smaller value, "(none)" < "enterprise" < "free"; enterprise and
	// free become "(other)".
	// Sunday 03-01 belongs to the ISO week of Monday 02-23 (u1 pro, u4
	// none, u2 free → other); Monday 03-02 starts the next (u1 pro, u3
	// enterprise → other). "(none)" has no event that week: 0.
	expectRows(t, got, []string{"bucket", "event", "properties.plan", "events", "users"}, []string{
		"2026-02-23T00:00:00Z | page_viewed | pro | 1 | 1",
		"2026-02-23T00:00:00Z | page_viewed | (none) | 1 | 1",
		"2026-02-23T00:00:00Z | page_viewed | (other) | 1 | 1",
		"2026-03-02T00:00:00Z | page_viewed | pro | 1 | 1",
		"2026-03-02T00:00:00Z | page_viewed | (none) | 0 | 0",
		"2026-03-02T00:00:00Z | page_viewed | (other) | 1 | 1",
	})
}

func TestEventsForTenantWithoutDataIsEmpty(t *testing.T) {
	b := eventsFixture(t)
	got := mustRun(t, b, Events{Scope: Scope{Tenant: "nobody"}, Range: days("2026-03-01", "2026-03-03"), Interval: Hour})
	expectRows(t, got, []string{"bucket", "event", "events", "users"}, nil)
}
