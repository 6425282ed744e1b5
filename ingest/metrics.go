package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the gateway's and sinks' Prometheus collectors, registered on
// the registry passed to NewMetrics so that tests can use their own.
type Metrics struct {
	Requests        *prometheus.CounterVec
	RequestDuration *prometheus.HistogramVec
	EventsAccepted  prometheus.Counter
	EventsRejected  *prometheus.CounterVec
	Backpressure    prometheus.Counter
	RateLimited     *prometheus.CounterVec
	BufferDepth     prometheus.Gauge
	FlushSize       prometheus.Histogram
	FlushDuration   prometheus.Histogram
	FlushErrors     prometheus.Counter
}

// NewMetrics creates the collectors and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pulse_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pulse_http_request_duration_seconds", Help: "HTTP request latency, acknowledgement included, by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		EventsAccepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pulse_events_accepted_total", Help: "Events made durable and acknowledged.",
		}),
		EventsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pulse_events_rejected_total", Help: "Events rejected, by reason (field that broke the contract, rate_limited, backpressure, sink_error).",
		}, []string{"reason"}),
		Backpressure: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pulse_backpressure_rejections_total", Help: "Requests answered 503 because the sink buffer was full.",
		}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pulse_rate_limited_total", Help: "Requests answered 429, by limit (ip or tenant).",
		}, []string{"limit"}),
		BufferDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pulse_sink_buffer_events", Help: "Events waiting in the sink buffer for the next flush.",
		}),
		FlushSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pulse_sink_flush_events", Help: "Events per sink flush (group commit size).",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
		FlushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pulse_sink_flush_duration_seconds", Help: "Time to make one flush durable.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		FlushErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pulse_sink_flush_errors_total", Help: "Sink flushes that failed.",
		}),
	}
	reg.MustRegister(m.Requests, m.RequestDuration, m.EventsAccepted, m.EventsRejected, m.Backpressure,
		m.RateLimited, m.BufferDepth, m.FlushSize, m.FlushDuration, m.FlushErrors)
	return m
}
