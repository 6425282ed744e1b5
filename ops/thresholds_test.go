package ops_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pulse-analytics/pulse/ops"
)

// healthy is a snapshot of every source read, within every limit below.
func healthy() ops.Snapshot {
	at := time.Date(2026, 10, 1, 15, 0, 0, 0, time.UTC)
	newest := at.Add(-30 * time.Second)
	return ops.Snapshot{
		Gateway: ops.Reading[ops.GatewayFigures]{Enabled: true, At: at, Value: ops.GatewayFigures{
			Window: 2 * time.Second, EventsPerSec: 100, Requests: 200, Share2xx: 0.995, P95Ack: 0.02}},
		Kafka: ops.Reading[ops.KafkaFigures]{Enabled: true, At: at, Value: ops.KafkaFigures{
			Group: "pulse-load", State: "Stable", Members: 1, TotalLag: 40,
			Partitions: []ops.PartitionLag{{Topic: "product_events", Partition: 0, Committed: 60, End: 100, Lag: 40}}}},
		Store: ops.Reading[ops.StoreStats]{Enabled: true, At: at, Value: ops.StoreStats{
			At: at, NewestTS: &newest, Events: 1000,
			Tenants: []ops.TenantDAU{{Tenant: "acme", Today: 10, YesterdaySameTime: 8}}}},
	}
}

func TestEvaluate(t *testing.T) {
	limits := ops.Thresholds{MaxLag: 100, MaxFreshness: time.Minute, MaxErrorRate: 0.01}
	down := errors.New("connection refused")
	tests := []struct {
		name   string
		limits ops.Thresholds
		change func(*ops.Snapshot)
		want   map[string]ops.State
	}{
		{"no thresholds check nothing", ops.NoThresholds, func(*ops.Snapshot) {}, map[string]ops.State{}},
		{"every figure within its limit", limits, func(*ops.Snapshot) {},
			map[string]ops.State{ops.CheckLag: ops.StateOK, ops.CheckFreshness: ops.StateOK, ops.CheckErrorRate: ops.StateOK}},
		{"a limit is inclusive", ops.Thresholds{MaxLag: 40, MaxErrorRate: -1}, func(*ops.Snapshot) {},
			map[string]ops.State{ops.CheckLag: ops.StateOK}},
		{"lag past its limit", limits, func(s *ops.Snapshot) { s.Kafka.Value.TotalLag = 101 },
			map[string]ops.State{ops.CheckLag: ops.StateBreach, ops.CheckFreshness: ops.StateOK, ops.CheckErrorRate: ops.StateOK}},
		{"stale store", limits, func(s *ops.Snapshot) { s.Store.Value.At = s.Store.Value.At.Add(time.Hour) },
			map[string]ops.State{ops.CheckLag: ops.StateOK, ops.CheckFreshness: ops.StateBreach, ops.CheckErrorRate: ops.StateOK}},
		{"an empty store is not fresh", limits, func(s *ops.Snapshot) { s.Store.Value.NewestTS = nil },
			map[string]ops.State{ops.CheckLag: ops.StateOK, ops.CheckFreshness: ops.StateBreach, ops.CheckErrorRate: ops.StateOK}},
		{"error rate past its limit", limits, func(s *ops.Snapshot) { s.Gateway.Value.Share2xx = 0.98 },
			map[string]ops.State{ops.CheckLag: ops.StateOK, ops.CheckFreshness: ops.StateOK, ops.CheckErrorRate: ops.StateBreach}},
		{"a window without requests passes", limits, func(s *ops.Snapshot) { s.Gateway.Value.Share2xx = math.NaN() },
			map[string]ops.State{ops.CheckLag: ops.StateOK, ops.CheckFreshness: ops.StateOK, ops.CheckErrorRate: ops.StateOK}},
		{"an unreadable source leaves its check unknown", limits, func(s *ops.Snapshot) { s.Kafka.Err = down },
			map[string]ops.State{ops.CheckLag: ops.StateUnknown, ops.CheckFreshness: ops.StateOK, ops.CheckErrorRate: ops.StateOK}},
		{"so does a source not configured", limits, func(s *ops.Snapshot) { s.Store = ops.Reading[ops.StoreStats]{} },
			map[string]ops.State{ops.CheckLag: ops.StateOK, ops.CheckFreshness: ops.StateUnknown, ops.CheckErrorRate: ops.StateOK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := healthy()
			tt.change(&s)
			checks := tt.limits.Evaluate(s)
			got := map[string]ops.State{}
			for _, c := range checks {
				got[c.Name] = c.State
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("checks = %v, want %v", got, tt.want)
			}
			wantBreach := false
			for _, st := range tt.want {
				wantBreach = wantBreach || st == ops.StateBreach
			}
			if ops.Breached(checks) != wantBreach {
				t.Errorf("Breached = %v, want %v", !wantBreach, wantBreach)
			}
		})
	}
}

