package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// taskByBlock indexes a note's tasks by block id.
func taskByBlock(ts []map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, t := range ts {
		out[t["block_id"].(string)] = t
	}
	return out
}

func TestTaskExtractionAtEveryDepth(t *testing.T) {
	b := setupNotes(t)
	n := b.create(t, map[string]any{"title": "Week", "content": fixture(t, "tasks-document.json")})
	ts := b.tasks(t, n["id"].(string))
	var order []string
	for _, task := range ts {
		order = append(order, task["block_id"].(string))
		require.Equal(t, n["id"], task["note_id"])
		require.Equal(t, b.u.ID, task["user_id"])
	}
	require.Equal(t, []string{"t1", "t1a", "c1b", "t1b1", "c2", "t3", "c3", "t4", "t5"}, order, "document order, every depth")
	by := taskByBlock(ts)
	parent := func(block string) any {
		if p := by[block]["parent_task_id"]; p != nil {
			for id, tk := range by {
				if tk["id"] == p {
					return id
				}
			}
		}
		return nil
	}
	require.Equal(t, "t1", parent("t1a"))
	require.Equal(t, "t1", parent("c1b"))
	require.Equal(t, "c1b", parent("t1b1"), "a task block under a checklist is its subtask")
	require.Nil(t, parent("t3"), "a task under a paragraph in a toggle has no parent task")
	require.Nil(t, parent("t4"), "inside a custom block")

	t1 := by["t1"]
	require.Equal(t, map[string]any{
		"title": "Write report", "description": "Quarterly numbers", "status": "in_progress", "priority": "high",
		"due_date": "2026-03-02", "due_time": "09:30", "size": float64(3), "source": "note", "source_reference": nil,
		"metadata": map[string]any{"color": "blue"}, "block_type": "task", "goal_id": nil,
	}, pick(t1, "title", "description", "status", "priority", "due_date", "due_time", "size", "source",
		"source_reference", "metadata", "block_type", "goal_id"))
	require.Equal(t, "completed", by["c2"]["status"])
	require.Equal(t, "Milk from shop", by["c3"]["title"], "title is the plain text of styled text and links")
	require.Equal(t, "email", by["t5"]["source"])
	require.Equal(t, "msg-123", by["t5"]["source_reference"])
	// The fixture's goalId names no goal of this user's: it stays in the
	// note but links nothing (issue 9: never link across users).
	require.Nil(t, by["t5"]["goal_id"])
	require.Equal(t, "5e0c1d8a-7b7e-4d53-9a55-2f1f4c1b9a10", blockMap(n["content"])["t5"]["props"].(map[string]any)["goalId"])

	// Nested checklists under bullets and numbers: the project's document
	// and BlockNote's real output (from the shared fixtures).
	for _, name := range []string{"nested-lists.json", "nested-lists-with-checklist.json"} {
		t.Run(name, func(t *testing.T) {
			n2 := b.create(t, map[string]any{"content": fixture(t, name)})
			ts2 := taskByBlock(b.tasks(t, n2["id"].(string)))
			require.Len(t, ts2, 5)
			require.Equal(t, ts2["12"]["id"], ts2["13"]["parent_task_id"])
			require.Equal(t, ts2["12"]["id"], ts2["14"]["parent_task_id"])
		})
	}

	res := b.do(t, http.MethodGet, "/api/tasks?parent_task_id="+t1["id"].(string), nil)
	require.Len(t, items(t, res), 2, "filter by parent task")
}

func pick(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}

