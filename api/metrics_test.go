package api_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/integration/integrationtest"
	"github.com/consilium-hq/consilium/core/model/modeltest"
	"github.com/consilium-hq/consilium/sdk"
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
	// A method a client made up is not a label value of its own.
	require.Equal(t, http.StatusNotFound, e.Do("BREW", "/api/no-such-route", nil).Status)

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
		`consilium_http_requests_total{method="other",route="unmatched",status="404"} 1`,
		`consilium_http_request_duration_seconds_count{method="POST",route="POST /api/notes"} 2`,
		`consilium_jobs_total{kind="ai.embed_note",outcome="completed"}`,
		`consilium_job_duration_seconds_count{kind="ai.embed_note"}`,
		"consilium_db_pool_max_connections ",
		"consilium_db_pool_acquired_connections ",
		"consilium_jobs_queued_scrape_errors 0",
		"consilium_trace_spans_exported_total ",
		"consilium_trace_spans_dropped_total ",
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, id, "no id in any label")
	require.NotContains(t, body, "BREW", "no made-up method in any label")
}

// TestMetricsChatAndSync: a chat run that ends is counted by status with
// the tokens its model calls spent; the sync lag per provider is the
// connected connection most behind, and a sync brings it back.
func TestMetricsChatAndSync(t *testing.T) {
	t.Parallel()
	m := modeltest.New(modeltest.Turn{Text: []string{"Noted."}, Model: "tiny-1", Usage: sdk.Usage{InputTokens: 12, OutputTokens: 5}})
	b := setupChat(t, apitest.Options{Workers: true, Hello: true, Models: modeltest.Source{"scripted": m},
		Configure: func(c *config.Config) {
			c.Metrics.Token = metricsToken
			c.Plugins.Items = append(c.Plugins.Items, plugin0("scripted"))
			c.AI.Agents = []config.Agent{{Name: "helper", Provider: "scripted"}}
			c.AI.Chat.ModelTitles = false
		}})
	e := b.e
	auth := "Authorization: Bearer " + metricsToken
	// scrapeUntil scrapes until every want is in the body (a run's end is
	// counted right after its last event is stored; a sync's effect lands
	// when its job has run), or fails at the deadline.
	scrapeUntil := func(what string, ok func(body string) bool) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			res := scrape(t, e, auth)
			require.Equal(t, http.StatusOK, res.Status)
			if ok(string(res.Body)) {
				return string(res.Body)
			}
			require.False(t, time.Now().After(deadline), "%s: not in the metrics:\n%s", what, grepLines(string(res.Body), "consilium_chat_", "consilium_sync_lag"))
			time.Sleep(20 * time.Millisecond)
		}
	}

	body := string(scrape(t, e, auth).Body)
	require.NotContains(t, body, `consilium_chat_runs_total{`, "no run has ended yet")

	conv := b.conversation(t)
	ws := b.dial(t, e, conv)
	zero := int64(0)
	ws.subscribe(&zero)
	res := b.do(http.MethodPost, "/api/conversations/"+conv+"/messages",
		map[string]any{"content": "Remember the milk", "agent_id": "helper", "client_msg_id": uuid.NewString()})
	require.Equal(t, http.StatusAccepted, res.Status, res.String())
	evs := ws.untilRunCompleted()
	require.Equal(t, "completed", evs[len(evs)-1]["status"])
	scrapeUntil("the completed run", func(body string) bool {
		return strings.Contains(body, `consilium_chat_runs_total{status="completed"} 1`)
	})
	body = string(scrape(t, e, auth).Body)
	require.Contains(t, body, `consilium_chat_tokens_total{direction="input",model="tiny-1",provider="scripted"} 12`)
	require.Contains(t, body, `consilium_chat_tokens_total{direction="output",model="tiny-1",provider="scripted"} 5`)

	// Sync lag: this user's connection is made the one most behind.
	res = b.do(http.MethodPost, "/api/external/connect/"+integrationtest.HelloName, map[string]any{})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	_, err := e.DB.Pool.Exec(t.Context(), `UPDATE connections SET created_at = now() - interval '100 days' WHERE user_id = $1`, b.u.ID)
	require.NoError(t, err)
	lag := func(body string) float64 {
		v, ok := sampleValue(body, `consilium_sync_lag_seconds{provider="hello"}`)
		require.True(t, ok, "no sync lag for hello:\n%s", grepLines(body, "consilium_sync_lag"))
		return v
	}
	body = string(scrape(t, e, auth).Body)
	require.GreaterOrEqual(t, lag(body), float64(100*24*3600), "never synced: the lag runs from the connect")
	require.Contains(t, body, "consilium_sync_lag_scrape_errors 0")

	res = b.do(http.MethodPost, "/api/external/sync/"+integrationtest.HelloName, nil)
	require.Equal(t, http.StatusAccepted, res.Status, res.String())
	scrapeUntil("the lag after a sync", func(body string) bool { return lag(body) < 24*3600 })
}

// sampleValue reads the value of the sample whose name and labels are
// exactly series.
func sampleValue(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

func grepLines(body string, prefixes ...string) string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(line, p) {
				out = append(out, line)
			}
		}
	}
	return strings.Join(out, "\n")
}
