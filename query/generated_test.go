package query

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulse-analytics/pulse/gen"
	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/store"
)

// The check below generates a data set with `pulse gen`'s generator,
// loads it through the HTTP gateway into an embedded store, and compares
// every metric with the same metric computed here in plain Go over the
// generated events, without SQL: per-user sets, sorts and loops that follow
// the README's definitions.

var genConfig = gen.Config{
	Seed: 7, Tenants: 4, Users: 1500,
	Start: time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC),
	End:   time.Date(2025, 5, 16, 0, 0, 0, 0, time.UTC),
}

// refEvent is a generated event with its JSON objects decoded.
type refEvent struct {
	tenant, user, name string
	ts                 time.Time
	props, context     map[string]any
}

func generated(t *testing.T) []refEvent {
	t.Helper()
	var out []refEvent
	err := gen.Generate(context.Background(), genConfig, func(e ingest.Event) error {
		r := refEvent{tenant: e.TenantID, user: e.UserID, name: e.Event, ts: e.TS.UTC()}
		if err := json.Unmarshal(e.Properties, &r.props); err != nil {
			return err
		}
		if err := json.Unmarshal(e.Context, &r.context); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// loadThroughGateway posts the generated data set to an in-process gateway
// backed by an embedded store, as `pulse gen --target` does, then opens
// the store read-only.
func loadThroughGateway(t *testing.T, want int) *Embedded {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pulse.db")
	st, err := store.Open(ctx, store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	metrics := ingest.NewMetrics(reg)
	sink := store.NewSink(st, store.SinkConfig{}, metrics)
	gw := ingest.NewGateway(ingest.GatewayConfig{}, ingest.NewContract(), sink, metrics, reg)
	srv := httptest.NewServer(gw.Handler())
	summary, err := gen.Drive(ctx, genConfig, gen.DriverConfig{Target: srv.URL, Batch: 500, Concurrency: 4})
	srv.Close()
	sink.Close()
	if cerr := st.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if summary.Accepted != int64(want) {
		t.Fatalf("gateway accepted %d of %d events (rejections %v)", summary.Accepted, want, summary.Rejections)
	}
	b, err := OpenEmbedded(ctx, EmbeddedOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestMetricsMatchIndependentComputationOnGeneratedData(t *testing.T) {
	events := generated(t)
	b := loadThroughGateway(t, len(events))
	rng := days("2025-04-15", "2025-05-15")
	first, last := rng.Days()

	// Check the largest and the smallest tenant; gen makes user ids collide
	// across tenants, so any leak between tenants shows.
	sizes := map[string]int{}
	for _, e := range events {
		sizes[e.tenant]++
	}
	tenants := make([]string, 0, len(sizes))
	for tn := range sizes {
		tenants = append(tenants, tn)
	}
	slices.SortFunc(tenants, func(a, b string) int { return cmp.Compare(sizes[b], sizes[a]) })
	tenants = []string{tenants[0], tenants[len(tenants)-1]}

	for _, tenant := range tenants {
		scope := Scope{Tenant: tenant}
		of := func(name string) []refEvent {
			var out []refEvent
			for _, e := range events {
				if e.tenant == tenant && (name == "" || e.name == name) {
					out = append(out, e)
				}
			}
			return out
		}
		t.Run(tenant+"/active", func(t *testing.T) {
			got := mustRun(t, b, Active{Scope: scope, Range: rng})
			compareRows(t, rows(got), refActive(of(""), first, last))
			got = mustRun(t, b, Active{Scope: scope, Range: rng, Event: gen.EventReportExported})
			compareRows(t, rows(got), refActive(of(gen.EventReportExported), first, last))
		})
		t.Run(tenant+"/events", func(t *testing.T) {
			by := Field{Source: "context", Key: "os"}
			got := mustRun(t, b, Events{Scope: scope, Range: rng, Interval: Week, By: &by, Top: 3})
			compareRows(t, rows(got), refEvents(of(""), rng, 3))
		})
		t.Run(tenant+"/funnel", func(t *testing.T) {
			steps := gen.FunnelSteps()[:4]
			window := 3 * 24 * time.Hour
			got := mustRun(t, b, Funnel{Scope: scope, Range: rng, Steps: steps, Window: window})
			compareRows(t, rows(got), refFunnel(t, of(""), rng, steps, window))
		})
		t.Run(tenant+"/retention", func(t *testing.T) {
			for _, period := range []Interval{Day, Week} {
				got := mustRun(t, b, Retention{Scope: scope, Range: rng, StartEvent: gen.EventSignup,
					ReturnEvent: gen.EventSessionStarted, Period: period, Periods: 5})
				compareRows(t, rows(got), refRetention(of(""), first, last, period, 5))
			}
		})
		t.Run(tenant+"/adoption", func(t *testing.T) {
			got := mustRun(t, b, Adoption{Scope: scope, Range: rng, Feature: gen.EventReportExported, Period: Week})
			compareRows(t, rows(got), refAdoption(of(""), first, last, gen.EventReportExported))
		})
		t.Run(tenant+"/latency", func(t *testing.T) {
			got := mustRun(t, b, Latency{Scope: scope, Range: rng, Interval: Day, Event: gen.EventAPIRequest,
				Field: Field{Source: "properties", Key: "latency_ms"}})
			compareRows(t, rows(got), refLatency(of(gen.EventAPIRequest), first, last))
		})
		t.Run(tenant+"/errors", func(t *testing.T) {
			where, err := ParseCondition("properties.status>=500")
			if err != nil {
				t.Fatal(err)
			}
			got := mustRun(t, b, ErrorRate{Scope: scope, Range: rng, Interval: Day, Event: gen.EventAPIRequest, Where: where})
			compareRows(t, rows(got), refErrors(of(gen.EventAPIRequest), first, last))
		})
	}

	t.Run("all-tenants/active", func(t *testing.T) {
		got := mustRun(t, b, Active{Scope: Scope{AllTenants: true}, Range: rng})
		var want []string
		all := slices.Sorted(mapsKeys(sizes))
		for _, tenant := range all {
			var evs []refEvent
			for _, e := range events {
				if e.tenant == tenant {
					evs = append(evs, e)
				}
			}
			for _, r := range refActive(evs, first, last) {
				want = append(want, tenant+" | "+r)
			}
		}
		compareRows(t, rows(got), want)
	})
}

func mapsKeys(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func compareRows(t *testing.T, got, want []string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("the reference computation produced no rows: the check would be vacuous")
	}
	if len(got) != len(want) {
		t.Errorf("%d rows, want %d", len(got), len(want))
	}
	bad := 0
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			if bad < 10 {
				t.Errorf("row %d:\n got  %s\n want %s", i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 10 {
		t.Errorf("... %d rows differ in all", bad)
	}
}

func utcDay(ts time.Time) time.Time { return ts.UTC().Truncate(24 * time.Hour) }

func ratio(a, b int) string {
	if b == 0 {
		return "NULL"
	}
	return fmt.Sprint(Round(float64(a) / float64(b)))
}

func refActive(evs []refEvent, first, last time.Time) []string {
	active := map[string]map[time.Time]bool{}
	for _, e := range evs {
		if active[e.user] == nil {
			active[e.user] = map[time.Time]bool{}
		}
		active[e.user][utcDay(e.ts)] = true
	}
	var out []string
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		var dau, wau, mau int
		for _, set := range active {
			within := func(n int) bool {
				for k := 0; k < n; k++ {
					if set[d.AddDate(0, 0, -k)] {
						return true
					}
				}
				return false
			}
			if within(1) {
				dau++
			}
			if within(7) {
				wau++
			}
			if within(30) {
				mau++
			}
		}
		out = append(out, fmt.Sprintf("%s | %d | %d | %d | %s", d.Format(time.DateOnly), dau, wau, mau, ratio(dau, mau)))
	}
	return out
}

// isoWeek returns the Monday starting ts's ISO week.
func isoWeek(ts time.Time) time.Time {
	d := utcDay(ts)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

func refEvents(evs []refEvent, r Range, top int) []string {
	type series struct{ event, value string }
	counts := map[string]map[string]int{} // event → value → events
	var in []refEvent
	for _, e := range evs {
		if e.ts.Before(r.Start) || !e.ts.Before(r.End) {
			continue
		}
		in = append(in, e)
		v := "(none)"
		if x, ok := e.context["os"]; ok && x != nil {
			v = fmt.Sprint(x)
		}
		if counts[e.name] == nil {
			counts[e.name] = map[string]int{}
		}
		counts[e.name][v]++
	}
	rank := map[series]int{} // value → rank within its event, top+1 = other
	for name, byValue := range counts {
		values := make([]string, 0, len(byValue))
		for v := range byValue {
			values = append(values, v)
		}
		sort.Slice(values, func(i, j int) bool {
			if byValue[values[i]] != byValue[values[j]] {
				return byValue[values[i]] > byValue[values[j]]
			}
			return values[i] < values[j]
		})
		for i, v := range values {
			rank[series{name, v}] = i + 1
		}
	}
	group := func(e refEvent) (series, int) {
		v := "(none)"
		if x, ok := e.context["os"]; ok && x != nil {
			v = fmt.Sprint(x)
		}
		if k := rank[series{e.name, v}]; k <= top {
			return series{e.name, v}, k
		}
		return series{e.name, "(other)"}, top + 1
	}
	type cell struct {
		week time.Time
		s    series
	}
	n := map[cell]int{}
	users := map[cell]map[string]bool{}
	seriesRank := map[series]int{}
	for _, e := range in {
		s, k := group(e)
		seriesRank[s] = k
		c := cell{isoWeek(e.ts), s}
		n[c]++
		if users[c] == nil {
			users[c] = map[string]bool{}
		}
		users[c][e.user] = true
	}
	all := make([]series, 0, len(seriesRank))
	for s := range seriesRank {
		all = append(all, s)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].event != all[j].event {
			return all[i].event < all[j].event
		}
		return seriesRank[all[i]] < seriesRank[all[j]]
	})
	var out []string
	for w := isoWeek(r.Start); w.Before(r.End); w = w.AddDate(0, 0, 7) {
		for _, s := range all {
			c := cell{w, s}
			out = append(out, fmt.Sprintf("%s | %s | %s | %d | %d", w.Format(time.RFC3339), s.event, s.value, n[c], len(users[c])))
		}
	}
	return out
}

// refFunnel computes each user's funnel level with the algorithm of
// ClickHouse's windowFunnel (default mode) ported literally, and each
// user's shortest duration to a step by searching every chain.
func refFunnel(t *testing.T, evs []refEvent, r Range, steps []string, window time.Duration) []string {
	w := window.Milliseconds()
	type hit struct {
		t    int64
		step int
	}
	hits := map[string][]hit{}
	for _, e := range evs {
		for i, s := range steps {
			if e.name != s || e.ts.Before(r.Start) {
				continue
			}
			if i == 0 && !e.ts.Before(r.End) || i > 0 && !e.ts.Before(r.End.Add(window)) {
				continue
			}
			hits[e.user] = append(hits[e.user], hit{e.ts.UnixMilli(), i + 1})
		}
	}
	reached := make([]int, len(steps)+1)
	durations := make([][]int64, len(steps)+1)
	for _, hs := range hits {
		sort.Slice(hs, func(i, j int) bool {
			if hs[i].t != hs[j].t {
				return hs[i].t < hs[j].t
			}
			return hs[i].step < hs[j].step
		})
		// windowFunnel: first[k] is the step-1 time of the chain that
		// reached step k+1 most recently.
		first := make([]int64, len(steps))
		set := make([]bool, len(steps))
		for _, h := range hs {
			k := h.step - 1
			if k == 0 {
				first[0], set[0] = h.t, true
			} else if set[k-1] && h.t <= first[k-1]+w {
				first[k], set[k] = first[k-1], true
			}
		}
		level := 0
		for k := range set {
			if set[k] {
				level = k + 1
			}
		}
		// best[i] is the latest step-1 time of any chain ending at hit i;
		// chains are followed hit by hit in sorted order.
		best := make([]int64, len(hs))
		ok := make([]bool, len(hs))
		shortest := map[int]int64{}
		for i, h := range hs {
			if h.step == 1 {
				best[i], ok[i] = h.t, true
			} else {
				for j := 0; j < i; j++ {
					if ok[j] && hs[j].step == h.step-1 && h.t-best[j] <= w && (!ok[i] || best[j] > best[i]) {
						best[i], ok[i] = best[j], true
					}
				}
			}
			if ok[i] {
				if d, seen := shortest[h.step]; !seen || h.t-best[i] < d {
					shortest[h.step] = h.t - best[i]
				}
			}
		}
		if len(shortest) != level {
			t.Fatalf("reference disagrees with itself: level %d, chains reach %d steps", level, len(shortest))
		}
		for k := 1; k <= level; k++ {
			reached[k]++
			durations[k] = append(durations[k], shortest[k])
		}
	}
	var out []string
	for k := 1; k <= len(steps); k++ {
		prev := reached[k]
		if k > 1 {
			prev = reached[k-1]
		}
		median := "NULL"
		if d := durations[k]; len(d) > 0 {
			slices.Sort(d)
			m := float64(d[len(d)/2])
			if len(d)%2 == 0 {
				m = (float64(d[len(d)/2-1]) + float64(d[len(d)/2])) / 2
			}
			median = fmt.Sprint(Round(m / 1000))
		}
		out = append(out, fmt.Sprintf("%d | %s | %d | %s | %s | %s", k, steps[k-1], reached[k], ratio(reached[k], prev), ratio(reached[k], reached[1]), median))
	}
	return out
}

func periodStart(d time.Time, p Interval) time.Time {
	switch p {
	case Week:
		return isoWeek(d)
	case Month:
		return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return utcDay(d)
}

func refRetention(evs []refEvent, first, last time.Time, period Interval, periods int) []string {
	step := 1
	if period == Week {
		step = 7
	}
	firstStart := map[string]time.Time{}
	returns := map[string]map[time.Time]bool{}
	for _, e := range evs {
		d := utcDay(e.ts)
		if d.After(last) {
			continue
		}
		if e.name == gen.EventSignup {
			if f, ok := firstStart[e.user]; !ok || d.Before(f) {
				firstStart[e.user] = d
			}
		}
		if e.name == gen.EventSessionStarted && !d.Before(first) {
			if returns[e.user] == nil {
				returns[e.user] = map[time.Time]bool{}
			}
			returns[e.user][periodStart(d, period)] = true
		}
	}
	cohorts := map[time.Time][]string{}
	for u, f := range firstStart {
		if !f.Before(first) {
			c := periodStart(f, period)
			cohorts[c] = append(cohorts[c], u)
		}
	}
	var out []string
	for c := periodStart(first, period); !c.After(last); c = c.AddDate(0, 0, step) {
		members := cohorts[c]
		row := fmt.Sprintf("%s | %d", c.Format(time.DateOnly), len(members))
		for n := 1; n <= periods; n++ {
			p := c.AddDate(0, 0, n*step)
			if p.After(last) {
				row += " | NULL"
				continue
			}
			back := 0
			for _, u := range members {
				if returns[u][p] {
					back++
				}
			}
			row += " | " + ratio(back, len(members))
		}
		out = append(out, row)
	}
	return out
}

func refAdoption(evs []refEvent, first, last time.Time, feature string) []string {
	active := map[time.Time]map[string]bool{}
	used := map[time.Time]map[string]bool{}
	firstUse := map[string]time.Time{}
	add := func(m map[time.Time]map[string]bool, k time.Time, u string) {
		if m[k] == nil {
			m[k] = map[string]bool{}
		}
		m[k][u] = true
	}
	for _, e := range evs {
		d := utcDay(e.ts)
		if d.After(last) {
			continue
		}
		if e.name == feature {
			if f, ok := firstUse[e.user]; !ok || d.Before(f) {
				firstUse[e.user] = d
			}
		}
		if d.Before(first) {
			continue
		}
		add(active, isoWeek(d), e.user)
		if e.name == feature {
			add(used, isoWeek(d), e.user)
		}
	}
	var out []string
	for w := isoWeek(first); !w.After(last); w = w.AddDate(0, 0, 7) {
		end := w.AddDate(0, 0, 6)
		if end.After(last) {
			end = last
		}
		var newcomers, total int
		for _, f := range firstUse {
			if !f.After(end) {
				total++
				if !f.Before(w) && !f.Before(first) {
					newcomers++
				}
			}
		}
		out = append(out, fmt.Sprintf("%s | %d | %d | %s | %d | %d", w.Format(time.DateOnly),
			len(active[w]), len(used[w]), ratio(len(used[w]), len(active[w])), newcomers, total))
	}
	return out
}

// r7 is the R-7 quantile of sorted values: linear interpolation at
// position (n-1)p.
func r7(sorted []float64, p float64) float64 {
	pos := float64(len(sorted)-1) * p
	lo := math.Floor(pos)
	hi := math.Ceil(pos)
	return sorted[int(lo)] + (sorted[int(hi)]-sorted[int(lo)])*(pos-lo)
}

func refLatency(evs []refEvent, first, last time.Time) []string {
	values := map[time.Time][]float64{}
	count := map[time.Time]int{}
	for _, e := range evs {
		d := utcDay(e.ts)
		if d.Before(first) || d.After(last) {
			continue
		}
		count[d]++
		if v, ok := e.props["latency_ms"].(float64); ok {
			values[d] = append(values[d], v)
		}
	}
	var out []string
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		vs := values[d]
		row := fmt.Sprintf("%s | %d | %d", d.Format(time.RFC3339), count[d], len(vs))
		if len(vs) == 0 {
			row += " | NULL | NULL | NULL"
		} else {
			slices.Sort(vs)
			for _, p := range []float64{0.5, 0.95, 0.99} {
				row += " | " + fmt.Sprint(Round(r7(vs, p)))
			}
		}
		out = append(out, row)
	}
	return out
}

func refErrors(evs []refEvent, first, last time.Time) []string {
	count := map[time.Time]int{}
	failed := map[time.Time]int{}
	for _, e := range evs {
		d := utcDay(e.ts)
		if d.Before(first) || d.After(last) {
			continue
		}
		count[d]++
		if s, ok := e.props["status"].(float64); ok && s >= 500 {
			failed[d]++
		}
	}
	var out []string
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		out = append(out, fmt.Sprintf("%s | %d | %d | %s", d.Format(time.RFC3339), count[d], failed[d], ratio(failed[d], count[d])))
	}
	return out
}
