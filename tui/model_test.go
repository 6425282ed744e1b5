package tui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/pulse-analytics/pulse/ops"
)

// t0 is the pinned clock of every test.
var t0 = time.Date(2026, 10, 1, 15, 4, 5, 0, time.UTC)

type fixedStore struct{ name string }

func (fixedStore) Stats(context.Context) (ops.StoreStats, error) { return ops.StoreStats{}, nil }
func (f fixedStore) Describe() string                            { return f.name }

// testConfig configures every source; the tests feed the model the
// sources' results as messages, so nothing is read.
func testConfig() Config {
	return Config{
		Sources: ops.Sources{
			Gateway:    &ops.GatewaySource{URL: "http://127.0.0.1:8080"},
			Kafka:      &ops.KafkaSource{Group: "pulse-load", Topic: "product_events"},
			ClickHouse: &ops.ClickHouseSource{Label: "http://127.0.0.1:8123/", Database: "pulse"},
			Store:      fixedStore{name: "embedded store via gateway"},
		},
		Interval:   2 * time.Second,
		Thresholds: ops.Thresholds{MaxLag: 1000, MaxFreshness: 5 * time.Minute, MaxErrorRate: 0.05},
		Styles:     NewStyles(false),
		GatewayURL: "http://127.0.0.1:8080",
		Now:        func() time.Time { return t0 },
	}
}

func update(t *testing.T, m Model, msgs ...tea.Msg) Model {
	t.Helper()
	for _, msg := range msgs {
		next, _ := m.Update(msg)
		m = next.(Model)
	}
	return m
}

