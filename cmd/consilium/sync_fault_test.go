package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/plugins/clickup/clickuptest"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

// TestClickUpSyncOfAKilledWorkerIsRescued: the worker process is killed
// (SIGKILL) in the middle of a ClickUp sync, after some pages of tasks are
// stored; another worker's rescuer retries the job, and every ClickUp task
// that is not done or closed ends up exactly once, with its current title. A change made in ClickUp
// afterwards arrives with the next sync (the cursor was not moved past what
// was stored). The seconds from the kill to the completed sync are logged.
func TestClickUpSyncOfAKilledWorkerIsRescued(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, "../../plugins/clickup")
	cu := clickuptest.Start(t, clickuptest.Options{})
	cu.Seed(clickuptest.SeedOptions{Tasks: 450, Lists: 3}) // five pages of 100
	// A first sync brings the tasks that are not done or closed.
	want := map[string]string{}
	closed := map[string]bool{}
	for _, s := range clickuptest.SeedStatuses {
		closed[s.Name] = s.Type == "done" || s.Type == "closed"
	}
	var open []string
	for _, task := range cu.Tasks() {
		if !closed[task.Status] {
			want[task.ID] = task.Name
			open = append(open, task.ID)
		}
	}
	tasks := len(want)
	require.Greater(t, tasks, 200)
	cu.AddToken("pk_soak_fault")

	// Task pages are slowed down so that the kill lands mid-sync; the
	// third page request tells the test to kill.
	var pages atomic.Int32
	third := make(chan struct{})
	cu.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/task") && strings.HasPrefix(r.URL.Path, "/api/v2/team/") {
			if pages.Add(1) == 3 {
				close(third)
			}
			time.Sleep(200 * time.Millisecond) // a slow outside API, not synchronisation
		}
		return false
	})

	cfgPath := filepath.Join(t.TempDir(), "consilium.yaml")
	require.NoError(t, os.WriteFile(cfgPath, fmt.Appendf(nil, `plugins:
  items:
    - name: clickup
      kind: integration
      path: %s
      enabled: true
      config:
        base_url: %s
`, bin, cu.BaseURL()), 0o600))
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := []string{"CONSILIUM_CONFIG=" + cfgPath, "CONSILIUM_INTEGRATIONS_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key),
		"CONSILIUM_JOBS_RESCUE_STUCK_AFTER=6s", "CONSILIUM_JOBS_SYNC_TIMEOUT=20s", "CONSILIUM_INTEGRATIONS_SYNC_INTERVAL=24h"}

	url := dbtest.EmptyDatabase(t)
	api := startProcess(t, "api", url, env, "serve")
	pool, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	userID, token := api.register()
	api.connect(token, "clickup", map[string]any{"token": "pk_soak_fault"})

	doomed := startProcess(t, "doomed worker", url, env, "worker")
	status, raw := api.do(http.MethodPost, "/api/external/sync/clickup", token, map[string]any{})
	require.Equal(t, http.StatusAccepted, status, string(raw))
	var queued struct {
		JobIDs []int64 `json:"job_ids"`
	}
	require.NoError(t, json.Unmarshal(raw, &queued))
	require.NotEmpty(t, queued.JobIDs)
	select {
	case <-third:
	case <-time.After(4 * time.Minute):
		t.Fatal("the sync did not reach its third page within 4 minutes")
	}
	doomed.kill()
	killed := time.Now()
	stored := func() (n, distinct int) {
		// Tasks reached through their ClickUp references: every task once,
		// no two references on one task.
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT t.id) FROM external_refs r
			JOIN tasks t ON t.id = r.task_id WHERE r.user_id = $1 AND r.system = 'clickup'`, userID).Scan(&n, &distinct))
		return n, distinct
	}
	n, _ := stored()
	require.Less(t, n, tasks, "the worker was killed mid-sync")
	t.Logf("killed the worker with %d of %d open tasks stored, after %d page requests", n, tasks, pages.Load())

	startProcess(t, "second worker", url, env, "worker")
	waitJobs := func(ids []int64) {
		t.Helper()
		deadline := time.Now().Add(4 * time.Minute)
		for {
			var left int
			require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE id = ANY($1) AND state <> 'completed'`, ids).Scan(&left))
			if left == 0 {
				return
			}
			var states []string
			require.NoError(t, pool.QueryRow(context.Background(), `SELECT array_agg(state::text || ' attempt ' || attempt) FROM river_job WHERE id = ANY($1)`, ids).Scan(&states))
			for _, s := range states {
				require.NotContains(t, s, "discarded")
				require.NotContains(t, s, "cancelled")
			}
			if time.Now().After(deadline) {
				var errs []string
				_ = pool.QueryRow(context.Background(), `SELECT array_agg(errors::text) FROM river_job WHERE id = ANY($1)`, ids).Scan(&errs)
				t.Fatalf("sync jobs not completed within 2 minutes: %v, errors %v", states, errs)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitJobs(queued.JobIDs)
	t.Logf("sync rescued and completed %.1fs after the kill", time.Since(killed).Seconds())
	var attempt int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT max(attempt) FROM river_job WHERE id = ANY($1)`, queued.JobIDs).Scan(&attempt))
	require.GreaterOrEqual(t, attempt, 2, "the killed attempt was retried")

	n, distinct := stored()
	require.Equal(t, tasks, n, "every ClickUp task stored")
	require.Equal(t, tasks, distinct, "none twice")
	var refs, refsDistinct int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT external_id) FROM external_refs WHERE user_id = $1 AND system = 'clickup'`,
		userID).Scan(&refs, &refsDistinct))
	require.Equal(t, len(cu.Tasks()), refs, "a reference for every ClickUp task, done and closed ones included")
	require.Equal(t, refs, refsDistinct, "no task referenced twice")
	var wrong int
	rows, err := pool.Query(context.Background(), `SELECT r.external_id, t.title FROM external_refs r JOIN tasks t ON t.id = r.task_id
		WHERE r.user_id = $1 AND r.system = 'clickup'`, userID)
	require.NoError(t, err)
	for rows.Next() {
		var id, title string
		require.NoError(t, rows.Scan(&id, &title))
		if want[id] != title {
			wrong++
		}
	}
	require.NoError(t, rows.Err())
	require.Zero(t, wrong, "tasks whose title differs from ClickUp's")

	// A change made in ClickUp now arrives with the next sync.
	cu.Intercept(nil)
	changed := open[len(open)-1]
	_, err = cu.UpdateTask(changed, func(x *clickuptest.Task) { x.Name = "Renamed in ClickUp after the kill" })
	require.NoError(t, err)
	status, raw = api.do(http.MethodPost, "/api/external/sync/clickup", token, map[string]any{})
	require.Equal(t, http.StatusAccepted, status, string(raw))
	require.NoError(t, json.Unmarshal(raw, &queued))
	waitJobs(queued.JobIDs)
	var title string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT t.title FROM external_refs r JOIN tasks t ON t.id = r.task_id
		WHERE r.user_id = $1 AND r.system = 'clickup' AND r.external_id = $2`, userID, changed).Scan(&title))
	require.Equal(t, "Renamed in ClickUp after the kill", title)
	n, distinct = stored()
	require.Equal(t, tasks, n)
	require.Equal(t, tasks, distinct)
}
