package gen

import (
	"testing"
	"time"
)

func TestHistogramQuantilesAreWithinBucketPrecision(t *testing.T) {
	var h histogram
	// 1..10000 microseconds, once each: the q-quantile is q*10000µs.
	for us := 1; us <= 10_000; us++ {
		h.record(time.Duration(us) * time.Microsecond)
	}
	for _, q := range []float64{0.5, 0.95, 0.99, 1} {
		want := time.Duration(q*10_000) * time.Microsecond
		got := h.quantile(q)
		if diff := float64(got-want) / float64(want); diff > 1.0/16 || diff < -1.0/16 {
			t.Errorf("quantile(%v) = %s, want %s within 6.25%%", q, got, want)
		}
	}
	if h.max != 10*time.Millisecond || h.quantile(1) > h.max {
		t.Errorf("max %s, quantile(1) %s", h.max, h.quantile(1))
	}
}

func TestHistogramCoversTheWholeRange(t *testing.T) {
	for _, d := range []time.Duration{0, time.Microsecond, 15 * time.Microsecond, 16 * time.Microsecond, time.Second, time.Hour, 1<<63 - 1} {
		var h histogram
		h.record(d)
		lo, width := histRange(histBucket(uint64(d / time.Microsecond)))
		if us := uint64(d / time.Microsecond); us < lo || us-lo >= width {
			t.Errorf("%s lands in bucket [%d, %d+%d)µs", d, lo, lo, width)
		}
		if got := h.quantile(0.5); got > d {
			t.Errorf("single value %s has median %s", d, got)
		}
	}
}

func TestHistogramMergeAndEmpty(t *testing.T) {
	var a, b, empty histogram
	if empty.quantile(0.99) != 0 {
		t.Error("empty histogram has a non-zero quantile")
	}
	for range 99 {
		a.record(time.Millisecond)
	}
	b.record(time.Second)
	a.merge(&b)
	if a.n != 100 || a.max != time.Second {
		t.Fatalf("merged n=%d max=%s", a.n, a.max)
	}
	if p99, p100 := a.quantile(0.99), a.quantile(1); p99 > 2*time.Millisecond || p100 < 900*time.Millisecond {
		t.Errorf("p99 %s and p100 %s after merging 99×1ms and 1×1s", p99, p100)
	}
}
