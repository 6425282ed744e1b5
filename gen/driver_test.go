package gen

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulse-analytics/pulse/ingest"
)

// fakeGateway records every request and answers like the real gateway:
// it validates with the contract, and its answer function decides the
// status (0 = 200 with everything valid accepted).
type fakeGateway struct {
	t        *testing.T
	contract *ingest.Contract
	answer   func(call int, events []ingest.Event) (status int, retryAfter string, resp ingest.Response)

	mu       sync.Mutex
	calls    []fakeCall
	accepted map[string]int // event id → times accepted
}

type fakeCall struct {
	path, contentType string
	ids               []string
	status            int
}

func newFakeGateway(t *testing.T, now time.Time) *fakeGateway {
	c := ingest.NewContract()
	c.Now = func() time.Time { return now }
	return &fakeGateway{t: t, contract: c, accepted: map[string]int{}}
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("reading body: %v", err)
	}
	var raws []json.RawMessage
	if r.URL.Path == "/v1/batch" {
		if err := json.Unmarshal(body, &raws); err != nil {
			f.t.Errorf("/v1/batch body is not a JSON array: %v", err)
		}
	} else {
		raws = []json.RawMessage{body}
	}
	events := make([]ingest.Event, 0, len(raws))
	for _, raw := range raws {
		ev, fe := f.contract.Decode(raw)
		if fe != nil {
			f.t.Errorf("contract rejects a posted event: %v\n%s", fe, raw)
			continue
		}
		events = append(events, ev)
	}

	f.mu.Lock()
	call := len(f.calls)
	status, retryAfter, resp := 0, "", ingest.Response{}
	if f.answer != nil {
		status, retryAfter, resp = f.answer(call, events)
	}
	if status == 0 {
		status, resp = http.StatusOK, ingest.Response{Accepted: len(events), Rejected: []ingest.Rejection{}}
	}
	if status < 300 {
		rejected := map[int]bool{}
		for _, rej := range resp.Rejected {
			rejected[rej.Index] = true
		}
		for i, ev := range events {
			if !rejected[i] {
				f.accepted[ev.EventID]++
			}
		}
	}
	ids := make([]string, len(events))
	for i, ev := range events {
		ids[i] = ev.EventID
	}
	f.calls = append(f.calls, fakeCall{path: r.URL.Path, contentType: r.Header.Get("Content-Type"), ids: ids, status: status})
	f.mu.Unlock()

	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(resp)
}

func driverData(maxEvents int64) Config {
	cfg := testConfig(5)
	cfg.Users = 300
	cfg.MaxEvents = maxEvents
	return cfg
}

