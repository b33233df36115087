package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/integration"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/jobs"
	"github.com/consilium-hq/consilium/sdk"
)

// ctlAnswer is what the control server tells scriptplugin to answer.
type ctlAnswer struct {
	Sync   *sdk.SyncResponse     `json:"sync,omitempty"`
	Push   *sdk.PushTaskResponse `json:"push,omitempty"`
	Tools  []sdk.Tool            `json:"tools,omitempty"`
	Output json.RawMessage       `json:"output,omitempty"`
	Error  *ctlError             `json:"error,omitempty"`
	Crash  bool                  `json:"crash,omitempty"`
}

type ctlError struct {
	Code         sdk.Code `json:"code"`
	Message      string   `json:"message"`
	RetryAfterMS int64    `json:"retry_after_ms"`
}

// outside is the outside system scriptplugin talks to: tasks with a change
// sequence, full syncs paged through every task (Reset on the first
// page), incremental syncs from a sequence that overlap by one change (the
// last change comes again, as ClickUp's date_updated_gt overlap does), and
// pushes applied field by field and recorded.
type outside struct {
	mu       sync.Mutex
	tasks    map[string]*outsideTask
	order    []string
	gone     map[string]int64
	seq      int64
	pageSize int
	pushes   []sdk.PushTaskRequest
	// syncScript and pushScript answer the next calls before the
	// system does; crashAt makes that sync call (1-based) crash the plugin.
	syncScript, pushScript []ctlAnswer
	crashAt                int
	syncCalls              int
	// holds hold a sync call (1-based) after its answer is made, until
	// the test releases it: a sync slow between fetching and storing.
	holds map[int]*syncHold
	// tools are what ListTools answers (listCalls counts the calls);
	// toolAnswers answer ExecuteTool by tool name (default: the call's
	// arguments echoed as {"echo": ...}); executions are the calls.
	tools       []sdk.Tool
	listCalls   int
	toolAnswers map[string]ctlAnswer
	executions  []execution
}

// execution is one ExecuteTool call the outside system got.
type execution struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

func (o *outside) listTools() ctlAnswer {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.listCalls++
	return ctlAnswer{Tools: slices.Clone(o.tools)}
}

func (o *outside) execute(x execution) ctlAnswer {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.executions = append(o.executions, x)
	if a, ok := o.toolAnswers[x.Name]; ok {
		return a
	}
	out, _ := json.Marshal(map[string]json.RawMessage{"echo": x.Arguments})
	return ctlAnswer{Output: out}
}

func (o *outside) executed() []execution {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.executions)
}

type outsideTask struct {
	rec sdk.Record
	seq int64
}

// syncHold is one held sync call: reached gets the cursor it asked for,
// the answer goes out once release is closed.
type syncHold struct {
	reached chan string
	release chan struct{}
	once    sync.Once
}

func (h *syncHold) free() { h.once.Do(func() { close(h.release) }) }

func newOutside() *outside {
	return &outside{tasks: map[string]*outsideTask{}, gone: map[string]int64{}, pageSize: 2}
}

// put creates or changes a task outside (UpdatedAt now unless given).
func (o *outside) put(id string, t sdk.Task, at ...time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seq++
	r := sdk.Record{ExternalID: id, Kind: sdk.RecordTask, URL: "https://outside.example/t/" + id, UpdatedAt: time.Now(), Task: &t}
	if len(at) > 0 {
		r.UpdatedAt = at[0]
	}
	if _, ok := o.tasks[id]; !ok {
		o.order = append(o.order, id)
	}
	o.tasks[id] = &outsideTask{rec: r, seq: o.seq}
}

// change edits a task outside.
func (o *outside) change(id string, edit func(t *sdk.Task), at ...time.Time) {
	o.mu.Lock()
	t := *o.tasks[id].rec.Task
	o.mu.Unlock()
	edit(&t)
	o.put(id, t, at...)
}

// remove deletes a task outside; silent deletes are found only by a full
// sync.
func (o *outside) remove(id string, silent bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seq++
	delete(o.tasks, id)
	o.order = slices.DeleteFunc(o.order, func(x string) bool { return x == id })
	if !silent {
		o.gone[id] = o.seq
	}
}

func (o *outside) task(id string) sdk.Task {
	o.mu.Lock()
	defer o.mu.Unlock()
	return *o.tasks[id].rec.Task
}

// syncHeld answers a sync call, after the test released it when it is
// held.
func (o *outside) syncHeld(cursor string) ctlAnswer {
	o.mu.Lock()
	a := o.syncLocked(cursor)
	h := o.holds[o.syncCalls]
	o.mu.Unlock()
	if h != nil {
		h.reached <- cursor
		<-h.release
	}
	return a
}

