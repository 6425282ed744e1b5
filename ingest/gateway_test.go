package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/ops"
	"github.com/pulse-analytics/pulse/store"
)

// fixedNow is the gateway's clock in these tests.
var fixedNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type testGateway struct {
	url   string
	store *store.Store
}

func newTestGateway(t *testing.T, cfg ingest.GatewayConfig) *testGateway {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Path: filepath.Join(t.TempDir(), "pulse.db")})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Stats = func(ctx context.Context) (any, error) { return ops.ReadEmbeddedStats(ctx, st.DB, fixedNow) }
	reg := prometheus.NewRegistry()
	m := ingest.NewMetrics(reg)
	sink := store.NewSink(st, store.SinkConfig{}, m)
	contract := ingest.NewContract()
	contract.Now = func() time.Time { return fixedNow }
	srv := httptest.NewServer(ingest.NewGateway(cfg, contract, sink, m, reg).Handler())
	t.Cleanup(func() {
		srv.Close()
		sink.Close()
		st.Close()
	})
	return &testGateway{url: srv.URL, store: st}
}

func (g *testGateway) storedCount(t *testing.T) int {
	t.Helper()
	var n int
	if err := g.store.DB.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// validEvent returns a valid event as a JSON object, with overrides applied
// (a nil value deletes the field).
func validEvent(overrides map[string]any) string {
	ev := map[string]any{
		"event": "signup", "user_id": "u1", "tenant_id": "acme", "session_id": "s1",
		"ts": "2026-11-25T09:00:00.123Z", "properties": map[string]any{"plan": "pro"}, "context": map[string]any{"os": "Linux"},
	}
	for k, v := range overrides {
		if v == nil {
			delete(ev, k)
		} else {
			ev[k] = v
		}
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

type request struct {
	path     string
	method   string
	ctype    string
	encoding string
	body     []byte
}

func post(path, body string) request {
	return request{path: path, method: http.MethodPost, ctype: "application/json", body: []byte(body)}
}

func (g *testGateway) do(t *testing.T, req request) (int, ingest.Response, http.Header) {
	t.Helper()
	method := req.method
	if method == "" {
		method = http.MethodPost
	}
	hr, err := http.NewRequest(method, g.url+req.path, bytes.NewReader(req.body))
	if err != nil {
		t.Fatal(err)
	}
	if req.ctype != "" {
		hr.Header.Set("Content-Type", req.ctype)
	}
	if req.encoding != "" {
		hr.Header.Set("Content-Encoding", req.encoding)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body ingest.Response
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, raw)
	}
	if body.Rejected == nil {
		t.Fatalf("response lacks the rejected array: %s", raw)
	}
	return resp.StatusCode, body, resp.Header
}

func gzipped(s string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(s))
	zw.Close()
	return buf.Bytes()
}

func TestBadRequestsAreRejectedWhole(t *testing.T) {
	gw := newTestGateway(t, ingest.GatewayConfig{MaxBodyBytes: 64 << 10, MaxBatchEvents: 10})
	cases := []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"malformed JSON object", post("/v1/events", `{"event": "signup",`), 400, "malformed_json"},
		{"malformed JSON array", post("/v1/batch", `[`+validEvent(nil)+`,`), 400, "malformed_json"},
		{"body is a JSON string", post("/events", `"signup"`), 400, "malformed_json"},
		{"trailing garbage after the event", post("/v1/events", validEvent(nil)+` x`), 400, "malformed_json"},
		{"empty body", post("/v1/events", ``), 400, "empty_body"},
		{"empty array", post("/v1/batch", `[ ]`), 400, "empty_batch"},
		{"array sent to the single-event endpoint", post("/v1/events", `[`+validEvent(nil)+`]`), 400, "batch_not_allowed"},
		{"form content type (curl -d default)", request{path: "/v1/events", ctype: "application/x-www-form-urlencoded", body: []byte(validEvent(nil))}, 415, "unsupported_media_type"},
		{"text/plain content type", request{path: "/v1/batch", ctype: "text/plain", body: []byte(validEvent(nil))}, 415, "unsupported_media_type"},
		{"missing content type", request{path: "/v1/events", body: []byte(validEvent(nil))}, 415, "unsupported_media_type"},
		{"non-UTF-8 charset", request{path: "/v1/events", ctype: "application/json; charset=latin1", body: []byte(validEvent(nil))}, 415, "unsupported_media_type"},
		{"NDJSON to the single-event endpoint", request{path: "/v1/events", ctype: "application/x-ndjson", body: []byte(validEvent(nil))}, 415, "unsupported_media_type"},
		{"unsupported content encoding", request{path: "/v1/events", ctype: "application/json", encoding: "br", body: []byte(validEvent(nil))}, 415, "unsupported_encoding"},
		{"bad gzip", request{path: "/v1/events", ctype: "application/json", encoding: "gzip", body: []byte("not gzip at all")}, 400, "malformed_gzip"},
		{"truncated gzip", request{path: "/v1/events", ctype: "application/json", encoding: "gzip", body: gzipped(validEvent(nil))[:20]}, 400, "malformed_gzip"},
		{"oversize body", post("/v1/batch", `[`+strings.Repeat(validEvent(nil)+",", 600)+validEvent(nil)+`]`), 413, "body_too_large"},
		{"gzip body over the limit once decompressed", request{path: "/v1/batch", ctype: "application/json", encoding: "gzip", body: gzipped(`[` + strings.Repeat(" ", 70<<10) + `]`)}, 413, "body_too_large"},
		{"batch over the event limit", post("/v1/batch", `[`+strings.Repeat(validEvent(nil)+",", 10)+validEvent(nil)+`]`), 413, "batch_too_large"},
		{"only invalid events", post("/v1/batch", `[{"event":"a"},{"event":"b"}]`), 400, "invalid_events"},
		{"unknown route", post("/v2/events", validEvent(nil)), 404, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := gw.do(t, tc.req)
			if status != tc.status || body.Error == nil || body.Error.Code != tc.code {
				t.Fatalf("got %d %+v, want %d with code %q", status, body.Error, tc.status, tc.code)
			}
			if body.Accepted != 0 {
				t.Fatalf("accepted %d events from a rejected request", body.Accepted)
			}
			if body.Error.Message == "" {
				t.Fatal("error without a message")
			}
		})
	}
	if n := gw.storedCount(t); n != 0 {
		t.Fatalf("%d events stored from rejected requests", n)
	}
}

