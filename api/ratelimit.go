package api

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/consilium-hq/consilium/core/config"
)

// keyedLimiter is a token bucket per key (client IP, email, user id), kept
// in memory. Limits are per API process: with N processes behind a load
// balancer a client gets at most N times the configured rate.
type keyedLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket
	lastGC  time.Time
}

type bucket struct {
	lim      *rate.Limiter
	lastSeen time.Time
}

func newKeyedLimiter(l config.Limit) *keyedLimiter {
	return &keyedLimiter{
		limit:   rate.Limit(float64(l.Rate) / l.Per.Seconds()),
		burst:   l.Burst,
		buckets: map[string]*bucket{},
	}
}

// allow takes one token for key. When none is left it returns false and
// how long until one is.
func (k *keyedLimiter) allow(key string) (bool, time.Duration) {
	now := time.Now()
	k.mu.Lock()
	b, ok := k.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(k.limit, k.burst)}
		k.buckets[key] = b
	}
	b.lastSeen = now
	if now.Sub(k.lastGC) > time.Minute {
		k.gc(now)
	}
	k.mu.Unlock()

	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// gc forgets buckets that have refilled completely; called with mu held.
func (k *keyedLimiter) gc(now time.Time) {
	k.lastGC = now
	full := time.Duration(float64(k.burst)/float64(k.limit)*float64(time.Second)) + time.Minute
	for key, b := range k.buckets {
		if now.Sub(b.lastSeen) > full {
			delete(k.buckets, key)
		}
	}
}
