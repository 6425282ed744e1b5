package store

import (
	"context"
	"testing"
	"time"

	"github.com/pulse-analytics/pulse/gen"
	"github.com/pulse-analytics/pulse/ingest"
)

// BenchmarkInsertGenerated measures the gateway's commit path (events
// only; rollups are refreshed separately, see BenchmarkRefreshRollups) with
// 1,000 generated events per commit.
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
		if _, err := st.InsertEvents(ctx, events[off:off+size]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRefreshRollups measures one rollup refresh covering 100,000
// newly committed generated events (about one second of full-rate ingest).
func BenchmarkRefreshRollups(b *testing.B) {
	st := openTestStore(b)
	ctx := context.Background()
	var events []ingest.Event
	gen.Generate(ctx, gen.Config{Seed: 1, Tenants: 20, Users: 100000, MaxEvents: int64(100_000 * (b.N + 1)), Start: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}, func(ev ingest.Event) error {
		events = append(events, ev)
		return nil
	})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for off := i * 100_000; off < (i+1)*100_000 && off < len(events); off += 10_000 {
			if _, err := st.InsertEvents(ctx, events[off:min(off+10_000, len(events))]); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := st.RefreshRollups(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
