package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
)

func TestRouterErrorsAreProblems(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})

	p := requireProblem(t, e.Do("GET", "/api/no-such-thing", nil), http.StatusNotFound)
	require.Contains(t, p["detail"], "/api/no-such-thing")
	require.NotEmpty(t, p["instance"], "problems carry the request id")

	res := e.Do("DELETE", "/api/users/me", nil)
	p = requireProblem(t, res, http.StatusMethodNotAllowed)
	require.Contains(t, res.Header.Get("Allow"), "GET")
	require.Equal(t, "method_not_allowed", p["code"])
}

func TestOversizedBody(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Configure: func(c *config.Config) { c.HTTP.MaxBodyBytes = 1024 }})
	big := `{"email":"x@example.com","password":"` + strings.Repeat("p", 2048) + `"}`
	requireProblem(t, e.Do("POST", "/api/auth/register", big), http.StatusRequestEntityTooLarge)

	u := e.NewUser()
	prefs := `{"blob":"` + strings.Repeat("x", 70<<10) + `"}`
	e.Config.HTTP.MaxBodyBytes = 1 << 20
	requireProblem(t, e.Do("PUT", "/api/users/preferences", prefs, u.Bearer()), http.StatusRequestEntityTooLarge)
}

func TestPanicBecomesProblem(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Routes: func(a huma.API) {
		huma.Get(a, "/test/panic", func(context.Context, *struct{}) (*struct{}, error) {
			panic("secret-internal-detail")
		})
		huma.Get(a, "/test/error", func(context.Context, *struct{}) (*struct{}, error) {
			return nil, errorString("password=hunter2 leaked in an error")
		})
	}})
	res := e.Do("GET", "/api/test/panic", nil)
	requireProblem(t, res, http.StatusInternalServerError)
	require.NotContains(t, string(res.Body), "secret-internal-detail")

	res = e.Do("GET", "/api/test/error", nil)
	requireProblem(t, res, http.StatusInternalServerError)
	require.NotContains(t, string(res.Body), "hunter2", "internal errors never reach the client")
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestRateLimits(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Configure: func(c *config.Config) {
		c.RateLimit.Enabled = true
		c.RateLimit.AuthPerIP = config.Limit{Rate: 3, Per: time.Hour, Burst: 3}
		c.RateLimit.AuthPerAccount = config.Limit{Rate: 2, Per: time.Hour, Burst: 2}
		c.RateLimit.PerUser = config.Limit{Rate: 2, Per: time.Hour, Burst: 2}
	}})
	u := e.NewUser() // 1 of 3 per-IP auth requests

	t.Run("per account", func(t *testing.T) {
		for range 2 {
			requireProblem(t, e.Do("POST", "/api/auth/login", map[string]any{"email": "victim@example.com", "password": "guess-guess"}), http.StatusUnauthorized)
		}
		res := e.Do("POST", "/api/auth/login", map[string]any{"email": "VICTIM@example.com", "password": "guess-guess"})
		requireProblem(t, res, http.StatusTooManyRequests)
		after, err := strconv.Atoi(res.Header.Get("Retry-After"))
		require.NoError(t, err, "Retry-After is whole seconds")
		require.Greater(t, after, 0)
	})

	t.Run("per IP", func(t *testing.T) {
		res := e.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": "x"})
		p := requireProblem(t, res, http.StatusTooManyRequests)
		require.Equal(t, "rate_limited", p["code"])
		require.NotEmpty(t, res.Header.Get("Retry-After"))
	})

	t.Run("per user", func(t *testing.T) {
		require.Equal(t, http.StatusOK, e.Do("GET", "/api/users/me", nil, u.Bearer()).Status)
		require.Equal(t, http.StatusOK, e.Do("GET", "/api/users/me", nil, u.Bearer()).Status)
		res := e.Do("GET", "/api/users/me", nil, u.Bearer())
		requireProblem(t, res, http.StatusTooManyRequests)
		require.NotEmpty(t, res.Header.Get("Retry-After"))
	})
}

func TestCORS(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Configure: func(c *config.Config) {
		c.HTTP.CORSOrigins = []string{"https://app.example.com"}
	}})
	res := e.Do("OPTIONS", "/api/users/me", nil, "Origin: https://app.example.com", "Access-Control-Request-Method: GET",
		"Access-Control-Request-Headers: authorization")
	require.Equal(t, http.StatusNoContent, res.Status)
	require.Equal(t, "https://app.example.com", res.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, res.Header.Get("Access-Control-Allow-Headers"), "Authorization")

	res = e.Do("OPTIONS", "/api/users/me", nil, "Origin: https://evil.example.com", "Access-Control-Request-Method: GET")
	requireProblem(t, res, http.StatusForbidden)
	require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))

	res = e.Do("GET", "/healthz", nil, "Origin: https://app.example.com")
	require.Equal(t, "https://app.example.com", res.Header.Get("Access-Control-Allow-Origin"))
	res = e.Do("GET", "/healthz", nil, "Origin: https://evil.example.com")
	require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	require.Equal(t, http.StatusOK, e.Do("GET", "/healthz", nil).Status)
	require.Equal(t, http.StatusOK, e.Do("GET", "/readyz", nil).Status)

	t.Run("database down", func(t *testing.T) {
		// A pool whose server does not answer: port 1 on loopback refuses.
		dead, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/x?connect_timeout=2")
		require.NoError(t, err)
		t.Cleanup(dead.Close)
		down := apitest.New(t, apitest.Options{})
		down.Ready = db.NewMigrator(dead, discard()).Ready
		p := requireProblem(t, down.Do("GET", "/readyz", nil), http.StatusServiceUnavailable)
		require.Contains(t, p["detail"], "database unreachable")
		require.Equal(t, http.StatusOK, down.Do("GET", "/healthz", nil).Status, "the process itself is alive")
	})

	t.Run("database not migrated", func(t *testing.T) {
		empty, err := pgxpool.New(context.Background(), dbtest.EmptyDatabase(t))
		require.NoError(t, err)
		t.Cleanup(empty.Close)
		e2 := apitest.New(t, apitest.Options{})
		e2.Ready = db.NewMigrator(empty, discard()).Ready
		p := requireProblem(t, e2.Do("GET", "/readyz", nil), http.StatusServiceUnavailable)
		require.Contains(t, p["detail"], "migrate up")
	})
}

func TestOpenAPIAndOfflineDocs(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	res := e.Do("GET", "/api/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.Status)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(res.Body, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3.1"), doc.OpenAPI)
	for _, p := range []string{"/auth/register", "/auth/login", "/auth/refresh", "/auth/logout", "/users/me", "/users/preferences"} {
		require.Contains(t, doc.Paths, p)
	}
	require.Equal(t, http.StatusOK, e.Do("GET", "/api/openapi.yaml", nil).Status)

	page := e.Do("GET", "/api/docs", nil)
	require.Equal(t, http.StatusOK, page.Status)
	require.Contains(t, string(page.Body), "<elements-api")
	require.NotContains(t, string(page.Body), "https://", "the docs page must load nothing from the network")
	require.Contains(t, page.Header.Get("Content-Security-Policy"), "script-src 'self'")
	for _, asset := range []string{"/api/docs/assets/web-components.min.js", "/api/docs/assets/styles.min.css"} {
		res := e.Do("GET", asset, nil)
		require.Equal(t, http.StatusOK, res.Status, asset)
		require.Greater(t, len(res.Body), 100_000, asset)
	}
}
