package gen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/pulse-analytics/pulse/ingest"
)

// Defaults for DriverConfig.
const (
	DefaultBatch       = 100
	DefaultConcurrency = 4
	DefaultTimeout     = 30 * time.Second
	DefaultMaxRetries  = 5
	DefaultGrace       = 5 * time.Second
)

// maxRejectionKinds bounds DriverSummary.Rejections; the rest count as
// "other".
const maxRejectionKinds = 20

// DriverConfig says where and how Drive posts events.
type DriverConfig struct {
	// Target is the gateway's base URL, e.g. http://127.0.0.1:8080.
	Target string
	// Rate caps events per second; 0 sends as fast as the gateway answers.
	Rate float64
	// Batch is events per request (default 100): 1 posts single events to
	// /v1/events, more post JSON arrays to /v1/batch.
	Batch int
	// Concurrency is the number of requests in flight (default 4).
	Concurrency int
	// Duration stops sending after that long (0: when the data runs out).
	// When the data runs out first, Drive goes on with the next seed's data
	// set (Seed+1, +2, ...), whose event ids are new, until Duration.
	Duration time.Duration
	// Live rewrites each event's ts to the time it is sent.
	Live bool
	// Timeout bounds one request attempt (default 30s).
	Timeout time.Duration
	// MaxRetries bounds re-sends after transport errors and 5xx other than
	// 503 (default 5). 429 and 503 are retried, after Retry-After, until
	// the run stops: they are the gateway asking to slow down.
	MaxRetries int
	// Grace is how long requests in flight may finish once ctx is done or
	// Duration is over (default 5s); what is still unanswered then counts
	// as failed.
	Grace time.Duration
	// Client sends the requests; nil builds one with a connection pool
	// sized for Concurrency.
	Client *http.Client
	// Now is the clock for Live (default time.Now).
	Now func() time.Time
	// Progress, when set, gets a snapshot about every second.
	Progress func(DriverSummary)
}

// DriverSummary counts what happened to the events Drive sent.
// Sent = Accepted + Rejected + Failed once Drive has returned.
type DriverSummary struct {
	// Sent counts events posted at least once (retries not counted again).
	Sent int64
	// Accepted counts events the gateway acknowledged as durable.
	Accepted int64
	// Rejected counts events the gateway refused (4xx other than 429).
	Rejected int64
	// Failed counts events given up on: retries exhausted, or still
	// unanswered when the run stopped.
	Failed int64
	// Requests counts HTTP attempts; Retries those that re-sent a request.
	Requests int64
	Retries  int64
	// Wraps counts how often the data ran out and the next seed took over.
	Wraps   int
	Elapsed time.Duration
	// Latency is per request, from send to acknowledgement, over 2xx
	// answers.
	Latency LatencySummary
	// Rejections counts rejected events by status and field or error
	// code, e.g. "400 ts" or "413 payload_too_large".
	Rejections map[string]int64
}

// LatencySummary holds quantiles of acknowledgement latency.
type LatencySummary struct {
	Count         int64
	P50, P95, P99 time.Duration
	Max           time.Duration
}

// SentPerSecond and AcceptedPerSecond are the achieved rates.
func (s DriverSummary) SentPerSecond() float64 { return perSecond(s.Sent, s.Elapsed) }

// AcceptedPerSecond is the achieved rate of acknowledged events.
func (s DriverSummary) AcceptedPerSecond() float64 { return perSecond(s.Accepted, s.Elapsed) }

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Validate reports the first unusable field, with defaults applied.
func (dc DriverConfig) Validate() error {
	dc = dc.withDefaults()
	u, err := url.Parse(dc.Target)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("target %q must be an http(s) URL such as http://127.0.0.1:8080", dc.Target)
	case dc.Rate < 0:
		return fmt.Errorf("rate must not be negative, got %v", dc.Rate)
	case dc.Batch < 1:
		return fmt.Errorf("batch must be at least 1, got %d", dc.Batch)
	case dc.Concurrency < 1:
		return fmt.Errorf("concurrency must be at least 1, got %d", dc.Concurrency)
	case dc.Duration < 0:
		return fmt.Errorf("duration must not be negative, got %s", dc.Duration)
	case dc.Timeout < 0 || dc.Grace < 0 || dc.MaxRetries < 0:
		return errors.New("timeout, grace and max retries must not be negative")
	}
	return nil
}

