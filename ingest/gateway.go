package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// GatewayConfig holds the gateway's limits. Zero values take the defaults
// given in each comment.
type GatewayConfig struct {
	// MaxBatchEvents is the most events one request may carry (default 1,000).
	MaxBatchEvents int
	// MaxBodyBytes caps a request body after decompression (default 5 MiB).
	MaxBodyBytes int64
	// MaxInFlightBytes caps the request bodies held in memory at once, so
	// memory stays bounded under any load; beyond it requests get 503
	// (default 64 MiB).
	MaxInFlightBytes int64
	// IPRate and TenantRate are token-bucket limits in events per second
	// per client IP and per tenant; 0 disables a limit. Bursts default to
	// twice the rate.
	IPRate      float64
	IPBurst     int
	TenantRate  float64
	TenantBurst int
	// AckTimeout bounds how long a request waits for its events to become
	// durable before answering 503 (default 10s).
	AckTimeout time.Duration
	// RetryAfter is the Retry-After given with 503 (default 1s).
	RetryAfter time.Duration
	// Stats, when set, serves GET /v1/stats: figures read from the store
	// the gateway writes (no other process can open an embedded store
	// while the gateway holds it). Nil answers 404.
	Stats func(ctx context.Context) (any, error)
}

func (c *GatewayConfig) withDefaults() {
	if c.MaxBatchEvents == 0 {
		c.MaxBatchEvents = 1000
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 5 << 20
	}
	if c.MaxInFlightBytes == 0 {
		c.MaxInFlightBytes = 64 << 20
	}
	if c.MaxInFlightBytes < c.MaxBodyBytes {
		c.MaxInFlightBytes = c.MaxBodyBytes
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = 10 * time.Second
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = time.Second
	}
}

// Gateway is the HTTP front door: it validates events against the
// contract, applies rate limits and answers only once the sink holds the
// events durably.
type Gateway struct {
	cfg      GatewayConfig
	contract *Contract
	sink     Sink
	metrics  *Metrics
	gatherer prometheus.Gatherer

	ipLimit     *keyedLimiter
	tenantLimit *keyedLimiter
	inFlight    *semaphore.Weighted
	bufs        sync.Pool
	draining    atomic.Bool
}

// NewGateway wires a gateway; gatherer serves /metrics.
func NewGateway(cfg GatewayConfig, contract *Contract, sink Sink, m *Metrics, gatherer prometheus.Gatherer) *Gateway {
	cfg.withDefaults()
	return &Gateway{
		cfg: cfg, contract: contract, sink: sink, metrics: m, gatherer: gatherer,
		ipLimit:     newKeyedLimiter(cfg.IPRate, cfg.IPBurst),
		tenantLimit: newKeyedLimiter(cfg.TenantRate, cfg.TenantBurst),
		inFlight:    semaphore.NewWeighted(cfg.MaxInFlightBytes),
		bufs:        sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
}

// route describes one ingest endpoint: which body shapes it takes.
type route struct {
	name        string
	allowSingle bool
	allowMany   bool
}

// Handler returns the gateway's HTTP routes.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/events", g.ingestHandler(route{name: "/v1/events", allowSingle: true}))
	mux.Handle("POST /v1/batch", g.ingestHandler(route{name: "/v1/batch", allowMany: true}))
	mux.Handle("POST /events", g.ingestHandler(route{name: "/events", allowSingle: true, allowMany: true}))
	mux.Handle("GET /healthz", g.instrument("/healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})))
	mux.Handle("GET /readyz", g.instrument("/readyz", http.HandlerFunc(g.readyz)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.gatherer, promhttp.HandlerOpts{}))
	if g.cfg.Stats != nil {
		mux.Handle("GET /v1/stats", g.instrument("/v1/stats", http.HandlerFunc(g.stats)))
	}
	mux.Handle("/", g.instrument("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The catch-all also sees known paths called with the wrong method.
		if allow, known := allowedMethods[r.URL.Path]; known {
			w.Header().Set("Allow", allow)
			writeResponse(w, http.StatusMethodNotAllowed, Response{Error: &APIError{Code: "method_not_allowed",
				Message: fmt.Sprintf("%s takes %s, not %s", r.URL.Path, allow, r.Method)}})
			return
		}
		writeResponse(w, http.StatusNotFound, Response{Error: &APIError{Code: "not_found",
			Message: fmt.Sprintf("no route %s %s; events go to POST /v1/events, /v1/batch or /events", r.Method, r.URL.Path)}})
	})))
	return mux
}