func (o *outside) syncLocked(cursor string) ctlAnswer {
	o.syncCalls++
	if o.syncCalls == o.crashAt {
		return ctlAnswer{Crash: true}
	}
	if len(o.syncScript) > 0 {
		a := o.syncScript[0]
		o.syncScript = o.syncScript[1:]
		return a
	}
	if cursor == "" || strings.HasPrefix(cursor, "full:") {
		off, start := 0, o.seq
		if cursor != "" {
			_, _ = fmt.Sscanf(cursor, "full:%d:%d", &off, &start)
		}
		resp := &sdk.SyncResponse{Reset: cursor == ""}
		for i := off; i < len(o.order) && len(resp.Upserts) < o.pageSize; i++ {
			resp.Upserts = append(resp.Upserts, o.tasks[o.order[i]].rec)
		}
		if next := off + len(resp.Upserts); next < len(o.order) {
			resp.NextCursor, resp.HasMore = fmt.Sprintf("full:%d:%d", next, start), true
		} else {
			resp.NextCursor = fmt.Sprintf("inc:%d", start)
		}
		return ctlAnswer{Sync: resp}
	}
	var from int64
	_, _ = fmt.Sscanf(cursor, "inc:%d", &from)
	type change struct {
		seq     int64
		id      string
		deleted bool
	}
	var changes []change
	for id, t := range o.tasks {
		if t.seq >= from {
			changes = append(changes, change{t.seq, id, false})
		}
	}
	for id, s := range o.gone {
		if s >= from {
			changes = append(changes, change{s, id, true})
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].seq < changes[j].seq })
	resp := &sdk.SyncResponse{NextCursor: cursor}
	n := min(len(changes), max(o.pageSize, 2))
	for _, c := range changes[:n] {
		if c.deleted {
			resp.Deletes = append(resp.Deletes, c.id)
		} else {
			resp.Upserts = append(resp.Upserts, o.tasks[c.id].rec)
		}
		resp.NextCursor = fmt.Sprintf("inc:%d", c.seq)
	}
	resp.HasMore = n < len(changes)
	return ctlAnswer{Sync: resp}
}

// statusNames are the outside system's own names of its statuses.
var statusNames = map[sdk.TaskStatus]string{sdk.TaskOpen: "to do", sdk.TaskInProgress: "in progress", sdk.TaskOnHold: "blocked",
	sdk.TaskDone: "complete", sdk.TaskCancelled: "cancelled"}

func (o *outside) push(req sdk.PushTaskRequest) ctlAnswer {
	o.mu.Lock()
	o.pushes = append(o.pushes, req)
	if len(o.pushScript) > 0 {
		a := o.pushScript[0]
		o.pushScript = o.pushScript[1:]
		o.mu.Unlock()
		return a
	}
	cur, ok := o.tasks[req.ExternalID]
	o.mu.Unlock()
	if !ok {
		return ctlAnswer{Error: &ctlError{Code: sdk.CodeNotFound, Message: "no such task"}}
	}
	t := *cur.rec.Task
	for _, f := range req.Fields {
		switch f {
		case sdk.FieldTitle:
			t.Title = req.Task.Title
		case sdk.FieldDescription:
			t.Description = req.Task.Description
		case sdk.FieldStatus:
			t.Status, t.StatusName = req.Task.Status, statusNames[req.Task.Status]
		case sdk.FieldDue:
			t.Due, t.DueHasTime = req.Task.Due, req.Task.DueHasTime
		case sdk.FieldPriority:
			t.Priority = req.Task.Priority
		}
	}
	at := time.Now()
	o.put(req.ExternalID, t, at)
	return ctlAnswer{Push: &sdk.PushTaskResponse{ExternalID: req.ExternalID, URL: "https://outside.example/t/" + req.ExternalID, UpdatedAt: at}}
}

func (o *outside) pushed() []sdk.PushTaskRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.pushes)
}

