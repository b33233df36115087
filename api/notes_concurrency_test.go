package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/blocknote/blocknotetest"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/task"
)

// send is a request from a goroutine other than the test's: it reports
// failures instead of stopping the test.
func send(e *apitest.Env, method, path string, body any, headers ...string) (int, []byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequest(method, e.Server.URL+path, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range headers {
		k, v, _ := bytes.Cut([]byte(h), []byte(":"))
		req.Header.Set(string(bytes.TrimSpace(k)), string(bytes.TrimSpace(v)))
	}
	res, err := e.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, out, err
}

// TestConcurrentChangesToOneNoteAllLand: many clients change different
// tasks of the same note at the same moment; every change succeeds and is
// in the final note (changes to one note are serialised).
func TestConcurrentChangesToOneNoteAllLand(t *testing.T) {
	b := setupNotes(t)
	doc := blocknotetest.Document(blocknotetest.Options{Blocks: 120, Tasks: 24, Seed: 7})
	n := b.create(t, map[string]any{"title": "busy", "content": json.RawMessage(doc)})
	nid := n["id"].(string)
	ts := b.tasks(t, nid)
	require.Len(t, ts, 24)

	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, len(ts))
	for i, tk := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var body map[string]any
			path := "/api/tasks/" + tk["id"].(string)
			if i%2 == 0 {
				body = map[string]any{"title": fmt.Sprintf("changed %d", i), "status": "deferred", "priority": "low"}
			} else {
				body, path = map[string]any{"status": "in_progress"}, path+"/status"
			}
			status, out, err := send(b.e, http.MethodPut, path, body, b.u.Bearer())
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("%s: %d %s", path, status, out)
			}
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	final := b.get(t, nid)
	changes := 0
	for i, tk := range ts {
		if i%2 == 0 || tk["status"] != "in_progress" {
			changes++ // setting a status a task already has changes nothing
		}
	}
	require.EqualValues(t, 1+changes, final["version"], "one version per change")
	blocks := blockMap(final["content"])
	after := taskByBlock(b.tasks(t, nid))
	for i, tk := range ts {
		blk := blocks[tk["block_id"].(string)]
		got := after[tk["block_id"].(string)]
		require.Equal(t, tk["id"], got["id"])
		require.Equal(t, "task", blk["type"], "every block was rewritten")
		if i%2 == 0 {
			require.Equal(t, fmt.Sprintf("changed %d", i), got["title"])
			require.Equal(t, "deferred", blk["props"].(map[string]any)["status"])
			require.Equal(t, "low", got["priority"])
		} else {
			require.Equal(t, tk["title"], got["title"])
			require.Equal(t, "in_progress", blk["props"].(map[string]any)["status"])
		}
	}
	// Blocks that are not tasks are exactly as they were.
	for id, blk := range blockMap(jsonValue(t, doc)) {
		if blk["type"] != "task" && blk["type"] != "checkListItem" {
			require.Equal(t, withoutChildren(blk), withoutChildren(blocks[id]))
		}
	}
}

// TestConcurrentIfMatchOneWins: two clients change the same note (or task)
// with the same If-Match: one succeeds, the other gets 412.
func TestConcurrentIfMatchOneWins(t *testing.T) {
	b := setupNotes(t)
	n := b.create(t, map[string]any{"title": "race", "content": fixture(t, "checklist-flat.json")})
	nid := n["id"].(string)
	tid := b.tasks(t, nid)[0]["id"].(string)

	race := func(version int, path string, bodies ...map[string]any) []int {
		var wg sync.WaitGroup
		start := make(chan struct{})
		codes := make([]int, len(bodies))
		for i, body := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				codes[i], _, _ = send(b.e, http.MethodPut, path, body, b.u.Bearer(), fmt.Sprintf(`If-Match: "%d"`, version))
			}()
		}
		close(start)
		wg.Wait()
		return codes
	}
	for round := range 5 {
		v := int(b.get(t, nid)["version"].(float64))
		codes := race(v, "/api/notes/"+nid, map[string]any{"title": fmt.Sprintf("A%d", round)}, map[string]any{"title": fmt.Sprintf("B%d", round)})
		require.ElementsMatch(t, []int{http.StatusOK, http.StatusPreconditionFailed}, codes, "round %d", round)
		require.EqualValues(t, v+1, b.get(t, nid)["version"])
	}
	for round := range 5 {
		tv := int(b.do(t, http.MethodGet, "/api/tasks/"+tid, nil).Map(t)["version"].(float64))
		codes := race(tv, "/api/tasks/"+tid, map[string]any{"title": fmt.Sprintf("A%d", round)}, map[string]any{"title": fmt.Sprintf("B%d", round)})
		require.ElementsMatch(t, []int{http.StatusOK, http.StatusPreconditionFailed}, codes, "task round %d", round)
	}
}

