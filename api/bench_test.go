package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/tracing"
)

// benchDuration is how long each timed run lasts (BENCH_SECONDS, default 10).
func benchDuration() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("BENCH_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 10 * time.Second
}

// benchEnv is the real stack with production settings: default argon2id
// parameters and the per-user limit raised so the load is not throttled.
func benchEnv(b *testing.B, also ...func(*config.Config)) *apitest.Env {
	return apitest.New(b, apitest.Options{Configure: func(c *config.Config) {
		for _, f := range also {
			f(c)
		}
		c.Auth.Password = config.Default().Auth.Password
		c.Database.MaxConns = 8
		// The limiter runs (its cost is measured) but does not throttle.
		c.RateLimit = config.Default().RateLimit
		c.RateLimit.PerUser = config.Limit{Rate: 1_000_000, Per: time.Second, Burst: 1_000_000}
		c.RateLimit.AuthPerIP = c.RateLimit.PerUser
		c.RateLimit.AuthPerAccount = c.RateLimit.PerUser
	}})
}

func get(e *apitest.Env, path, bearer string) error {
	req, _ := http.NewRequest(http.MethodGet, e.Server.URL+path, nil)
	req.Header.Set("Authorization", bearer)
	res, err := e.Client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return nil
}

// BenchmarkGetCurrentUser: GET /api/users/me at 32 concurrent clients, each
// its own user (a signed JWT checked, one query for session + user, JSON out).
func BenchmarkGetCurrentUser(b *testing.B) {
	e := benchEnv(b)
	const clients = 32
	users := make([]string, clients)
	for i := range users {
		users[i] = "Bearer " + e.NewUser().AccessToken
	}
	b.ResetTimer()
	for range b.N {
		res := apitest.Load(apitest.LoadOptions{Concurrency: clients, Duration: benchDuration()}, func(c int) error {
			return get(e, "/api/users/me", users[c])
		})
		res.Report(b)
	}
}