func (o *outside) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var a ctlAnswer
	switch r.URL.Path {
	case "/sync":
		var in struct {
			Cursor string `json:"cursor"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		a = o.syncHeld(in.Cursor)
	case "/push":
		var in sdk.PushTaskRequest
		_ = json.NewDecoder(r.Body).Decode(&in)
		a = o.push(in)
	case "/tools":
		a = o.listTools()
	case "/execute":
		var in execution
		_ = json.NewDecoder(r.Body).Decode(&in)
		a = o.execute(in)
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(a)
}

var scriptBuild struct {
	once sync.Once
	bin  string
	err  error
}

func buildScriptPlugin(t *testing.T) string {
	t.Helper()
	scriptBuild.once.Do(func() {
		dir, err := exec.Command("mktemp", "-d").Output()
		if err != nil {
			scriptBuild.err = err
			return
		}
		d := strings.TrimSpace(string(dir))
		dbtest.AtExit(func() { _ = exec.Command("rm", "-rf", d).Run() })
		scriptBuild.bin = filepath.Join(d, "scriptplugin")
		out, err := exec.Command("go", "build", "-o", scriptBuild.bin, "./testdata/scriptplugin").CombinedOutput()
		if err != nil {
			scriptBuild.err = fmt.Errorf("%v: %s", err, out)
		}
	})
	require.NoError(t, scriptBuild.err)
	return scriptBuild.bin
}

// clock is the graph's clock: real time moved on by the test.
type clock struct{ ahead atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.ahead.Load())) }
func (c *clock) advance(d time.Duration) { c.ahead.Add(int64(d)) }

// syncEnv is a graph with the scripted provider "scriptp" (display name
// Script), River working a queue of its own, one connected user in
// Europe/Zurich.
type syncEnv struct {
	app   *app.App
	out   *outside
	clock *clock
	queue string
	user  uuid.UUID
}

const provider = "scriptp"

func newSyncEnv(t *testing.T, configure ...func(*config.Config)) *syncEnv {
	t.Helper()
	ctx := context.Background()
	bin := buildScriptPlugin(t)
	out := newOutside()
	srv := httptest.NewServer(out)
	t.Cleanup(srv.Close)
	cfg := config.Default()
	cfg.Database.URL = dbtest.URL(t)
	cfg.Auth.JWTSecret = "test-secret-test-secret-test-secret-0123"
	cfg.Integrations.MasterKey = testMaster
	cfg.Integrations.CompletedGrace = 7 * 24 * time.Hour
	cfg.Plugins.RestartBackoffMin = 20 * time.Millisecond
	cfg.Plugins.Items = []plugin.PluginConfig{{Name: provider, Kind: "integration", Path: bin, Enabled: true,
		Config: map[string]string{"control_url": srv.URL}}}
	for _, f := range configure {
		f(&cfg)
	}
	require.NoError(t, cfg.Validate())
	logger := slog.New(slog.DiscardHandler)
	host := plugin.New(cfg.Plugins, logger)
	host.Start(ctx)
	t.Cleanup(host.Stop)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	require.NoError(t, host.WaitReady(wctx))
	clk := &clock{}
	queue := "sync_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	a, err := app.New(ctx, app.Options{Config: &cfg, Pool: dbtest.Pool(t), Logger: logger, Integrations: host, AIQueue: queue, Now: clk.now,
		Jobs: jobs.Client(jobs.ClientOptions{Config: cfg.Jobs, Logger: logger, Work: true, TestOnly: true, Queues: []string{queue}, OnlyQueues: true,
			FetchCooldown: 20 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond})})
	require.NoError(t, err)
	require.NoError(t, a.River.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.River.Stop(sctx)
	})
	e := &syncEnv{app: a, out: out, clock: clk, queue: queue, user: newUser(t, a.DB)}
	_, err = a.DB.Pool.Exec(ctx, `UPDATE users SET preferences = '{"timezone": "Europe/Zurich"}' WHERE id = $1`, e.user)
	require.NoError(t, err)
	// Connecting checks the key with a one-record sync (not stored).
	_, _, err = a.Integrations.Connect(ctx, e.user, provider, "good-token")
	require.NoError(t, err)
	out.mu.Lock()
	out.syncCalls = 0
	out.mu.Unlock()
	return e
}

func (e *syncEnv) jobState(t *testing.T, id int64) string {
	var s string
	require.NoError(t, e.app.DB.Pool.QueryRow(context.Background(), `SELECT state FROM river_job WHERE id = $1`, id).Scan(&s))
	return s
}

// sync runs a sync job to its end. A job waiting for its retry is made due
// at once (the test does not wait River's backoff out).
func (e *syncEnv) sync(t *testing.T, full bool) {
	t.Helper()
	ids, err := e.app.Integrations.SyncNow(context.Background(), e.user, provider, full)
	require.NoError(t, err)
	e.waitJob(t, ids[0], "completed")
}

func (e *syncEnv) waitJob(t *testing.T, id int64, want string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("job %d %s", id, want), func() bool {
		s := e.jobState(t, id)
		if s == "retryable" && want != "retryable" {
			_, err := e.app.DB.Pool.Exec(context.Background(), `UPDATE river_job SET scheduled_at = now() WHERE id = $1 AND state = 'retryable'`, id)
			require.NoError(t, err)
		}
		return s == want
	})
}

// ref is a reference as the tests read it.
type refRow struct {
	TaskID    *uuid.UUID
	State     string
	Status    string
	Conflicts []integration.Conflict
}

func (e *syncEnv) ref(t *testing.T, ext string) refRow {
	t.Helper()
	var r refRow
	var conflicts []byte
	require.NoError(t, e.app.DB.Pool.QueryRow(context.Background(), `SELECT task_id, state, sync_status, conflicts FROM external_refs
		WHERE user_id = $1 AND system = $2 AND external_id = $3`, e.user, provider, ext).Scan(&r.TaskID, &r.State, &r.Status, &conflicts))
	require.NoError(t, json.Unmarshal(conflicts, &r.Conflicts))
	return r
}

// task is the task of a record (nil when it has none).
func (e *syncEnv) task(t *testing.T, ext string) *task.Task {
	t.Helper()
	r := e.ref(t, ext)
	if r.TaskID == nil {
		return nil
	}
	x, err := e.app.Tasks.Get(context.Background(), e.user, *r.TaskID)
	require.NoError(t, err)
	return x
}

// listNote is the note of a list (part 1 unless given).
func (e *syncEnv) listNote(t *testing.T, listID string, part ...int) (uuid.UUID, string) {
	t.Helper()
	p := 1
	if len(part) > 0 {
		p = part[0]
	}
	var id uuid.UUID
	var title string
	require.NoError(t, e.app.DB.Pool.QueryRow(context.Background(), `SELECT n.id, n.title FROM external_lists l JOIN notes n ON n.id = l.note_id
		WHERE l.user_id = $1 AND l.system = $2 AND l.list_id = $3 AND l.part = $4`, e.user, provider, listID, p).Scan(&id, &title))
	return id, title
}

// versions is how many versions the user's notes have, all together.
func (e *syncEnv) versions(t *testing.T) int {
	var n int
	require.NoError(t, e.app.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM note_versions WHERE user_id = $1`, e.user).Scan(&n))
	return n
}

