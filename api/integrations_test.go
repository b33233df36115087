package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
)

// TestIntegrationsAPI: the example provider (hello, through a real plugin
// process) connected, synced and disconnected over HTTP; another user's
// view is 404 or disconnected; bad input is a problem naming the field and
// changes nothing; the callback needs no bearer token and refuses a wrong
// state with 400.
func TestIntegrationsAPI(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Hello: true, Workers: true})
	alice, bob := e.NewUser(), e.NewUser()

	res := e.Do(http.MethodGet, "/api/external/providers", nil, alice.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	var provs []map[string]any
	res.JSON(t, &provs)
	require.Len(t, provs, 1)
	require.Equal(t, "hello", provs[0]["name"])
	require.Equal(t, "none", provs[0]["auth_type"])
	require.Contains(t, provs[0]["capabilities"], "tasks.pull")

	res = e.Do(http.MethodPost, "/api/external/connect/nosuch", map[string]any{}, alice.Bearer())
	require.Equal(t, http.StatusNotFound, res.Status, res.String())
	res = e.Do(http.MethodPost, "/api/external/connect/hello", map[string]any{"token": 12}, alice.Bearer())
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, res.String())
	require.Contains(t, res.String(), "body.token")

	res = e.Do(http.MethodPost, "/api/external/sync/hello", nil, alice.Bearer())
	require.Equal(t, http.StatusNotFound, res.Status, "not connected yet: %s", res)
	res = e.Do(http.MethodPost, "/api/tasks/sync", nil, alice.Bearer())
	require.Equal(t, http.StatusNotFound, res.Status, res.String())

	res = e.Do(http.MethodPost, "/api/external/connect/hello", map[string]any{}, alice.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	st := res.Map(t)["status"].(map[string]any)
	require.Equal(t, "connected", st["state"])
	require.Equal(t, true, st["connected"])

	// Bob sees nothing of it and cannot touch it.
	res = e.Do(http.MethodGet, "/api/external/status/hello", nil, bob.Bearer())
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, "disconnected", res.Map(t)["state"])
	require.Equal(t, http.StatusNotFound, e.Do(http.MethodPost, "/api/external/sync/hello", nil, bob.Bearer()).Status)
	require.Equal(t, http.StatusNotFound, e.Do(http.MethodDelete, "/api/external/disconnect/hello", nil, bob.Bearer()).Status)

	res = e.Do(http.MethodPost, "/api/external/sync/hello?full=true", nil, alice.Bearer())
	require.Equal(t, http.StatusAccepted, res.Status, res.String())
	var jobs struct {
		JobIDs []int64 `json:"job_ids"`
	}
	res.JSON(t, &jobs)
	require.Len(t, jobs.JobIDs, 1)
	// The hello plugin seeds five tasks; they arrive as external tasks.
	var page struct {
		Items []struct {
			Task      map[string]any `json:"task"`
			Reference map[string]any `json:"reference"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	deadline := 600
	for range deadline {
		res = e.Do(http.MethodGet, "/api/tasks/external?limit=200", nil, alice.Bearer())
		require.Equal(t, http.StatusOK, res.Status, res.String())
		res.JSON(t, &page)
		if len(page.Items) == 5 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.Len(t, page.Items, 5)
	require.Equal(t, "hello", page.Items[0].Reference["system"])
	require.Equal(t, "synced", page.Items[0].Reference["sync_status"])
	require.Equal(t, "hello", page.Items[0].Task["source"], "a task from an integration names its provider as its source")
	res = e.Do(http.MethodGet, "/api/tasks/external", nil, bob.Bearer())
	require.Equal(t, http.StatusOK, res.Status)
	require.Empty(t, res.Map(t)["items"])
	res = e.Do(http.MethodGet, "/api/tasks/external?cursor=garbage", nil, alice.Bearer())
	require.Equal(t, http.StatusUnprocessableEntity, res.Status)

	res = e.Do(http.MethodGet, "/api/external/status/hello", nil, alice.Bearer())
	require.Equal(t, http.StatusOK, res.Status)
	st = res.Map(t)
	require.NotNil(t, st["last_sync_at"])
	require.NotNil(t, st["next_sync_at"])

	// The callback needs no token; a wrong state is 400 and saves nothing.
	res = e.Do(http.MethodGet, "/api/external/callback/hello?code=x&state=wrong", nil)
	require.Equal(t, http.StatusBadRequest, res.Status, res.String())

	// Disconnect, keeping nothing.
	res = e.Do(http.MethodDelete, "/api/external/disconnect/hello?keep_tasks=maybe", nil, alice.Bearer())
	require.Equal(t, http.StatusUnprocessableEntity, res.Status)
	res = e.Do(http.MethodDelete, "/api/external/disconnect/hello?keep_tasks=false", nil, alice.Bearer())
	require.Equal(t, http.StatusNoContent, res.Status, res.String())
	var n int
	require.NoError(t, e.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM tasks t JOIN users u ON u.id = t.user_id WHERE u.email = $1 AND t.source = 'external'`, alice.Email).Scan(&n))
	require.Zero(t, n)
	require.Equal(t, http.StatusNotFound, e.Do(http.MethodDelete, "/api/external/disconnect/hello", nil, alice.Bearer()).Status)
}