// BenchmarkObservabilityCost: what metrics and tracing cost on GET
// /api/users/me at 32 concurrent clients. "off" is a server without
// metrics and with no tracer provider (the default); "on" collects the
// Prometheus metrics and traces every request (sample ratio 1, the worst
// case), exported by OTLP/HTTP to a local collector that reads and drops
// them. The two alternate in four pairs, in ABBA order, so that the
// machine's drift falls on both; each pair gives a cost in req/s and one
// in this process's CPU time per request (steadier on a drifting
// machine), and the figures are the medians of the four pairs.
func BenchmarkObservabilityCost(b *testing.B) {
	var exports atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		exports.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	off := benchEnv(b)
	onEnv := benchEnv(b, func(c *config.Config) { c.Metrics.Token = strings.Repeat("m", 40) })
	// OBS_SAMPLE_RATIO (default 1, tracing.sample_ratio's default and
	// the worst case) measures a lower tracing.sample_ratio.
	ratio := 1.0
	if v := os.Getenv("OBS_SAMPLE_RATIO"); v != "" {
		var err error
		if ratio, err = strconv.ParseFloat(v, 64); err != nil || ratio <= 0 || ratio > 1 {
			b.Fatalf("OBS_SAMPLE_RATIO=%q: a number in (0, 1]", v)
		}
	}
	b.Logf("tracing.sample_ratio %g", ratio)
	stop, err := tracing.Setup(context.Background(), tracing.Options{OTLPEndpoint: collector.URL, ServiceName: "bench", SampleRatio: ratio})
	if err != nil {
		b.Fatal(err)
	}
	traced := otel.GetTracerProvider()
	defer func() {
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		if err := stop(context.Background()); err != nil {
			b.Error(err)
		}
		if exports.Load() == 0 {
			b.Error("the collector received no traces: the \"on\" rounds did not trace")
		}
	}()
	const clients = 32
	users := func(e *apitest.Env) []string {
		out := make([]string, clients)
		for i := range out {
			out[i] = "Bearer " + e.NewUser().AccessToken
		}
		return out
	}
	offUsers, onUsers := users(off), users(onEnv)
	load := func(e *apitest.Env, tokens []string) apitest.LoadResult {
		res := apitest.Load(apitest.LoadOptions{Concurrency: clients, Duration: benchDuration()}, func(c int) error {
			return get(e, "/api/users/me", tokens[c])
		})
		if res.Errors > 0 {
			b.Fatalf("%d errors: %s", res.Errors, res)
		}
		return res
	}
	median := func(v []float64) float64 {
		slices.Sort(v)
		if len(v)%2 == 0 {
			return (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		return v[len(v)/2]
	}
	// run measures one timed run: its load and this process's CPU time per
	// request (server and clients both live here; the clients cost the
	// same in both kinds of run, so the difference is the server's).
	run := func(on bool) (apitest.LoadResult, float64) {
		e, tokens, tp := off, offUsers, trace.TracerProvider(tracenoop.NewTracerProvider())
		if on {
			e, tokens, tp = onEnv, onUsers, traced
		}
		otel.SetTracerProvider(tp)
		exported0, dropped0 := tracing.Stats()
		cpu0 := processCPU()
		r := load(e, tokens)
		if on {
			// Every request's span exported (the last batch too, inside
			// the CPU time), none dropped: a dropped span's export would
			// be cost left out of the figure.
			if err := traced.(*sdktrace.TracerProvider).ForceFlush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		cpu := float64((processCPU() - cpu0).Microseconds()) / float64(r.Requests)
		if on {
			exported, dropped := tracing.Stats()
			if dropped > dropped0 || (ratio == 1 && exported-exported0 < int64(r.Requests)) || exported == exported0 {
				b.Fatalf("%d requests, %d spans exported and %d dropped", r.Requests, exported-exported0, dropped-dropped0)
			}
		}
		return r, cpu
	}
	// OBS_ONLY=on or off runs that side alone for BENCH_SECONDS, to
	// profile it (-cpuprofile, -memprofile) without the other side mixed in.
	if only := os.Getenv("OBS_ONLY"); only != "" {
		b.ResetTimer()
		r, cpu := run(only == "on")
		b.Logf("%s alone: %s, %.1f µs CPU/request", only, r, cpu)
		b.ReportMetric(r.PerSecond, only+"-req/s")
		b.ReportMetric(cpu, only+"-cpu-µs/req")
		return
	}
	b.ResetTimer()
	for range b.N {
		// Four pairs in ABBA order (off-on, on-off, ...), so that a drift
		// of the machine during the run falls on both sides alike; each
		// pair gives one cost, and the figures are the medians.
		var offRates, onRates, offP99, onP99, costs, cpuCosts, offCPU, onCPU []float64
		for pair := 1; pair <= 4; pair++ {
			var ro, rn apitest.LoadResult
			var co, cn float64
			if pair%2 == 1 {
				ro, co = run(false)
				rn, cn = run(true)
			} else {
				rn, cn = run(true)
				ro, co = run(false)
			}
			b.Logf("pair %d off: %s, %.1f µs CPU/request", pair, ro, co)
			b.Logf("pair %d on:  %s, %.1f µs CPU/request", pair, rn, cn)
			offRates, onRates = append(offRates, ro.PerSecond), append(onRates, rn.PerSecond)
			offP99, onP99 = append(offP99, float64(ro.P99.Microseconds())/1000), append(onP99, float64(rn.P99.Microseconds())/1000)
			costs = append(costs, 100*(ro.PerSecond-rn.PerSecond)/ro.PerSecond)
			cpuCosts = append(cpuCosts, 100*(cn-co)/co)
			offCPU, onCPU = append(offCPU, co), append(onCPU, cn)
		}
		b.ReportMetric(median(offRates), "off-req/s")
		b.ReportMetric(median(onRates), "on-req/s")
		b.ReportMetric(median(costs), "cost-%")
		b.ReportMetric(median(offCPU), "off-cpu-µs/req")
		b.ReportMetric(median(onCPU), "on-cpu-µs/req")
		b.ReportMetric(median(cpuCosts), "cpu-cost-%")
		b.ReportMetric(median(offP99), "off-p99-ms")
		b.ReportMetric(median(onP99), "on-p99-ms")
	}
}

// processCPU is this process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLogin: POST /api/auth/login with the default argon2id parameters
// (19 MiB, 2 passes): deliberately slow, so at 4 concurrent clients.
func BenchmarkLogin(b *testing.B) {
	e := benchEnv(b)
	u := e.NewUser()
	body := []byte(fmt.Sprintf(`{"email":%q,"password":%q}`, u.Email, u.Password))
	b.ResetTimer()
	for range b.N {
		res := apitest.Load(apitest.LoadOptions{Concurrency: 4, Duration: benchDuration()}, func(int) error {
			req, _ := http.NewRequest(http.MethodPost, e.Server.URL+"/api/auth/login", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			res, err := e.Client.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", res.StatusCode)
			}
			return nil
		})
		res.Report(b)
	}
}

// BenchmarkLoginRefusals compares a wrong password with an unknown email:
// both verify an argon2id hash, so their latencies should match (no account
// enumeration by timing). One client, rate limits off.
func BenchmarkLoginRefusals(b *testing.B) {
	e := benchEnv(b)
	u := e.NewUser()
	for name, body := range map[string]string{
		"wrong-password": fmt.Sprintf(`{"email":%q,"password":"not-the-password"}`, u.Email),
		"unknown-email":  `{"email":"nobody-at-all@example.com","password":"not-the-password"}`,
	} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				res := apitest.Load(apitest.LoadOptions{Concurrency: 1, Duration: benchDuration() / 2}, func(int) error {
					req, _ := http.NewRequest(http.MethodPost, e.Server.URL+"/api/auth/login", bytes.NewReader([]byte(body)))
					req.Header.Set("Content-Type", "application/json")
					res, err := e.Client.Do(req)
					if err != nil {
						return err
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusUnauthorized {
						return fmt.Errorf("status %d", res.StatusCode)
					}
					return nil
				})
				res.Report(b)
			}
		})
	}
}
