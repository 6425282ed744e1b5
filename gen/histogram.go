package gen

import (
	"math"
	"math/bits"
	"time"
)

// histogram records durations in log-linear buckets of microseconds:
// exact below 16µs, then 16 linear sub-buckets per power of two. Any
// quantile is within 1/16 (6.25%) of the true value, and the histogram
// takes 8 KB however many values it holds.
type histogram struct {
	counts [histBuckets]int64
	n      int64
	max    time.Duration
}

const (
	histSubBits = 4
	histSub     = 1 << histSubBits
	histBuckets = (64 - histSubBits + 1) * histSub
)

func histBucket(us uint64) int {
	if us < histSub {
		return int(us)
	}
	k := bits.Len64(us) - 1 // us is in [2^k, 2^(k+1))
	return (k-histSubBits+1)*histSub + int(us>>(k-histSubBits)&(histSub-1))
}

// histRange returns the microseconds bucket b covers: [lo, lo+width).
func histRange(b int) (lo, width uint64) {
	if b < histSub {
		return uint64(b), 1
	}
	k := b/histSub + histSubBits - 1
	sub := uint64(b % histSub)
	return (histSub + sub) << (k - histSubBits), 1 << (k - histSubBits)
}

func (h *histogram) record(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.counts[histBucket(us)]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0 < q <= 1) as the middle of its
// bucket, never above the largest value recorded; 0 when empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	rank = max(1, min(rank, h.n))
	var seen int64
	for b, c := range h.counts {
		if seen += c; seen >= rank {
			lo, width := histRange(b)
			mid := time.Duration(lo)*time.Microsecond + time.Duration(width)*time.Microsecond/2
			return min(mid, h.max)
		}
	}
	return h.max
}