func TestTaskFieldsRoundTripThroughTheNote(t *testing.T) {
	b := setupNotes(t)
	n := b.create(t, map[string]any{"content": fixture(t, "tasks-document.json")})
	nid := n["id"].(string)
	before := blockMap(n["content"])
	t1 := taskByBlock(b.tasks(t, nid))["t1"]
	id := t1["id"].(string)
	goalRes := b.do(t, "POST", "/api/goals", map[string]any{"title": "a goal the task serves"})
	require.Equal(t, http.StatusCreated, goalRes.Status, goalRes.String())
	goal := goalRes.Map(t)["id"].(string)

	type change struct {
		body  map[string]any
		field string // in the task JSON
		want  any
		prop  string // in the block's props ("" for the title)
		pval  any
	}
	steps := []change{
		{map[string]any{"title": "Write the annual report"}, "title", "Write the annual report", "", nil},
		{map[string]any{"description": "All of it"}, "description", "All of it", "description", "All of it"},
		{map[string]any{"status": "deferred"}, "status", "deferred", "status", "deferred"},
		{map[string]any{"priority": "low"}, "priority", "low", "priority", "low"},
		{map[string]any{"priority": nil}, "priority", nil, "priority", ""},
		{map[string]any{"due_date": "2027-01-31"}, "due_date", "2027-01-31", "dueDate", "2027-01-31"},
		{map[string]any{"due_time": "18:45"}, "due_time", "18:45", "dueTime", "18:45"},
		{map[string]any{"due_time": nil}, "due_time", nil, "dueTime", ""},
		{map[string]any{"size": 0.5}, "size", 0.5, "size", 0.5},
		{map[string]any{"size": nil}, "size", nil, "size", float64(0)},
		{map[string]any{"source_reference": "CU-1"}, "source_reference", "CU-1", "sourceReference", "CU-1"},
		{map[string]any{"goal_id": goal}, "goal_id", goal, "goalId", goal},
		{map[string]any{"metadata": map[string]any{"k": []any{1.0, "x"}}}, "metadata", map[string]any{"k": []any{1.0, "x"}}, "metadata", `{"k":[1,"x"]}`},
		{map[string]any{"metadata": nil}, "metadata", map[string]any{}, "metadata", ""},
		{map[string]any{"due_date": nil}, "due_date", nil, "dueDate", ""},
	}
	noteVersion, taskVersion := 1.0, 1.0
	for i, s := range steps {
		res := b.do(t, http.MethodPut, "/api/tasks/"+id, s.body)
		require.Equal(t, http.StatusOK, res.Status, "step %d: %s", i, res.String())
		got := res.Map(t)
		require.Equal(t, s.want, got[s.field], "step %d: task JSON", i)
		taskVersion++
		require.Equal(t, taskVersion, got["version"], "step %d: task version", i)
		require.Equal(t, fmt.Sprintf(`"%d"`, int(taskVersion)), res.Header.Get("ETag"))
		require.Equal(t, id, got["id"], "the task keeps its id")

		note := b.get(t, nid)
		noteVersion++
		require.Equal(t, noteVersion, note["version"], "step %d: every task change is a note version", i)
		blocks := blockMap(note["content"])
		blk := blocks["t1"]
		if s.prop == "" {
			require.Equal(t, []any{map[string]any{"type": "text", "text": s.want, "styles": map[string]any{}}}, blk["content"])
		} else {
			require.Equal(t, s.pval, blk["props"].(map[string]any)[s.prop], "step %d: block prop %s", i, s.prop)
		}
		require.Equal(t, "default", blk["props"].(map[string]any)["backgroundColor"], "props the server does not know stay")
		for bid, orig := range before {
			if bid == "t1" {
				continue
			}
			require.Equal(t, withoutChildren(orig), withoutChildren(blocks[bid]), "step %d: block %s untouched", i, bid)
		}
		// Reading the task again agrees with the note.
		again := b.do(t, http.MethodGet, "/api/tasks/"+id, nil).Map(t)
		require.Equal(t, got, again)
	}
	require.Len(t, blockMap(b.get(t, nid)["content"])["t1"]["children"], 2, "children stay")

	// The other way: editing the block in the note changes the task.
	doc := b.get(t, nid)["content"].([]any)
	t1blk := doc[2].(map[string]any)
	require.Equal(t, "t1", t1blk["id"])
	props := t1blk["props"].(map[string]any)
	props["status"], props["priority"], props["dueDate"] = "completed", "medium", "2028-02-29"
	t1blk["content"] = []any{map[string]any{"type": "text", "text": "Edited in the editor", "styles": map[string]any{"italic": true}}}
	res := b.do(t, http.MethodPut, "/api/notes/"+nid, map[string]any{"content": doc})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	got := b.do(t, http.MethodGet, "/api/tasks/"+id, nil).Map(t)
	require.Equal(t, map[string]any{"status": "completed", "priority": "medium", "due_date": "2028-02-29", "title": "Edited in the editor"},
		pick(got, "status", "priority", "due_date", "title"))
	require.Equal(t, taskVersion+1, got["version"])
	// Saving the note again without touching tasks leaves them alone.
	doc[len(doc)-1].(map[string]any)["content"] = []any{map[string]any{"type": "text", "text": "new paragraph text", "styles": map[string]any{}}}
	require.Equal(t, http.StatusOK, b.do(t, http.MethodPut, "/api/notes/"+nid, map[string]any{"content": doc}).Status)
	require.Equal(t, taskVersion+1, b.do(t, http.MethodGet, "/api/tasks/"+id, nil).Map(t)["version"])

	// A block removed from the note removes its task (and only it).
	var kept []any
	for _, blk := range doc {
		if blk.(map[string]any)["id"] != "t5" {
			kept = append(kept, blk)
		}
	}
	t5 := taskByBlock(b.tasks(t, nid))["t5"]["id"].(string)
	require.Equal(t, http.StatusOK, b.do(t, http.MethodPut, "/api/notes/"+nid, map[string]any{"content": kept}).Status)
	requireProblem(t, b.do(t, http.MethodGet, "/api/tasks/"+t5, nil), http.StatusNotFound)
	require.Len(t, b.tasks(t, nid), 8)
	require.Equal(t, id, taskByBlock(b.tasks(t, nid))["t1"]["id"], "the other tasks keep their ids")

	p := requireProblem(t, b.do(t, http.MethodPut, "/api/tasks/"+id, map[string]any{"due_date": "2027-02-30"}), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "body.due_date")
	p = requireProblem(t, b.do(t, http.MethodPut, "/api/tasks/"+id, map[string]any{"status": "done"}), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "body.status")
	p = requireProblem(t, b.do(t, http.MethodPut, "/api/tasks/"+id, map[string]any{"size": -1}), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "body.size")
}