// pushJobs counts the push jobs of the user's references.
func (e *syncEnv) pushJobs(t *testing.T) int {
	var n int
	require.NoError(t, e.app.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'integration.push'
		AND (args->>'ref_id')::uuid IN (SELECT id FROM external_refs WHERE user_id = $1)`, e.user).Scan(&n))
	return n
}

// waitPushes waits for every push job of the user to be done.
func (e *syncEnv) waitPushes(t *testing.T) {
	t.Helper()
	waitFor(t, "push jobs", func() bool {
		var n int
		require.NoError(t, e.app.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'integration.push'
			AND state NOT IN ('completed', 'cancelled', 'discarded')
			AND (args->>'ref_id')::uuid IN (SELECT id FROM external_refs WHERE user_id = $1)`, e.user).Scan(&n))
		return n == 0
	})
}

// externalTasks counts the user's tasks that came from outside.
func (e *syncEnv) externalTasks(t *testing.T) int {
	var n int
	require.NoError(t, e.app.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM tasks WHERE user_id = $1 AND source = 'scriptp'`, e.user).Scan(&n))
	return n
}

// seed puts the outside system's first tasks: list L1 "Sprint" with a, b
// (a subtask of a) and c (a subtask of b), listed child first so that c
// arrives a page before its parent; list L2 "Backlog" with d.
func (e *syncEnv) seed() {
	zurichEvening := time.Date(2025, 3, 10, 23, 30, 0, 0, time.UTC) // 00:30 on the 11th in Zurich
	e.out.put("c", sdk.Task{Title: "Grandchild", Status: sdk.TaskOpen, StatusName: "to do", Priority: "low", ParentExternalID: "b", List: "Sprint", ListID: "L1"})
	e.out.put("d", sdk.Task{Title: "Backlog item", Status: sdk.TaskOnHold, StatusName: "blocked", List: "Backlog", ListID: "L2"})
	e.out.put("a", sdk.Task{Title: "Ship it", Description: "the release", Status: sdk.TaskInProgress, StatusName: "in review",
		Priority: "urgent", Due: zurichEvening, DueHasTime: true, List: "Sprint", ListID: "L1"})
	e.out.put("b", sdk.Task{Title: "Child", Status: sdk.TaskOpen, StatusName: "to do", Priority: "normal",
		Due: time.Date(2025, 3, 12, 12, 0, 0, 0, time.UTC), ParentExternalID: "a", List: "Sprint", ListID: "L1"})
}

// TestSyncIntoListNotes: the first sync puts each list's tasks in a note
// of its own, subtasks nested (a child that came a page before its parent
// moves under it), fields mapped (priority, due in the user's time zone,
// status); an incremental sync applies the changed fields; a sync that
// brings nothing new (the overlap sends the last change again) makes no
// note version and no push.
func TestSyncIntoListNotes(t *testing.T) {
	ctx := context.Background()
	e := newSyncEnv(t)
	e.seed()
	e.sync(t, false)

	sprint, title := e.listNote(t, "L1")
	require.Equal(t, "Script — Sprint", title)
	backlog, title := e.listNote(t, "L2")
	require.Equal(t, "Script — Backlog", title)

	a, b, c, d := e.task(t, "a"), e.task(t, "b"), e.task(t, "c"), e.task(t, "d")
	require.Equal(t, sprint, a.NoteID)
	require.Nil(t, a.ParentTaskID)
	require.Equal(t, "Ship it", a.Title)
	require.Equal(t, "the release", a.Description)
	require.Equal(t, blocknote.StatusInProgress, a.Status)
	require.Equal(t, blocknote.PriorityHigh, a.Priority)
	require.Equal(t, "2025-03-11", a.DueDate)
	require.Equal(t, "00:30", a.DueTime)
	require.Equal(t, "scriptp", a.Source, "the provider's name is the source")
	require.Equal(t, "a", a.SourceReference)
	require.Equal(t, sprint, b.NoteID)
	require.Equal(t, a.ID, *b.ParentTaskID)
	require.Equal(t, blocknote.PriorityMedium, b.Priority)
	require.Equal(t, "2025-03-12", b.DueDate)
	require.Empty(t, b.DueTime)
	require.Equal(t, sprint, c.NoteID)
	require.Equal(t, b.ID, *c.ParentTaskID, "the grandchild moved under its parent")
	require.Equal(t, blocknote.PriorityLow, c.Priority)
	require.Equal(t, backlog, d.NoteID)
	require.Equal(t, blocknote.StatusDeferred, d.Status)
	require.Equal(t, 4, e.externalTasks(t))
	require.Zero(t, e.pushJobs(t), "importing pushes nothing back")

	// Incremental: a renamed, d done outside.
	e.out.change("a", func(x *sdk.Task) { x.Title = "Ship it now" })
	e.out.change("d", func(x *sdk.Task) { x.Status, x.StatusName = sdk.TaskDone, "complete" })
	e.sync(t, false)
	a2, d2 := e.task(t, "a"), e.task(t, "d")
	require.Equal(t, a.ID, a2.ID)
	require.Equal(t, "Ship it now", a2.Title)
	require.Equal(t, blocknote.PriorityHigh, a2.Priority, "fields not changed outside stay")
	require.Equal(t, blocknote.StatusCompleted, d2.Status)
	require.Equal(t, 4, e.externalTasks(t))

	// Nothing new (the overlap sends d again): no version, no push.
	v := e.versions(t)
	e.sync(t, false)
	require.Equal(t, v, e.versions(t))
	require.Zero(t, e.pushJobs(t))
	// A full sync of the same tasks neither.
	e.sync(t, true)
	require.Equal(t, v, e.versions(t))
	require.Equal(t, 4, e.externalTasks(t))

	// The note is the user's: its content holds nested task blocks.
	n, err := e.app.Notes.Get(ctx, e.user, sprint)
	require.NoError(t, err)
	require.Contains(t, string(n.Content), `"sourceReference": "c"`)
}

// TestPushOnlyChangedFields: a change made here queues integration.push in
// the change's own transaction (rolled back: no job); the push sends only
// the fields whose meaning changed (a custom status that still means the
// same is kept, with its name); the record coming back is our echo and
// changes nothing. A note edit pushes the same way.
func TestPushOnlyChangedFields(t *testing.T) {
	ctx := context.Background()
	e := newSyncEnv(t)
	e.seed()
	e.sync(t, false)
	a := e.task(t, "a")

	// Rolled back with the change: no job, no change.
	title := "Ship it today"
	err := e.app.DB.InTx(ctx, func(tx db.Tx) error {
		if _, err := e.app.Tasks.Update(db.WithTx(ctx, tx), e.user, a.ID, &task.UpdateParams{Title: &title}); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'integration.push' AND args->>'ref_id' =
			(SELECT id::text FROM external_refs WHERE user_id = $1 AND external_id = 'a')`, e.user).Scan(&n); err != nil {
			return err
		}
		require.Equal(t, 1, n, "the job is in the change's transaction")
		return fmt.Errorf("roll back")
	})
	require.ErrorContains(t, err, "roll back")
	require.Zero(t, e.pushJobs(t))
	require.Equal(t, "Ship it", e.task(t, "a").Title)

	// Committed: pushed, title only; the custom status goes along unchanged.
	_, err = e.app.Tasks.Update(ctx, e.user, a.ID, &task.UpdateParams{Title: &title})
	require.NoError(t, err)
	require.Equal(t, 1, e.pushJobs(t))
	e.waitPushes(t)
	pushes := e.out.pushed()
	require.Len(t, pushes, 1)
	require.Equal(t, []sdk.TaskField{sdk.FieldTitle}, pushes[0].Fields)
	require.Equal(t, sdk.PushUpdate, pushes[0].Action)
	require.Equal(t, "a", pushes[0].ExternalID)
	require.Equal(t, title, pushes[0].Task.Title)
	require.Equal(t, "in review", pushes[0].Task.StatusName)
	require.Equal(t, sdk.TaskInProgress, pushes[0].Task.Status)
	require.Equal(t, "Ship it today", e.out.task("a").Title)
	require.Equal(t, "synced", e.ref(t, "a").Status)

	// Status and due date: both pushed, the due time in the user's zone.
	done := blocknote.StatusCompleted
	_, err = e.app.Tasks.Update(ctx, e.user, a.ID, &task.UpdateParams{Status: &done,
		DueDate: task.Optional[string]{Set: true, Value: "2025-04-01"}, DueTime: task.Optional[string]{Set: true, Value: "09:15"}})
	require.NoError(t, err)
	e.waitPushes(t)
	pushes = e.out.pushed()
	require.Len(t, pushes, 2)
	require.Equal(t, []sdk.TaskField{sdk.FieldStatus, sdk.FieldDue}, pushes[1].Fields)
	require.Equal(t, sdk.TaskDone, pushes[1].Task.Status)
	require.True(t, pushes[1].Task.DueHasTime)
	require.True(t, pushes[1].Task.Due.Equal(time.Date(2025, 4, 1, 7, 15, 0, 0, time.UTC)), "%s", pushes[1].Task.Due)

	// The echo comes back (with the outside's own status name): nothing
	// changes, nothing is pushed.
	v, jobsBefore := e.versions(t), e.pushJobs(t)
	e.sync(t, false)
	require.Equal(t, v, e.versions(t))
	require.Equal(t, jobsBefore, e.pushJobs(t))
	require.Len(t, e.out.pushed(), 2)
	require.Equal(t, blocknote.StatusCompleted, e.task(t, "a").Status)

	// A note edit (the priority of b in the editor) pushes too.
	b := e.task(t, "b")
	n, err := e.app.Notes.Get(ctx, e.user, b.NoteID)
	require.NoError(t, err)
	var doc []any
	require.NoError(t, json.Unmarshal(n.Content, &doc))
	var walk func(bs []any)
	walk = func(bs []any) {
		for _, x := range bs {
			m := x.(map[string]any)
			if m["id"] == b.BlockID {
				m["props"].(map[string]any)["priority"] = "low"
			}
			walk(m["children"].([]any))
		}
	}
	walk(doc)
	content, _ := json.Marshal(doc)
	_, err = e.app.Notes.Update(ctx, e.user, n.ID, &note.UpdateParams{Content: content})
	require.NoError(t, err)
	e.waitPushes(t)
	pushes = e.out.pushed()
	require.Len(t, pushes, 3)
	require.Equal(t, "b", pushes[2].ExternalID)
	require.Equal(t, []sdk.TaskField{sdk.FieldPriority}, pushes[2].Fields)
	require.Equal(t, "low", pushes[2].Task.Priority)
}

