package gen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pulse-analytics/pulse/ingest"
)

var testEnd = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

func testConfig(seed uint64) Config {
	return Config{Seed: seed, Tenants: 20, Users: 2000, Start: testEnd.AddDate(0, 0, -30), End: testEnd}
}

func generateAll(t testing.TB, cfg Config) []ingest.Event {
	t.Helper()
	var events []ingest.Event
	if err := Generate(context.Background(), cfg, func(ev ingest.Event) error {
		events = append(events, ev)
		return nil
	}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return events
}

func ndjson(t testing.TB, cfg Config) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, FormatNDJSON)
	if err != nil {
		t.Fatal(err)
	}
	if err := Generate(context.Background(), cfg, w.Write); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// props decodes an event's properties for assertions.
func props(t testing.TB, ev ingest.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Properties, &m); err != nil {
		t.Fatalf("properties of %s: %v", ev.EventID, err)
	}
	return m
}

type userKey struct{ tenant, user string }

func TestSameSeedAndRangeGiveIdenticalOutput(t *testing.T) {
	a, b := ndjson(t, testConfig(7)), ndjson(t, testConfig(7))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("two runs of seed 7 differ (%d vs %d bytes)", len(a), len(b))
	}
}

func TestDifferentSeedOrRangeGiveDifferentData(t *testing.T) {
	base := ndjson(t, testConfig(7))
	otherSeed := ndjson(t, testConfig(8))
	shorter := testConfig(7)
	shorter.End = shorter.End.Add(-24 * time.Hour)
	if bytes.Equal(base, otherSeed) {
		t.Error("seeds 7 and 8 gave the same output")
	}
	// A different range is a different data set: no event id may be reused
	// for different content.
	ids := map[string]bool{}
	for _, ev := range generateAll(t, testConfig(7)) {
		ids[ev.EventID] = true
	}
	for _, ev := range generateAll(t, shorter) {
		if ids[ev.EventID] {
			t.Fatalf("event id %s appears in data sets with different ranges", ev.EventID)
		}
	}
	for _, ev := range generateAll(t, testConfig(8)) {
		if ids[ev.EventID] {
			t.Fatalf("event id %s appears in data sets of seeds 7 and 8", ev.EventID)
		}
	}
}

func TestEveryEventSatisfiesTheContract(t *testing.T) {
	cfg := testConfig(1)
	contract := ingest.NewContract()
	contract.Now = func() time.Time { return cfg.End.Add(time.Hour) }
	contract.NewID = func() string { t.Fatal("event without event_id"); return "" }
	events := generateAll(t, cfg)
	if len(events) < 10_000 {
		t.Fatalf("only %d events for 2000 users over 30 days", len(events))
	}
	for _, ev := range events {
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		got, fe := contract.Decode(raw)
		if fe != nil {
			t.Fatalf("contract rejects %s: %v", raw, fe)
		}
		if !got.TS.Equal(ev.TS) || got.EventID != ev.EventID || !bytes.Equal(got.Properties, ev.Properties) || !bytes.Equal(got.Context, ev.Context) {
			t.Fatalf("decoding changed the event:\n got %+v\nwant %+v", got, ev)
		}
	}
}

func TestEventIDsAreUniqueVersion8UUIDs(t *testing.T) {
	seen := map[string]bool{}
	for _, ev := range generateAll(t, testConfig(1)) {
		id, err := uuid.Parse(ev.EventID)
		if err != nil || id.Version() != 8 || id.Variant() != uuid.RFC4122 || id.String() != ev.EventID {
			t.Fatalf("event id %q is not a canonical version-8 UUID", ev.EventID)
		}
		if seen[ev.EventID] {
			t.Fatalf("event id %s is used twice", ev.EventID)
		}
		seen[ev.EventID] = true
	}
}

func TestEventsAreInTimestampOrderWithinTheRange(t *testing.T) {
	cfg := testConfig(1)
	events := generateAll(t, cfg)
	for i, ev := range events {
		if ev.TS.Before(cfg.Start) || !ev.TS.Before(cfg.End) {
			t.Fatalf("event %d at %s is outside [%s, %s)", i, ev.TS, cfg.Start, cfg.End)
		}
		if ev.TS.Location() != time.UTC || ev.TS.Nanosecond()%int(time.Millisecond) != 0 {
			t.Fatalf("event %d ts %v is not UTC milliseconds", i, ev.TS)
		}
		if i > 0 && ev.TS.Before(events[i-1].TS) {
			t.Fatalf("event %d at %s comes after one at %s", i, ev.TS, events[i-1].TS)
		}
	}
}