func withoutChildren(m map[string]any) map[string]any {
	c := map[string]any{}
	for k, v := range m {
		if k != "children" {
			c[k] = v
		}
	}
	return c
}

func TestChecklistBecomesTaskBlock(t *testing.T) {
	b := setupNotes(t)
	n := b.create(t, map[string]any{"content": fixture(t, "checklist-tree.json")})
	nid := n["id"].(string)
	ts := taskByBlock(b.tasks(t, nid))
	parentID := ts["1"]["id"].(string)
	orig := blockMap(n["content"])["1"]

	// completed stays a checklist: checked flips.
	res := b.do(t, http.MethodPut, "/api/tasks/"+parentID+"/status", map[string]any{"status": "completed"})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	blk := blockMap(b.get(t, nid)["content"])["1"]
	require.Equal(t, "checkListItem", blk["type"])
	require.Equal(t, true, blk["props"].(map[string]any)["checked"])

	for _, st := range []string{"in_progress", "deferred"} {
		res = b.do(t, http.MethodPut, "/api/tasks/"+parentID+"/status", map[string]any{"status": st})
		require.Equal(t, http.StatusOK, res.Status, res.String())
		got := res.Map(t)
		require.Equal(t, st, got["status"])
		require.Equal(t, "task", got["block_type"])
		require.Equal(t, parentID, got["id"], "same task")
		blk = blockMap(b.get(t, nid)["content"])["1"]
		require.Equal(t, "task", blk["type"])
		require.Equal(t, "1", blk["id"])
		require.Equal(t, orig["content"], blk["content"], "same content")
		require.Equal(t, orig["children"], blk["children"], "same children")
		require.Equal(t, st, blk["props"].(map[string]any)["status"])
		require.NotContains(t, blk["props"], "checked")
	}
	// Its subtasks still hang under it.
	for _, c := range []string{"2", "3"} {
		require.Equal(t, parentID, taskByBlock(b.tasks(t, nid))[c]["parent_task_id"])
	}
	// A due date on a checklist also needs a task block.
	res = b.do(t, http.MethodPut, "/api/tasks/"+ts["3"]["id"].(string), map[string]any{"due_date": "2026-05-01"})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, "task", blockMap(b.get(t, nid)["content"])["3"]["type"])
}

