package api

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/consilium-hq/consilium/core/apperr"
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
	b := k.bucketOf(key, now)
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

// bucketOf returns key's bucket, creating a full one; called with mu held.
func (k *keyedLimiter) bucketOf(key string, now time.Time) *bucket {
	b, ok := k.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(k.limit, k.burst)}
		k.buckets[key] = b
	}
	b.lastSeen = now
	if now.Sub(k.lastGC) > time.Minute {
		k.gc(now)
	}
	return b
}

// state reports, without taking a token, whether key's bucket is empty
// (and how long until it is not) and whether it has been drawn on lately:
// a bucket is kept until a minute after it has refilled, and only taking
// a token creates one.
func (k *keyedLimiter) state(key string) (empty bool, wait time.Duration, drawn bool) {
	now := time.Now()
	k.mu.Lock()
	b, ok := k.buckets[key]
	k.mu.Unlock()
	if !ok {
		return false, 0, false
	}
	tokens := b.lim.TokensAt(now)
	if tokens < 1 {
		wait = time.Duration((1 - tokens) / float64(k.limit) * float64(time.Second))
	}
	return tokens < 1, wait, true
}

// take takes one token for key if there is one.
func (k *keyedLimiter) take(key string) {
	now := time.Now()
	k.mu.Lock()
	b := k.bucketOf(key, now)
	k.mu.Unlock()
	b.lim.AllowN(now, 1)
}

// loginGuard limits failed logins so that guessing an account's password is
// slow without letting anyone lock its owner out. Failures are counted per
// (account, client address) and per account:
//   - an address that has spent its own failures for an account is refused
//     for that account until they refill;
//   - once the account's failures from all addresses are spent, every
//     address that has failed for it lately (until a minute after its own
//     bucket has refilled) is refused too, so a guesser gets about one try
//     per address every burst/rate + 1m;
//   - an address that has not been failing is never refused for the
//     account, so the owner's correct password still works during an attack.
//
// Only failures count: a correct password takes nothing.
type loginGuard struct {
	perSource  *keyedLimiter // key: account + "\x00" + client address
	perAccount *keyedLimiter // key: account
}

func loginSource(account, ip string) string { return account + "\x00" + ip }

// check says whether a login for account from ip may be tried now.
func (g *loginGuard) check(account, ip string) *apperr.Error {
	empty, wait, drawn := g.perSource.state(loginSource(account, ip))
	if empty {
		return rateLimited("for this account from this address", wait)
	}
	if accountEmpty, accountWait, _ := g.perAccount.state(account); accountEmpty && drawn {
		return rateLimited("for this account from this address", accountWait)
	}
	return nil
}

// failed records a wrong password (or unknown account) for account from ip.
func (g *loginGuard) failed(account, ip string) {
	g.perSource.take(loginSource(account, ip))
	g.perAccount.take(account)
}