func TestTenantSizesAreSkewed(t *testing.T) {
	sizes := tenantSizes(20, 10_000)
	total := 0
	for i, s := range sizes {
		total += s
		if s < 1 || i > 0 && s > sizes[i-1] {
			t.Fatalf("sizes %v: each tenant needs a user, largest first", sizes)
		}
	}
	if total != 10_000 {
		t.Fatalf("sizes add up to %d, want 10000", total)
	}
	if share := float64(sizes[0]) / float64(total); share < 0.25 || share > 0.30 {
		t.Errorf("largest tenant holds %.1f%% of users, want 25-30%%", share*100)
	}
	if sizes[0] < 10*sizes[19] {
		t.Errorf("largest tenant %d is not much bigger than the smallest %d", sizes[0], sizes[19])
	}

	// The generated events show the same skew.
	users := map[string]map[string]bool{}
	for _, ev := range generateAll(t, testConfig(1)) {
		if users[ev.TenantID] == nil {
			users[ev.TenantID] = map[string]bool{}
		}
		users[ev.TenantID][ev.UserID] = true
	}
	if len(users) != 20 {
		t.Fatalf("events from %d tenants, want 20", len(users))
	}
	counts := []int{}
	sum := 0
	for _, u := range users {
		counts = append(counts, len(u))
		sum += len(u)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	if share := float64(counts[0]) / float64(sum); share < 0.22 || share > 0.33 {
		t.Errorf("largest tenant has %.1f%% of active users, want about 28%%", share*100)
	}
}

func TestTenantIDsAreSlugs(t *testing.T) {
	for _, i := range []int{0, 19, 20, 999} {
		id := tenantID(i)
		if id == "" || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			t.Errorf("tenantID(%d) = %q, want a lowercase slug", i, id)
		}
	}
	if tenantID(20) != "t021" {
		t.Errorf("tenantID(20) = %q, want t021", tenantID(20))
	}
}

func TestSameUserIDExistsInSeveralTenants(t *testing.T) {
	tenants := map[string]map[string]bool{}
	for _, ev := range generateAll(t, testConfig(1)) {
		if !strings.HasPrefix(ev.UserID, "u_") || len(ev.UserID) != 8 {
			t.Fatalf("user id %q, want u_ and six digits", ev.UserID)
		}
		if tenants[ev.UserID] == nil {
			tenants[ev.UserID] = map[string]bool{}
		}
		tenants[ev.UserID][ev.TenantID] = true
	}
	shared := 0
	for _, ts := range tenants {
		if len(ts) >= 2 {
			shared++
		}
	}
	if shared < 100 {
		t.Errorf("only %d user ids appear in two or more tenants", shared)
	}
}

func TestFunnelStepsComeInOrderWithDropOff(t *testing.T) {
	steps := FunnelSteps()
	position := map[string]int{}
	for i, s := range steps {
		position[s] = i
	}
	done := map[userKey][]ingest.Event{}
	first := map[userKey]ingest.Event{}
	for _, ev := range generateAll(t, testConfig(1)) {
		k := userKey{ev.TenantID, ev.UserID}
		if _, ok := first[k]; !ok {
			first[k] = ev
		}
		if _, ok := position[ev.Event]; ok {
			done[k] = append(done[k], ev)
		}
	}
	reached := make([]int, len(steps))
	for k, evs := range done {
		if first[k].Event != EventSessionStarted {
			t.Fatalf("user %v starts with %s, want session_started", k, first[k].Event)
		}
		for i, ev := range evs {
			if ev.Event != steps[i] {
				t.Fatalf("user %v: funnel event %d is %s, want %s", k, i, ev.Event, steps[i])
			}
			reached[i]++
		}
	}
	if len(done) != len(first) {
		t.Errorf("%d users have events but %d signed up", len(first), len(done))
	}
	for i := 1; i < len(steps); i++ {
		if reached[i] == 0 || reached[i] >= reached[i-1] {
			t.Fatalf("funnel %v reached by %v users: want drop-off at every step", steps, reached)
		}
	}
	if rate := float64(reached[4]) / float64(reached[0]); rate < 0.10 || rate > 0.40 {
		t.Errorf("%.0f%% of signups activate, want a realistic 10-40%%", rate*100)
	}
}