func TestCreateTask(t *testing.T) {
	b := setupNotes(t)
	// Without a note: the Inbox, created on first use.
	res := b.do(t, http.MethodPost, "/api/tasks", map[string]any{"title": "Call the bank", "priority": "high", "due_date": "2026-06-01", "size": 2})
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	first := res.Map(t)
	require.Equal(t, "direct", first["source"])
	require.Equal(t, "not_started", first["status"])
	require.Equal(t, "high", first["priority"])
	require.EqualValues(t, 2, first["size"])
	require.NotEmpty(t, first["block_id"])
	inbox := b.get(t, first["note_id"].(string))
	require.Equal(t, true, inbox["is_inbox"])
	require.Equal(t, "Inbox", inbox["title"])
	blk := blockMap(inbox["content"])[first["block_id"].(string)]
	require.Equal(t, "task", blk["type"])
	require.Equal(t, "high", blk["props"].(map[string]any)["priority"])
	require.Equal(t, "direct", blk["props"].(map[string]any)["source"])

	second := b.do(t, http.MethodPost, "/api/tasks", map[string]any{"title": "Second"}).Map(t)
	require.Equal(t, first["note_id"], second["note_id"], "one Inbox")
	require.Equal(t, []string{first["block_id"].(string), second["block_id"].(string)}, topIDs(b.get(t, first["note_id"].(string))["content"]))

	// Into a note, appended at the end; then as a subtask.
	n := b.create(t, map[string]any{"content": fixture(t, "tasks-document.json")})
	nid := n["id"].(string)
	res = b.do(t, http.MethodPost, "/api/tasks", map[string]any{"title": "Appended", "note_id": nid, "status": "in_progress"})
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	app := res.Map(t)
	require.Equal(t, nid, app["note_id"])
	ids := topIDs(b.get(t, nid)["content"])
	require.Equal(t, app["block_id"], ids[len(ids)-1])

	t1 := taskByBlock(b.tasks(t, nid))["t1"]
	res = b.do(t, http.MethodPost, "/api/tasks", map[string]any{"title": "Sub", "parent_task_id": t1["id"]})
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	sub := res.Map(t)
	require.Equal(t, nid, sub["note_id"])
	require.Equal(t, t1["id"], sub["parent_task_id"])
	children := blockMap(b.get(t, nid)["content"])["t1"]["children"].([]any)
	require.Equal(t, sub["block_id"], children[len(children)-1].(map[string]any)["id"])
	require.Equal(t, 3.0, b.get(t, nid)["version"])

	other := b.e.NewUser()
	theirs := b.e.Do(http.MethodPost, "/api/notes", map[string]any{"content": fixture(t, "checklist-flat.json")}, other.Bearer()).Map(t)
	theirTask := items(t, b.e.Do(http.MethodGet, "/api/tasks", nil, other.Bearer()))[0]
	for name, c := range map[string]struct {
		body  map[string]any
		field string
	}{
		"foreign note":    {map[string]any{"title": "x", "note_id": theirs["id"]}, "body.note_id"},
		"foreign parent":  {map[string]any{"title": "x", "parent_task_id": theirTask["id"]}, "body.parent_task_id"},
		"note not parent": {map[string]any{"title": "x", "parent_task_id": t1["id"], "note_id": first["note_id"]}, "body.note_id"},
		"blank title":     {map[string]any{"title": "  "}, "body.title"},
		"bad time":        {map[string]any{"title": "x", "due_time": "7pm"}, "body.due_time"},
	} {
		t.Run(name, func(t *testing.T) {
			p := requireProblem(t, b.do(t, http.MethodPost, "/api/tasks", c.body), http.StatusUnprocessableEntity)
			requireNamesField(t, p, c.field)
		})
	}
	require.Equal(t, 1.0, b.e.Do(http.MethodGet, "/api/notes/"+theirs["id"].(string), nil, other.Bearer()).Map(t)["version"], "their note is untouched")
}

func topIDs(doc any) []string {
	var out []string
	for _, b := range doc.([]any) {
		out = append(out, b.(map[string]any)["id"].(string))
	}
	return out
}

