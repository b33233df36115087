package apitest

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// LoadOptions shape a closed-loop load run: Concurrency clients each send
// the next request as soon as the previous one answers, for Duration.
type LoadOptions struct {
	Concurrency int
	Duration    time.Duration
	// Warmup runs before measuring (default 1s).
	Warmup time.Duration
}

// LoadResult is what a load run measured.
type LoadResult struct {
	Requests  int
	Errors    int
	PerSecond float64
	P50, P95  time.Duration
	P99, Max  time.Duration
}

func (r LoadResult) String() string {
	return fmt.Sprintf("%d requests, %d errors, %.0f req/s, p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms",
		r.Requests, r.Errors, r.PerSecond, ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Load runs do from Concurrency goroutines and measures each call. do gets
// the client's index and returns an error for a failed request (counted,
// not fatal). Use it from a benchmark with b.N ignored, or call Report.
func Load(o LoadOptions, do func(client int) error) LoadResult {
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.Warmup == 0 {
		o.Warmup = time.Second
	}
	run := func(d time.Duration, record bool) ([]time.Duration, int, time.Duration) {
		var (
			mu       sync.Mutex
			all      []time.Duration
			errs     atomic.Int64
			wg       sync.WaitGroup
			deadline = time.Now().Add(d)
			start    = time.Now()
		)
		for c := range o.Concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := make([]time.Duration, 0, 4096)
				for time.Now().Before(deadline) {
					t0 := time.Now()
					if err := do(c); err != nil {
						errs.Add(1)
					}
					if record {
						local = append(local, time.Since(t0))
					}
				}
				mu.Lock()
				all = append(all, local...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return all, int(errs.Load()), time.Since(start)
	}
	run(o.Warmup, false)
	lat, errs, elapsed := run(o.Duration, true)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	res := LoadResult{Requests: len(lat), Errors: errs, PerSecond: float64(len(lat)) / elapsed.Seconds(),
		P50: pct(0.50), P95: pct(0.95), P99: pct(0.99)}
	if len(lat) > 0 {
		res.Max = lat[len(lat)-1]
	}
	return res
}

// Report attaches a load result to a benchmark's output as custom metrics.
func (r LoadResult) Report(b *testing.B) {
	b.ReportMetric(r.PerSecond, "req/s")
	b.ReportMetric(ms(r.P50), "p50-ms")
	b.ReportMetric(ms(r.P95), "p95-ms")
	b.ReportMetric(ms(r.P99), "p99-ms")
	b.ReportMetric(float64(r.Errors), "errors")
	b.ReportMetric(0, "ns/op") // wall time per b.N is meaningless here
	b.Logf("%s", r)
}
