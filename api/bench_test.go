package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/config"
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
func benchEnv(b *testing.B) *apitest.Env {
	return apitest.New(b, apitest.Options{Configure: func(c *config.Config) {
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