func TestDeleteTask(t *testing.T) {
	b := setupNotes(t)
	n := b.create(t, map[string]any{"content": fixture(t, "tasks-document.json")})
	nid := n["id"].(string)
	ts := taskByBlock(b.tasks(t, nid))
	res := b.do(t, http.MethodDelete, "/api/tasks/"+ts["c1b"]["id"].(string), nil)
	require.Equal(t, http.StatusNoContent, res.Status, res.String())
	after := b.get(t, nid)
	require.Equal(t, 2.0, after["version"])
	blocks := blockMap(after["content"])
	require.NotContains(t, blocks, "c1b")
	require.NotContains(t, blocks, "t1b1", "the block's children go with it")
	require.Contains(t, blocks, "t1a")
	left := taskByBlock(b.tasks(t, nid))
	require.Len(t, left, 7)
	require.NotContains(t, left, "t1b1")
	requireProblem(t, b.do(t, http.MethodDelete, "/api/tasks/"+ts["c1b"]["id"].(string), nil), http.StatusNotFound)
	res = b.do(t, http.MethodGet, "/api/notes/"+nid+"/versions?limit=1", nil)
	require.Equal(t, "task_delete", items(t, res)[0]["change"])
}

func TestTaskListFiltersSortsAndPages(t *testing.T) {
	b := setupNotes(t)
	task := func(id, title string, props map[string]any, children ...any) map[string]any {
		p := map[string]any{"status": "not_started"}
		for k, v := range props {
			p[k] = v
		}
		return map[string]any{"id": id, "type": "task", "props": p, "children": append([]any{}, children...),
			"content": []any{map[string]any{"type": "text", "text": title, "styles": map[string]any{}}}}
	}
	n1 := b.create(t, map[string]any{"content": []any{
		task("a", "alpha overdue", map[string]any{"dueDate": "2020-01-05", "priority": "high"}),
		task("b", "bravo done late", map[string]any{"dueDate": "2020-01-06", "status": "completed", "priority": "low"}),
		task("c", "charlie soon", map[string]any{"dueDate": "2999-03-01", "status": "in_progress", "priority": "medium"},
			task("c1", "charlie child", map[string]any{"dueDate": "2999-03-02"})),
		task("d", "delta no date", map[string]any{"status": "deferred", "source": "email", "description": "zulu words"}),
		map[string]any{"id": "e", "type": "checkListItem", "props": map[string]any{"checked": false}, "children": []any{},
			"content": []any{map[string]any{"type": "text", "text": "echo checklist", "styles": map[string]any{}}}},
	}})
	n2 := b.create(t, map[string]any{"content": []any{
		task("f", "foxtrot", map[string]any{"dueDate": "2999-03-01", "priority": "high"}),
	}})
	other := b.e.NewUser()
	b.e.Do(http.MethodPost, "/api/notes", map[string]any{"content": []any{task("z", "not mine", nil)}}, other.Bearer())

	list := func(q string) []string {
		t.Helper()
		res := b.do(t, http.MethodGet, "/api/tasks?"+q, nil)
		require.Equal(t, http.StatusOK, res.Status, res.String())
		var out []string
		for _, it := range items(t, res) {
			out = append(out, it["block_id"].(string))
		}
		return out
	}
	requireOrder(t, list(""), "a", "b", "c f", "c1", "d e") // default sort: due date, none last
	require.ElementsMatch(t, []string{"a", "c1", "e", "f"}, list("status=not_started"))
	require.ElementsMatch(t, []string{"a", "c", "c1", "e", "f"}, list("status=not_started&status=in_progress"), "status repeats")
	require.ElementsMatch(t, []string{"a", "c", "c1", "e", "f"}, list("status=not_started,in_progress"))
	require.ElementsMatch(t, []string{"a", "f"}, list("priority=high"))
	require.ElementsMatch(t, []string{"c1", "d", "e"}, list("priority=none"))
	require.Equal(t, []string{"a", "b"}, list("due_before=2020-01-06"), "inclusive")
	require.Equal(t, []string{"b"}, list("due_after=2020-01-06&due_before=2020-12-31"))
	require.ElementsMatch(t, []string{"c", "f", "c1"}, list("due_after=2999-01-01"))
	requireOrder(t, list("status=in_progress&status=not_started&due_after=2999-03-01&due_before=2999-03-01"), "c f")
	require.Equal(t, []string{"a"}, list("overdue=true"), "open and due before today")
	require.ElementsMatch(t, []string{"d", "e"}, list("no_due_date=true"))
	require.Equal(t, []string{"f"}, list("note_id="+n2["id"].(string)))
	require.Len(t, list("note_id="+n1["id"].(string)), 6)
	require.Equal(t, []string{"d"}, list("source=email"))
	require.ElementsMatch(t, []string{"a", "b", "c", "c1", "e", "f"}, list("source=note"))
	require.Empty(t, list("source=some-app"), "any well-formed source filters, even one no task has")
	require.ElementsMatch(t, []string{"a", "b", "c", "c1", "d", "e", "f"}, list("source=note,email"))
	require.Equal(t, []string{"d"}, list("q=zulu"), "full-text over the description")
	requireOrder(t, list("q=charlie&sort=created_at"), "c c1")
	require.NotContains(t, list("parent_task_id=none"), "c1")
	requireOrder(t, list("sort=priority"), "a", "f", "c", "b", "c1", "d e") // priority, then due date
	requireOrder(t, list("sort=-priority"), "d e", "c1", "b", "c", "f", "a")
	requireOrder(t, list("sort=-due_date"), "d e", "c1", "c f", "b", "a")

	// Pages of 2 in every sort, with a task inserted between pages.
	for _, sort := range []string{"due_date", "-due_date", "priority", "-priority", "created_at", "-created_at", "updated_at", "-updated_at"} {
		var seen []string
		cursor := ""
		for page := 0; ; page++ {
			res := b.do(t, http.MethodGet, "/api/tasks?limit=2&sort="+sort+"&cursor="+url.QueryEscape(cursor), nil)
			require.Equal(t, http.StatusOK, res.Status, res.String())
			var body struct {
				Items      []map[string]any `json:"items"`
				NextCursor string           `json:"next_cursor"`
			}
			res.JSON(t, &body)
			require.LessOrEqual(t, len(body.Items), 2)
			for _, it := range body.Items {
				seen = append(seen, it["id"].(string))
			}
			if page == 0 {
				b.do(t, http.MethodPost, "/api/tasks", map[string]any{"title": "inserted during " + sort, "due_date": "2000-01-01", "priority": "high"})
			}
			if body.NextCursor == "" {
				break
			}
			cursor = body.NextCursor
		}
		require.Len(t, uniq(seen), len(seen), "no task twice (%s)", sort)
		require.GreaterOrEqual(t, len(seen), 7, "every task seen (%s)", sort)
	}
	p := requireProblem(t, b.do(t, http.MethodGet, "/api/tasks?status=done", nil), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "query.status")
	p = requireProblem(t, b.do(t, http.MethodGet, "/api/tasks?source=Some%20App", nil), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "query.source")
	p = requireProblem(t, b.do(t, http.MethodGet, "/api/tasks?due_after=tomorrow", nil), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "query.due_after")
	res := b.do(t, http.MethodGet, "/api/tasks?limit=1&sort=priority", nil)
	var body struct {
		NextCursor string `json:"next_cursor"`
	}
	res.JSON(t, &body)
	p = requireProblem(t, b.do(t, http.MethodGet, "/api/tasks?sort=due_date&cursor="+body.NextCursor, nil), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "query.cursor")
}