func TestInvalidEventsAreRejectedByFieldAndReason(t *testing.T) {
	gw := newTestGateway(t, ingest.GatewayConfig{})
	cases := []struct {
		name   string
		event  string
		field  string
		reason string
	}{
		{"missing event", validEvent(map[string]any{"event": nil}), "event", "is required"},
		{"null event", validEvent(map[string]any{"event": json.RawMessage("null")}), "event", "is required"},
		{"empty event", validEvent(map[string]any{"event": ""}), "event", "must not be empty"},
		{"blank event", validEvent(map[string]any{"event": "   "}), "event", "must not be empty"},
		{"event is a number", validEvent(map[string]any{"event": 42}), "event", "must be a string, got a number"},
		{"event name too long", validEvent(map[string]any{"event": strings.Repeat("e", 129)}), "event", "is 129 characters; the limit is 128"},
		{"control character in event", validEvent(map[string]any{"event": "sign\nup"}), "event", "must not contain control characters"},
		{"missing user_id", validEvent(map[string]any{"user_id": nil}), "user_id", "is required"},
		{"user_id is an object", validEvent(map[string]any{"user_id": map[string]any{"id": 1}}), "user_id", "must be a string, got an object"},
		{"user_id too long", validEvent(map[string]any{"user_id": strings.Repeat("u", 257)}), "user_id", "is 257 characters; the limit is 256"},
		{"missing tenant_id", validEvent(map[string]any{"tenant_id": nil}), "tenant_id", "is required"},
		{"tenant_id with a space", validEvent(map[string]any{"tenant_id": "acme corp"}), "tenant_id", `must contain only letters, digits, '.', '_' and '-' (got "acme corp")`},
		{"missing session_id", validEvent(map[string]any{"session_id": nil}), "session_id", "is required"},
		{"missing ts", validEvent(map[string]any{"ts": nil}), "ts", "is required"},
		{"ts without a zone", validEvent(map[string]any{"ts": "2026-11-25T09:00:00"}), "ts", `"2026-11-25T09:00:00" has no time zone; add Z or an offset such as +02:00`},
		{"ts date only", validEvent(map[string]any{"ts": "2026-11-25"}), "ts", `"2026-11-25" has no time zone; add Z or an offset such as +02:00`},
		{"ts not a date", validEvent(map[string]any{"ts": "yesterday"}), "ts", `"yesterday" is not an ISO-8601 timestamp with a zone (example: 2026-11-25T09:04:36.123Z)`},
		{"ts as epoch number", validEvent(map[string]any{"ts": 1764061200000}), "ts", `must be an ISO-8601 string such as "2026-11-25T09:04:36.123Z", got a number`},
		{"ts invalid month", validEvent(map[string]any{"ts": "2026-13-01T00:00:00Z"}), "ts", `"2026-13-01T00:00:00Z" is not an ISO-8601 timestamp with a zone (example: 2026-11-25T09:04:36.123Z)`},
		{"ts far in the future", validEvent(map[string]any{"ts": "2026-11-27T12:00:00Z"}), "ts", "2026-11-27T12:00:00.000Z is 48h0m0s in the future; the limit is 24h0m0s (check the client clock)"},
		{"ts before 1970", validEvent(map[string]any{"ts": "1969-12-31T23:59:59Z"}), "ts", "1969-12-31T23:59:59.000Z is before 1970-01-01T00:00:00Z"},
		{"nested object in properties", validEvent(map[string]any{"properties": map[string]any{"a": map[string]any{"b": 1}}}), "properties.a", "must be a string, number, boolean or null; nested objects are not allowed (flatten it, e.g. a_field)"},
		{"array in properties", validEvent(map[string]any{"properties": map[string]any{"tags": []string{"x"}}}), "properties.tags", "must be a string, number, boolean or null; nested arrays are not allowed (flatten it, e.g. tags_field)"},
		{"properties is a string", validEvent(map[string]any{"properties": "plan=pro"}), "properties", "must be an object, got a string"},
		{"properties is an array", validEvent(map[string]any{"properties": []int{1}}), "properties", "must be an object, got an array"},
		{"property key too long", validEvent(map[string]any{"properties": map[string]any{strings.Repeat("k", 129): 1}}), "properties." + strings.Repeat("k", 129), "key is 129 characters; the limit is 128"},
		{"nested object in context", validEvent(map[string]any{"context": map[string]any{"device": map[string]any{"os": "iOS"}}}), "context.device", "must be a string, number, boolean or null; nested objects are not allowed (flatten it, e.g. device_field)"},
		{"unknown top-level field", validEvent(map[string]any{"userId": "u1"}), "userId", `unknown field "userId" (allowed: event, user_id, tenant_id, session_id, ts, event_version, properties, context, event_id)`},
		{"field name in the wrong case", validEvent(map[string]any{"Event": "x"}), "Event", `unknown field "Event" (allowed: event, user_id, tenant_id, session_id, ts, event_version, properties, context, event_id)`},
		{"event_version fractional", validEvent(map[string]any{"event_version": 1.5}), "event_version", "must be an integer, got 1.5"},
		{"event_version as string", validEvent(map[string]any{"event_version": "1"}), "event_version", "must be an integer, got a string"},
		{"event_version zero", validEvent(map[string]any{"event_version": 0}), "event_version", "must be between 1 and 2147483647, got 0"},
		{"event_id not a UUID", validEvent(map[string]any{"event_id": "abc"}), "event_id", `"abc" is not a UUID in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`},
		{"event_id without dashes", validEvent(map[string]any{"event_id": "0190a5b2c3d47e8f9a0b1c2d3e4f5a6b"}), "event_id", `"0190a5b2c3d47e8f9a0b1c2d3e4f5a6b" is not a UUID in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`},
		{"nil event_id", validEvent(map[string]any{"event_id": "00000000-0000-0000-0000-000000000000"}), "event_id", "must not be the nil UUID"},
		{"event_id is a number", validEvent(map[string]any{"event_id": 7}), "event_id", "must be a UUID string, got a number"},
		{"oversize event", validEvent(map[string]any{"properties": map[string]any{"blob": strings.Repeat("x", 33<<10)}}), "$", fmt.Sprintf("event is %d bytes; the limit is 32768 bytes (shrink properties or raise --max-event-bytes)", len(validEvent(map[string]any{"properties": map[string]any{"blob": strings.Repeat("x", 33<<10)}})))},
		{"invalid UTF-8", strings.Replace(validEvent(nil), "signup", "sign\xffup", 1), "$", fmt.Sprintf("event is not valid UTF-8 (at byte %d)", strings.Index(validEvent(nil), "signup")+4)},
		{"event is not an object", `"signup"`, "$", "event must be a JSON object, got a string"},
		{"event is a number", `17`, "$", "event must be a JSON object, got a number"},
	}
	if len(cases) < 30 {
		t.Fatalf("the contract wants at least 30 kinds of bad event, have %d", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Each bad event travels in a batch beside a valid one: the valid
			// one is accepted, the bad one rejected by index, field and reason.
			body := "[" + validEvent(map[string]any{"event_id": uuid.NewString()}) + "," + tc.event + "]"
			status, resp, _ := gw.do(t, post("/v1/batch", body))
			want := []ingest.Rejection{{Index: 1, Field: tc.field, Reason: tc.reason}}
			if status != 200 || resp.Accepted != 1 || !equalRejections(resp.Rejected, want) {
				t.Fatalf("got %d accepted=%d rejected=%+v\nwant 200 accepted=1 rejected=%+v", status, resp.Accepted, resp.Rejected, want)
			}
			// Alone, the same event is a 400 with the same rejection.
			if json.Valid([]byte(tc.event)) && strings.HasPrefix(tc.event, "{") {
				status, resp, _ = gw.do(t, post("/v1/events", tc.event))
				want[0].Index = 0
				if status != 400 || resp.Accepted != 0 || !equalRejections(resp.Rejected, want) {
					t.Fatalf("single: got %d %+v, want 400 %+v", status, resp.Rejected, want)
				}
			}
		})
	}
}

