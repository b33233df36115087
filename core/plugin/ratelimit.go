package plugin

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/consilium-hq/consilium/sdk"
)

// limiter enforces a plugin's declared rate limits, per plugin and per
// connection, and the waits a plugin asked for by answering rate_limited.
type limiter struct {
	maxWait time.Duration

	mu          sync.Mutex
	plugin      []*rate.Limiter
	connSpecs   []sdk.RateLimit
	conns       map[string]*connLimits
	pluginUntil time.Time // from a rate_limited answer without a connection
}

type connLimits struct {
	limiters []*rate.Limiter
	until    time.Time
	lastUsed time.Time
}

// maxConnEntries triggers pruning of idle per-connection state.
const maxConnEntries = 4096

func newLimiter(maxWait time.Duration) *limiter {
	return &limiter{maxWait: maxWait, conns: map[string]*connLimits{}}
}

func newRateLimiter(l sdk.RateLimit) *rate.Limiter {
	return rate.NewLimiter(rate.Every(l.Per/time.Duration(l.Requests)), max(l.Burst, 1))
}

// configure installs the limits a plugin declared. Invalid entries are
// skipped (the supervisor logs the manifest's problems).
func (l *limiter) configure(limits []sdk.RateLimit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.plugin, l.connSpecs = nil, nil
	for _, rl := range limits {
		if rl.Requests <= 0 || rl.Per <= 0 {
			continue
		}
		switch rl.Scope {
		case sdk.ScopePlugin:
			l.plugin = append(l.plugin, newRateLimiter(rl))
		case sdk.ScopeConnection:
			l.connSpecs = append(l.connSpecs, rl)
		}
	}
	// Buckets restart with the new limits; asked-for waits stay.
	for _, c := range l.conns {
		c.limiters = nil
	}
}

// penalize honours a rate_limited answer: no call goes out for connID (or
// for the whole plugin when connID is empty) until d has passed.
func (l *limiter) penalize(connID string, d time.Duration) {
	if d <= 0 {
		return
	}
	until := time.Now().Add(d)
	l.mu.Lock()
	defer l.mu.Unlock()
	if connID == "" {
		if until.After(l.pluginUntil) {
			l.pluginUntil = until
		}
		return
	}
	c := l.conn(connID, time.Now())
	if until.After(c.until) {
		c.until = until
	}
}

func (l *limiter) conn(id string, now time.Time) *connLimits {
	c, ok := l.conns[id]
	if !ok {
		if len(l.conns) >= maxConnEntries {
			for k, v := range l.conns {
				if now.Sub(v.lastUsed) > time.Hour && now.After(v.until) {
					delete(l.conns, k)
				}
			}
		}
		c = &connLimits{}
		l.conns[id] = c
	}
	c.lastUsed = now
	return c
}

// acquire waits for every applicable limit, or fails with a rate_limited
// error saying how long to wait when that is longer than maxWait or than the
// caller's deadline allows.
func (l *limiter) acquire(ctx context.Context, connID string) error {
	now := time.Now()
	l.mu.Lock()
	until := l.pluginUntil
	limiters := l.plugin
	if connID != "" && (len(l.connSpecs) > 0 || len(l.conns) > 0) {
		c := l.conn(connID, now)
		if c.until.After(until) {
			until = c.until
		}
		if c.limiters == nil {
			for _, s := range l.connSpecs {
				c.limiters = append(c.limiters, newRateLimiter(s))
			}
		}
		limiters = append(append([]*rate.Limiter(nil), limiters...), c.limiters...)
	}
	l.mu.Unlock()

	if wait := until.Sub(now); wait > 0 {
		return &sdk.Error{Code: sdk.CodeRateLimited, RetryAfter: wait,
			Message: fmt.Sprintf("the plugin asked to wait; %s left", wait.Round(time.Millisecond))}
	}
	if len(limiters) == 0 {
		return nil
	}
	reservations := make([]*rate.Reservation, 0, len(limiters))
	var delay time.Duration
	for _, lim := range limiters {
		r := lim.ReserveN(now, 1)
		reservations = append(reservations, r)
		if !r.OK() {
			delay = time.Hour
			continue
		}
		delay = max(delay, r.DelayFrom(now))
	}
	cancelAll := func() {
		for _, r := range reservations {
			r.CancelAt(now)
		}
	}
	if delay == 0 {
		return nil
	}
	deadline, hasDeadline := ctx.Deadline()
	if delay > l.maxWait || (hasDeadline && now.Add(delay).After(deadline)) {
		cancelAll()
		return &sdk.Error{Code: sdk.CodeRateLimited, RetryAfter: delay,
			Message: fmt.Sprintf("declared rate limit reached; next call allowed in %s", delay.Round(time.Millisecond))}
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		cancelAll()
		return ctx.Err()
	}
}