func (dc DriverConfig) withDefaults() DriverConfig {
	if dc.Batch == 0 {
		dc.Batch = DefaultBatch
	}
	if dc.Concurrency == 0 {
		dc.Concurrency = DefaultConcurrency
	}
	if dc.Timeout == 0 {
		dc.Timeout = DefaultTimeout
	}
	if dc.MaxRetries == 0 {
		dc.MaxRetries = DefaultMaxRetries
	}
	if dc.Grace == 0 {
		dc.Grace = DefaultGrace
	}
	if dc.Now == nil {
		dc.Now = time.Now
	}
	return dc
}

// NewHTTPClient returns a client whose pool keeps one idle connection per
// concurrent request, so a load test does not churn TCP connections.
func NewHTTPClient(concurrency int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = concurrency
	t.MaxIdleConnsPerHost = concurrency
	t.DisableCompression = true
	return &http.Client{Transport: t}
}

// Drive generates data (see Generate; data.MaxEvents caps the events
// sent) and posts it to the gateway until the data runs out, Duration
// passes or ctx is done. It returns the summary even when it stops early;
// the error is non-nil only for an unusable config or when no request
// could reach the gateway at all.
func Drive(ctx context.Context, data Config, dc DriverConfig) (DriverSummary, error) {
	if err := dc.Validate(); err != nil {
		return DriverSummary{}, err
	}
	dc = dc.withDefaults()
	if dc.Client == nil {
		dc.Client = NewHTTPClient(dc.Concurrency)
	}
	gen, err := New(withoutCap(data))
	if err != nil {
		return DriverSummary{}, err
	}
	gen.reuse = true
	d := &driver{dc: dc, data: data, gen: gen, started: time.Now()}
	d.url = strings.TrimRight(dc.Target, "/") + "/v1/batch"
	if dc.Batch == 1 {
		d.url = strings.TrimRight(dc.Target, "/") + "/v1/events"
	}
	return d.run(ctx)
}

func withoutCap(c Config) Config {
	c.MaxEvents = 0
	return c
}

type driver struct {
	dc      DriverConfig
	data    Config
	gen     *Generator
	url     string
	started time.Time
	wraps   int

	sent, accepted, rejected, failed, requests, retries atomic.Int64

	mu         sync.Mutex
	rejections map[string]int64
	latency    histogram
	fatal      error

	stopSending context.CancelCauseFunc
}

// request is one request body with the number of events it holds; the
// bodies are reused, so memory stays at 2×Concurrency batches.
type request struct {
	body []byte
	n    int64
}

func (d *driver) run(ctx context.Context) (DriverSummary, error) {
	sendCtx, stopSending := context.WithCancelCause(ctx)
	defer stopSending(nil)
	d.stopSending = stopSending
	if d.dc.Duration > 0 {
		var cancel context.CancelFunc
		sendCtx, cancel = context.WithTimeout(sendCtx, d.dc.Duration)
		defer cancel()
	}
	// Requests outlive sendCtx by Grace, so what is in flight when the run
	// stops is acknowledged (or counted failed) rather than abandoned.
	reqCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	stopGrace := context.AfterFunc(sendCtx, func() { time.AfterFunc(d.dc.Grace, cancelRequests) })
	defer stopGrace()

	free := make(chan *request, 2*d.dc.Concurrency)
	for range cap(free) {
		free <- &request{}
	}
	work := make(chan *request, d.dc.Concurrency)
	var wg sync.WaitGroup
	for i := range d.dc.Concurrency {
		wg.Go(func() {
			w := newWorker(d, reqCtx, uint64(i))
			for req := range work {
				w.post(req)
				free <- req
			}
			d.mu.Lock()
			d.latency.merge(&w.latency)
			d.mu.Unlock()
		})
	}
	progressDone := d.reportProgress()

	d.produce(sendCtx, free, work)
	close(work)
	wg.Wait()
	progressDone()

	s := d.snapshot()
	s.Wraps = d.wraps
	d.mu.Lock()
	defer d.mu.Unlock()
	s.Latency = LatencySummary{
		Count: d.latency.n, P50: d.latency.quantile(0.50), P95: d.latency.quantile(0.95),
		P99: d.latency.quantile(0.99), Max: d.latency.max,
	}
	return s, d.fatal
}

