package store

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pulse-analytics/pulse/ingest"
)

// slowGateway serves a gateway whose embedded-store flushes take at least
// delay, as on a saturated disk.
func slowGateway(t *testing.T, cfg SinkConfig, delay time.Duration) (*httptest.Server, *Store, *ingest.Metrics) {
	t.Helper()
	st := openTestStore(t)
	reg := prometheus.NewRegistry()
	m := ingest.NewMetrics(reg)
	sink := NewSink(st, cfg, m)
	sink.insert = func(ctx context.Context, events []ingest.Event) (int, error) {
		time.Sleep(delay)
		return st.Insert(ctx, events)
	}
	srv := httptest.NewServer(ingest.NewGateway(ingest.GatewayConfig{RetryAfter: 2 * time.Second}, ingest.NewContract(), sink, m, reg).Handler())
	t.Cleanup(func() {
		srv.Close()
		sink.Close()
	})
	return srv, st, m
}

func eventBatch(ids []string) []byte {
	var evs []map[string]any
	for _, id := range ids {
		evs = append(evs, map[string]any{"event_id": id, "event": "e", "user_id": "u", "tenant_id": "t",
			"session_id": "s", "ts": "2026-11-01T00:00:00Z"})
	}
	b, _ := json.Marshal(evs)
	return b
}

func TestSlowSinkAnswers503WithRetryAfterAndLosesNoAcknowledgedEvent(t *testing.T) {
	srv, st, m := slowGateway(t, SinkConfig{MaxBufferedEvents: 20, FlushEvents: 10, FlushInterval: time.Millisecond}, 100*time.Millisecond)

	const requests, perRequest = 30, 5
	var mu sync.Mutex
	acked := map[string]bool{}
	var refused [][]string
	var wg sync.WaitGroup
	for r := 0; r < requests; r++ {
		ids := make([]string, perRequest)
		for i := range ids {
			ids[i] = uuid.NewString()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(srv.URL+"/v1/batch", "application/json", bytes.NewReader(eventBatch(ids)))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			switch resp.StatusCode {
			case 200:
				for _, id := range ids {
					acked[id] = true
				}
			case 503:
				if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra != 2 {
					t.Errorf("503 with Retry-After %q, want 2", resp.Header.Get("Retry-After"))
				}
				refused = append(refused, ids)
			default:
				t.Errorf("status %d, want 200 or 503", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if len(refused) == 0 {
		t.Fatal("a sink 10x slower than the load never pushed back")
	}
	if got := testutil.ToFloat64(m.Backpressure); got != float64(len(refused)) {
		t.Errorf("backpressure metric %v, want %d", got, len(refused))
	}
	// Every acknowledged event is stored; refused ones were never queued.
	assertStoredExactly(t, st, acked)

	// Clients retry the refused requests until accepted: all end up stored once.
	for _, ids := range refused {
		for attempt := 0; ; attempt++ {
			resp, err := http.Post(srv.URL+"/v1/batch", "application/json", bytes.NewReader(eventBatch(ids)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
			if attempt > 50 {
				t.Fatalf("retry still refused: %d", resp.StatusCode)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, id := range ids {
			acked[id] = true
		}
	}
	assertStoredExactly(t, st, acked)
}

func assertStoredExactly(t *testing.T, st *Store, want map[string]bool) {
	t.Helper()
	rows, err := st.DB.Query("SELECT event_id::VARCHAR, count(*) FROM events GROUP BY ALL")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]bool{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
		got[id] = true
	}
	for id := range want {
		if !got[id] {
			t.Errorf("acknowledged event %s is not stored", id)
		}
	}
	if len(got) != len(want) {
		t.Errorf("stored %d events, acknowledged %d", len(got), len(want))
	}
}

func TestAckTimeoutNeverBlocksARequestIndefinitely(t *testing.T) {
	st := openTestStore(t)
	reg := prometheus.NewRegistry()
	m := ingest.NewMetrics(reg)
	sink := NewSink(st, SinkConfig{}, m)
	sink.insert = func(ctx context.Context, events []ingest.Event) (int, error) {
		time.Sleep(2 * time.Second)
		return st.Insert(ctx, events)
	}
	defer sink.Close()
	srv := httptest.NewServer(ingest.NewGateway(ingest.GatewayConfig{AckTimeout: 200 * time.Millisecond}, ingest.NewContract(), sink, m, reg).Handler())
	defer srv.Close()
	start := time.Now()
	resp, err := http.Post(srv.URL+"/v1/batch", "application/json", bytes.NewReader(eventBatch([]string{uuid.NewString()})))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if elapsed := time.Since(start); resp.StatusCode != 503 || elapsed > time.Second {
		t.Fatalf("got %d after %s, want 503 within about 200ms", resp.StatusCode, elapsed)
	}
}

func TestCloseCommitsEverythingQueued(t *testing.T) {
	st := openTestStore(t)
	m := ingest.NewMetrics(prometheus.NewRegistry())
	// A long linger keeps everything queued until Close.
	sink := NewSink(st, SinkConfig{FlushInterval: 500 * time.Millisecond}, m)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sink.Store(context.Background(), testEvents(10, time.Date(2026, 11, 1, i, 0, 0, 0, time.UTC))); err != nil {
				t.Error(err)
			}
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(m.BufferDepth) < 200; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("requests were not queued")
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := countEvents(t, st); n != 200 {
		t.Fatalf("after Close: %d events, want 200", n)
	}
	if err := sink.Store(context.Background(), testEvents(1, time.Now())); err == nil {
		t.Fatal("Store after Close succeeded")
	}
}
