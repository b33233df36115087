package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/plugins/clickup/clickuptest"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

// loadClient makes the load's requests: errors are results, not failures
// (the database is down for a while), and nothing waits without end.
var loadClient = &http.Client{Timeout: 2 * time.Minute}

func loadDo(base, method, path, token string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := loadClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, raw
}

// loadStats counts a load worker's answers before, during and after the
// outage.
type loadStats struct {
	mu       sync.Mutex
	statuses map[string]map[int]int // phase → status → count
	phase    string
}

func (s *loadStats) add(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.statuses == nil {
		s.statuses = map[string]map[int]int{}
	}
	if s.statuses[s.phase] == nil {
		s.statuses[s.phase] = map[int]int{}
	}
	s.statuses[s.phase][status]++
}

func (s *loadStats) setPhase(p string) { s.mu.Lock(); s.phase = p; s.mu.Unlock() }

// count is how many answers of phase were 2xx (ok) or not.
func (s *loadStats) count(phase string, ok bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for st, c := range s.statuses[phase] {
		if (st >= 200 && st < 300) == ok {
			n += c
		}
	}
	return n
}

func (s *loadStats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.statuses)
}

// TestPostgresRestartUnderLoad restarts the database (pg_ctl stop -m fast,
// then start) of a serve --with-worker process under mixed load: note
// saves, task creation and edits, chat turns answered by the offline local
// provider through the real orchestrator, and a ClickUp sync against the
// local ClickUp, on a private cluster. After the restart the API answers
// /readyz and requests again (the seconds from the postmaster accepting
// connections to the first 2xx are logged), every acknowledged write
// reads back, no task or message is stored twice (a message resent after
// an error with its client_msg_id included), and every job completes.
func TestPostgresRestartUnderLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cluster, url := startCluster(t)
	local := plugintest.Build(t, "../../plugins/local")
	clickup := plugintest.Build(t, "../../plugins/clickup")
	cu := clickuptest.Start(t, clickuptest.Options{})
	cu.Seed(clickuptest.SeedOptions{Tasks: 1000, Lists: 2}) // ten pages
	cu.AddToken("pk_restart")
	// Task pages are slowed down so that the sync spans the restart.
	var pages atomic.Int32
	cu.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/task") {
			pages.Add(1)
			time.Sleep(300 * time.Millisecond) // a slow outside API, not synchronisation
		}
		return false
	})
	cfgPath := filepath.Join(t.TempDir(), "consilium.yaml")
	require.NoError(t, os.WriteFile(cfgPath, fmt.Appendf(nil, `plugins:
  items:
    - name: local
      kind: llm
      path: %s
      enabled: true
    - name: clickup
      kind: integration
      path: %s
      enabled: true
      config:
        base_url: %s
`, local, clickup, cu.BaseURL()), 0o600))
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	// A job whose end could not be recorded while the database was down
	// stays running until River's rescuer retries it: short job timeouts
	// keep that within a minute here (minutes by default).
	env := []string{"CONSILIUM_CONFIG=" + cfgPath, "CONSILIUM_INTEGRATIONS_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key),
		orchestratorEnv + "=1", "CONSILIUM_INTEGRATIONS_SYNC_INTERVAL=24h", "CONSILIUM_JOBS_RESCUE_STUCK_AFTER=10s",
		"CONSILIUM_JOBS_SYNC_TIMEOUT=30s", "CONSILIUM_JOBS_EMBED_TIMEOUT=30s", "CONSILIUM_JOBS_CHAT_TURN_TIMEOUT=30s",
		"CONSILIUM_AI_CHAT_MAX_DURATION=20s"}
	api := startProcess(t, "api", url, env, "serve", "--with-worker")
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	userID, token := api.register()
	api.connect(token, "clickup", map[string]any{"token": "pk_restart"})
	conv := api.newConversation(token)
	const edited = 4
	editIDs := make([]string, edited)
	for i := range edited {
		status, raw := api.do(http.MethodPost, "/api/tasks", token, map[string]any{"title": fmt.Sprintf("edited task %d", i)})
		require.Equal(t, http.StatusCreated, status, string(raw))
		var tk struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(raw, &tk))
		editIDs[i] = tk.ID
	}

	// The load: four workers, each a request every 200 ms or so (chat
	// every second).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stats := map[string]*loadStats{"notes": {}, "tasks": {}, "edits": {}, "chat": {}}
	setPhase := func(p string) {
		for _, s := range stats {
			s.setPhase(p)
		}
	}
	setPhase("before")
	var mu sync.Mutex
	ackedNotes := map[string]string{}  // id → title
	ackedTasks := map[string]string{}  // id → title
	triedTitles := map[string]bool{}   // every task title sent
	editsSent := map[string][]string{} // task id → titles sent, in order
	editsAcked := map[string]int{}     // task id → index in editsSent of the last acknowledged
	type turn struct{ msgID, runID, content string }
	var ackedTurns []turn
	loop := func(every time.Duration, fn func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(every) // pacing the load, not synchronisation
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				fn(i)
			}
		}()
	}
	loop(200*time.Millisecond, func(i int) {
		title := fmt.Sprintf("load note %d", i)
		status, raw := loadDo(api.base, http.MethodPost, "/api/notes", token, map[string]any{"title": title,
			"content": []map[string]any{{"type": "paragraph", "content": fmt.Sprintf("Written under load, number %d.", i)}}})
		stats["notes"].add(status)
		if status == http.StatusCreated {
			var n struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(raw, &n) == nil {
				mu.Lock()
				ackedNotes[n.ID] = title
				mu.Unlock()
			}
		}
	})
	loop(200*time.Millisecond, func(i int) {
		title := fmt.Sprintf("load task %d", i)
		mu.Lock()
		triedTitles[title] = true
		mu.Unlock()
		status, raw := loadDo(api.base, http.MethodPost, "/api/tasks", token, map[string]any{"title": title})
		stats["tasks"].add(status)
		if status == http.StatusCreated {
			var tk struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(raw, &tk) == nil {
				mu.Lock()
				ackedTasks[tk.ID] = title
				mu.Unlock()
			}
		}
	})
	loop(200*time.Millisecond, func(i int) {
		id := editIDs[i%edited]
		title := fmt.Sprintf("edited task %d, edit %d", i%edited, i)
		mu.Lock()
		editsSent[id] = append(editsSent[id], title)
		n := len(editsSent[id]) - 1
		mu.Unlock()
		status, _ := loadDo(api.base, http.MethodPut, "/api/tasks/"+id, token, map[string]any{"title": title})
		stats["edits"].add(status)
		if status == http.StatusOK {
			mu.Lock()
			editsAcked[id] = n
			mu.Unlock()
		}
	})
	var pending *turn // a message sent without an answer is sent again, same id
	loop(time.Second, func(i int) {
		if pending == nil {
			pending = &turn{msgID: uuid.NewString(), content: fmt.Sprintf("What did I write under load? (%d)", i)}
		}
		status, raw := loadDo(api.base, http.MethodPost, "/api/conversations/"+conv+"/messages", token,
			map[string]any{"content": pending.content, "client_msg_id": pending.msgID})
		stats["chat"].add(status)
		if status == http.StatusAccepted {
			var s struct {
				RunID string `json:"run_id"`
			}
			if json.Unmarshal(raw, &s) == nil {
				pending.runID = s.RunID
				mu.Lock()
				ackedTurns = append(ackedTurns, *pending)
				mu.Unlock()
				pending = nil
			}
		}
	})
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	})
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(4 * time.Minute)
		for !ok() {
			require.False(t, time.Now().After(deadline), "%s: not within 4 minutes (load %v)", what, stats)
			time.Sleep(20 * time.Millisecond)
		}
	}
	everyWorker := func(phase string, ok bool, n int) func() bool {
		return func() bool {
			for _, s := range stats {
				if s.count(phase, ok) < n {
					return false
				}
			}
			return true
		}
	}

	// A sync under way, every worker acknowledged: restart.
	status, raw := api.do(http.MethodPost, "/api/external/sync/clickup", token, map[string]any{})
	require.Equal(t, http.StatusAccepted, status, string(raw))
	var syncJobs struct {
		JobIDs []int64 `json:"job_ids"`
	}
	require.NoError(t, json.Unmarshal(raw, &syncJobs))
	waitFor("load and a sync under way", func() bool { return everyWorker("before", true, 3)() && pages.Load() >= 1 })
	setPhase("down")
	pagesAtStop := pages.Load()
	cluster.Stop()
	waitFor("every load worker refused while the database is down", everyWorker("down", false, 2))
	cluster.Start()
	up := time.Now()
	setPhase("after")
	var readyAt, okAt time.Duration
	for readyAt == 0 || okAt == 0 {
		require.Less(t, time.Since(up), 4*time.Minute, "the API did not recover within 4 minutes of Postgres")
		if readyAt == 0 {
			if st, _ := loadDo(api.base, http.MethodGet, "/readyz", "", nil); st == http.StatusOK {
				readyAt = time.Since(up)
			}
		}
		if okAt == 0 {
			if st, _ := loadDo(api.base, http.MethodGet, "/api/users/me", token, nil); st == http.StatusOK {
				okAt = time.Since(up)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("recovery: %.2f s from Postgres accepting connections to the first 2xx (/readyz 200 after %.2f s)", okAt.Seconds(), readyAt.Seconds())
	waitFor("every load worker acknowledged after the restart", everyWorker("after", true, 3))
	close(stop)
	wg.Wait()
	t.Logf("answers by phase: %v", stats)
	for name, s := range stats {
		for _, phase := range []string{"before", "down", "after"} {
			s.mu.Lock()
			n500 := s.statuses[phase][http.StatusInternalServerError]
			s.mu.Unlock()
			require.Zero(t, n500, "%s answered 500 %s the outage: the database's absence must read as 503", name, phase)
		}
	}

	// Every job completes (retries made due rather than waited out).
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var open, lost int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state NOT IN ('completed', 'discarded', 'cancelled')),
			count(*) FILTER (WHERE state IN ('discarded', 'cancelled')) FROM river_job`).Scan(&open, &lost))
		require.Zero(t, lost, "jobs given up")
		var runs int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM chat_runs WHERE conversation_id = $1 AND status NOT IN ('completed', 'failed', 'cancelled', 'budget_exceeded')`,
			conv).Scan(&runs))
		if open == 0 && runs == 0 {
			break
		}
		if time.Now().After(deadline) {
			var states []string
			_ = pool.QueryRow(ctx, `SELECT array_agg(kind || ' ' || state::text) FROM river_job WHERE state <> 'completed'`).Scan(&states)
			t.Fatalf("jobs not done 5 minutes after the restart: %v, %d chat runs open", states, runs)
		}
		_, err := pool.Exec(ctx, `UPDATE river_job SET scheduled_at = now() WHERE state = 'retryable'`)
		require.NoError(t, err)
		time.Sleep(50 * time.Millisecond)
	}

	// Every acknowledged write reads back, nothing twice.
	for id, title := range ackedNotes {
		status, raw := api.do(http.MethodGet, "/api/notes/"+id, token, nil)
		require.Equal(t, http.StatusOK, status, "acknowledged note %s: %s", id, raw)
		require.Contains(t, string(raw), title)
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx, q, args...).Scan(&n))
		return n
	}
	require.Zero(t, count(`SELECT count(*) FROM (SELECT title FROM notes WHERE user_id = $1 GROUP BY title HAVING count(*) > 1) d`, userID),
		"notes stored twice")
	for id, title := range ackedTasks {
		var got string
		require.NoError(t, pool.QueryRow(ctx, `SELECT title FROM tasks WHERE id = $1 AND user_id = $2`, id, userID).Scan(&got), "acknowledged task %s", id)
		require.Equal(t, title, got)
	}
	rows, err := pool.Query(ctx, `SELECT title, count(*) FROM tasks WHERE user_id = $1 AND title LIKE 'load task %' GROUP BY title`, userID)
	require.NoError(t, err)
	for rows.Next() {
		var title string
		var n int
		require.NoError(t, rows.Scan(&title, &n))
		require.Equal(t, 1, n, "task %q stored %d times", title, n)
		require.True(t, triedTitles[title], "task %q was never sent", title)
	}
	require.NoError(t, rows.Err())
	for id, sent := range editsSent {
		var got string
		require.NoError(t, pool.QueryRow(ctx, `SELECT title FROM tasks WHERE id = $1`, id).Scan(&got))
		// The last acknowledged edit, or a later one whose answer was lost.
		acked, ok := editsAcked[id]
		require.True(t, ok, "task %s: no edit acknowledged", id)
		require.Contains(t, sent[acked:], got, "task %s: stored title is neither the last acknowledged edit nor a later one", id)
	}
	for _, tr := range ackedTurns {
		var users, answers int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE role = 'user'), count(*) FILTER (WHERE role = 'assistant')
			FROM chat_messages WHERE conversation_id = $1 AND run_id = $2`, conv, tr.runID).Scan(&users, &answers))
		require.Equal(t, 1, users, "run %s: user messages", tr.runID)
		require.Equal(t, 1, answers, "run %s: answers", tr.runID)
		require.Equal(t, 1, count(`SELECT count(*) FROM chat_messages WHERE conversation_id = $1 AND content = $2`, conv, tr.content),
			"message %q stored once", tr.content)
		var st string
		require.NoError(t, pool.QueryRow(ctx, `SELECT status FROM chat_runs WHERE id = $1`, tr.runID).Scan(&st))
		require.Equal(t, "completed", st, "run %s", tr.runID)
	}
	require.NotEmpty(t, ackedTurns)

	// The sync: its job completed, every ClickUp task referenced once.
	require.Equal(t, 0, count(`SELECT count(*) FROM river_job WHERE id = ANY($1) AND state <> 'completed'`, syncJobs.JobIDs))
	t.Logf("the sync had read %d task pages at the stop, %d in all; its job took %d attempts", pagesAtStop, pages.Load(),
		count(`SELECT max(attempt) FROM river_job WHERE id = ANY($1)`, syncJobs.JobIDs))
	require.Equal(t, len(cu.Tasks()), count(`SELECT count(DISTINCT external_id) FROM external_refs WHERE user_id = $1 AND system = 'clickup'`, userID))
	require.Equal(t, len(cu.Tasks()), count(`SELECT count(*) FROM external_refs WHERE user_id = $1 AND system = 'clickup'`, userID))
	require.Zero(t, count(`SELECT count(*) FROM (SELECT source_reference FROM tasks WHERE user_id = $1 AND source_reference IS NOT NULL
		GROUP BY source_reference HAVING count(*) > 1) d`, userID), "ClickUp tasks indexed twice")
	status, _ = api.do(http.MethodGet, "/readyz", "", nil)
	require.Equal(t, http.StatusOK, status)
}