var allowedMethods = map[string]string{
	"/v1/events": "POST", "/v1/batch": "POST", "/events": "POST",
	"/healthz": "GET, HEAD", "/readyz": "GET, HEAD", "/metrics": "GET, HEAD", "/v1/stats": "GET, HEAD",
}

// Drain marks the gateway as shutting down: /readyz fails so load
// balancers stop sending, while in-flight requests finish.
func (g *Gateway) Drain() { g.draining.Store(true) }

func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	if g.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := g.sink.Ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "sink unavailable", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (g *Gateway) stats(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	stats, err := g.cfg.Stats(ctx)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "cannot read store figures: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, stats)
}

// statusRecorder captures the status code for metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (g *Gateway) instrument(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		g.metrics.Requests.WithLabelValues(name, strconv.Itoa(rec.status)).Inc()
		g.metrics.RequestDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
	})
}

func (g *Gateway) ingestHandler(rt route) http.Handler {
	return g.instrument(rt.name, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, resp, retryAfter := g.ingest(r, rt)
		if retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
		}
		writeResponse(w, status, resp)
	}))
}

// ingest handles one request and returns the status, body and, for 429 and
// 503, how long the client should wait.
func (g *Gateway) ingest(r *http.Request, rt route) (int, Response, time.Duration) {
	format, rerr := contentFormat(r.Header.Get("Content-Type"))
	if rerr != nil {
		return g.fail(rerr)
	}
	// Reserve memory for the body before reading it; when the budget is
	// spent the gateway sheds load instead of growing.
	weight := g.cfg.MaxBodyBytes
	if r.ContentLength >= 0 && r.ContentLength < weight && r.Header.Get("Content-Encoding") == "" {
		weight = r.ContentLength
	}
	if !g.inFlight.TryAcquire(weight) {
		g.metrics.Backpressure.Inc()
		return g.fail(reqErr(http.StatusServiceUnavailable, "overloaded", "too many request bytes in flight; retry after the Retry-After delay"))
	}
	defer g.inFlight.Release(weight)

	buf := g.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer g.bufs.Put(buf)
	if rerr := readBody(r, g.cfg.MaxBodyBytes, buf); rerr != nil {
		return g.fail(rerr)
	}
	raws, rerr := splitEvents(buf.Bytes(), format, rt.allowSingle, rt.allowMany)
	if rerr != nil {
		return g.fail(rerr)
	}
	if len(raws) > g.cfg.MaxBatchEvents {
		return g.fail(reqErr(http.StatusRequestEntityTooLarge, "batch_too_large", "batch has %d events; the limit is %d per request (split it)", len(raws), g.cfg.MaxBatchEvents))
	}

	events, rejected := g.decodeAll(raws)
	resp := Response{Rejected: rejected}
	for _, rej := range rejected {
		g.metrics.EventsRejected.WithLabelValues(rejectReason(rej.Field)).Inc()
	}
	if len(events) == 0 {
		resp.Error = &APIError{Code: "invalid_events", Message: "no event in the request is valid; see rejected for each event's field and reason"}
		return http.StatusBadRequest, resp, 0
	}

	if wait, which := g.checkRateLimits(r, events); wait > 0 {
		g.metrics.RateLimited.WithLabelValues(which).Inc()
		g.metrics.EventsRejected.WithLabelValues("rate_limited").Add(float64(len(events)))
		resp.Error = &APIError{Code: "rate_limited", Message: fmt.Sprintf("%s rate limit exceeded; retry after the Retry-After delay", which)}
		return http.StatusTooManyRequests, resp, wait
	}

	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.AckTimeout)
	defer cancel()
	if err := g.sink.Store(ctx, events); err != nil {
		return g.sinkFailure(err, resp, len(events))
	}
	g.metrics.EventsAccepted.Add(float64(len(events)))
	resp.Accepted = len(events)
	return http.StatusOK, resp, 0
}

func (g *Gateway) fail(e *requestError) (int, Response, time.Duration) {
	var wait time.Duration
	if e.status == http.StatusServiceUnavailable {
		wait = g.cfg.RetryAfter
	}
	return e.status, Response{Rejected: []Rejection{}, Error: &APIError{Code: e.code, Message: e.message}}, wait
}