// TestConflictLatestWins: a field changed on both sides since the last
// sync goes to the later change (our task's change time against the
// record's UpdatedAt); the loser is recorded on the reference and listed
// with the external tasks. When ours wins, the sync queues its push.
func TestConflictLatestWins(t *testing.T) {
	ctx := context.Background()
	e := newSyncEnv(t)
	e.seed()
	e.sync(t, false)
	a := e.task(t, "a")
	refuse := func() {
		e.out.mu.Lock()
		e.out.pushScript = []ctlAnswer{{Error: &ctlError{Code: sdk.CodePermanent, Message: "not now"}}}
		e.out.mu.Unlock()
	}

	// Round 1: our title is the later change. Our push is refused, so the
	// sync meets both changes.
	refuse()
	ourTitle := "Our title"
	_, err := e.app.Tasks.Update(ctx, e.user, a.ID, &task.UpdateParams{Title: &ourTitle})
	require.NoError(t, err)
	e.waitPushes(t)
	require.Equal(t, "error", e.ref(t, "a").Status)
	e.out.change("a", func(x *sdk.Task) { x.Title = "Their title" }, time.Now().Add(-time.Hour))
	e.sync(t, false)
	require.Equal(t, "Our title", e.task(t, "a").Title)
	e.waitPushes(t)
	require.Equal(t, "Our title", e.out.task("a").Title, "the sync queued the push of what we won")
	pushes := e.out.pushed()
	require.Len(t, pushes, 2)
	require.Equal(t, []sdk.TaskField{sdk.FieldTitle}, pushes[1].Fields)

	// Round 2: their priority is the later change.
	refuse()
	low := blocknote.PriorityLow
	_, err = e.app.Tasks.Update(ctx, e.user, a.ID, &task.UpdateParams{Priority: task.Optional[blocknote.Priority]{Set: true, Value: low}})
	require.NoError(t, err)
	e.waitPushes(t)
	e.out.change("a", func(x *sdk.Task) { x.Priority = "normal" }, time.Now().Add(time.Hour))
	e.sync(t, false)
	require.Equal(t, blocknote.PriorityMedium, e.task(t, "a").Priority)
	require.Equal(t, "Our title", e.task(t, "a").Title)
	e.waitPushes(t)
	require.Len(t, e.out.pushed(), 3, "nothing to push once theirs won")

	r := e.ref(t, "a")
	require.Len(t, r.Conflicts, 2, "%+v", r.Conflicts)
	require.Equal(t, integration.Conflict{Field: "title", Ours: "Our title", Theirs: "Their title", Winner: "ours", At: r.Conflicts[0].At}, r.Conflicts[0])
	require.Equal(t, integration.Conflict{Field: "priority", Ours: "low", Theirs: "medium", Winner: "theirs", At: r.Conflicts[1].At}, r.Conflicts[1])
	list, err := e.app.Integrations.ListExternal(ctx, e.user, 50, "")
	require.NoError(t, err)
	found := false
	for _, x := range list.Items {
		if x.ExternalID == "a" {
			found = true
			var cs []integration.Conflict
			require.NoError(t, json.Unmarshal(x.Conflicts, &cs))
			require.Equal(t, r.Conflicts, cs)
		}
	}
	require.True(t, found)
}