// TestHooksRunInTheSaveTransaction: a note hook that writes a row and a
// task hook that sees status changes run in the save's transaction; when a
// later hook fails, the save, its index and the row roll back. (River jobs
// through tx.InsertJob: core/task's TestHooksQueueRiverJobs.)
func TestHooksRunInTheSaveTransaction(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var noteChanges []note.Change
	var taskChanges [][]task.Change
	e := apitest.New(t, apitest.Options{
		NoteHooks: []note.Hook{
			func(ctx context.Context, tx db.Tx, c *note.Change) error {
				// What later issues do here (queue an embedding job, push a
				// status) writes in the save's transaction, like this row.
				_, err := tx.Exec(ctx, `INSERT INTO api_test_hook_log (note_id, version, kind) VALUES ($1, $2, $3)`,
					c.Note.ID, c.Note.Version, string(c.Kind))
				return err
			},
			func(ctx context.Context, tx db.Tx, c *note.Change) error {
				if c.Note.Title == "fail" {
					return errors.New("hook refused the change")
				}
				mu.Lock()
				noteChanges = append(noteChanges, *c)
				mu.Unlock()
				return nil
			},
		},
		TaskHooks: []task.Hook{func(ctx context.Context, tx db.Tx, cs []task.Change) error {
			mu.Lock()
			taskChanges = append(taskChanges, cs)
			mu.Unlock()
			return nil
		}},
	})
	_, err := e.DB.Pool.Exec(context.Background(), `CREATE TABLE IF NOT EXISTS api_test_hook_log (note_id uuid, version int, kind text)`)
	require.NoError(t, err)
	u := e.NewUser()
	jobs := func(noteID string) int {
		var n int
		require.NoError(t, e.DB.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM api_test_hook_log WHERE note_id = $1`, noteID).Scan(&n))
		return n
	}
	reset := func() {
		mu.Lock()
		noteChanges, taskChanges = nil, nil
		mu.Unlock()
	}

	res := e.Do(http.MethodPost, "/api/notes", map[string]any{"title": "ok", "content": fixture(t, "checklist-flat.json")}, u.Bearer())
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	nid := res.Map(t)["id"].(string)
	require.Equal(t, 1, jobs(nid), "the hook wrote with the save")
	require.Len(t, noteChanges, 1)
	require.Equal(t, note.ChangeCreate, noteChanges[0].Kind)
	require.Len(t, taskChanges, 1)
	require.Len(t, taskChanges[0], 3)
	require.Equal(t, task.Created, taskChanges[0][0].Op)
	reset()

	// A failing hook rolls back the save, the index and the queued job.
	doc := jsonValue(t, fixture(t, "checklist-flat.json")).([]any)
	doc = doc[:1]
	res = e.Do(http.MethodPut, "/api/notes/"+nid, map[string]any{"title": "fail", "content": doc}, u.Bearer())
	requireProblem(t, res, http.StatusInternalServerError)
	got := e.Do(http.MethodGet, "/api/notes/"+nid, nil, u.Bearer()).Map(t)
	require.Equal(t, "ok", got["title"])
	require.EqualValues(t, 1, got["version"])
	require.Len(t, items(t, e.Do(http.MethodGet, "/api/notes/"+nid+"/tasks", nil, u.Bearer())), 3, "the index did not change")
	require.Equal(t, 1, jobs(nid), "what the first hook wrote was rolled back")
	res = e.Do(http.MethodPost, "/api/notes", map[string]any{"title": "fail", "content": fixture(t, "checklist-flat.json")}, u.Bearer())
	requireProblem(t, res, http.StatusInternalServerError)
	require.Empty(t, items(t, e.Do(http.MethodGet, "/api/notes?q=fail", nil, u.Bearer())))
	reset()

	// A status change: one task changed, the note's text did not.
	ts := items(t, e.Do(http.MethodGet, "/api/notes/"+nid+"/tasks", nil, u.Bearer()))
	res = e.Do(http.MethodPut, "/api/tasks/"+ts[0]["id"].(string)+"/status", map[string]any{"status": "completed"}, u.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, 2, jobs(nid))
	require.Len(t, noteChanges, 1)
	require.Equal(t, note.ChangeTaskUpdate, noteChanges[0].Kind)
	require.True(t, noteChanges[0].ContentChanged)
	require.False(t, noteChanges[0].TextChanged, "a status change leaves the text alone")
	require.Len(t, taskChanges, 1)
	require.Len(t, taskChanges[0], 1)
	c := taskChanges[0][0]
	require.Equal(t, task.Updated, c.Op)
	require.Equal(t, "not_started", string(c.Before.Status))
	require.Equal(t, "completed", string(c.After.Status))
	require.Equal(t, 2, c.After.Version)
	reset()

	// A text edit elsewhere changes no task.
	doc = jsonValue(t, fixture(t, "checklist-flat.json")).([]any)
	doc = append(doc, map[string]any{"id": "p", "type": "paragraph", "content": "more words", "children": []any{}})
	doc[0].(map[string]any)["props"].(map[string]any)["checked"] = true
	res = e.Do(http.MethodPut, "/api/notes/"+nid, map[string]any{"content": doc}, u.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Len(t, noteChanges, 1)
	require.True(t, noteChanges[0].TextChanged)
	require.Empty(t, taskChanges, "no task changed")
	reset()

	res = e.Do(http.MethodDelete, "/api/notes/"+nid, nil, u.Bearer())
	require.Equal(t, http.StatusNoContent, res.Status)
	require.Len(t, taskChanges, 1)
	require.Len(t, taskChanges[0], 3)
	require.Equal(t, task.Deleted, taskChanges[0][0].Op)
}
