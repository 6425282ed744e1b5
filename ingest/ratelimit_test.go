package ingest_test

import (
	"strconv"
	"testing"

	"github.com/google/uuid"

	"github.com/pulse-analytics/pulse/ingest"
)

func batchFor(tenant string, n int) string {
	body := "["
	for i := 0; i < n; i++ {
		if i > 0 {
			body += ","
		}
		body += validEvent(map[string]any{"tenant_id": tenant, "event_id": uuid.NewString()})
	}
	return body + "]"
}

func TestTenantOverItsLimitGets429WhileAnotherTenantIsServed(t *testing.T) {
	// 1 event/s with a burst of 10: the first 10 events pass, the 11th waits.
	gw := newTestGateway(t, ingest.GatewayConfig{TenantRate: 1, TenantBurst: 10})
	if status, resp, _ := gw.do(t, post("/v1/batch", batchFor("noisy", 10))); status != 200 || resp.Accepted != 10 {
		t.Fatalf("within burst: %d %+v", status, resp)
	}
	status, resp, header := gw.do(t, post("/v1/batch", batchFor("noisy", 3)))
	if status != 429 || resp.Error == nil || resp.Error.Code != "rate_limited" || resp.Accepted != 0 {
		t.Fatalf("over the limit: %d %+v, want 429 rate_limited", status, resp)
	}
	if wait, err := strconv.Atoi(header.Get("Retry-After")); err != nil || wait < 1 || wait > 3 {
		t.Fatalf("Retry-After = %q, want 1-3 s (3 events at 1/s)", header.Get("Retry-After"))
	}
	if status, resp, _ := gw.do(t, post("/v1/batch", batchFor("quiet", 5))); status != 200 || resp.Accepted != 5 {
		t.Fatalf("another tenant: %d %+v, want 200", status, resp)
	}
	// A batch mixing a limited tenant with a free one is refused whole, and
	// the free tenant's tokens are given back.
	mixed := "[" + validEvent(map[string]any{"tenant_id": "noisy"}) + "," + validEvent(map[string]any{"tenant_id": "quiet", "event_id": uuid.NewString()}) + "]"
	if status, _, _ := gw.do(t, post("/v1/batch", mixed)); status != 429 {
		t.Fatalf("mixed batch: %d, want 429", status)
	}
	if status, resp, _ := gw.do(t, post("/v1/batch", batchFor("quiet", 5))); status != 200 || resp.Accepted != 5 {
		t.Fatalf("quiet tenant after the refused mixed batch: %d %+v, want its 5 remaining tokens", status, resp)
	}
	if n := gw.storedCount(t); n != 20 {
		t.Fatalf("stored %d events, want the 20 acknowledged", n)
	}
}

func TestClientIPOverItsLimitGets429(t *testing.T) {
	gw := newTestGateway(t, ingest.GatewayConfig{IPRate: 1, IPBurst: 4})
	if status, _, _ := gw.do(t, post("/v1/batch", batchFor("a", 4))); status != 200 {
		t.Fatalf("within burst: %d", status)
	}
	status, resp, header := gw.do(t, post("/v1/batch", batchFor("b", 1)))
	if status != 429 || header.Get("Retry-After") == "" || resp.Error.Message != "client IP rate limit exceeded; retry after the Retry-After delay" {
		t.Fatalf("got %d %+v Retry-After=%q", status, resp.Error, header.Get("Retry-After"))
	}
}
