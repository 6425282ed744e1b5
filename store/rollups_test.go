package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pulse-analytics/pulse/ingest"
)

// rollupEvent is an event of user in tenant at ts.
func rollupEvent(tenant, user, name string, ts time.Time) ingest.Event {
	return ingest.Event{
		EventID: uuid.NewString(), Event: name, UserID: user, TenantID: tenant, SessionID: "s",
		TS: ts, EventVersion: 1, Properties: []byte(`{}`), Context: []byte(`{}`),
	}
}

// checkRollups compares each rollup with its definition recomputed from
// the events table, and checks that no key is stored twice.
func checkRollups(t *testing.T, st *Store) {
	t.Helper()
	for _, tc := range []struct{ table, keys string }{
		{"user_days", "tenant_id, day, user_id"},
		{"user_event_days", "tenant_id, day, event, user_id"},
	} {
		var rows, distinct, missing, extra int
		q := fmt.Sprintf(`SELECT
			(SELECT count(*) FROM %[1]s),
			(SELECT count(*) FROM (SELECT DISTINCT %[2]s FROM %[1]s)),
			(SELECT count(*) FROM (SELECT DISTINCT %[3]s FROM events EXCEPT SELECT %[2]s FROM %[1]s)),
			(SELECT count(*) FROM (SELECT %[2]s FROM %[1]s EXCEPT SELECT DISTINCT %[3]s FROM events))`,
			tc.table, tc.keys, map[string]string{
				"user_days":       "tenant_id, CAST(ts AS DATE), user_id",
				"user_event_days": "tenant_id, CAST(ts AS DATE), event, user_id",
			}[tc.table])
		if err := st.DB.QueryRow(q).Scan(&rows, &distinct, &missing, &extra); err != nil {
			t.Fatal(err)
		}
		if rows != distinct || missing != 0 || extra != 0 {
			t.Errorf("%s: %d rows, %d distinct keys, %d keys missing, %d keys not in events", tc.table, rows, distinct, missing, extra)
		}
	}
	// gap_days: days since the user's previous active day, capped at 30.
	var wrong int
	if err := st.DB.QueryRow(`SELECT count(*) FROM (
		SELECT gap_days, least(coalesce(day - lag(day) OVER (PARTITION BY tenant_id, user_id ORDER BY day), 30), 30) AS want
		FROM user_days) WHERE gap_days != want`).Scan(&wrong); err != nil {
		t.Fatal(err)
	}
	if wrong != 0 {
		t.Errorf("user_days: %d rows with a wrong gap_days", wrong)
	}
}