func equalRejections(a, b []ingest.Rejection) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDuplicateEventIDWithinABatchIsRejectedOnce(t *testing.T) {
	gw := newTestGateway(t, ingest.GatewayConfig{})
	id := uuid.NewString()
	body := "[" + validEvent(map[string]any{"event_id": id}) + "," + validEvent(map[string]any{"event_id": id, "event": "other"}) + "]"
	status, resp, _ := gw.do(t, post("/v1/batch", body))
	want := []ingest.Rejection{{Index: 1, Field: "event_id", Reason: fmt.Sprintf("duplicate event_id %s within this request (first at index 0)", id)}}
	if status != 200 || resp.Accepted != 1 || !equalRejections(resp.Rejected, want) {
		t.Fatalf("got %d accepted=%d %+v", status, resp.Accepted, resp.Rejected)
	}
	if n := gw.storedCount(t); n != 1 {
		t.Fatalf("stored %d, want 1", n)
	}
}

func TestRetriedEventIsAcceptedAndStoredOnce(t *testing.T) {
	gw := newTestGateway(t, ingest.GatewayConfig{})
	ev := validEvent(map[string]any{"event_id": uuid.NewString()})
	for attempt := 0; attempt < 3; attempt++ {
		if status, resp, _ := gw.do(t, post("/v1/events", ev)); status != 200 || resp.Accepted != 1 {
			t.Fatalf("attempt %d: %d %+v", attempt, status, resp)
		}
	}
	if n := gw.storedCount(t); n != 1 {
		t.Fatalf("stored %d copies of a retried event, want 1", n)
	}
}