func (g *Gateway) sinkFailure(err error, resp Response, n int) (int, Response, time.Duration) {
	switch {
	case errors.Is(err, ErrBackpressure):
		g.metrics.Backpressure.Inc()
		g.metrics.EventsRejected.WithLabelValues("backpressure").Add(float64(n))
		resp.Error = &APIError{Code: "backpressure", Message: "the sink is full; nothing from this request was acknowledged, retry after the Retry-After delay"}
	case errors.Is(err, context.DeadlineExceeded):
		g.metrics.EventsRejected.WithLabelValues("sink_timeout").Add(float64(n))
		resp.Error = &APIError{Code: "sink_timeout", Message: fmt.Sprintf("events were not durable within %s; retry with the same event_id values", g.cfg.AckTimeout)}
	case errors.Is(err, context.Canceled):
		g.metrics.EventsRejected.WithLabelValues("client_gone").Add(float64(n))
		resp.Error = &APIError{Code: "canceled", Message: "request canceled before the events were durable"}
	default:
		slog.Error("sink failed", "err", err, "events", n)
		g.metrics.EventsRejected.WithLabelValues("sink_error").Add(float64(n))
		resp.Error = &APIError{Code: "sink_unavailable", Message: "the sink could not store the events; retry after the Retry-After delay: " + err.Error()}
	}
	return http.StatusServiceUnavailable, resp, g.cfg.RetryAfter
}

// decodeAll validates each raw event; an event_id repeated within the
// request is rejected at its second occurrence.
func (g *Gateway) decodeAll(raws []json.RawMessage) ([]Event, []Rejection) {
	events := make([]Event, 0, len(raws))
	rejected := []Rejection{}
	firstIndex := make(map[string]int, len(raws))
	for i, raw := range raws {
		ev, fe := g.contract.Decode(raw)
		if fe != nil {
			rejected = append(rejected, Rejection{Index: i, Field: fe.Field, Reason: fe.Reason})
			continue
		}
		if first, dup := firstIndex[ev.EventID]; dup {
			rejected = append(rejected, Rejection{Index: i, Field: "event_id", Reason: fmt.Sprintf("duplicate event_id %s within this request (first at index %d)", ev.EventID, first)})
			continue
		}
		firstIndex[ev.EventID] = i
		events = append(events, ev)
	}
	return events, rejected
}

// checkRateLimits takes tokens for the request from its client IP's bucket
// and each tenant's bucket, all or nothing. It returns the wait and which
// limit refused when the request must be refused.
func (g *Gateway) checkRateLimits(r *http.Request, events []Event) (time.Duration, string) {
	now := time.Now()
	var taken []*rate.Reservation
	refuse := func(wait time.Duration) {
		for _, res := range taken {
			res.CancelAt(now)
		}
	}
	if g.ipLimit != nil {
		res, ok, wait := g.ipLimit.reserve(clientIP(r), len(events), now)
		if !ok {
			return wait, "client IP"
		}
		taken = append(taken, res)
	}
	if g.tenantLimit != nil {
		perTenant := map[string]int{}
		for i := range events {
			perTenant[events[i].TenantID]++
		}
		for tenant, n := range perTenant {
			res, ok, wait := g.tenantLimit.reserve(tenant, n, now)
			if !ok {
				refuse(wait)
				return wait, fmt.Sprintf("tenant %q", tenant)
			}
			taken = append(taken, res)
		}
	}
	return 0, ""
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// rejectReason bounds the metric label to the contract's field names.
func rejectReason(field string) string {
	base, _, _ := strings.Cut(field, ".")
	if knownFields[base] || base == RootField {
		return base
	}
	return "unknown_field"
}

func writeResponse(w http.ResponseWriter, status int, resp Response) {
	if resp.Rejected == nil {
		resp.Rejected = []Rejection{}
	}
	writeJSON(w, status, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("write response", "err", err)
	}
}

// Serve runs the gateway on ln until ctx ends, then shuts down in order:
// fail /readyz, stop accepting, let in-flight requests finish (they wait
// for their events to be durable), and finally flush and close the sink.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return errors.Join(err, g.sink.Close())
	case <-ctx.Done():
	}
	slog.Info("shutting down: finishing in-flight requests")
	g.Drain()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), g.cfg.AckTimeout+5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("in-flight requests did not finish in time: %w", err)
	}
	if cerr := g.sink.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("flush sink: %w", cerr))
	}
	return err
}
