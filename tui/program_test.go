package tui

import (
	"bytes"
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/ops"
)

type countingStore struct {
	mu    sync.Mutex
	reads int
}

func (c *countingStore) Stats(context.Context) (ops.StoreStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	now := time.Now().UTC()
	return ops.StoreStats{At: now, NewestTS: &now, Events: int64(c.reads),
		Tenants: []ops.TenantDAU{{Tenant: "acme", Today: 3, YesterdaySameTime: 2}}}, nil
}

func (c *countingStore) Describe() string { return "test store" }

// TestProgramShowsLiveFiguresAndQuits drives the real program loop: reads
// run as commands on a ticking clock against a gateway whose counters
// move, while keys switch the tenant and quit.
func TestProgramShowsLiveFiguresAndQuits(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics := ingest.NewMetrics(reg)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			metrics.EventsAccepted.Add(10)
			metrics.Requests.WithLabelValues("/v1/batch", "202").Inc()
			metrics.RequestDuration.WithLabelValues("/v1/batch").Observe(0.003)
			time.Sleep(10 * time.Millisecond)
		}
	}()

	cfg := testConfig()
	cfg.Ctx = ctx
	cfg.Now = time.Now
	cfg.Interval = 100 * time.Millisecond
	cfg.Sources = ops.Sources{Gateway: ops.NewGatewaySource(srv.URL), Store: &countingStore{}}
	tm := teatest.NewTestModel(t, New(cfg), teatest.WithInitialTermSize(80, 24))

	teatest.WaitFor(t, tm.Output(), func(out []byte) bool {
		return bytes.Contains(out, []byte("acme")) && bytes.Contains(out, []byte("100.0%"))
	}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(50*time.Millisecond))
	// A few more intervals, for the sparkline and the store's re-reads.
	time.Sleep(6 * cfg.Interval)
	tm.Type("t")
	tm.Type("q")
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)

	g := final.snap.Gateway
	if !g.OK() || !(g.Value.EventsPerSec > 0) || g.Value.Share2xx != 1 {
		t.Errorf("gateway reading = %+v, want live events/s and a 100%% 2xx share", g)
	}
	if len(final.rates) < 2 {
		t.Errorf("sparkline has %d readings, want several", len(final.rates))
	}
	if final.tenant != "acme" {
		t.Errorf("tenant = %q after t, want acme", final.tenant)
	}
	if final.snap.Store.Value.Events < 2 {
		t.Errorf("the store was read %d times, want it re-read every interval", final.snap.Store.Value.Events)
	}
}
