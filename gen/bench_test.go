package gen

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// BenchmarkGenerateNDJSON measures the load driver's data path: generate
// the default data set (10,000 users, 20 tenants, 60 days) and encode it as
// NDJSON. It reports events/s; run with -benchmem for allocations.
func BenchmarkGenerateNDJSON(b *testing.B) {
	cfg := Config{Seed: 1, Tenants: DefaultTenants, Users: DefaultUsers, Start: testEnd.AddDate(0, 0, -DefaultDays), End: testEnd}
	var events int64
	for b.Loop() {
		w, err := NewWriter(io.Discard, FormatNDJSON)
		if err != nil {
			b.Fatal(err)
		}
		g, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		for {
			ev, ok := g.Next()
			if !ok {
				break
			}
			if err := w.Write(ev); err != nil {
				b.Fatal(err)
			}
			events++
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}

// BenchmarkDrive measures the driver end to end against a gateway stub that
// only counts events, in the same process: an upper bound on what one
// driver can offer a real gateway (batches of 500, 4 in flight).
func BenchmarkDrive(b *testing.B) {
	bufs := sync.Pool{New: func() any { return new(bytes.Buffer) }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := bufs.Get().(*bytes.Buffer)
		defer bufs.Put(body)
		body.Reset()
		body.ReadFrom(r.Body)
		n := bytes.Count(body.Bytes(), []byte(`{"event_id":`))
		fmt.Fprintf(w, `{"accepted":%d,"rejected":[]}`, n)
	}))
	defer srv.Close()
	cfg := Config{Seed: 1, Tenants: DefaultTenants, Users: DefaultUsers, Start: testEnd.AddDate(0, 0, -DefaultDays), End: testEnd, MaxEvents: 200_000}
	var events int64
	for b.Loop() {
		s, err := Drive(b.Context(), cfg, DriverConfig{Target: srv.URL, Batch: 500, Concurrency: 4})
		if err != nil || s.Accepted != cfg.MaxEvents {
			b.Fatalf("accepted %d of %d: %v", s.Accepted, cfg.MaxEvents, err)
		}
		events += s.Accepted
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