func TestFiguresFlattenEverySourceAndMarkChecks(t *testing.T) {
	s := healthy()
	s.ClickHouse = ops.Reading[ops.ClickHouseFigures]{Enabled: true, Err: errors.New("connection refused")}
	checks := ops.Thresholds{MaxLag: 10, MaxFreshness: 0, MaxErrorRate: -1}.Evaluate(s)
	figures := ops.Figures(s, checks)
	find := func(source, name, scope string) ops.Figure {
		for _, f := range figures {
			if f.Source == source && f.Name == name && f.Scope == scope {
				return f
			}
		}
		t.Fatalf("no figure %s/%s/%s in %+v", source, name, scope, figures)
		return ops.Figure{}
	}
	if f := find("kafka", "lag", ""); f.Value != 40 || f.Limit != 10 || f.Status != string(ops.StateBreach) {
		t.Errorf("total lag = %+v, want 40 against 10, breach", f)
	}
	if f := find("kafka", "lag", "product_events/0"); f.Value != 40 || !math.IsNaN(f.Limit) || f.Status != "" {
		t.Errorf("partition lag = %+v, want 40 with no limit", f)
	}
	if f := find("store", "freshness", ""); f.Value != 30 || !math.IsNaN(f.Limit) {
		t.Errorf("freshness = %+v, want 30 s and no limit", f)
	}
	if f := find("store", "dau_today", "acme"); f.Value != 10 {
		t.Errorf("acme's DAU = %+v, want 10", f)
	}
	if f := find("clickhouse", "source", ""); f.Status != ops.StatusError || f.Detail != "connection refused" {
		t.Errorf("failed source = %+v, want an error row", f)
	}
	if f := find("gateway", "error_rate", ""); !sameFloat(f.Value, 0.005) {
		t.Errorf("error rate = %+v, want 0.005", f)
	}
}

func TestFiguresListChecksWhoseSourceFailed(t *testing.T) {
	s := healthy()
	s.Kafka.Err = errors.New("connection refused")
	figures := ops.Figures(s, ops.Thresholds{MaxLag: 10, MaxErrorRate: -1}.Evaluate(s))
	last := figures[len(figures)-1]
	if last.Source != "check" || last.Name != ops.CheckLag || last.Status != string(ops.StateUnknown) || last.Limit != 10 {
		t.Errorf("last row = %+v, want the lag check, unknown", last)
	}
}

type fixedStore struct {
	stats ops.StoreStats
	err   error
}

func (f fixedStore) Stats(context.Context) (ops.StoreStats, error) { return f.stats, f.err }
func (f fixedStore) Describe() string                              { return "fixed" }

func TestCollectReadsEverySourceOnItsOwn(t *testing.T) {
	m, srv := fakeGateway(t)
	// Requests arrive between the two scrapes.
	go func() {
		time.Sleep(20 * time.Millisecond)
		m.EventsAccepted.Add(50)
		m.Requests.WithLabelValues("/v1/batch", "202").Add(5)
	}()
	src := ops.Sources{
		Gateway: ops.NewGatewaySource(srv.URL),
		Store:   fixedStore{err: errors.New("disk on fire")},
	}
	snap := ops.Collect(context.Background(), src, 200*time.Millisecond, time.Second)
	if !snap.Gateway.OK() || snap.Gateway.Value.EventsPerSec <= 0 || snap.Gateway.Value.Share2xx != 1 {
		t.Errorf("gateway = %+v, want a rate from two scrapes", snap.Gateway)
	}
	if snap.Store.OK() || snap.Store.Err == nil {
		t.Errorf("store = %+v, want its error", snap.Store)
	}
	if snap.Kafka.Enabled || snap.ClickHouse.Enabled {
		t.Errorf("kafka and clickhouse are not configured, yet enabled")
	}
}

func TestCollectGivesUpOnASourceAtTheTimeout(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	start := time.Now()
	snap := ops.Collect(context.Background(), ops.Sources{Gateway: ops.NewGatewaySource(hang.URL)}, time.Millisecond, 200*time.Millisecond)
	if snap.Gateway.Err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("gateway = %+v after %s, want a timeout error soon", snap.Gateway, time.Since(start))
	}
}