func press(s string) tea.KeyPressMsg {
	switch s {
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

// gatewayScrape is the gateway's counters after n seconds of a steady
// 250 events/s, with one 429 and one slow request every few seconds.
func gatewayScrape(n int) ops.GatewayScrape {
	inf := math.Inf(1)
	f := float64(n)
	return ops.GatewayScrape{
		At:       t0.Add(time.Duration(n) * time.Second),
		Accepted: 250*f + 25*f*f/10, // speeding up, so the sparkline rises
		Requests: map[ops.RouteCode]float64{
			{Route: "/v1/batch", Code: "202"}: 50 * f,
			{Route: "/v1/batch", Code: "429"}: f / 2,
			{Route: "/healthz", Code: "200"}:  f,
		},
		Latency: []ops.Bucket{
			{UpperBound: 0.005, Count: 40 * f}, {UpperBound: 0.025, Count: 48 * f},
			{UpperBound: 0.1, Count: 50 * f}, {UpperBound: inf, Count: 50 * f},
		},
		BufferEvents: 120,
	}
}

// loaded is a model that has read every source: gateway scrapes two
// seconds apart for a minute, and one reading of each other source.
func loaded(t *testing.T, cfg Config) Model {
	t.Helper()
	m := New(cfg)
	for n := 0; n <= 60; n += 2 {
		m = update(t, m, gatewayMsg{scrape: gatewayScrape(n)})
	}
	newest := t0.Add(-1500 * time.Millisecond)
	return update(t, m,
		storeMsg{at: t0, stats: ops.StoreStats{At: t0, NewestTS: &newest, Events: 1_234_567, Tenants: []ops.TenantDAU{
			{Tenant: "acme", Today: 1204, YesterdaySameTime: 1150},
			{Tenant: "globex", Today: 320, YesterdaySameTime: 0},
			{Tenant: "initech", Today: 75, YesterdaySameTime: 80},
		}}},
		kafkaMsg{at: t0, figures: ops.KafkaFigures{Group: "pulse-load", State: "Stable", Members: 2, TotalLag: 1534, Partitions: []ops.PartitionLag{
			{Topic: "product_events", Partition: 0, Lag: 12}, {Topic: "product_events", Partition: 1, Lag: 0},
			{Topic: "product_events", Partition: 2, Lag: 1200}, {Topic: "product_events", Partition: 3, Lag: 22},
			{Topic: "product_events", Partition: 4, Lag: 300}, {Topic: "product_events", Partition: 5, Lag: 0},
		}}},
		clickhouseMsg{at: t0, figures: ops.ClickHouseFigures{
			InsertErrors: 0, ConsumeErrors: 2, DeadLetters: 3, ActiveParts: 48, MaxPartsInPartition: 9, Merges: 1,
			PulseBytes: 1_288_490_189, DiskUsed: 48 << 30, DiskTotal: 100 << 30,
			LastError: &ops.ServerError{Name: "TOO_MANY_PARTS", At: t0.Add(-time.Hour), Message: "Too many parts (300)\nin partition 202610"},
		}},
	)
}

// longTenant is a tenant id of the longest kind the contract allows: 64
// characters of [A-Za-z0-9._-], telling itself apart from others at both
// ends.
var longTenant = "tenant-39-" + strings.Repeat("x", 44) + "_eu.west-1"

// manyTenants is loaded with 45 tenants, t01 to t43, longTenant (the
// 44th, so 45/46 with all tenants first) and zeta, with longTenant
// selected; its DAU figures are as wide as the figures get in practice.
func manyTenants(t *testing.T) Model {
	t.Helper()
	m := loaded(t, testConfig())
	stats := m.snap.Store.Value
	stats.Tenants = nil
	for i := 1; i <= 43; i++ {
		stats.Tenants = append(stats.Tenants, ops.TenantDAU{Tenant: fmt.Sprintf("t%02d", i), Today: int64(100 * i), YesterdaySameTime: int64(90 * i)})
	}
	stats.Tenants = append(stats.Tenants,
		ops.TenantDAU{Tenant: longTenant, Today: 1_234_567, YesterdaySameTime: 1_198_765},
		ops.TenantDAU{Tenant: "zeta", Today: 7, YesterdaySameTime: 9},
	)
	m = update(t, m, storeMsg{at: t0, stats: stats})
	for m.tenant != longTenant {
		m = update(t, m, press("t"))
	}
	return m
}

func TestKeys(t *testing.T) {
	tests := []struct {
		name  string
		keys  []string
		check func(t *testing.T, m Model)
	}{
		{"p pauses and resumes", []string{"p"}, func(t *testing.T, m Model) {
			if !m.paused {
				t.Error("not paused after p")
			}
		}},
		{"space pauses too, twice resumes", []string{"space", "space"}, func(t *testing.T, m Model) {
			if m.paused {
				t.Error("paused after pressing space twice")
			}
		}},
		{"? shows the help, esc closes it", []string{"?", "esc"}, func(t *testing.T, m Model) {
			if m.showHelp {
				t.Error("help still shown after esc")
			}
		}},
		{"? shows the help", []string{"?"}, func(t *testing.T, m Model) {
			if !m.showHelp {
				t.Error("no help after ?")
			}
		}},
		{"t steps through all tenants, then each by name", []string{"t", "t"}, func(t *testing.T, m Model) {
			if m.tenant != "globex" {
				t.Errorf("tenant = %q, want globex", m.tenant)
			}
		}},
		{"t wraps round to all tenants", []string{"t", "t", "t", "tab"}, func(t *testing.T, m Model) {
			if m.tenant != "" {
				t.Errorf("tenant = %q, want all tenants", m.tenant)
			}
		}},
		{"T steps back from all tenants to the last", []string{"T"}, func(t *testing.T, m Model) {
			if m.tenant != "initech" {
				t.Errorf("tenant = %q, want initech", m.tenant)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loaded(t, testConfig())
			for _, k := range tt.keys {
				if k == "space" {
					m = update(t, m, tea.KeyPressMsg{Code: tea.KeySpace, Text: " "})
					continue
				}
				m = update(t, m, press(k))
			}
			tt.check(t, m)
		})
	}
}

func TestQuitKeysQuit(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c", "esc"} {
		_, cmd := loaded(t, testConfig()).Update(press(k))
		if cmd == nil {
			t.Fatalf("%s: no command", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%s does not quit", k)
		}
	}
}

func TestTenantFromTheFlagIsSelectedEvenBeforeTheStoreKnowsIt(t *testing.T) {
	cfg := testConfig()
	cfg.Tenant = "umbrella"
	m := New(cfg)
	if got := m.tenants(); len(got) != 2 || got[1] != "umbrella" {
		t.Errorf("tenants = %q, want all and umbrella", got)
	}
	m = loaded(t, cfg)
	if got := m.tenants(); len(got) != 5 || m.tenant != "umbrella" {
		t.Errorf("tenants = %q, selected %q; want 4 tenants besides all, umbrella selected", got, m.tenant)
	}
	if view := ansi.Strip(m.Render()); !strings.Contains(view, "tenant umbrella (5/5)   DAU today 0") {
		t.Errorf("view does not show umbrella with no DAU:\n%s", view)
	}
}

func TestReadsAreNotPiledOnASlowSource(t *testing.T) {
	m := New(testConfig())
	if n := len(m.pollAll()); n != 4 {
		t.Fatalf("first poll starts %d reads, want 4", n)
	}
	if n := len(m.pollAll()); n != 0 {
		t.Errorf("a poll while every read is in flight starts %d, want 0", n)
	}
	m = update(t, m, kafkaMsg{at: t0, err: errors.New("slow")})
	if n := len(m.pollAll()); n != 1 {
		t.Errorf("a poll after kafka answered starts %d reads, want 1", n)
	}
}

func TestPausedTicksReadNothing(t *testing.T) {
	m := update(t, New(testConfig()), press("p"))
	later := t0.Add(10 * time.Second)
	m = update(t, m, tickMsg{at: later})
	if len(m.inFlight) != 0 {
		t.Errorf("a paused tick started reads: %v", m.inFlight)
	}
	if !m.now.Equal(later) {
		t.Errorf("clock = %v, want %v: the clock runs while paused", m.now, later)
	}
	m = update(t, m, press("p"), tickMsg{at: later})
	if len(m.inFlight) != 4 {
		t.Errorf("a live tick started %d reads, want 4", len(m.inFlight))
	}
}

func TestGatewayReadsMakeRatesAndTheSparkline(t *testing.T) {
	m := update(t, New(testConfig()), gatewayMsg{scrape: gatewayScrape(0)})
	if g := m.snap.Gateway; !g.OK() || !math.IsNaN(g.Value.EventsPerSec) || len(m.rates) != 0 {
		t.Errorf("after one scrape: %+v, %d rates; want totals only", g, len(m.rates))
	}
	m = update(t, m, gatewayMsg{scrape: gatewayScrape(2)})
	if g := m.snap.Gateway.Value; g.EventsPerSec != 255 || math.Abs(g.Share2xx-100.0/101) > 1e-9 || len(m.rates) != 1 {
		t.Errorf("after two scrapes: %.1f events/s, 2xx %.4f, %d rates; want 255, 100/101, 1", g.EventsPerSec, g.Share2xx, len(m.rates))
	}
	// A failed scrape keeps the last figures, marks the gap in the
	// sparkline, and the next good one is measured from the last good one.
	m = update(t, m, gatewayMsg{err: errors.New("connection refused")})
	if g := m.snap.Gateway; g.Err == nil || g.Value.EventsPerSec != 255 || !math.IsNaN(m.rates[1]) {
		t.Errorf("after a failure: %+v, rates %v", g, m.rates)
	}
	m = update(t, m, gatewayMsg{scrape: gatewayScrape(6)})
	if g := m.snap.Gateway; g.Err != nil || g.Value.Window != 4*time.Second {
		t.Errorf("after recovering: %+v, want a 4 s window", g)
	}
	for range historyLen * 2 {
		m.pushRate(1)
	}
	if len(m.rates) != historyLen {
		t.Errorf("history holds %d rates, want %d", len(m.rates), historyLen)
	}
}

func TestAFailedSourceShowsWhileTheOthersKeepTheirFigures(t *testing.T) {
	m := loaded(t, testConfig())
	m = update(t, m, kafkaMsg{at: t0, err: errors.New("kafka lag of group pulse-load: dial tcp 10.0.0.6:9092: connection refused")})
	view := ansi.Strip(m.Render())
	for _, want := range []string{"✗ unreachable (last ok 15:04:05) kafka lag", "events/s", "DAU today 1,599", "dead letters 1h 3 !"} {
		if !strings.Contains(view, want) {
			t.Errorf("view lacks %q:\n%s", want, view)
		}
	}
}

func TestFailedReadsGoToTheLog(t *testing.T) {
	var log bytes.Buffer
	cfg := testConfig()
	cfg.Log = slog.New(slog.NewTextHandler(&log, nil))
	m := New(cfg)
	msg := m.readCmd(srcKafka, func(context.Context) tea.Msg { return kafkaMsg{err: errors.New("broker gone")} })()
	if _, ok := msg.(kafkaMsg); !ok || !strings.Contains(log.String(), `source=kafka err="broker gone"`) {
		t.Errorf("msg %T, log %q; want the kafka failure logged", msg, log.String())
	}
}