// TestReconcileDeleteAndMove: a task moved to another list moves to that
// list's note with its subtasks (same task ids); a delete in a page removes
// the block; a task deleted outside without a word is found by the next
// full sync, its block removed and its reference kept (not re-created by
// later syncs).
func TestReconcileDeleteAndMove(t *testing.T) {
	e := newSyncEnv(t)
	e.seed()
	e.sync(t, false)
	a, b, c := e.task(t, "a"), e.task(t, "b"), e.task(t, "c")
	backlog, _ := e.listNote(t, "L2")

	e.out.change("a", func(x *sdk.Task) { x.List, x.ListID = "Backlog", "L2" })
	e.sync(t, false)
	a2, b2, c2 := e.task(t, "a"), e.task(t, "b"), e.task(t, "c")
	require.Equal(t, a.ID, a2.ID)
	require.Equal(t, backlog, a2.NoteID)
	require.Nil(t, a2.ParentTaskID)
	require.Equal(t, b.ID, b2.ID)
	require.Equal(t, backlog, b2.NoteID)
	require.Equal(t, c.ID, c2.ID)
	require.Equal(t, b.ID, *c2.ParentTaskID)
	require.Equal(t, 4, e.externalTasks(t))
	require.Zero(t, e.pushJobs(t))

	// A delete in a page.
	e.out.remove("c", false)
	e.sync(t, false)
	require.Nil(t, e.task(t, "c"))
	require.Equal(t, integration.RefDeleted, e.ref(t, "c").State)
	require.Equal(t, 3, e.externalTasks(t))

	// Deleted outside silently: only a full sync tells.
	e.out.remove("d", true)
	e.sync(t, false)
	require.NotNil(t, e.task(t, "d"))
	e.sync(t, true)
	require.Nil(t, e.task(t, "d"))
	r := e.ref(t, "d")
	require.Equal(t, integration.RefDeleted, r.State)
	require.Nil(t, r.TaskID)
	require.Equal(t, 2, e.externalTasks(t))
	e.sync(t, true)
	require.Equal(t, 2, e.externalTasks(t))
	require.NotNil(t, e.task(t, "a"), "seen tasks are never taken for deleted")
}

