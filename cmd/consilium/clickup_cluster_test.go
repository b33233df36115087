package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/plugins/clickup/clickuptest"
)

// TestClickUpSyncOfAKilledWorker: the worker working a first ClickUp sync
// (the real plugin against the local ClickUp, serve and worker as real
// processes) is killed with SIGKILL in the middle of it. What it left is
// consistent: the stored cursor is not ahead of the stored records (the
// next worker's first task query asks for the first page not stored).
// River's rescuer on a second worker retries the job (its start moved back
// past the sync's 10-minute timeout), which ends with every ClickUp task
// once: no duplicate task, no duplicate reference.
func TestClickUpSyncOfAKilledWorker(t *testing.T) {
	ctx := context.Background()
	url := dbtest.EmptyDatabase(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "clickup")
	out, err := exec.Command("go", "build", "-o", bin, "../../plugins/clickup").CombinedOutput()
	require.NoError(t, err, "%s", out)

	const tasks = 800
	cu := clickuptest.Start(t, clickuptest.Options{})
	cu.AddToken("pk_killed_worker")
	cu.Seed(clickuptest.SeedOptions{Tasks: tasks, Lists: 2})
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cfgPath := filepath.Join(dir, "consilium.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`plugins:
  restart_backoff_min: 20ms
  items:
    - name: clickup
      kind: integration
      path: %s
      enabled: true
      config:
        base_url: %s
`, bin, cu.BaseURL())), 0o600))
	env := []string{"CONSILIUM_CONFIG=" + cfgPath, "CONSILIUM_INTEGRATIONS_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key),
		"CONSILIUM_JOBS_RESCUE_STUCK_AFTER=20s"}
	api := startProcess(t, "api", url, env, "serve")
	doomed := startProcess(t, "doomed worker", url, env, "worker")
	uid, token := api.register()
	api.connect(token, "clickup", map[string]any{"token": "pk_killed_worker"})
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	// The worker dies as ClickUp answers the fourth page of tasks.
	var pages atomic.Int32
	killed := make(chan struct{})
	cu.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/task") && pages.Add(1) == 4 {
			_ = doomed.cmd.Process.Kill()
			close(killed)
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		return false
	})
	status, raw := api.do(http.MethodPost, "/api/external/sync/clickup", token, nil)
	require.Equal(t, http.StatusAccepted, status, string(raw))
	var jobs struct {
		JobIDs []int64 `json:"job_ids"`
	}
	require.NoError(t, json.Unmarshal(raw, &jobs))
	select {
	case <-killed:
	case <-time.After(5 * time.Minute):
		t.Fatal("the sync never reached its fourth page")
	}
	<-doomed.done
	cu.Intercept(nil)

	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx, q, args...).Scan(&n))
		return n
	}
	var state string
	require.NoError(t, pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, jobs.JobIDs[0]).Scan(&state))
	require.Equal(t, "running", state, "the killed worker's job is left running")
	storedAtKill := count(`SELECT count(*) FROM external_refs WHERE user_id = $1`, uid)
	require.NotZero(t, storedAtKill, "pages answered before the kill are stored")
	seen := len(cu.Log())

	// River's rescuer retries a job left running once its own timeout (a
	// sync's is 10 minutes) has passed: the test moves its start back
	// instead of waiting.
	_, err = pool.Exec(ctx, `UPDATE river_job SET attempted_at = now() - interval '11 minutes' WHERE id = $1`, jobs.JobIDs[0])
	require.NoError(t, err)
	startProcess(t, "second worker", url, env, "worker")
	deadline := time.Now().Add(5 * time.Minute)
	for state != "completed" {
		require.False(t, time.Now().After(deadline), "the job is %s 5 minutes after the second worker started", state)
		if state == "retryable" {
			_, err := pool.Exec(ctx, `UPDATE river_job SET scheduled_at = now() WHERE id = $1 AND state = 'retryable'`, jobs.JobIDs[0])
			require.NoError(t, err)
		}
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, jobs.JobIDs[0]).Scan(&state))
	}

	// The resumed run went on from the stored cursor, which is not ahead of
	// the stored records: its first task query asked for a page after the
	// first (pages are not read again from the start) whose predecessors
	// are all stored. (The page count at the kill varies: the worker's
	// scheduled sync of the new connection may run beside the manual one.)
	first := -1
	for _, r := range cu.Log()[seen:] {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/task") {
			first, err = strconv.Atoi(r.Query.Get("page"))
			require.NoError(t, err)
			break
		}
	}
	require.Positive(t, first, "the resumed run started over")
	require.LessOrEqual(t, first*clickuptest.PageSize, storedAtKill, "the cursor (page %d) is ahead of the %d stored records", first, storedAtKill)

	// Every ClickUp task once.
	require.Equal(t, tasks, count(`SELECT count(*) FROM external_refs WHERE user_id = $1`, uid))
	require.Equal(t, tasks, count(`SELECT count(DISTINCT external_id) FROM external_refs WHERE user_id = $1`, uid))
	require.Zero(t, count(`SELECT count(*) FROM (SELECT source_reference FROM tasks WHERE user_id = $1 GROUP BY source_reference HAVING count(*) > 1) d`, uid))
	placed := 0
	for _, tk := range cu.Tasks() {
		for _, st := range cu.Statuses(tk.ListID) {
			if st.Name == tk.Status && st.Type != "done" && st.Type != "closed" {
				placed++
			}
		}
	}
	require.Equal(t, placed, count(`SELECT count(*) FROM tasks WHERE user_id = $1 AND source_reference IS NOT NULL`, uid))
	require.Equal(t, placed, count(`SELECT count(*) FROM external_refs WHERE user_id = $1 AND task_id IS NOT NULL`, uid))
}
