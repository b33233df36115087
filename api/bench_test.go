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
	"testing"
	"time"

	"go.opentelemetry.io/otel"
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
// them. The two alternate three times in one run, so that the machine's
// drift falls on both; the figures are the medians of the three.
func BenchmarkObservabilityCost(b *testing.B) {
	var exports atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		exports.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	off := benchEnv(b)
	on := benchEnv(b, func(c *config.Config) { c.Metrics.Token = strings.Repeat("m", 40) })
	stop, err := tracing.Setup(context.Background(), tracing.Options{OTLPEndpoint: collector.URL, ServiceName: "bench", SampleRatio: 1})
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
	offUsers, onUsers := users(off), users(on)
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
		return v[len(v)/2]
	}
	b.ResetTimer()
	for range b.N {
		var offRates, onRates, offP99, onP99 []float64
		for round := 1; round <= 3; round++ {
			otel.SetTracerProvider(tracenoop.NewTracerProvider())
			r := load(off, offUsers)
			b.Logf("round %d off: %s", round, r)
			offRates, offP99 = append(offRates, r.PerSecond), append(offP99, float64(r.P99.Microseconds())/1000)
			otel.SetTracerProvider(traced)
			r = load(on, onUsers)
			b.Logf("round %d on:  %s", round, r)
			onRates, onP99 = append(onRates, r.PerSecond), append(onP99, float64(r.P99.Microseconds())/1000)
		}
		offRate, onRate := median(offRates), median(onRates)
		b.ReportMetric(offRate, "off-req/s")
		b.ReportMetric(onRate, "on-req/s")
		b.ReportMetric(100*(offRate-onRate)/offRate, "cost-%")
		b.ReportMetric(median(offP99), "off-p99-ms")
		b.ReportMetric(median(onP99), "on-p99-ms")
	}
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