func TestEventsAreNormalisedWhenStored(t *testing.T) {
	gw := newTestGateway(t, ingest.GatewayConfig{})
	ev := validEvent(map[string]any{"ts": "2026-11-25T10:30:00.123456+01:30", "event_id": nil,
		"properties": map[string]any{"plan": "pro", "seats": 5, "trial": false, "coupon": nil}})
	if status, _, _ := gw.do(t, post("/events", ev)); status != 200 {
		t.Fatalf("status %d", status)
	}
	var ts time.Time
	var id, plan string
	var version int
	var seats float64
	err := gw.store.DB.QueryRow(`SELECT ts, event_id::VARCHAR, event_version, properties->>'plan', (properties->>'seats')::DOUBLE FROM events`).Scan(&ts, &id, &version, &plan, &seats)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 25, 9, 0, 0, 123e6, time.UTC); !ts.Equal(want) {
		t.Errorf("ts = %s, want %s (UTC, truncated to ms)", ts, want)
	}
	if u, err := uuid.Parse(id); err != nil || u.Version() != 7 {
		t.Errorf("assigned event_id %q is not a UUIDv7", id)
	}
	if version != 1 || plan != "pro" || seats != 5 {
		t.Errorf("version=%d plan=%q seats=%v", version, plan, seats)
	}
}

