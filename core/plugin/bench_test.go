package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

// The host→plugin round trip of a small call, through everything a real call
// goes through: fail-fast check, rate limiter, deadline, concurrency bound,
// call id, gRPC over a Unix socket with AutoMTLS, the SDK's handler wrapper.

var benchArgs = json.RawMessage(`{"n":1}`)

func benchIntegration(tb testing.TB, gomaxprocs int) *Integration {
	tb.Helper()
	cfg := testConfig(item("bench", testBinaries.plugin))
	cfg.GoMaxProcs = gomaxprocs
	cfg.MaxConcurrency = 64
	h := New(cfg, nil)
	h.Start(context.Background())
	tb.Cleanup(h.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.WaitReady(ctx); err != nil {
		tb.Fatal(err)
	}
	c, err := h.Integration("bench")
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func echoOnce(ctx context.Context, c *Integration) error {
	_, err := c.ExecuteTool(ctx, &sdk.ExecuteToolRequest{Name: "echo", Arguments: benchArgs})
	return err
}

func BenchmarkRoundTrip(b *testing.B) {
	c := benchIntegration(b, 1)
	ctx := context.Background()
	for _, callers := range []int{1, 16} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			b.SetParallelism(callers) // × GOMAXPROCS goroutines
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := echoOnce(ctx, c); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRoundTripLatency gives the figures for `make bench`: p50 and p99
// in microseconds and calls per second, at 1 and 16 concurrent callers, with
// the plugin at GOMAXPROCS=1 (the default) and unset. Each b.N iteration is
// a whole measured run of 20,000 calls after a 2,000-call warm-up; run it
// with -benchtime 1x.
func BenchmarkRoundTripLatency(b *testing.B) {
	const warmup, perRun = 2000, 20000
	for _, procs := range []int{1, -1} {
		name := "gomaxprocs=1"
		if procs < 0 {
			name = "gomaxprocs=unset"
		}
		b.Run(name, func(b *testing.B) {
			c := benchIntegration(b, procs)
			ctx := context.Background()
			for range warmup {
				if err := echoOnce(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
			for _, callers := range []int{1, 16} {
				b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
					for range b.N {
						lat := make([][]time.Duration, callers)
						var wg sync.WaitGroup
						start := time.Now()
						for i := range callers {
							lat[i] = make([]time.Duration, 0, perRun/callers)
							wg.Go(func() {
								for range perRun / callers {
									t0 := time.Now()
									if err := echoOnce(ctx, c); err != nil {
										b.Error(err)
										return
									}
									lat[i] = append(lat[i], time.Since(t0))
								}
							})
						}
						wg.Wait()
						elapsed := time.Since(start)
						all := slices.Concat(lat...)
						slices.Sort(all)
						pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Nanoseconds()) / 1e3 }
						b.ReportMetric(pct(0.50), "p50-µs")
						b.ReportMetric(pct(0.99), "p99-µs")
						b.ReportMetric(float64(len(all))/elapsed.Seconds(), "calls/s")
						b.ReportMetric(0, "ns/op")
					}
				})
			}
		})
	}
}