// produce fills request bodies, at the configured rate, until the data,
// the cap or sendCtx runs out.
func (d *driver) produce(ctx context.Context, free <-chan *request, work chan<- *request) {
	limit := rate.Inf
	if d.dc.Rate > 0 {
		limit = rate.Limit(d.dc.Rate)
	}
	limiter := rate.NewLimiter(limit, d.dc.Batch)
	capped := d.data.MaxEvents
	for {
		var req *request
		select {
		case req = <-free:
		case <-ctx.Done():
			return
		}
		n := int64(d.dc.Batch)
		if capped > 0 {
			n = min(n, capped-d.sent.Load())
		}
		if n <= 0 || limiter.WaitN(ctx, int(n)) != nil || ctx.Err() != nil {
			return
		}
		if !d.fill(req, n) {
			return
		}
		d.sent.Add(req.n)
		work <- req
	}
}

// fill encodes up to n events into req; false when the data is exhausted.
func (d *driver) fill(req *request, n int64) bool {
	b := req.body[:0]
	if d.dc.Batch > 1 {
		b = append(b, '[')
	}
	var now time.Time
	if d.dc.Live {
		now = d.dc.Now().UTC().Truncate(time.Millisecond)
	}
	req.n = 0
	for req.n < n {
		ev, ok := d.next()
		if !ok {
			break
		}
		if d.dc.Live {
			ev.TS = now
		}
		if req.n > 0 {
			b = append(b, ',')
		}
		b = appendEventJSON(b, ev)
		req.n++
	}
	if d.dc.Batch > 1 {
		b = append(b, ']')
	}
	req.body = b
	return req.n > 0
}

// next returns the next event, moving on to the next seed's data set when
// a Duration is set and the current one is exhausted.
func (d *driver) next() (ingest.Event, bool) {
	if ev, ok := d.gen.Next(); ok {
		return ev, true
	}
	if d.dc.Duration == 0 || d.gen.Emitted() == 0 {
		return ingest.Event{}, false
	}
	next := withoutCap(d.data)
	next.Seed += uint64(d.wraps + 1)
	g, err := New(next)
	if err != nil {
		return ingest.Event{}, false
	}
	g.reuse = true
	d.gen = g
	d.wraps++
	return d.gen.Next()
}

func (d *driver) snapshot() DriverSummary {
	d.mu.Lock()
	rejections := make(map[string]int64, len(d.rejections))
	for k, v := range d.rejections {
		rejections[k] = v
	}
	d.mu.Unlock()
	return DriverSummary{
		Sent: d.sent.Load(), Accepted: d.accepted.Load(), Rejected: d.rejected.Load(), Failed: d.failed.Load(),
		Requests: d.requests.Load(), Retries: d.retries.Load(), Elapsed: time.Since(d.started),
		Rejections: rejections,
	}
}