func TestSomeFunnelStepsTakeDays(t *testing.T) {
	var signup = map[userKey]time.Time{}
	slow := 0
	for _, ev := range generateAll(t, testConfig(1)) {
		k := userKey{ev.TenantID, ev.UserID}
		switch ev.Event {
		case EventSignup:
			signup[k] = ev.TS
		case EventActivated:
			if ev.TS.Sub(signup[k]) > 48*time.Hour {
				slow++
			}
		}
	}
	if slow == 0 {
		t.Error("nobody activates more than two days after signup")
	}
}

func TestSessionsBelongToOneUserAndStartWithSessionStarted(t *testing.T) {
	owner := map[string]userKey{}
	sessions := 0
	for _, ev := range generateAll(t, testConfig(1)) {
		k := userKey{ev.TenantID, ev.UserID}
		o, seen := owner[ev.SessionID]
		switch {
		case !seen:
			if ev.Event != EventSessionStarted {
				t.Fatalf("session %s starts with %s", ev.SessionID, ev.Event)
			}
			owner[ev.SessionID] = k
			sessions++
		case o != k:
			t.Fatalf("session %s is shared by %v and %v", ev.SessionID, o, k)
		case ev.Event == EventSessionStarted:
			t.Fatalf("session %s starts twice", ev.SessionID)
		}
	}
	if sessions < 2000 {
		t.Errorf("only %d sessions for 2000 users", sessions)
	}
}

func TestAPIRequestsCarryLatencyAndStatus(t *testing.T) {
	var n, ok, client, server int
	var latencies []float64
	for _, ev := range generateAll(t, testConfig(1)) {
		if ev.Event != EventAPIRequest {
			continue
		}
		p := props(t, ev)
		latency, isNum := p["latency_ms"].(float64)
		status, isStatus := p["status"].(float64)
		if !isNum || latency < 1 || latency != float64(int64(latency)) || !isStatus {
			t.Fatalf("api_request %s has latency_ms %v, status %v", ev.EventID, p["latency_ms"], p["status"])
		}
		if _, ok := p["endpoint"].(string); !ok {
			t.Fatalf("api_request %s has no endpoint", ev.EventID)
		}
		n++
		latencies = append(latencies, latency)
		switch {
		case status < 300:
			ok++
		case status < 500:
			client++
		default:
			server++
		}
	}
	if n < 1000 {
		t.Fatalf("only %d api_request events", n)
	}
	if float64(ok)/float64(n) < 0.9 || client == 0 || server == 0 {
		t.Errorf("statuses: %d ok, %d 4xx, %d 5xx: want mostly 2xx and some of each error", ok, client, server)
	}
	sort.Float64s(latencies)
	p50, p99 := latencies[n/2], latencies[n*99/100]
	if p50 < 20 || p50 > 300 || p99 < 3*p50 {
		t.Errorf("latency p50 %v ms, p99 %v ms: want a long-tailed distribution around ~100 ms", p50, p99)
	}
}

func TestFeaturesHaveDifferentAdoption(t *testing.T) {
	adopters := map[string]map[userKey]bool{}
	for _, ev := range generateAll(t, testConfig(1)) {
		if adopters[ev.Event] == nil {
			adopters[ev.Event] = map[userKey]bool{}
		}
		adopters[ev.Event][userKey{ev.TenantID, ev.UserID}] = true
	}
	f := Features()
	for i := 1; i < len(f); i++ {
		if len(adopters[f[i]]) == 0 {
			t.Errorf("nobody uses %s", f[i])
		}
	}
	report, shared := len(adopters[EventReportExported]), len(adopters[EventDashboardShared])
	if report < 4*shared || report < len(adopters[EventAlertCreated]) {
		t.Errorf("adopters: report_exported %d, alert_created %d, dashboard_shared %d: want report_exported common, dashboard_shared rare",
			report, len(adopters[EventAlertCreated]), shared)
	}
}