// TestCompletedCleanedAfterGrace: a task completed outside stays in its
// note for integrations.completed_grace, then the integration.cleanup job
// takes it out; its reference stays (cleaned) and later syncs do not bring
// it back.
func TestCompletedCleanedAfterGrace(t *testing.T) {
	ctx := context.Background()
	e := newSyncEnv(t)
	e.seed()
	e.sync(t, false)
	e.out.change("d", func(x *sdk.Task) { x.Status, x.StatusName = sdk.TaskDone, "complete" })
	e.sync(t, false)
	require.Equal(t, blocknote.StatusCompleted, e.task(t, "d").Status)

	clean := func() {
		res, err := e.app.River.Insert(ctx, integration.CleanupArgs{}, &river.InsertOpts{Queue: e.queue})
		require.NoError(t, err)
		e.waitJob(t, res.Job.ID, "completed")
	}
	clean()
	require.NotNil(t, e.task(t, "d"), "inside the grace period")

	e.clock.advance(8 * 24 * time.Hour)
	clean()
	require.Nil(t, e.task(t, "d"))
	r := e.ref(t, "d")
	require.Equal(t, integration.RefCleaned, r.State)
	require.Nil(t, r.TaskID)
	require.NotNil(t, e.task(t, "a"), "open tasks stay")

	e.sync(t, true)
	require.Nil(t, e.task(t, "d"), "not re-created")
	require.Equal(t, 3, e.externalTasks(t))

	// Reopened outside: placed again.
	e.out.change("d", func(x *sdk.Task) { x.Status, x.StatusName = sdk.TaskOpen, "to do" })
	e.sync(t, false)
	require.NotNil(t, e.task(t, "d"))
	require.Equal(t, integration.RefActive, e.ref(t, "d").State)
}

// TestRateLimitSnoozesSync: a 429 from the plugin snoozes the sync job
// until the reset and keeps the error on the connection.
func TestRateLimitSnoozesSync(t *testing.T) {
	ctx := context.Background()
	e := newSyncEnv(t)
	e.seed()
	e.out.mu.Lock()
	e.out.syncScript = []ctlAnswer{{Error: &ctlError{Code: sdk.CodeRateLimited, Message: "rate limit reached", RetryAfterMS: 30 * 60_000}}}
	e.out.mu.Unlock()
	ids, err := e.app.Integrations.SyncNow(ctx, e.user, provider, false)
	require.NoError(t, err)
	e.waitJob(t, ids[0], "scheduled")
	var at time.Time
	var attempt int
	require.NoError(t, e.app.DB.Pool.QueryRow(ctx, `SELECT scheduled_at, attempt FROM river_job WHERE id = $1`, ids[0]).Scan(&at, &attempt))
	require.WithinDuration(t, time.Now().Add(30*time.Minute), at, 2*time.Minute)
	st, err := e.app.Integrations.Status(ctx, e.user, provider)
	require.NoError(t, err)
	require.Contains(t, st.LastError, "rate limit reached")
	require.Zero(t, e.externalTasks(t))
}

