package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/integration"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/testsecrets"
	"github.com/consilium-hq/consilium/plugins/clickup/clickuptest"
)

// pluginBin is the plugin built once for the package's end-to-end tests
// and benchmarks.
var pluginBin struct {
	once sync.Once
	path string
	err  error
}

func buildPlugin(t testing.TB) string {
	t.Helper()
	pluginBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "clickup-e2e-")
		if err != nil {
			pluginBin.err = err
			return
		}
		dbtest.AtExit(func() { _ = os.RemoveAll(dir) })
		pluginBin.path = filepath.Join(dir, "clickup")
		if out, err := exec.Command("go", "build", "-o", pluginBin.path, ".").CombinedOutput(); err != nil {
			pluginBin.err = fmt.Errorf("%v: %s", err, out)
		}
	})
	if pluginBin.err != nil {
		t.Fatal(pluginBin.err)
	}
	return pluginBin.path
}

// clock is the graph's clock: real time moved on by the test.
type clock struct{ ahead atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.ahead.Load())) }
func (c *clock) advance(d time.Duration) { c.ahead.Add(int64(d)) }

// e2e is the whole thing: the real API over HTTP with its River workers,
// the ClickUp plugin as a subprocess under the real plugin host, and the
// local ClickUp it talks to; one user connected with a personal token.
type e2e struct {
	*apitest.Env
	cu    *clickuptest.Server
	host  *plugin.Host
	clk   *clock
	user  *apitest.User
	uid   uuid.UUID
	tok   string
	seed  clickuptest.Seeded
	grace time.Duration
}

type e2eOptions struct {
	Tasks, Lists int
	// RateLimit and Window of the local ClickUp (0: no limit).
	RateLimit int
	Window    time.Duration
}

func newE2E(t testing.TB, o e2eOptions) *e2e {
	t.Helper()
	bin := buildPlugin(t)
	cu := clickuptest.Start(t, clickuptest.Options{RateLimit: o.RateLimit, Window: o.Window, OnToken: testsecrets.Register})
	testsecrets.Register("integration_token", token)
	cu.AddToken(token)
	seeded := cu.Seed(clickuptest.SeedOptions{Tasks: o.Tasks, Lists: o.Lists})
	base := hostConfig(t, clickupItem("clickup", bin, cu, nil))
	host := startPlugins(t, &base)
	clk := &clock{}
	env := apitest.New(t, apitest.Options{Integrations: host, Workers: true, Now: clk.now, Configure: func(c *config.Config) {
		c.Plugins = base.Plugins
		c.Integrations = base.Integrations
		c.HTTP.PublicURL = base.HTTP.PublicURL
	}})
	e := &e2e{Env: env, cu: cu, host: host, clk: clk, tok: token, seed: seeded, grace: env.Config.Integrations.CompletedGrace}
	e.user = env.NewUser()
	e.uid = uuid.MustParse(e.user.ID)
	res := e.Do(http.MethodPost, "/api/external/connect/clickup", map[string]any{"token": token}, e.user.Bearer())
	if res.Status != http.StatusOK {
		t.Fatalf("connect: %s", res)
	}
	return e
}

// startSync queues a sync through the API and answers its job.
func (e *e2e) startSync(t testing.TB, full bool) int64 {
	t.Helper()
	path := "/api/external/sync/clickup"
	if full {
		path += "?full=true"
	}
	res := e.Do(http.MethodPost, path, nil, e.user.Bearer())
	if res.Status != http.StatusAccepted {
		t.Fatalf("sync: %s", res)
	}
	var jobs struct {
		JobIDs []int64 `json:"job_ids"`
	}
	res.JSON(t, &jobs)
	return jobs.JobIDs[0]
}

// sync runs a sync to its end.
func (e *e2e) sync(t testing.TB, full bool) {
	t.Helper()
	waitJob(t, e.DB.Pool, e.startSync(t, full), "completed")
}