func TestDriveRetriesThrottledRequestsWithTheSameEvents(t *testing.T) {
	data := driverData(500)
	fake := newFakeGateway(t, data.End.Add(time.Hour))
	fake.answer = func(call int, _ []ingest.Event) (int, string, ingest.Response) {
		if call == 0 {
			return http.StatusServiceUnavailable, "1", ingest.Response{Rejected: []ingest.Rejection{},
				Error: &ingest.APIError{Code: "backpressure", Message: "retry later"}}
		}
		return 0, "", ingest.Response{}
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()

	started := time.Now()
	s, err := Drive(context.Background(), data, DriverConfig{Target: srv.URL, Batch: 50, Concurrency: 2})
	if err != nil {
		t.Fatalf("Drive: %v", err)
	}
	if time.Since(started) < time.Second {
		t.Errorf("Drive took %s: Retry-After: 1 was not honoured", time.Since(started))
	}
	if s.Sent != 500 || s.Accepted != 500 || s.Rejected != 0 || s.Failed != 0 {
		t.Errorf("summary %+v, want 500 sent and accepted", s)
	}
	if s.Requests != 11 || s.Retries != 1 || s.Latency.Count != 10 {
		t.Errorf("requests %d, retries %d, latencies %d: want 11, 1, 10", s.Requests, s.Retries, s.Latency.Count)
	}
	if s.Latency.P50 <= 0 || s.Latency.P50 > s.Latency.P99 || s.Latency.P99 > s.Latency.Max {
		t.Errorf("latency quantiles out of order: %+v", s.Latency)
	}

	// The retry carried exactly the refused request's events.
	refused := strings.Join(fake.calls[0].ids, ",")
	resent := 0
	for _, c := range fake.calls[1:] {
		if strings.Join(c.ids, ",") == refused {
			resent++
		}
	}
	if resent != 1 {
		t.Errorf("the refused batch was re-sent %d times, want once", resent)
	}
	// Nothing lost, nothing doubled: the gateway accepted each generated
	// event exactly once.
	want := generateAll(t, data)
	if len(fake.accepted) != len(want) {
		t.Errorf("gateway accepted %d distinct events, want %d", len(fake.accepted), len(want))
	}
	for _, ev := range want {
		if fake.accepted[ev.EventID] != 1 {
			t.Fatalf("event %s accepted %d times", ev.EventID, fake.accepted[ev.EventID])
		}
	}
	for _, c := range fake.calls {
		if c.path != "/v1/batch" || c.contentType != "application/json" || len(c.ids) != 50 {
			t.Fatalf("request to %s (%s) with %d events, want /v1/batch application/json with 50", c.path, c.contentType, len(c.ids))
		}
	}
}

func TestDriveBatchOnePostsSingleEvents(t *testing.T) {
	data := driverData(30)
	fake := newFakeGateway(t, data.End.Add(time.Hour))
	srv := httptest.NewServer(fake)
	defer srv.Close()

	s, err := Drive(context.Background(), data, DriverConfig{Target: srv.URL + "/", Batch: 1, Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	if s.Sent != 30 || s.Accepted != 30 || s.Requests != 30 {
		t.Errorf("summary %+v, want 30 events in 30 requests", s)
	}
	for _, c := range fake.calls {
		if c.path != "/v1/events" || len(c.ids) != 1 {
			t.Fatalf("request to %s with %d events, want /v1/events with one", c.path, len(c.ids))
		}
	}
}

func TestDriveCountsRejections(t *testing.T) {
	tests := []struct {
		name         string
		answer       func(int, []ingest.Event) (int, string, ingest.Response)
		wantAccepted int64
		wantRejected int64
		wantKinds    map[string]int64
	}{
		{
			name: "some events invalid in a 200",
			answer: func(_ int, evs []ingest.Event) (int, string, ingest.Response) {
				return http.StatusOK, "", ingest.Response{Accepted: len(evs) - 1, Rejected: []ingest.Rejection{{Index: 0, Field: "ts", Reason: "too far"}}}
			},
			wantAccepted: 90, wantRejected: 10, wantKinds: map[string]int64{"200 ts": 10},
		},
		{
			name: "whole request refused",
			answer: func(call int, evs []ingest.Event) (int, string, ingest.Response) {
				if call%2 == 1 {
					return http.StatusRequestEntityTooLarge, "", ingest.Response{Rejected: []ingest.Rejection{},
						Error: &ingest.APIError{Code: "batch_too_large", Message: "split it"}}
				}
				return 0, "", ingest.Response{}
			},
			wantAccepted: 50, wantRejected: 50, wantKinds: map[string]int64{"413 batch_too_large": 50},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := driverData(100)
			fake := newFakeGateway(t, data.End.Add(time.Hour))
			fake.answer = tt.answer
			srv := httptest.NewServer(fake)
			defer srv.Close()
			s, err := Drive(context.Background(), data, DriverConfig{Target: srv.URL, Batch: 10, Concurrency: 1})
			if err != nil {
				t.Fatal(err)
			}
			if s.Accepted != tt.wantAccepted || s.Rejected != tt.wantRejected || s.Failed != 0 || s.Retries != 0 {
				t.Errorf("summary %+v, want %d accepted, %d rejected, no retries", s, tt.wantAccepted, tt.wantRejected)
			}
			for k, v := range tt.wantKinds {
				if s.Rejections[k] != v {
					t.Errorf("rejections %v, want %s: %d", s.Rejections, k, v)
				}
			}
		})
	}
}

func TestDriveGivesUpAfterRepeatedServerErrors(t *testing.T) {
	data := driverData(20)
	fake := newFakeGateway(t, data.End.Add(time.Hour))
	fake.answer = func(call int, _ []ingest.Event) (int, string, ingest.Response) {
		if call < 3 {
			return http.StatusInternalServerError, "", ingest.Response{}
		}
		return 0, "", ingest.Response{}
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	s, err := Drive(context.Background(), data, DriverConfig{Target: srv.URL, Batch: 10, Concurrency: 1, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	// The first request fails three times (one try, two retries) and is
	// given up; the second goes through.
	if s.Failed != 10 || s.Accepted != 10 || s.Retries != 2 || s.Requests != 4 {
		t.Errorf("summary %+v, want 10 failed after 2 retries and 10 accepted", s)
	}
}

func TestDriveLiveRewritesTimestamps(t *testing.T) {
	data := driverData(40)
	sendTime := time.Date(2030, 1, 2, 3, 4, 5, 678_900_000, time.UTC)
	fake := newFakeGateway(t, sendTime)
	var got []time.Time
	fake.answer = func(_ int, evs []ingest.Event) (int, string, ingest.Response) {
		for _, ev := range evs {
			got = append(got, ev.TS)
		}
		return 0, "", ingest.Response{}
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	_, err := Drive(context.Background(), data, DriverConfig{Target: srv.URL, Batch: 20, Live: true, Now: func() time.Time { return sendTime }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 40 {
		t.Fatalf("gateway got %d events, want 40", len(got))
	}
	for _, ts := range got {
		if !ts.Equal(sendTime.Truncate(time.Millisecond)) {
			t.Fatalf("ts %s, want the send time %s", ts, sendTime)
		}
	}
}

func TestDriveHonoursRate(t *testing.T) {
	data := driverData(600)
	fake := newFakeGateway(t, data.End.Add(time.Hour))
	srv := httptest.NewServer(fake)
	defer srv.Close()
	s, err := Drive(context.Background(), data, DriverConfig{Target: srv.URL, Batch: 100, Rate: 1000, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	// 600 events at 1000/s with a burst of one batch take at least 0.5s.
	if s.Elapsed < 450*time.Millisecond || s.Accepted != 600 {
		t.Errorf("600 events at 1000/s took %s (%d accepted)", s.Elapsed, s.Accepted)
	}
}

func TestDriveWithDurationWrapsToTheNextSeed(t *testing.T) {
	data := Config{Seed: 1, Tenants: 2, Users: 5, Start: testEnd.Add(-24 * time.Hour), End: testEnd}
	once := int64(len(generateAll(t, data)))
	fake := newFakeGateway(t, data.End.Add(time.Hour))
	srv := httptest.NewServer(fake)
	defer srv.Close()
	s, err := Drive(context.Background(), data, DriverConfig{Target: srv.URL, Batch: 10, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if s.Wraps < 1 || s.Sent <= once || s.Accepted != s.Sent {
		t.Errorf("summary %+v: want more than one data set (%d events) sent", s, once)
	}
	for id, n := range fake.accepted {
		if n != 1 {
			t.Fatalf("event id %s was sent %d times across wraps", id, n)
		}
	}
	if s.Elapsed > 3*time.Second {
		t.Errorf("a 300ms run took %s", s.Elapsed)
	}
}

func TestDriveStopsOnCancelAndAccountsForEverything(t *testing.T) {
	data := driverData(0)
	fake := newFakeGateway(t, data.End.Add(time.Hour))
	srv := httptest.NewServer(fake)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	s, err := Drive(ctx, data, DriverConfig{Target: srv.URL, Batch: 10, Rate: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if s.Sent == 0 || s.Sent != s.Accepted+s.Rejected+s.Failed {
		t.Errorf("summary %+v: sent must equal accepted + rejected + failed", s)
	}
	if s.Elapsed > 2*time.Second {
		t.Errorf("cancelled run took %s", s.Elapsed)
	}
}

func TestDriveReportsAnUnreachableGateway(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	s, err := Drive(context.Background(), driverData(100), DriverConfig{Target: url, Batch: 10, MaxRetries: 1})
	if err == nil || !strings.Contains(err.Error(), "cannot reach the gateway") {
		t.Fatalf("Drive error = %v, want cannot reach the gateway", err)
	}
	if s.Failed == 0 || s.Sent != s.Failed {
		t.Errorf("summary %+v: every sent event failed", s)
	}
}

func TestDriverConfigValidate(t *testing.T) {
	for _, dc := range []DriverConfig{
		{Target: "127.0.0.1:8080"},
		{Target: "ftp://x"},
		{Target: "http://x", Batch: -1},
		{Target: "http://x", Rate: -5},
		{Target: "http://x", Concurrency: -1},
	} {
		if err := dc.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", dc)
		}
	}
	if err := (DriverConfig{Target: "http://127.0.0.1:8080"}).Validate(); err != nil {
		t.Errorf("defaults rejected: %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              -1,
		"3":                             3 * time.Second,
		"0":                             0,
		"soon":                          -1,
		"Thu, 01 Jan 2026 00:00:05 GMT": 5 * time.Second,
		"Wed, 31 Dec 2025 23:00:00 GMT": 0,
	}
	for v, want := range tests {
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}
