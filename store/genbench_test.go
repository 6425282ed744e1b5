package store

import (
	"context"
	"testing"
	"time"

	"github.com/pulse-analytics/pulse/gen"
	"github.com/pulse-analytics/pulse/ingest"
)

func BenchmarkInsertGenerated(b *testing.B) {
	st := openTestStore(b)
	ctx := context.Background()
	var events []ingest.Event
	gen.Generate(ctx, gen.Config{Seed: 1, Tenants: 20, Users: 100000, MaxEvents: 200000, Start: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}, func(ev ingest.Event) error {
		events = append(events, ev)
		return nil
	})
	b.ResetTimer()
	const size = 1000
	for i := 0; i < b.N; i++ {
		off := (i * size) % len(events)
		if _, err := st.Insert(ctx, events[off:off+size]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
}