func TestPropertiesAndContextCarryPlanAndDevice(t *testing.T) {
	plans := map[string]map[string]bool{}
	versions := map[string]time.Time{}
	for _, ev := range generateAll(t, testConfig(1)) {
		p := props(t, ev)
		plan, _ := p["plan"].(string)
		if plan != "free" && plan != "pro" && plan != "enterprise" {
			t.Fatalf("event %s has plan %v", ev.EventID, p["plan"])
		}
		if plans[ev.TenantID] == nil {
			plans[ev.TenantID] = map[string]bool{}
		}
		plans[ev.TenantID][plan] = true
		var c map[string]string
		if err := json.Unmarshal(ev.Context, &c); err != nil {
			t.Fatalf("context %s: %v", ev.Context, err)
		}
		if c["app_version"] == "" || c["os"] == "" || c["browser"] == "" || len(c["country"]) != 2 {
			t.Fatalf("context %s lacks app_version, os, browser or country", ev.Context)
		}
		if _, seen := versions[c["app_version"]]; !seen {
			versions[c["app_version"]] = ev.TS
		}
	}
	for tenant, ps := range plans {
		if len(ps) != 1 {
			t.Errorf("tenant %s has plans %v; plans are sticky per tenant", tenant, ps)
		}
	}
	if len(versions) < 3 {
		t.Errorf("app versions %v: want several rolling out", versions)
	}
}

func TestMaxEventsCapsWithoutChangingEvents(t *testing.T) {
	cfg := testConfig(3)
	all := generateAll(t, cfg)
	cfg.MaxEvents = 100
	capped := generateAll(t, cfg)
	if len(capped) != 100 {
		t.Fatalf("got %d events, want 100", len(capped))
	}
	for i := range capped {
		a, _ := json.Marshal(capped[i])
		b, _ := json.Marshal(all[i])
		if !bytes.Equal(a, b) {
			t.Fatalf("event %d differs when capped:\n%s\n%s", i, a, b)
		}
	}
}

func TestGenerateStopsOnEmitErrorOrCancel(t *testing.T) {
	boom := errors.New("boom")
	n := 0
	err := Generate(context.Background(), testConfig(1), func(ingest.Event) error {
		n++
		if n == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 10 {
		t.Errorf("Generate returned %v after %d events, want boom after 10", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err = Generate(ctx, testConfig(1), func(ingest.Event) error {
		if n++; n == 5000 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n > 5000+1024 {
		t.Errorf("Generate returned %v after %d events, want context.Canceled soon after 5000", err, n)
	}
}

func TestConfigValidate(t *testing.T) {
	good := testConfig(1)
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"valid", func(*Config) {}, ""},
		{"no tenants", func(c *Config) { c.Tenants = 0 }, "tenants must be at least 1"},
		{"no users", func(c *Config) { c.Users = 0 }, "users must be between"},
		{"more tenants than users", func(c *Config) { c.Tenants, c.Users = 5, 4 }, "must not exceed users"},
		{"end before start", func(c *Config) { c.End = c.Start.Add(-time.Hour) }, "must be after start"},
		{"unset range", func(c *Config) { c.Start = time.Time{} }, "must be set"},
		{"negative cap", func(c *Config) { c.MaxEvents = -1 }, "max events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.change(&cfg)
			err := cfg.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestTinyConfigsWork(t *testing.T) {
	for _, cfg := range []Config{
		{Seed: 1, Tenants: 1, Users: 1, Start: testEnd.Add(-time.Hour), End: testEnd},
		{Seed: 1, Tenants: 3, Users: 3, Start: testEnd.AddDate(-1, 0, 0), End: testEnd},
	} {
		events := generateAll(t, cfg)
		for _, ev := range events {
			if ev.TS.Before(cfg.Start) || !ev.TS.Before(cfg.End) {
				t.Fatalf("event at %s outside the range", ev.TS)
			}
		}
	}
}

func TestDefaultRangeEndsAtTodaysMidnight(t *testing.T) {
	start, end := DefaultRange(time.Date(2026, 3, 10, 15, 4, 5, 0, time.FixedZone("X", 3600)))
	if want := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC); !end.Equal(want) || !start.Equal(want.AddDate(0, 0, -DefaultDays)) {
		t.Errorf("DefaultRange = %s .. %s", start, end)
	}
}
