package ops

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The gateway's metric names (ingest/metrics.go).
const (
	metricRequests       = "pulse_http_requests_total"
	metricDuration       = "pulse_http_request_duration_seconds"
	metricAccepted       = "pulse_events_accepted_total"
	metricRejected       = "pulse_events_rejected_total"
	metricBufferEvents   = "pulse_sink_buffer_events"
	metricSinkFlushError = "pulse_sink_flush_errors_total"
)

// ingestRoutes are the routes that take events. The 2xx share and the
// ack latency are theirs alone: health probes, scrapes and calls to
// unknown paths (404 under route "other", such as a GET /v1/stats to a
// gateway without it) would skew them.
var ingestRoutes = map[string]bool{"/v1/events": true, "/v1/batch": true, "/events": true}

// GatewaySource scrapes a gateway's Prometheus /metrics.
type GatewaySource struct {
	// URL is the gateway's base URL, e.g. http://127.0.0.1:8080.
	URL    string
	Client *http.Client
}

// NewGatewaySource returns a source for the gateway at baseURL.
func NewGatewaySource(baseURL string) *GatewaySource {
	return &GatewaySource{URL: strings.TrimRight(baseURL, "/"), Client: &http.Client{}}
}

// GatewayScrape is the gateway's counters at one moment. Counters only
// grow while the gateway runs; rates come from two scrapes (GatewayRates).
type GatewayScrape struct {
	At time.Time
	// Requests counts requests by route and status code.
	Requests map[RouteCode]float64
	// Latency is the request duration histogram, summed over the ingest
	// routes: cumulative counts per upper bound (seconds), ascending, the
	// last bound +Inf.
	Latency []Bucket
	// Accepted and Rejected count events; BufferEvents is a gauge.
	Accepted, Rejected float64
	BufferEvents       float64
	FlushErrors        float64
}

// RouteCode keys a request counter.
type RouteCode struct {
	Route string
	Code  string
}

// Bucket is one cumulative histogram bucket.
type Bucket struct {
	UpperBound float64
	Count      float64
}

