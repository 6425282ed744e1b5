package ops_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/ops"
)

// fakeGateway serves the gateway's real metrics (ingest.NewMetrics) so
// that the scraper is tested against the names the gateway registers.
func fakeGateway(t *testing.T) (*ingest.Metrics, *httptest.Server) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := ingest.NewMetrics(reg)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return m, srv
}

func TestScrapeReadsTheGatewaysMetricNames(t *testing.T) {
	m, srv := fakeGateway(t)
	m.EventsAccepted.Add(120)
	m.EventsRejected.WithLabelValues("rate_limited").Add(7)
	m.EventsRejected.WithLabelValues("ts").Add(3)
	m.Requests.WithLabelValues("/v1/batch", "202").Add(10)
	m.Requests.WithLabelValues("/v1/batch", "429").Add(2)
	m.Requests.WithLabelValues("/v1/events", "503").Add(1)
	m.RequestDuration.WithLabelValues("/v1/batch").Observe(0.004)
	m.RequestDuration.WithLabelValues("/healthz").Observe(0.0001)
	m.BufferDepth.Set(42)
	m.FlushErrors.Inc()

	s, err := ops.NewGatewaySource(srv.URL + "/").Scrape(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Accepted != 120 || s.Rejected != 10 || s.BufferEvents != 42 || s.FlushErrors != 1 {
		t.Errorf("accepted %v rejected %v buffer %v flush errors %v; want 120 10 42 1", s.Accepted, s.Rejected, s.BufferEvents, s.FlushErrors)
	}
	if got := s.Requests[ops.RouteCode{Route: "/v1/batch", Code: "429"}]; got != 2 {
		t.Errorf("429s on /v1/batch = %v, want 2", got)
	}
	// Only the ingest routes' observations: the probe is left out.
	if last := s.Latency[len(s.Latency)-1]; !math.IsInf(last.UpperBound, 1) || last.Count != 1 {
		t.Errorf("latency +Inf bucket = %+v, want count 1", last)
	}
}

func TestScrapeFailsOnAnythingButAPulseGateway(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("# TYPE up gauge\nup 1\n"))
	}))
	defer other.Close()
	if _, err := ops.NewGatewaySource(other.URL).Scrape(context.Background()); err == nil || !strings.Contains(err.Error(), "pulse gateway") {
		t.Errorf("scraping a non-pulse exporter: err = %v, want one saying it is not a pulse gateway", err)
	}
	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()
	if _, err := ops.NewGatewaySource(missing.URL).Scrape(context.Background()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("scraping a 404: err = %v, want the status", err)
	}
	if _, err := ops.NewGatewaySource("http://127.0.0.1:1").Scrape(context.Background()); err == nil || !strings.Contains(err.Error(), "--gateway") {
		t.Errorf("scraping nothing: err = %v, want a hint at --gateway", err)
	}
}

func scrape(at time.Time, accepted float64, requests map[ops.RouteCode]float64, latency ...ops.Bucket) ops.GatewayScrape {
	return ops.GatewayScrape{At: at, Accepted: accepted, Requests: requests, Latency: latency}
}

func TestGatewayRates(t *testing.T) {
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	ok := ops.RouteCode{Route: "/v1/batch", Code: "202"}
	limited := ops.RouteCode{Route: "/v1/batch", Code: "429"}
	shed := ops.RouteCode{Route: "/v1/events", Code: "503"}
	probe := ops.RouteCode{Route: "/healthz", Code: "200"}
	notFound := ops.RouteCode{Route: "other", Code: "404"}
	nan := math.NaN()
	tests := []struct {
		name      string
		prev      *ops.GatewayScrape
		cur       ops.GatewayScrape
		perSec    float64
		share2xx  float64
		s429      float64
		s429Total float64
		s503      float64
		p95       float64
	}{
		{
			name:   "a first scrape gives totals and no rates",
			cur:    scrape(t0, 500, map[ops.RouteCode]float64{ok: 10, limited: 4}),
			perSec: nan, share2xx: nan, s429Total: 4, p95: nan,
		},
		{
			name: "rates are differences over the window",
			prev: new(scrape(t0, 500, map[ops.RouteCode]float64{ok: 10, limited: 4, shed: 1},
				bk(0.01, 10), bk(0.1, 14), bk(math.Inf(1), 15))),
			cur: scrape(t0.Add(2*time.Second), 1500, map[ops.RouteCode]float64{ok: 28, limited: 5, shed: 2},
				bk(0.01, 28), bk(0.1, 34), bk(math.Inf(1), 35)),
			perSec: 500, share2xx: 18.0 / 20, s429: 1, s429Total: 5, s503: 1,
			// 20 observations in the window, 18 up to 10ms, 2 in (10ms, 100ms]:
			// the 19th is halfway through the second bucket.
			p95: 0.01 + 0.09*0.5,
		},
		{
			name:   "probes and unknown paths are not event requests",
			prev:   new(scrape(t0, 0, map[ops.RouteCode]float64{ok: 1, probe: 5, notFound: 5})),
			cur:    scrape(t0.Add(time.Second), 0, map[ops.RouteCode]float64{ok: 2, probe: 50, notFound: 50}),
			perSec: 0, share2xx: 1, p95: nan,
		},
		{
			name:   "a window with no requests has no share and no p95",
			prev:   new(scrape(t0, 100, map[ops.RouteCode]float64{ok: 10}, bk(0.01, 10), bk(math.Inf(1), 10))),
			cur:    scrape(t0.Add(time.Second), 100, map[ops.RouteCode]float64{ok: 10}, bk(0.01, 10), bk(math.Inf(1), 10)),
			perSec: 0, share2xx: nan, p95: nan,
		},
		{
			name:   "a restarted gateway's counters count from zero",
			prev:   new(scrape(t0, 10_000, map[ops.RouteCode]float64{ok: 900, limited: 50})),
			cur:    scrape(t0.Add(4*time.Second), 200, map[ops.RouteCode]float64{ok: 8, limited: 2}),
			perSec: 50, share2xx: 0.8, s429: 2, s429Total: 2, p95: nan,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := ops.GatewayRates(tt.prev, tt.cur)
			for _, c := range []struct {
				name      string
				got, want float64
			}{
				{"events/s", f.EventsPerSec, tt.perSec},
				{"2xx share", f.Share2xx, tt.share2xx},
				{"429", f.Status429, tt.s429},
				{"429 total", f.Status429Total, tt.s429Total},
				{"503", f.Status503, tt.s503},
				{"p95", f.P95Ack, tt.p95},
			} {
				if !sameFloat(c.got, c.want) {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
		})
	}
}

func bk(upperBound, count float64) ops.Bucket {
	return ops.Bucket{UpperBound: upperBound, Count: count}
}

func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) < 1e-9
}

func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		name    string
		q       float64
		buckets []ops.Bucket
		want    float64
	}{
		{"no buckets", 0.95, nil, math.NaN()},
		{"no observations", 0.95, []ops.Bucket{bk(0.1, 0), bk(inf, 0)}, math.NaN()},
		{"the first bucket starts at zero", 0.5, []ops.Bucket{bk(0.1, 10), bk(inf, 10)}, 0.05},
		{"interpolates within the bucket", 0.95, []ops.Bucket{bk(0.01, 90), bk(0.02, 100), bk(inf, 100)}, 0.015},
		{"the +Inf bucket answers its lower bound", 0.95, []ops.Bucket{bk(0.01, 10), bk(1, 50), bk(inf, 100)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ops.Quantile(tt.q, tt.buckets); !sameFloat(got, tt.want) {
				t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}