func TestBatchFormats(t *testing.T) {
	gw := newTestGateway(t, ingest.GatewayConfig{})
	ndjson := validEvent(nil) + "\n\n" + `{"event":` + "\n" + validEvent(map[string]any{"user_id": "u2"}) + "\n"
	cases := []struct {
		name         string
		req          request
		accepted     int
		rejectedIdxs []int
	}{
		{"JSON array", post("/v1/batch", "["+validEvent(nil)+","+validEvent(nil)+"]"), 2, nil},
		{"NDJSON with a malformed line", request{path: "/v1/batch", ctype: "application/x-ndjson", body: []byte(ndjson)}, 2, []int{1}},
		{"gzip JSON array", request{path: "/v1/batch", ctype: "application/json", encoding: "gzip", body: gzipped("[" + validEvent(nil) + "]")}, 1, nil},
		{"single object on /v1/batch", post("/v1/batch", validEvent(nil)), 1, nil},
		{"array on /events", post("/events", "["+validEvent(nil)+",42]"), 1, []int{1}},
		{"object on /events", post("/events", validEvent(nil)), 1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, resp, _ := gw.do(t, tc.req)
			var idxs []int
			for _, r := range resp.Rejected {
				idxs = append(idxs, r.Index)
			}
			if status != 200 || resp.Accepted != tc.accepted || fmt.Sprint(idxs) != fmt.Sprint(tc.rejectedIdxs) {
				t.Fatalf("got %d accepted=%d rejected=%v, want 200 accepted=%d rejected=%v", status, resp.Accepted, idxs, tc.accepted, tc.rejectedIdxs)
			}
		})
	}
}

func TestWrongMethodIsRefused(t *testing.T) {
	gw := newTestGateway(t, ingest.GatewayConfig{})
	resp, err := http.Get(gw.url + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(resp.Header.Get("Allow"), "POST") {
		t.Fatalf("GET /v1/events = %d Allow=%q, want 405 with Allow: POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestHealthReadyAndMetrics(t *testing.T) {
	gw := newTestGateway(t, ingest.GatewayConfig{})
	gw.do(t, post("/v1/events", validEvent(nil)))
	gw.do(t, post("/v1/events", validEvent(map[string]any{"ts": "nope"})))
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200} {
		resp, err := http.Get(gw.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	resp, err := http.Get(gw.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`pulse_http_requests_total{code="200",route="/v1/events"} 1`,
		`pulse_http_requests_total{code="400",route="/v1/events"} 1`,
		`pulse_events_accepted_total 1`,
		`pulse_events_rejected_total{reason="ts"} 1`,
		`pulse_http_request_duration_seconds_bucket{route="/v1/events",le="+Inf"} 2`,
		`pulse_sink_flush_events_count 1`,
		`pulse_sink_flush_duration_seconds_count 1`,
		`pulse_sink_buffer_events 0`,
		`pulse_backpressure_rejections_total 0`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestStatsServeTheStoreFiguresTheGatewayHolds(t *testing.T) {
	gw := newTestGateway(t, ingest.GatewayConfig{})
	// Two users of acme today (fixedNow is 12:00 UTC), one of them twice,
	// and one of globex: DAU today acme=2, globex=1; newest ts 11:30.
	for _, ev := range []map[string]any{
		{"user_id": "u1", "ts": "2026-11-25T09:00:00Z"},
		{"user_id": "u1", "ts": "2026-11-25T10:00:00Z"},
		{"user_id": "u2", "ts": "2026-11-25T11:30:00Z"},
		{"user_id": "u1", "tenant_id": "globex", "ts": "2026-11-25T08:00:00Z"},
	} {
		ev["event_id"] = uuid.NewString()
		if status, _, _ := gw.do(t, post("/v1/events", validEvent(ev))); status != 200 {
			t.Fatalf("post: %d", status)
		}
	}
	resp, err := http.Get(gw.url + ops.StatsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats ops.StoreStats
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/stats: %d %v", resp.StatusCode, err)
	}
	dau := map[string]int64{}
	for _, td := range stats.Tenants {
		dau[td.Tenant] = td.Today
	}
	if stats.Events != 4 || dau["acme"] != 2 || dau["globex"] != 1 || stats.NewestTS == nil || !stats.NewestTS.Equal(time.Date(2026, 11, 25, 11, 30, 0, 0, time.UTC)) {
		t.Fatalf("stats = %+v (dau %v)", stats, dau)
	}
}