func TestRollupsHoldEachActiveUserDayOnce(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	d1 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	batches := [][]ingest.Event{
		{
			rollupEvent("acme", "u1", "page_viewed", d1),
			rollupEvent("acme", "u1", "page_viewed", d1.Add(time.Hour)),                // same key twice in a batch
			rollupEvent("acme", "u1", "signup", d1.Add(24*time.Hour-time.Millisecond)), // last ms of the day
			rollupEvent("globex", "u1", "page_viewed", d1),                             // same user id, other tenant
		},
		{
			rollupEvent("acme", "u1", "page_viewed", d1.Add(2*time.Hour)),   // key already stored
			rollupEvent("acme", "u1", "page_viewed", d1.Add(24*time.Hour)),  // next day's first ms
			rollupEvent("acme", "u2", "page_viewed", d1.AddDate(0, 0, -20)), // late, out of order
		},
	}
	for _, b := range batches {
		if _, err := st.Insert(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// A retry of the first batch adds no events, hence no rollup rows.
	if n, err := st.Insert(ctx, batches[0]); err != nil || n != 0 {
		t.Fatalf("retry: n=%d err=%v, want 0 new", n, err)
	}
	checkRollups(t, st)
	var userDays int
	if err := st.DB.QueryRow("SELECT count(*) FROM user_days").Scan(&userDays); err != nil {
		t.Fatal(err)
	}
	// acme u1 on 03-01 and 03-02, globex u1 on 03-01, acme u2 on 02-09.
	if userDays != 4 {
		t.Errorf("user_days has %d rows, want 4", userDays)
	}
}

func TestRollupsStayExactUnderManySmallBatches(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 22, 0, 0, 0, time.UTC)
	// 40 batches over 4 hours around midnight, 5 users in 2 tenants, some
	// batches reaching back a day.
	for b := 0; b < 40; b++ {
		var batch []ingest.Event
		for i := 0; i < 25; i++ {
			ts := start.Add(time.Duration(b*6+i%6) * time.Minute)
			if i == 24 {
				ts = ts.AddDate(0, 0, -1)
			}
			batch = append(batch, rollupEvent(fmt.Sprintf("t%d", i%2), fmt.Sprintf("u%d", i%5), fmt.Sprintf("e%d", i%3), ts))
		}
		if _, err := st.Insert(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	checkRollups(t, st)
}

// Refreshes run beside inserts (backfill refreshes after each bulk step
// while it stores the next): every event ends up in the rollups once, with
// the right gaps, whatever commits fall between a refresh's reads.
func TestRollupsStayExactWithRefreshesBesideInserts(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	done := make(chan struct{})
	refreshed := make(chan error, 1)
	go func() {
		n := 0
		for {
			select {
			case <-done:
				refreshed <- nil
				return
			default:
			}
			if err := st.RefreshRollups(ctx); err != nil {
				refreshed <- fmt.Errorf("refresh %d: %w", n, err)
				return
			}
			n++
		}
	}()
	// 60 batches, 6 users in 2 tenants, days out of order (a shuffled file).
	for b := 0; b < 60; b++ {
		var batch []ingest.Event
		for i := 0; i < 40; i++ {
			day := (b*7 + i*11) % 45
			batch = append(batch, rollupEvent(fmt.Sprintf("t%d", i%2), fmt.Sprintf("u%d", i%6), fmt.Sprintf("e%d", i%3), start.AddDate(0, 0, day).Add(time.Duration(i)*time.Minute)))
		}
		if _, err := st.InsertEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if err := <-refreshed; err != nil {
		t.Fatal(err)
	}
	if err := st.RefreshRollups(ctx); err != nil {
		t.Fatal(err)
	}
	checkRollups(t, st)
}

func TestMigrationBackfillsRollupsOfAnOlderFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pulse.db")
	ctx := context.Background()
	st, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	d := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, err := st.Insert(ctx, []ingest.Event{
		rollupEvent("acme", "u1", "page_viewed", d),
		rollupEvent("acme", "u1", "signup", d),
		rollupEvent("acme", "u2", "page_viewed", d.AddDate(0, 0, 1)),
	}); err != nil {
		t.Fatal(err)
	}
	// Make it a file from before the rollups: schema version 1, no rollups.
	for _, stmt := range []string{
		"DROP TABLE user_days", "DROP TABLE user_event_days",
		"DELETE FROM schema_migrations WHERE version IN (2, 4)",
	} {
		if _, err := st.DB.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	checkRollups(t, st)
	var n int
	if err := st.DB.QueryRow("SELECT count(*) FROM user_event_days").Scan(&n); err != nil || n != 3 {
		t.Fatalf("user_event_days rows = %d (%v), want 3", n, err)
	}
}

func TestLateDayShortensTheGapOfTheDayAfterIt(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	day := func(d int) time.Time { return time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC) }
	for _, batch := range [][]ingest.Event{
		{rollupEvent("acme", "u1", "e", day(1)), rollupEvent("acme", "u1", "e", day(10))},
		{rollupEvent("acme", "u1", "e", day(5))}, // late: between 03-01 and 03-10
	} {
		if _, err := st.Insert(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := st.DB.Query("SELECT day, gap_days FROM user_days ORDER BY day")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var d time.Time
		var gap int
		if err := rows.Scan(&d, &gap); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s:%d", d.Format("01-02"), gap))
	}
	// 03-01 has no earlier day (30); 03-05 follows 03-01 (4); 03-10 now
	// follows 03-05 (5, was 9).
	if want := "[03-01:30 03-05:4 03-10:5]"; fmt.Sprint(got) != want {
		t.Fatalf("gaps %v, want %s", got, want)
	}
	checkRollups(t, st)
}