// Scrape fetches and parses the gateway's /metrics.
func (g *GatewaySource) Scrape(ctx context.Context) (GatewayScrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/metrics", nil)
	if err != nil {
		return GatewayScrape{}, fmt.Errorf("gateway URL %q: %w", g.URL, err)
	}
	// Ask for the text format, which the parser below reads.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := g.Client.Do(req)
	if err != nil {
		return GatewayScrape{}, fmt.Errorf("scrape %s/metrics: %w (is pulse ingest running there? set --gateway)", g.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return GatewayScrape{}, fmt.Errorf("scrape %s/metrics: HTTP %s", g.URL, resp.Status)
	}
	return ParseMetrics(resp.Body, time.Now())
}

// ParseMetrics reads the gateway's figures from Prometheus text at.
func ParseMetrics(r io.Reader, at time.Time) (GatewayScrape, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return GatewayScrape{}, fmt.Errorf("parse gateway metrics: %w", err)
	}
	if _, ok := families[metricAccepted]; !ok {
		return GatewayScrape{}, fmt.Errorf("no %s in the metrics: is this a pulse gateway?", metricAccepted)
	}
	s := GatewayScrape{At: at, Requests: map[RouteCode]float64{}}
	for _, m := range families[metricRequests].GetMetric() {
		key := RouteCode{Route: label(m, "route"), Code: label(m, "code")}
		s.Requests[key] += m.GetCounter().GetValue()
	}
	s.Latency = sumHistograms(families[metricDuration], func(m *dto.Metric) bool { return ingestRoutes[label(m, "route")] })
	s.Accepted = sumValues(families[metricAccepted])
	s.Rejected = sumValues(families[metricRejected])
	s.BufferEvents = sumValues(families[metricBufferEvents])
	s.FlushErrors = sumValues(families[metricSinkFlushError])
	return s, nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// sumValues adds the values of every series of a counter or gauge family.
func sumValues(f *dto.MetricFamily) float64 {
	var sum float64
	for _, m := range f.GetMetric() {
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

// sumHistograms adds the buckets of the series that keep selects. Series
// of one family share their bounds, as Prometheus client histograms do.
func sumHistograms(f *dto.MetricFamily, keep func(*dto.Metric) bool) []Bucket {
	counts := map[float64]float64{}
	var total float64
	for _, m := range f.GetMetric() {
		if !keep(m) || m.Histogram == nil {
			continue
		}
		h := m.GetHistogram()
		for _, b := range h.GetBucket() {
			counts[b.GetUpperBound()] += float64(b.GetCumulativeCount())
		}
		total += float64(h.GetSampleCount())
	}
	if len(counts) == 0 && total == 0 {
		return nil
	}
	counts[math.Inf(1)] = total
	out := make([]Bucket, 0, len(counts))
	for ub, c := range counts {
		out = append(out, Bucket{UpperBound: ub, Count: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UpperBound < out[j].UpperBound })
	return out
}

// GatewayFigures are the gateway's figures over the window between two
// scrapes. A ratio or quantile over no requests is NaN.
type GatewayFigures struct {
	// Window is the time between the two scrapes (0 after one scrape).
	Window time.Duration
	// EventsPerSec is events acknowledged (made durable) per second.
	EventsPerSec float64
	// RejectedPerSec is events refused per second, for any reason.
	RejectedPerSec float64
	// Requests is how many event requests (POST /v1/events, /v1/batch,
	// /events) were answered in the window.
	Requests float64
	// Share2xx is the share of those requests answered 2xx (0..1).
	Share2xx float64
	// P95Ack is the 95th percentile of the ingest routes' request
	// duration, acknowledgement included, in seconds, interpolated within
	// the histogram bucket as Prometheus's histogram_quantile does.
	P95Ack float64
	// Status429 and Status503 count the window's 429 (rate limited) and
	// 503 (backpressure, ack timeout, sink down) answers; the Total
	// fields count them since the gateway started.
	Status429, Status503           float64
	Status429Total, Status503Total float64
	// AcceptedTotal is events acknowledged since the gateway started.
	AcceptedTotal float64
	// BufferEvents is events waiting for the sink's next flush.
	BufferEvents float64
	// FlushErrorsTotal is failed sink flushes since the gateway started.
	FlushErrorsTotal float64
}

// ErrorRate is the share of the window's event requests not answered
// 2xx: 4xx (bad events, 429) and 5xx alike. NaN when there were none.
func (f GatewayFigures) ErrorRate() float64 { return 1 - f.Share2xx }

// GatewayRates computes the figures from two scrapes; prev may be nil
// (first scrape), which gives the totals and NaN rates. A counter that
// went down means the gateway restarted: its delta is then the new value,
// as Prometheus's rate() treats a reset.
func GatewayRates(prev *GatewayScrape, cur GatewayScrape) GatewayFigures {
	f := GatewayFigures{
		EventsPerSec: math.NaN(), RejectedPerSec: math.NaN(),
		Share2xx: math.NaN(), P95Ack: math.NaN(),
		AcceptedTotal:    cur.Accepted,
		BufferEvents:     cur.BufferEvents,
		FlushErrorsTotal: cur.FlushErrors,
	}
	for k, v := range cur.Requests {
		switch k.Code {
		case "429":
			f.Status429Total += v
		case "503":
			f.Status503Total += v
		}
	}
	if prev == nil || !cur.At.After(prev.At) {
		return f
	}
	f.Window = cur.At.Sub(prev.At)
	secs := f.Window.Seconds()
	f.EventsPerSec = delta(prev.Accepted, cur.Accepted) / secs
	f.RejectedPerSec = delta(prev.Rejected, cur.Rejected) / secs
	var ok float64
	for k, v := range cur.Requests {
		d := delta(prev.Requests[k], v)
		switch k.Code {
		case "429":
			f.Status429 += d
		case "503":
			f.Status503 += d
		}
		if !ingestRoutes[k.Route] {
			continue
		}
		f.Requests += d
		if strings.HasPrefix(k.Code, "2") {
			ok += d
		}
	}
	if f.Requests > 0 {
		f.Share2xx = ok / f.Requests
	}
	f.P95Ack = Quantile(0.95, bucketDeltas(prev.Latency, cur.Latency))
	return f
}

func delta(prev, cur float64) float64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// bucketDeltas is the histogram of the observations between two scrapes.
func bucketDeltas(prev, cur []Bucket) []Bucket {
	before := make(map[float64]float64, len(prev))
	for _, b := range prev {
		before[b.UpperBound] = b.Count
	}
	reset := false
	for _, b := range cur {
		if b.Count < before[b.UpperBound] {
			reset = true
		}
	}
	out := make([]Bucket, len(cur))
	for i, b := range cur {
		out[i] = b
		if !reset {
			out[i].Count -= before[b.UpperBound]
		}
	}
	return out
}

// Quantile estimates the q-quantile (0..1) of a cumulative histogram by
// linear interpolation within the bucket that holds it, assuming the
// lowest bucket starts at 0. An answer in the +Inf bucket is the highest
// finite bound. NaN when the histogram is empty.
func Quantile(q float64, buckets []Bucket) float64 {
	if len(buckets) == 0 {
		return math.NaN()
	}
	total := buckets[len(buckets)-1].Count
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, b := range buckets {
		if b.Count >= rank {
			if math.IsInf(b.UpperBound, 1) {
				if i == 0 {
					return math.NaN()
				}
				return buckets[i-1].UpperBound
			}
			in := b.Count - below
			if in <= 0 {
				return b.UpperBound
			}
			return lower + (b.UpperBound-lower)*(rank-below)/in
		}
		lower, below = b.UpperBound, b.Count
	}
	return buckets[len(buckets)-1].UpperBound
}