// reportProgress calls dc.Progress every second until the returned stop
// function is called. Wraps is left out of the snapshots: the producer
// owns it.
func (d *driver) reportProgress() (stop func()) {
	if d.dc.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				d.dc.Progress(d.snapshot())
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func (d *driver) reject(key string, n int64) {
	d.rejected.Add(n)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rejections == nil {
		d.rejections = map[string]int64{}
	}
	if _, ok := d.rejections[key]; !ok && len(d.rejections) >= maxRejectionKinds {
		key = "other"
	}
	d.rejections[key] += n
}

// giveUp counts req as failed; when nothing has reached the gateway yet
// the target is most likely wrong or down, so the run stops.
func (d *driver) giveUp(req *request, err error) {
	d.failed.Add(req.n)
	if err == nil || d.accepted.Load()+d.rejected.Load() > 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fatal == nil {
		d.fatal = fmt.Errorf("cannot reach the gateway at %s (is `pulse ingest` running?): %w", d.dc.Target, err)
		d.stopSending(d.fatal)
	}
}

// worker posts requests; its histogram and buffers are its own.
type worker struct {
	d       *driver
	ctx     context.Context
	rng     *rand.Rand
	latency histogram
	resp    bytes.Buffer
}

func newWorker(d *driver, ctx context.Context, id uint64) *worker {
	return &worker{d: d, ctx: ctx, rng: rand.New(rand.NewPCG(id, uint64(time.Now().UnixNano())))}
}

// post sends req until it is answered for good: 2xx, a 4xx rejection, or
// given up. Every attempt sends the same bytes, hence the same event ids.
func (w *worker) post(req *request) {
	d := w.d
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			d.retries.Add(1)
		}
		d.requests.Add(1)
		status, header, elapsed, err := w.send(req.body)
		var wait time.Duration
		switch {
		case err != nil:
			if w.ctx.Err() != nil {
				d.giveUp(req, nil) // the run stopped; the gateway is not to blame
				return
			}
			if attempt >= d.dc.MaxRetries {
				d.giveUp(req, err)
				return
			}
			wait = w.backoff(attempt)
		case status >= 200 && status < 300:
			w.latency.record(elapsed)
			w.settle(req, status)
			return
		case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
			wait = retryAfter(header, w.d.dc.Now())
			if wait < 0 {
				wait = w.backoff(attempt)
			}
			wait = max(wait, 10*time.Millisecond) // never spin on Retry-After: 0
		case status >= 400 && status < 500:
			w.settle(req, status)
			return
		default:
			if attempt >= d.dc.MaxRetries {
				d.giveUp(req, nil)
				return
			}
			wait = w.backoff(attempt)
		}
		if !sleep(w.ctx, wait) {
			d.giveUp(req, nil)
			return
		}
	}
}

func (w *worker) send(body []byte) (status int, header http.Header, elapsed time.Duration, err error) {
	ctx, cancel := context.WithTimeout(w.ctx, w.d.dc.Timeout)
	defer cancel()
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, w.d.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, 0, err
	}
	httpReq.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := w.d.dc.Client.Do(httpReq)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	w.resp.Reset()
	_, err = w.resp.ReadFrom(io.LimitReader(resp.Body, 1<<20))
	elapsed = time.Since(start)
	if err != nil {
		return 0, nil, 0, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, resp.Header, elapsed, nil
}

// settle counts a final answer from the body in w.resp (an ingest.Response).
// Events it does not account for count as rejected on 4xx and accepted on
// 2xx with an unreadable body (the gateway said yes without details).
func (w *worker) settle(req *request, status int) {
	d := w.d
	var r ingest.Response
	parsed := json.Unmarshal(w.resp.Bytes(), &r) == nil
	if status < 300 && !parsed {
		d.accepted.Add(req.n)
		return
	}
	accepted := min(int64(max(r.Accepted, 0)), req.n)
	d.accepted.Add(accepted)
	rest := req.n - accepted
	code := strconv.Itoa(status)
	for _, rej := range r.Rejected {
		if rest == 0 {
			break
		}
		d.reject(code+" "+rej.Field, 1)
		rest--
	}
	if rest == 0 {
		return
	}
	if status < 300 {
		// A 2xx that accounts for fewer events than sent: not durable.
		d.failed.Add(rest)
		return
	}
	key := code
	if r.Error != nil && r.Error.Code != "" {
		key += " " + r.Error.Code
	}
	d.reject(key, rest)
}

func (w *worker) backoff(attempt int) time.Duration {
	base := min(100*time.Millisecond<<min(attempt, 6), 5*time.Second)
	return base/2 + time.Duration(w.rng.Int64N(int64(base/2)+1))
}

// retryAfter reads Retry-After (seconds or an HTTP date); -1 when absent
// or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return -1
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// sleep waits d or until ctx is done; false in the latter case.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