// TestPluginCrashMidSync: the plugin process dies in the middle of a
// sync; the job retries from the last stored page and every record ends up
// exactly once.
func TestPluginCrashMidSync(t *testing.T) {
	e := newSyncEnv(t)
	for i := range 7 {
		e.out.put(fmt.Sprintf("t%d", i), sdk.Task{Title: fmt.Sprintf("Task %d", i), Status: sdk.TaskOpen, List: "Big", ListID: "LB"})
	}
	e.out.mu.Lock()
	e.out.crashAt = 3 // pages 1 and 2 stored, the third call kills the plugin
	e.out.mu.Unlock()
	e.sync(t, false)
	var n, distinct int
	require.NoError(t, e.app.DB.Pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT source_reference) FROM tasks
		WHERE user_id = $1 AND source = 'scriptp'`, e.user).Scan(&n, &distinct))
	require.Equal(t, 7, n)
	require.Equal(t, 7, distinct)
	e.out.mu.Lock()
	calls := e.out.syncCalls
	e.out.mu.Unlock()
	require.Equal(t, 5, calls, "4 pages and the call that crashed, none asked twice")
	// A retried page (the overlap sends the same records again) creates
	// nothing twice.
	e.sync(t, false)
	require.Equal(t, 7, e.externalTasks(t))
}

// TestListSpillsIntoContinuationNote: a list's note that holds as many
// blocks as a document may takes no more; the list goes on in "… (2)".
// (Part 1 here is a note the user already had, nearly full.)
func TestListSpillsIntoContinuationNote(t *testing.T) {
	ctx := context.Background()
	e := newSyncEnv(t)
	blocks := make([]map[string]any, blocknote.MaxBlocks-1)
	for i := range blocks {
		blocks[i] = map[string]any{"id": fmt.Sprintf("p%d", i), "type": "paragraph", "content": []any{}, "children": []any{}}
	}
	content, err := json.Marshal(blocks)
	require.NoError(t, err)
	full, err := e.app.Notes.Create(ctx, e.user, &note.CreateParams{Title: "My huge list", Content: content})
	require.NoError(t, err)
	_, err = e.app.DB.Pool.Exec(ctx, `INSERT INTO external_lists (user_id, system, list_id, part, note_id, name) VALUES ($1, $2, 'LH', 1, $3, 'Huge')`,
		e.user, provider, full.ID)
	require.NoError(t, err)

	for i := range 3 {
		e.out.put(fmt.Sprintf("h%d", i), sdk.Task{Title: fmt.Sprintf("Huge %d", i), Status: sdk.TaskOpen, List: "Huge", ListID: "LH"})
	}
	e.sync(t, false)
	require.Equal(t, full.ID, e.task(t, "h0").NoteID, "the last free block of part 1")
	second, title := e.listNote(t, "LH", 2)
	require.Equal(t, "Script — Huge (2)", title)
	require.Equal(t, second, e.task(t, "h1").NoteID)
	require.Equal(t, second, e.task(t, "h2").NoteID)
	doc, err := e.app.Notes.Get(ctx, e.user, full.ID)
	require.NoError(t, err)
	parsed, err := blocknote.Parse(doc.Content, nil)
	require.NoError(t, err)
	require.Equal(t, blocknote.MaxBlocks, parsed.Len())
}

// TestDeletedHereStaysDeleted: a task the user deletes keeps its
// reference (removed): later syncs, full ones too, do not bring it back,
// and nothing is pushed.
func TestDeletedHereStaysDeleted(t *testing.T) {
	ctx := context.Background()
	e := newSyncEnv(t)
	e.seed()
	e.sync(t, false)
	require.NoError(t, e.app.Tasks.Delete(ctx, e.user, e.task(t, "d").ID, nil))
	r := e.ref(t, "d")
	require.Equal(t, integration.RefRemoved, r.State)
	require.Nil(t, r.TaskID)
	e.out.change("d", func(x *sdk.Task) { x.Title = "Renamed outside" })
	e.sync(t, false)
	e.sync(t, true)
	require.Nil(t, e.task(t, "d"))
	require.Equal(t, 3, e.externalTasks(t))
	require.Zero(t, e.pushJobs(t))
}

// TestConcurrentSyncsKeepCursor: a sync that fetched a page and was slow
// to store it (the scheduled sync and a manual one at once, under load)
// while another sync of the connection stored its pages neither stores
// that page nor moves the cursor back: it goes on from the stored cursor.
func TestConcurrentSyncsKeepCursor(t *testing.T) {
	ctx := context.Background()
	e := newSyncEnv(t)
	e.seed()
	first, second := &syncHold{reached: make(chan string, 1), release: make(chan struct{})},
		&syncHold{reached: make(chan string, 1), release: make(chan struct{})}
	e.out.mu.Lock()
	e.out.holds = map[int]*syncHold{1: first, 4: second}
	e.out.mu.Unlock()
	t.Cleanup(first.free) // a failed test lets held calls go
	t.Cleanup(second.free)
	cursor := func() string {
		var c string
		require.NoError(t, e.app.DB.Pool.QueryRow(ctx, `SELECT sync_cursor FROM connections WHERE user_id = $1 AND provider = $2`, e.user, provider).Scan(&c))
		return c
	}
	reached := func(h *syncHold) string {
		t.Helper()
		select {
		case c := <-h.reached:
			return c
		case <-time.After(3 * time.Minute):
			t.Fatal("timed out waiting for the held sync call")
			return ""
		}
	}

	slow, err := e.app.Integrations.SyncNow(ctx, e.user, provider, false)
	require.NoError(t, err)
	require.Equal(t, "", reached(first), "the slow sync fetched the first page")
	// Meanwhile a second sync runs to its end (sync calls 2 and 3).
	e.sync(t, false)
	done := cursor()
	require.True(t, strings.HasPrefix(done, "inc:"), "the other sync stored its pages: %q", done)
	require.Equal(t, 4, e.externalTasks(t))

	first.free()
	// The slow sync's next call follows on from the stored cursor; its
	// stale page was not stored.
	require.Equal(t, done, reached(second))
	require.Equal(t, done, cursor(), "the cursor never goes back")
	second.free()
	e.waitJob(t, slow[0], "completed")
	require.Equal(t, done, cursor())
	require.Equal(t, 4, e.externalTasks(t))
}