func (e *e2e) scalar(t testing.TB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := e.DB.Pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// versions is how many note versions the user has.
func (e *e2e) versions(t testing.TB) int {
	return e.scalar(t, `SELECT count(*) FROM note_versions WHERE user_id = $1`, e.uid)
}

// pushJobs is how many integration.push jobs the user's references have.
func (e *e2e) pushJobs(t testing.TB) int {
	return e.scalar(t, `SELECT count(*) FROM river_job WHERE kind = 'integration.push'
		AND (args->>'ref_id')::uuid IN (SELECT id FROM external_refs WHERE user_id = $1)`, e.uid)
}

func (e *e2e) waitPushes(t testing.TB) {
	t.Helper()
	for range 15000 {
		if e.scalar(t, `SELECT count(*) FROM river_job WHERE kind = 'integration.push' AND state NOT IN ('completed', 'cancelled', 'discarded')
			AND (args->>'ref_id')::uuid IN (SELECT id FROM external_refs WHERE user_id = $1)`, e.uid) == 0 {
			return
		}
		_, _ = e.DB.Pool.Exec(context.Background(), `UPDATE river_job SET scheduled_at = now() WHERE kind = 'integration.push' AND state = 'retryable'`)
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("push jobs still running")
}

// taskID is the task of ClickUp task ext ("" when it has none).
func (e *e2e) taskID(t testing.TB, ext string) string {
	t.Helper()
	var id *uuid.UUID
	err := e.DB.Pool.QueryRow(context.Background(), `SELECT task_id FROM external_refs WHERE user_id = $1 AND system = 'clickup' AND external_id = $2`,
		e.uid, ext).Scan(&id)
	if err != nil {
		t.Fatalf("reference of %s: %v", ext, err)
	}
	if id == nil {
		return ""
	}
	return id.String()
}

// task is GET /api/tasks/{id} of ClickUp task ext (nil: 404).
func (e *e2e) task(t testing.TB, ext string) map[string]any {
	t.Helper()
	id := e.taskID(t, ext)
	if id == "" {
		return nil
	}
	res := e.Do(http.MethodGet, "/api/tasks/"+id, nil, e.user.Bearer())
	if res.Status == http.StatusNotFound {
		return nil
	}
	if res.Status != http.StatusOK {
		t.Fatalf("task %s: %s", ext, res)
	}
	return res.Map(t)
}

// status is GET /api/external/status/clickup.
func (e *e2e) status(t testing.TB) map[string]any {
	t.Helper()
	res := e.Do(http.MethodGet, "/api/external/status/clickup", nil, e.user.Bearer())
	if res.Status != http.StatusOK {
		t.Fatalf("status: %s", res)
	}
	return res.Map(t)
}

// checkNotes proves that every ClickUp task the user should have is
// exactly once a task block in its list's "ClickUp — <list>" note, nested
// under its parent's block, that the task index is the notes' content
// (same blocks, fields and parents) and that each has its reference.
// want are the ClickUp tasks expected in Consilium.
func (e *e2e) checkNotes(t testing.TB, want []clickuptest.Task) {
	t.Helper()
	ctx := context.Background()
	listNames := map[string]string{}
	for _, l := range e.seed.Lists {
		listNames[l.ID] = l.Name
	}
	// The list notes.
	rows, err := e.DB.Pool.Query(ctx, `SELECT l.list_id, n.id, n.title, n.content FROM external_lists l JOIN notes n ON n.id = l.note_id
		WHERE l.user_id = $1 AND l.system = 'clickup' ORDER BY l.list_id, l.part`, e.uid)
	if err != nil {
		t.Fatal(err)
	}
	type block struct {
		list, note, parentBlock string
		fields                  blocknote.TaskFields
	}
	blocks := map[string]block{} // by block id
	blockOf := map[string]string{}
	for rows.Next() {
		var listID, title string
		var noteID uuid.UUID
		var content []byte
		if err := rows.Scan(&listID, &noteID, &title, &content); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(title, "ClickUp — "+listNames[listID]) {
			t.Errorf("note of list %s is titled %q", listID, title)
		}
		doc, err := blocknote.Parse(content, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range doc.Tasks() {
			if _, dup := blocks[b.BlockID]; dup {
				t.Fatalf("block %s twice", b.BlockID)
			}
			blocks[b.BlockID] = block{list: listID, note: noteID.String(), parentBlock: b.ParentBlockID, fields: b.TaskFields}
			if b.SourceReference != "" {
				if prev, dup := blockOf[b.SourceReference]; dup {
					t.Errorf("ClickUp task %s is blocks %s and %s", b.SourceReference, prev, b.BlockID)
				}
				blockOf[b.SourceReference] = b.BlockID
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// The task index.
	rows, err = e.DB.Pool.Query(ctx, `SELECT t.id, t.note_id, t.block_id, t.title, t.status, coalesce(t.source_reference, ''),
		coalesce(p.block_id, '') FROM tasks t LEFT JOIN tasks p ON p.id = t.parent_task_id WHERE t.user_id = $1`, e.uid)
	if err != nil {
		t.Fatal(err)
	}
	indexed := 0
	taskOf := map[string]string{}
	for rows.Next() {
		var id, noteID uuid.UUID
		var blockID, title, status, ref, parentBlock string
		if err := rows.Scan(&id, &noteID, &blockID, &title, &status, &ref, &parentBlock); err != nil {
			t.Fatal(err)
		}
		indexed++
		b, ok := blocks[blockID]
		switch {
		case !ok:
			t.Errorf("indexed task %s (block %s) is in no list note", id, blockID)
		case b.note != noteID.String() || b.parentBlock != parentBlock || b.fields.Title != title || string(b.fields.Status) != status || b.fields.SourceReference != ref:
			t.Errorf("index %s/%s/%q/%s/%s/%s, note says %s/%s/%q/%s/%s/%s", noteID, parentBlock, title, status, ref, blockID,
				b.note, b.parentBlock, b.fields.Title, b.fields.Status, b.fields.SourceReference, blockID)
		}
		if ref != "" {
			if _, dup := taskOf[ref]; dup {
				t.Errorf("ClickUp task %s is indexed twice", ref)
			}
			taskOf[ref] = id.String()
		}
	}
	rows.Close()
	if indexed != len(blocks) {
		t.Errorf("%d indexed tasks, %d task blocks in the notes", indexed, len(blocks))
	}
	// Each ClickUp task once, in its list's note, under its parent.
	byID := map[string]clickuptest.Task{}
	for _, w := range want {
		byID[w.ID] = w
	}
	for _, w := range want {
		bid, ok := blockOf[w.ID]
		if !ok {
			t.Errorf("ClickUp task %s (%q) has no block", w.ID, w.Name)
			continue
		}
		b := blocks[bid]
		if b.list != w.ListID || b.fields.Title != w.Name {
			t.Errorf("ClickUp task %s is %q in list %s, want %q in %s", w.ID, b.fields.Title, b.list, w.Name, w.ListID)
		}
		wantParent := ""
		if w.Parent != "" {
			if _, in := byID[w.Parent]; in {
				wantParent = blockOf[w.Parent]
			}
		}
		if b.parentBlock != wantParent {
			t.Errorf("ClickUp task %s nested under block %q, want %q (its parent %s)", w.ID, b.parentBlock, wantParent, w.Parent)
		}
		if e.taskID(t, w.ID) != taskOf[w.ID] {
			t.Errorf("reference of %s names task %s, the index %s", w.ID, e.taskID(t, w.ID), taskOf[w.ID])
		}
	}
	if len(blockOf) != len(want) {
		t.Errorf("%d ClickUp blocks, want %d", len(blockOf), len(want))
	}
	if n := e.scalar(t, `SELECT count(*) FROM external_refs WHERE user_id = $1 AND system = 'clickup' AND state = 'active' AND task_id IS NOT NULL`, e.uid); n != len(want) {
		t.Errorf("%d active references, want %d", n, len(want))
	}
	if n, all := e.scalar(t, `SELECT count(DISTINCT external_id) FROM external_refs WHERE user_id = $1 AND system = 'clickup'`, e.uid), len(e.cu.Tasks()); n != all {
		t.Errorf("%d references, want one for each of the %d ClickUp tasks", n, all)
	}
}

// placed are the ClickUp tasks a first sync puts in notes: those not done
// or closed (a task already done when first seen is kept as a reference
// only).
func (e *e2e) placed() []clickuptest.Task {
	var out []clickuptest.Task
	for _, tk := range e.cu.Tasks() {
		done := false
		for _, st := range e.cu.Statuses(tk.ListID) {
			if st.Name == tk.Status {
				done = st.Type == "done" || st.Type == "closed"
			}
		}
		if !done {
			out = append(out, tk)
		}
	}
	return out
}

// subtasks counts the tasks under id in s.
func subtasks(s *clickuptest.Server, id string) int {
	n := 0
	for _, tk := range s.Tasks() {
		if tk.Parent == id {
			n += 1 + subtasks(s, tk.ID)
		}
	}
	return n
}

// checkNoDuplicates: each ClickUp task at most once in the index and in
// the references.
func (e *e2e) checkNoDuplicates(t testing.TB) {
	t.Helper()
	if n := e.scalar(t, `SELECT count(*) FROM (SELECT source_reference FROM tasks WHERE user_id = $1 AND source_reference IS NOT NULL
		GROUP BY source_reference HAVING count(*) > 1) d`, e.uid); n != 0 {
		t.Errorf("%d ClickUp tasks are indexed more than once", n)
	}
	if n := e.scalar(t, `SELECT count(*) FROM (SELECT external_id FROM external_refs WHERE user_id = $1 GROUP BY system, external_id HAVING count(*) > 1) d`, e.uid); n != 0 {
		t.Errorf("%d references twice", n)
	}
}

// TestE2EFirstSync2000: the first sync of 2,000 ClickUp tasks (subtasks,
// closed ones, custom statuses) through the real plugin, host, River and
// Postgres: every task exactly once as a task block in its list's note,
// subtasks nested, the index equal to the notes, every reference stored.
func TestE2EFirstSync2000(t *testing.T) {
	e := newE2E(t, e2eOptions{Tasks: 2000, Lists: 4})
	e.sync(t, false)
	e.checkNotes(t, e.placed())
	if st := e.status(t); st["state"] != "connected" || st["last_sync_at"] == nil {
		t.Errorf("status %v", st)
	}
}

// TestE2ETwoWay runs the rest of "done means" on one connection, in order.
func TestE2ETwoWay(t *testing.T) {
	ctx := context.Background()
	e := newE2E(t, e2eOptions{Tasks: 300, Lists: 3})
	e.sync(t, false)
	e.checkNotes(t, e.placed())
	// Open top-level tasks to change.
	var ids []string
	for _, tk := range e.placed() {
		if tk.Parent == "" {
			ids = append(ids, tk.ID)
		}
	}
	putTask := func(ext string, body map[string]any) {
		t.Helper()
		res := e.Do(http.MethodPut, "/api/tasks/"+e.taskID(t, ext), body, e.user.Bearer())
		if res.Status != http.StatusOK {
			t.Fatalf("PUT task %s: %s", ext, res)
		}
	}
	// puts are the PUT /task/{id} bodies ClickUp received since ResetLog.
	puts := func() []map[string]any {
		var out []map[string]any
		for _, r := range e.cu.Log() {
			if r.Method == http.MethodPut && strings.HasPrefix(r.Path, "/api/v2/task/") {
				var m map[string]any
				if err := json.Unmarshal(r.Body, &m); err != nil {
					t.Fatal(err)
				}
				m["_id"] = strings.TrimPrefix(r.Path, "/api/v2/task/")
				out = append(out, m)
			}
		}
		return out
	}
	keys := func(m map[string]any) string {
		var ks []string
		for k := range m {
			if k != "_id" {
				ks = append(ks, k)
			}
		}
		sort.Strings(ks)
		return strings.Join(ks, ",")
	}

	t.Run("a change in ClickUp comes in", func(t *testing.T) {
		if _, err := e.cu.UpdateTask(ids[5], func(tk *clickuptest.Task) { tk.Name = "renamed in ClickUp" }); err != nil {
			t.Fatal(err)
		}
		e.cu.ResetLog()
		e.sync(t, false)
		if got := e.task(t, ids[5])["title"]; got != "renamed in ClickUp" {
			t.Errorf("title %v", got)
		}
		full := 0
		for _, r := range e.cu.Log() {
			if strings.HasSuffix(r.Path, "/task") && r.Method == http.MethodGet && r.Query.Get("date_updated_gt") == "" {
				full++
			}
		}
		if full != 0 {
			t.Errorf("the incremental sync made %d unfiltered task queries", full)
		}
		e.checkNotes(t, e.placed())
	})

	t.Run("a change here is pushed, only its field; the echo does not bounce", func(t *testing.T) {
		ext := ids[7]
		cases := []struct {
			body map[string]any
			want string
			chk  func(tk clickuptest.Task) bool
		}{
			{map[string]any{"title": "renamed here"}, "name", func(tk clickuptest.Task) bool { return tk.Name == "renamed here" }},
			{map[string]any{"status": "completed"}, "status", func(tk clickuptest.Task) bool { return tk.Status == "done" || tk.Status == "complete" }},
			{map[string]any{"due_date": "2031-05-06"}, "due_date,due_date_time", func(tk clickuptest.Task) bool { return tk.DueDate != 0 }},
			{map[string]any{"priority": "low"}, "priority", func(tk clickuptest.Task) bool { return tk.Priority == 4 }},
		}
		for _, c := range cases {
			e.cu.ResetLog()
			putTask(ext, c.body)
			e.waitPushes(t)
			p := puts()
			if len(p) != 1 || p[0]["_id"] != ext || keys(p[0]) != c.want {
				t.Errorf("%v pushed %v, want one PUT of %s", c.body, p, c.want)
			}
			if tk, _ := e.cu.Task(ext); !c.chk(tk) {
				t.Errorf("%v: ClickUp has %+v", c.body, tk)
			}
		}
		// The echo: our own changes come back, change nothing, push nothing.
		v, jobs := e.versions(t), e.pushJobs(t)
		e.cu.ResetLog()
		e.sync(t, false)
		if e.versions(t) != v || e.pushJobs(t) != jobs || len(puts()) != 0 {
			t.Errorf("the echo: versions %d → %d, push jobs %d → %d, %d PUTs", v, e.versions(t), jobs, e.pushJobs(t), len(puts()))
		}
		tk := e.task(t, ext)
		if tk["title"] != "renamed here" || tk["status"] != "completed" || tk["priority"] != "low" || tk["due_date"] != "2031-05-06" {
			t.Errorf("after the echo %v", tk)
		}
	})

	t.Run("a conflict: the latest change wins and is recorded", func(t *testing.T) {
		ext := ids[11]
		// ClickUp renames it first; ours comes later but ClickUp refuses
		// our push for now, so the sync meets both changes.
		if _, err := e.cu.UpdateTask(ext, func(tk *clickuptest.Task) { tk.Name = "their title" }); err != nil {
			t.Fatal(err)
		}
		e.cu.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodPut {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"err":"not now","ECODE":"ITEM_999"}`))
				return true
			}
			return false
		})
		putTask(ext, map[string]any{"title": "our title"})
		e.waitPushes(t)
		e.cu.Intercept(nil)
		e.sync(t, false)
		e.waitPushes(t)
		if got := e.task(t, ext)["title"]; got != "our title" {
			t.Errorf("our later title lost: %v", got)
		}
		if tk, _ := e.cu.Task(ext); tk.Name != "our title" {
			t.Errorf("ClickUp has %q, want ours pushed", tk.Name)
		}
		var found map[string]any
		cursor := ""
		for {
			q := "/api/tasks/external?limit=100"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			res := e.Do(http.MethodGet, q, nil, e.user.Bearer())
			if res.Status != http.StatusOK {
				t.Fatalf("external tasks: %s", res)
			}
			var pg struct {
				Items []struct {
					Task      map[string]any `json:"task"`
					Reference struct {
						ExternalID string           `json:"external_id"`
						Conflicts  []map[string]any `json:"conflicts"`
					} `json:"reference"`
				} `json:"items"`
				NextCursor string `json:"next_cursor"`
			}
			res.JSON(t, &pg)
			for _, it := range pg.Items {
				if it.Reference.ExternalID == ext {
					if len(it.Reference.Conflicts) != 1 {
						t.Fatalf("conflicts %v", it.Reference.Conflicts)
					}
					found = it.Reference.Conflicts[0]
				}
			}
			if pg.NextCursor == "" {
				break
			}
			cursor = pg.NextCursor
		}
		if found == nil || found["field"] != "title" || found["ours"] != "our title" || found["theirs"] != "their title" || found["winner"] != "ours" {
			t.Errorf("conflict %v", found)
		}
	})

	t.Run("deleted in ClickUp: gone after a full sync", func(t *testing.T) {
		ext := ids[20]
		for i := 20; subtasks(e.cu, ext) > 0; i++ {
			ext = ids[i]
		}
		id := e.taskID(t, ext)
		if !e.cu.DeleteTask(ext) {
			t.Fatal("not deleted")
		}
		e.sync(t, false)
		if e.task(t, ext) == nil {
			t.Error("an incremental sync cannot know of the deletion")
		}
		blocks := e.scalar(t, `SELECT count(*) FROM tasks WHERE user_id = $1`, e.uid)
		e.sync(t, true)
		if res := e.Do(http.MethodGet, "/api/tasks/"+id, nil, e.user.Bearer()); res.Status != http.StatusNotFound {
			t.Errorf("after the reconcile: %s", res)
		}
		if n := e.scalar(t, `SELECT count(*) FROM tasks WHERE user_id = $1`, e.uid); n != blocks-1 {
			t.Errorf("%d tasks after the reconcile, %d before", n, blocks)
		}
		if n := e.scalar(t, `SELECT count(*) FROM external_refs WHERE user_id = $1 AND external_id = $2 AND state = 'deleted' AND task_id IS NULL`, e.uid, ext); n != 1 {
			t.Error("the reference is not kept as deleted")
		}
		e.checkNoDuplicates(t)
	})

	t.Run("completed in ClickUp: cleaned out after the grace period", func(t *testing.T) {
		ext := ids[30]
		if _, err := e.cu.UpdateTask(ext, func(tk *clickuptest.Task) { tk.Status = "complete" }); err != nil {
			t.Fatal(err)
		}
		e.sync(t, false)
		if got := e.task(t, ext)["status"]; got != "completed" {
			t.Fatalf("status %v", got)
		}
		if _, err := e.Integrations.CleanCompleted(ctx); err != nil {
			t.Fatal(err)
		}
		if e.task(t, ext) == nil {
			t.Fatal("cleaned inside the grace period")
		}
		e.clk.advance(e.grace + time.Hour)
		n, err := e.Integrations.CleanCompleted(ctx)
		if err != nil || n == 0 {
			t.Fatalf("cleaned %d (%v)", n, err)
		}
		if e.task(t, ext) != nil {
			t.Error("still there after the grace period")
		}
		e.sync(t, true)
		if e.task(t, ext) != nil {
			t.Error("a full sync brought it back")
		}
		e.checkNoDuplicates(t)
	})

	t.Run("a 429 storm snoozes the job, which completes when it ends", func(t *testing.T) {
		for i := range 10 {
			if _, err := e.cu.UpdateTask(ids[100+i], func(tk *clickuptest.Task) { tk.Name = fmt.Sprintf("storm change %d", i) }); err != nil {
				t.Fatal(err)
			}
		}
		before := e.scalar(t, `SELECT count(*) FROM tasks WHERE user_id = $1`, e.uid)
		// Three 429s, each saying the limit resets in a second: the host
		// holds the connection's calls until then and snoozes the job.
		e.cu.Storm(3, time.Second)
		e.cu.ResetLog()
		id := e.startSync(t, false)
		waitJob(t, e.DB.Pool, id, "completed")
		var snoozes, errs int
		if err := e.DB.Pool.QueryRow(ctx, `SELECT coalesce((metadata->>'snoozes')::int, 0), coalesce(array_length(errors, 1), 0)
			FROM river_job WHERE id = $1`, id).Scan(&snoozes, &errs); err != nil {
			t.Fatal(err)
		}
		limited := 0
		for _, r := range e.cu.Log() {
			if r.Status == http.StatusTooManyRequests {
				limited++
			}
		}
		if snoozes == 0 || errs != 0 || limited != 3 {
			t.Errorf("snoozed %d times, %d errors, %d answers 429 (want 3)", snoozes, errs, limited)
		}
		for i := range 10 {
			if got := e.task(t, ids[100+i])["title"]; got != fmt.Sprintf("storm change %d", i) {
				t.Errorf("task %d: %v", i, got)
			}
		}
		if after := e.scalar(t, `SELECT count(*) FROM tasks WHERE user_id = $1`, e.uid); after != before {
			t.Errorf("%d tasks before the storm, %d after", before, after)
		}
		e.checkNoDuplicates(t)
	})

	t.Run("the plugin killed mid-sync: the retry resumes without duplicates", func(t *testing.T) {
		// A second user's first sync, killed on its second page.
		e.cu.AddToken("pk_dave")
		dave := e.NewUser()
		if res := e.Do(http.MethodPost, "/api/external/connect/clickup", map[string]any{"token": "pk_dave"}, dave.Bearer()); res.Status != http.StatusOK {
			t.Fatalf("connect: %s", res)
		}
		st, _ := e.host.State("clickup")
		var pages atomic.Int32
		killed := make(chan int, 1)
		e.cu.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Header.Get("Authorization") == "pk_dave" && strings.HasSuffix(r.URL.Path, "/task") && pages.Add(1) == 2 {
				_ = syscall.Kill(st.PID, syscall.SIGKILL)
				killed <- st.PID
				w.WriteHeader(http.StatusBadGateway)
				return true
			}
			return false
		})
		defer e.cu.Intercept(nil)
		res := e.Do(http.MethodPost, "/api/external/sync/clickup", nil, dave.Bearer())
		if res.Status != http.StatusAccepted {
			t.Fatal(res)
		}
		var jobs struct {
			JobIDs []int64 `json:"job_ids"`
		}
		res.JSON(t, &jobs)
		waitJob(t, e.DB.Pool, jobs.JobIDs[0], "completed")
		select {
		case <-killed:
		default:
			t.Fatal("the plugin was never killed")
		}
		if now, _ := e.host.State("clickup"); now.PID == st.PID || now.Restarts == 0 {
			t.Errorf("plugin pid %d (was %d), %d restarts", now.PID, st.PID, now.Restarts)
		}
		other := &e2e{Env: e.Env, cu: e.cu, seed: e.seed, uid: uuid.MustParse(dave.ID), user: dave}
		other.checkNotes(t, other.placed())
		other.checkNoDuplicates(t)
		if n := e.scalar(t, `SELECT coalesce(array_length(errors, 1), 0) FROM river_job WHERE id = $1`, jobs.JobIDs[0]); n == 0 {
			t.Error("the job has no error: was the crash mid-sync?")
		}
	})

	t.Run("key rotation: every token readable, syncs go on", func(t *testing.T) {
		res, err := e.Integrations.Keys().Rotate(ctx, integration.RotateOptions{BatchSize: 1})
		if err != nil || res.Unreadable != 0 || res.Resealed < 2 {
			t.Fatalf("rotate: %+v %v", res, err)
		}
		if n := e.scalar(t, `SELECT count(*) FROM connections WHERE credentials IS NOT NULL AND key_id <> $1`, res.KeyID); n != 0 {
			t.Errorf("%d secrets under old keys", n)
		}
		if _, err := e.cu.UpdateTask(ids[40], func(tk *clickuptest.Task) { tk.Name = "after rotation" }); err != nil {
			t.Fatal(err)
		}
		e.sync(t, false)
		if got := e.task(t, ids[40])["title"]; got != "after rotation" {
			t.Errorf("title %v", got)
		}
		if s := e.status(t); s["state"] != "connected" {
			t.Errorf("status %v", s)
		}
	})

	t.Run("a revoked token: needs re-auth", func(t *testing.T) {
		e.cu.RevokeToken(token)
		waitJob(t, e.DB.Pool, e.startSync(t, false), "cancelled")
		s := e.status(t)
		if s["state"] != "needs_reauth" || !strings.Contains(fmt.Sprint(s["last_error"]), "OAUTH_025") {
			t.Errorf("status %v", s)
		}
		if res := e.Do(http.MethodPost, "/api/external/sync/clickup", nil, e.user.Bearer()); res.Status != http.StatusNotFound {
			t.Errorf("sync while needing re-auth: %s", res)
		}
	})
}