// requireOrder checks a sorted list against groups of ids in order; ids in
// one group ("c f") tie on the sort key, so their order (by id) is free.
func requireOrder(t *testing.T, got []string, groups ...string) {
	t.Helper()
	i := 0
	for _, g := range groups {
		want := strings.Fields(g)
		require.LessOrEqual(t, i+len(want), len(got), "got %v, want %v", got, groups)
		require.ElementsMatch(t, want, got[i:i+len(want)], "got %v, want %v", got, groups)
		i += len(want)
	}
	require.Len(t, got, i, "got %v, want %v", got, groups)
}

func TestTaskPreconditions(t *testing.T) {
	b := setupNotes(t)
	n := b.create(t, map[string]any{"content": fixture(t, "checklist-flat.json")})
	ts := b.tasks(t, n["id"].(string))
	id := ts[0]["id"].(string)
	res := b.do(t, http.MethodGet, "/api/tasks/"+id, nil)
	require.Equal(t, `"1"`, res.Header.Get("ETag"))
	res = b.do(t, http.MethodPut, "/api/tasks/"+id+"/status", map[string]any{"status": "completed"}, `If-Match: "1"`)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, `"2"`, res.Header.Get("ETag"))
	requireProblem(t, b.do(t, http.MethodPut, "/api/tasks/"+id+"/status", map[string]any{"status": "not_started"}, `If-Match: "1"`), http.StatusPreconditionFailed)
	requireProblem(t, b.do(t, http.MethodPut, "/api/tasks/"+id, map[string]any{"title": "x"}, `If-Match: "1"`), http.StatusPreconditionFailed)
	requireProblem(t, b.do(t, http.MethodDelete, "/api/tasks/"+id, nil, `If-Match: "1"`), http.StatusPreconditionFailed)
	require.Equal(t, "completed", b.do(t, http.MethodGet, "/api/tasks/"+id, nil).Map(t)["status"])
	require.Equal(t, 2.0, b.get(t, n["id"].(string))["version"], "failed preconditions changed nothing")
	// Another task of the same note has its own version.
	res = b.do(t, http.MethodPut, "/api/tasks/"+ts[1]["id"].(string)+"/status", map[string]any{"status": "completed"}, `If-Match: "1"`)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodDelete, "/api/tasks/"+id, nil, `If-Match: "2"`).Status)
}

