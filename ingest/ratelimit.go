package ingest

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// keyedLimiter holds one token bucket per key (client IP or tenant). Idle
// buckets are dropped so that memory stays bounded however many keys pass.
type keyedLimiter struct {
	limit rate.Limit
	burst int

	mu       sync.Mutex
	buckets  map[string]*bucket
	lastScan time.Time
}

type bucket struct {
	limiter  *rate.Limiter
	lastSeen time.Time
}

// idleAfter is how long an untouched bucket is kept; a bucket idle that
// long has refilled completely, so dropping it changes nothing.
const idleAfter = 5 * time.Minute

// newKeyedLimiter returns nil when perSecond is 0, meaning no limit.
func newKeyedLimiter(perSecond float64, burst int) *keyedLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst < 1 {
		burst = max(1, int(2*perSecond))
	}
	return &keyedLimiter{limit: rate.Limit(perSecond), burst: burst, buckets: map[string]*bucket{}}
}

// reserve takes n tokens from key's bucket. It returns ok=false and how
// long to wait when the bucket cannot cover n now; nothing is taken then.
func (l *keyedLimiter) reserve(key string, n int, now time.Time) (r *rate.Reservation, ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastScan) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.lastSeen) > idleAfter {
				delete(l.buckets, k)
			}
		}
		l.lastScan = now
	}
	b, found := l.buckets[key]
	if !found {
		b = &bucket{limiter: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.lastSeen = now
	if n > l.burst {
		// A request larger than the burst could never pass: tell the client
		// how long the bucket needs to refill fully instead.
		return nil, false, time.Duration(float64(n) / float64(l.limit) * float64(time.Second))
	}
	res := b.limiter.ReserveN(now, n)
	if delay := res.DelayFrom(now); delay > 0 {
		res.CancelAt(now)
		return nil, false, delay
	}
	return res, true, 0
}
