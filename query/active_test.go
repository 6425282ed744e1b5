package query

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/store"
)

func TestActiveCountsUsersPerDayWeekAndMonth(t *testing.T) {
	b := openFixture(t,
		[]ingest.Event{
			// u1: active on 03-01 (last millisecond of the day) and 03-10.
			ev("acme", "u1", "page_viewed", "2026-03-01T23:59:59.999Z"),
			ev("acme", "u1", "page_viewed", "2026-03-10T12:00:00.000Z"),
			// u2: active on 03-02 from its very first millisecond.
			ev("acme", "u2", "signup", "2026-03-02T00:00:00.000Z"),
			// Same user id in another tenant: never counted for acme.
			ev("globex", "u1", "page_viewed", "2026-03-05T10:00:00.000Z"),
		},
		// Arrives later, out of order: u2 on 02-05 (28 days before 03-05).
		[]ingest.Event{ev("acme", "u2", "page_viewed", "2026-02-05T08:00:00.000Z")},
	)
	got := mustRun(t, b, Active{Scope: Scope{Tenant: "acme"}, Range: days("2026-03-01", "2026-03-10")})
	// DAU per day is whoever had an event that day.
	// WAU(D) counts users with an event in [D-6, D]:
	//   u1 (03-01) on 03-01..03-07, again from 03-10; u2 (03-02) on 03-02..03-08.
	// MAU(D) counts [D-29, D]: u2 (02-05) is in MAU through 03-06 (02-05 + 29),
	//   and from 03-02 anyway; u1 from 03-01.
	expectRows(t, got, []string{"day", "dau", "wau", "mau", "stickiness"}, []string{
		"2026-03-01 | 1 | 1 | 2 | 0.5", // u1; MAU u1 + u2 (02-05)
		"2026-03-02 | 1 | 2 | 2 | 0.5",
		"2026-03-03 | 0 | 2 | 2 | 0",
		"2026-03-04 | 0 | 2 | 2 | 0",
		"2026-03-05 | 0 | 2 | 2 | 0",
		"2026-03-06 | 0 | 2 | 2 | 0",
		"2026-03-07 | 0 | 2 | 2 | 0",
		"2026-03-08 | 0 | 1 | 2 | 0", // u1's 03-01 left WAU
		"2026-03-09 | 0 | 0 | 2 | 0", // u2's 03-02 left WAU
		"2026-03-10 | 1 | 1 | 2 | 0.5",
	})
}

func TestRollupsBehindTheEventsAreReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pulse.db")
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Insert(ctx, []ingest.Event{ev("acme", "u1", "signup", "2026-03-01T10:00:00.000Z")}); err != nil {
		t.Fatal(err)
	}
	// As if the gateway died between committing and refreshing the rollups.
	for _, stmt := range []string{"DELETE FROM user_days", "UPDATE rollup_watermark SET refreshed_through = TIMESTAMP '1970-01-01'"} {
		if _, err := st.DB.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	b, err := OpenEmbedded(ctx, EmbeddedOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustRun(t, b, Active{Scope: Scope{Tenant: "acme"}, Range: days("2026-03-01", "2026-03-01")})
	if !strings.Contains(logs.String(), "rollups miss recent events") || !strings.Contains(logs.String(), "events_missing=1") {
		t.Fatalf("no warning about the stale rollups in the log: %q", logs.String())
	}
}
