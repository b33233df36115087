package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/config"
)

const metricsToken = "metrics-token-0123456789abcdef0123"

// scrape reads /metrics and returns its sample lines.
func scrape(t *testing.T, e *apitest.Env, headers ...string) *apitest.Response {
	t.Helper()
	return e.Do(http.MethodGet, "/metrics", nil, headers...)
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Models: aitest.LocalHost(t), Workers: true,
		Configure: func(c *config.Config) { c.Metrics.Token = metricsToken }})
	u := e.NewUser()

	// Protected: no token, a wrong one and a user's access token are refused.
	for _, h := range []string{"", "Authorization: Bearer wrong", u.Bearer()} {
		var hs []string
		if h != "" {
			hs = append(hs, h)
		}
		res := scrape(t, e, hs...)
		require.Equal(t, http.StatusUnauthorized, res.Status, h)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	}

	res := e.Do(http.MethodPost, "/api/notes", `{"title":"Groceries","content":[{"type":"paragraph","content":"milk and eggs"}]}`, u.Bearer())
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	id := res.Map(t)["id"].(string)
	other := e.NewUser()
	require.Equal(t, http.StatusNotFound, e.Do(http.MethodGet, "/api/notes/"+id, nil, other.Bearer()).Status)
	require.Equal(t, http.StatusUnprocessableEntity, e.Do(http.MethodPost, "/api/notes", `{"title":7}`, u.Bearer()).Status)
	require.Equal(t, http.StatusNotFound, e.Do(http.MethodGet, "/api/no-such-route", nil).Status)

	// The note's embedding job is counted once the worker has done it.
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for {
		res = scrape(t, e, "Authorization: Bearer "+metricsToken)
		require.Equal(t, http.StatusOK, res.Status)
		body = string(res.Body)
		if strings.Contains(body, `consilium_jobs_total{kind="ai.embed_note",outcome="completed"}`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		// By route pattern, never by raw path: ids do not become labels.
		`consilium_http_requests_total{method="POST",route="POST /api/notes",status="201"} 1`,
		`consilium_http_requests_total{method="POST",route="POST /api/notes",status="422"} 1`,
		`consilium_http_requests_total{method="GET",route="GET /api/notes/{note_id}",status="404"} 1`,
		`consilium_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`consilium_http_request_duration_seconds_count{method="POST",route="POST /api/notes"} 2`,
		`consilium_jobs_total{kind="ai.embed_note",outcome="completed"}`,
		`consilium_job_duration_seconds_count{kind="ai.embed_note"}`,
		"consilium_db_pool_max_connections ",
		"consilium_db_pool_acquired_connections ",
		"consilium_jobs_queued_scrape_errors 0",
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, id, "no id in any label")
}