// TestOtherUsersIDsAnswer404 tries every endpoint that names a note,
// version or task with another user's ids.
func TestOtherUsersIDsAnswer404(t *testing.T) {
	b := setupNotes(t)
	mine := b.create(t, map[string]any{"title": "mine", "content": fixture(t, "checklist-flat.json")})
	nid := mine["id"].(string)
	tid := b.tasks(t, nid)[0]["id"].(string)
	intruder := b.e.NewUser()

	calls := []struct{ method, path string }{
		{http.MethodGet, "/api/notes/" + nid},
		{http.MethodPut, "/api/notes/" + nid},
		{http.MethodDelete, "/api/notes/" + nid},
		{http.MethodGet, "/api/notes/" + nid + "/tasks"},
		{http.MethodGet, "/api/notes/" + nid + "/backlinks"},
		{http.MethodGet, "/api/notes/" + nid + "/versions"},
		{http.MethodGet, "/api/notes/" + nid + "/versions/1"},
		{http.MethodPost, "/api/notes/" + nid + "/versions/1/restore"},
		{http.MethodGet, "/api/tasks/" + tid},
		{http.MethodPut, "/api/tasks/" + tid},
		{http.MethodPut, "/api/tasks/" + tid + "/status"},
		{http.MethodDelete, "/api/tasks/" + tid},
	}
	for _, c := range calls {
		t.Run(c.method+" "+strings.ReplaceAll(c.path, "/", "_"), func(t *testing.T) {
			var body any
			switch {
			case strings.HasSuffix(c.path, "/status"):
				body = map[string]any{"status": "completed"}
			case c.method == http.MethodPut:
				body = map[string]any{"title": "stolen"}
			}
			p := requireProblem(t, b.e.Do(c.method, c.path, body, intruder.Bearer()), http.StatusNotFound)
			require.Equal(t, "not_found", p["code"])
		})
	}
	res := b.e.Do(http.MethodGet, "/api/tasks?note_id="+nid, nil, intruder.Bearer())
	require.Empty(t, items(t, res))
	res = b.e.Do(http.MethodGet, "/api/notes", nil, intruder.Bearer())
	require.Empty(t, items(t, res))
	// Nothing of mine changed.
	got := b.get(t, nid)
	require.Equal(t, "mine", got["title"])
	require.Equal(t, 1.0, got["version"])
	require.Equal(t, "not_started", b.do(t, http.MethodGet, "/api/tasks/"+tid, nil).Map(t)["status"])
}
