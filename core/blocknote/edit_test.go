package blocknote_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
)

// blocksByID flattens a document's JSON into id -> block object.
func blocksByID(t testing.TB, doc []byte) map[string]map[string]any {
	t.Helper()
	var top []any
	require.NoError(t, json.Unmarshal(doc, &top))
	out := map[string]map[string]any{}
	var walk func([]any)
	walk = func(bs []any) {
		for _, b := range bs {
			m := b.(map[string]any)
			out[m["id"].(string)] = m
			walk(m["children"].([]any))
		}
	}
	walk(top)
	return out
}

// withoutChildren drops children so that a block can be compared alone.
func withoutChildren(m map[string]any) map[string]any {
	c := map[string]any{}
	for k, v := range m {
		if k != "children" {
			c[k] = v
		}
	}
	return c
}

// requireOnlyChanged checks that every block but the named ones is the same
// in both documents.
func requireOnlyChanged(t testing.TB, before, after []byte, changed ...string) {
	t.Helper()
	a, b := blocksByID(t, before), blocksByID(t, after)
	skip := map[string]bool{}
	for _, id := range changed {
		skip[id] = true
	}
	for id, blk := range a {
		if skip[id] {
			continue
		}
		other, ok := b[id]
		if !ok {
			continue
		}
		require.Equal(t, withoutChildren(blk), withoutChildren(other), "block %s is untouched", id)
	}
}

func taskByID(d *blocknote.Document, id string) *blocknote.Task {
	for _, t := range d.Tasks() {
		if t.BlockID == id {
			return &t
		}
	}
	return nil
}

func TestSetTaskRoundTripsEveryField(t *testing.T) {
	t.Parallel()
	in := readFixture(t, "tasks-document.json")
	size := 2.5
	cases := map[string]func(f *blocknote.TaskFields){
		"title":            func(f *blocknote.TaskFields) { f.Title = "Write the annual report ✍️" },
		"description":      func(f *blocknote.TaskFields) { f.Description = "with \"quotes\"\nand lines" },
		"status":           func(f *blocknote.TaskFields) { f.Status = blocknote.StatusCompleted },
		"priority":         func(f *blocknote.TaskFields) { f.Priority = blocknote.PriorityLow },
		"no priority":      func(f *blocknote.TaskFields) { f.Priority = "" },
		"due date":         func(f *blocknote.TaskFields) { f.DueDate = "2027-12-31" },
		"no due date":      func(f *blocknote.TaskFields) { f.DueDate = "" },
		"due time":         func(f *blocknote.TaskFields) { f.DueTime = "23:59" },
		"size":             func(f *blocknote.TaskFields) { f.Size = &size },
		"no size":          func(f *blocknote.TaskFields) { f.Size = nil },
		"source":           func(f *blocknote.TaskFields) { f.Source = "clickup" },
		"source reference": func(f *blocknote.TaskFields) { f.SourceReference = "86c9w3exf" },
		"metadata":         func(f *blocknote.TaskFields) { f.Metadata = json.RawMessage(`{"a":[1,2],"b":"x"}`) },
		"no metadata":      func(f *blocknote.TaskFields) { f.Metadata = nil },
		"goal":             func(f *blocknote.TaskFields) { f.GoalID = "0b7e2c3a-1f2d-4e5f-8a9b-0c1d2e3f4a5b" },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := parse(t, in)
			f := *d.Block("t1").TaskFields()
			change(&f)
			require.NoError(t, f.Validate("body."))
			require.NoError(t, d.SetTask("t1", f))
			out := marshal(t, d)
			// Through the JSON and back, the task says exactly f.
			again := parse(t, out)
			got := taskByID(again, "t1")
			require.NotNil(t, got)
			require.Equal(t, f, got.TaskFields)
			require.Equal(t, "task", got.BlockType)
			// Subtasks keep their parent; nothing else moved.
			require.Equal(t, "t1", taskByID(again, "t1a").ParentBlockID)
			requireOnlyChanged(t, in, out, "t1")
			// Props the server does not know survive.
			blk := blocksByID(t, out)["t1"]
			require.Equal(t, "default", blk["props"].(map[string]any)["backgroundColor"])
		})
	}
}

func TestSetTaskKeepsUnknownPropsAndStyledTitle(t *testing.T) {
	t.Parallel()
	in := readFixture(t, "tasks-document.json")
	d := parse(t, in)
	f := *d.Block("t5").TaskFields()
	f.Status = blocknote.StatusInProgress
	require.NoError(t, d.SetTask("t5", f))
	out := marshal(t, d)
	props := blocksByID(t, out)["t5"]["props"].(map[string]any)
	require.Equal(t, "5e0c1d8a-7b7e-4d53-9a55-2f1f4c1b9a10", props["goalId"])
	require.Equal(t, true, props["customFlag"])
	require.Equal(t, "in_progress", props["status"])

	// The title is kept, styles and links included, when it does not change.
	d = parse(t, in)
	f = *d.Block("c3").TaskFields()
	f.Status = blocknote.StatusCompleted
	require.NoError(t, d.SetTask("c3", f))
	out = marshal(t, d)
	before, after := blocksByID(t, in)["c3"], blocksByID(t, out)["c3"]
	require.Equal(t, before["content"], after["content"])
	require.Equal(t, true, after["props"].(map[string]any)["checked"])
	require.Equal(t, "checkListItem", after["type"])
}

func TestChecklistBecomesTaskBlockWhenItMust(t *testing.T) {
	t.Parallel()
	in := readFixture(t, "checklist-tree.json")
	for _, st := range []blocknote.Status{blocknote.StatusInProgress, blocknote.StatusDeferred} {
		t.Run(string(st), func(t *testing.T) {
			t.Parallel()
			d := parse(t, in)
			f := *d.Block("1").TaskFields()
			f.Status = st
			require.NoError(t, d.SetTask("1", f))
			out := marshal(t, d)
			blk := blocksByID(t, out)["1"]
			require.Equal(t, "task", blk["type"])
			require.Equal(t, "1", blk["id"])
			props := blk["props"].(map[string]any)
			require.Equal(t, string(st), props["status"])
			require.NotContains(t, props, "checked")
			require.Equal(t, "left", props["textAlignment"], "default props stay")
			orig := blocksByID(t, in)["1"]
			require.Equal(t, orig["content"], blk["content"], "same content")
			require.Len(t, blk["children"], 2, "same children")
			again := parse(t, out)
			require.Equal(t, st, taskByID(again, "1").Status)
			require.Equal(t, "1", taskByID(again, "2").ParentBlockID)
		})
	}
	// completed / not_started stay a checklist.
	d := parse(t, in)
	f := *d.Block("3").TaskFields()
	f.Status = blocknote.StatusCompleted
	require.NoError(t, d.SetTask("3", f))
	blk := blocksByID(t, marshal(t, d))["3"]
	require.Equal(t, "checkListItem", blk["type"])
	require.Equal(t, true, blk["props"].(map[string]any)["checked"])
	// A due date also needs a task block.
	f.DueDate = "2026-01-01"
	require.NoError(t, d.SetTask("3", f))
	require.Equal(t, "task", blocksByID(t, marshal(t, d))["3"]["type"])
}

func TestSetTaskUnchangedLeavesBytes(t *testing.T) {
	t.Parallel()
	in := readFixture(t, "tasks-document.json")
	d := parse(t, in)
	before := marshal(t, d)
	for _, task := range d.Tasks() {
		require.NoError(t, d.SetTask(task.BlockID, task.TaskFields))
	}
	require.Equal(t, string(before), string(marshal(t, d)))
	require.ErrorIs(t, d.SetTask("h1", blocknote.TaskFields{Status: blocknote.StatusCompleted}), blocknote.ErrNoTaskBlock)
	require.ErrorIs(t, d.SetTask("nope", blocknote.TaskFields{Status: blocknote.StatusCompleted}), blocknote.ErrNoTaskBlock)
}

func TestRemoveBlock(t *testing.T) {
	t.Parallel()
	in := readFixture(t, "tasks-document.json")
	d := parse(t, in)
	require.True(t, d.Remove("c1b"))
	require.False(t, d.Remove("c1b"))
	require.Nil(t, d.Block("t1b1"), "children go with the block")
	out := marshal(t, d)
	again := parse(t, out)
	require.Nil(t, taskByID(again, "c1b"))
	require.Nil(t, taskByID(again, "t1b1"))
	require.NotNil(t, taskByID(again, "t1a"))
	require.Len(t, again.Tasks(), 7)
	requireOnlyChanged(t, in, out, "t1")

	require.True(t, d.Remove("h1"))
	require.Equal(t, "p1", parse(t, marshal(t, d)).Blocks()[0].ID())
}

func TestAppendTask(t *testing.T) {
	t.Parallel()
	in := readFixture(t, "tasks-document.json")
	d := parse(t, in)
	top, err := d.AppendTask("", blocknote.TaskFields{Title: "New one", Status: blocknote.StatusNotStarted, Source: "direct"})
	require.NoError(t, err)
	sub, err := d.AppendTask("t1", blocknote.TaskFields{Title: "Sub", Status: blocknote.StatusInProgress, Priority: blocknote.PriorityHigh})
	require.NoError(t, err)
	_, err = d.AppendTask("missing", blocknote.TaskFields{Title: "x", Status: blocknote.StatusNotStarted})
	require.Error(t, err)
	out := marshal(t, d)
	again := parse(t, out)
	nt := taskByID(again, top.ID())
	require.NotNil(t, nt)
	require.Equal(t, "New one", nt.Title)
	require.Equal(t, "direct", nt.Source)
	require.Equal(t, "", nt.ParentBlockID)
	require.Equal(t, len(again.Tasks())-1, nt.Position, "appended at the end")
	st := taskByID(again, sub.ID())
	require.Equal(t, "t1", st.ParentBlockID)
	require.Equal(t, blocknote.PriorityHigh, st.Priority)
	last := again.Block("t1").Children()
	require.Equal(t, sub.ID(), last[len(last)-1].ID())
	requireOnlyChanged(t, in, out, "t1")

	// Appending to an empty document.
	e := blocknote.Empty()
	_, err = e.AppendTask("", blocknote.TaskFields{Title: "first", Status: blocknote.StatusNotStarted})
	require.NoError(t, err)
	require.Len(t, parse(t, marshal(t, e)).Tasks(), 1)
}

func TestValidateTaskFields(t *testing.T) {
	t.Parallel()
	neg := -1.0
	cases := map[string]struct {
		f     blocknote.TaskFields
		field string
	}{
		"status":   {blocknote.TaskFields{Status: "done"}, "body.status"},
		"priority": {blocknote.TaskFields{Status: "completed", Priority: "urgent"}, "body.priority"},
		"date":     {blocknote.TaskFields{Status: "completed", DueDate: "2026-13-01"}, "body.due_date"},
		"time":     {blocknote.TaskFields{Status: "completed", DueTime: "9:00"}, "body.due_time"},
		"size":     {blocknote.TaskFields{Status: "completed", Size: &neg}, "body.size"},
		"source":   {blocknote.TaskFields{Status: "completed", Source: "Fax machine"}, "body.source"},
		"metadata": {blocknote.TaskFields{Status: "completed", Metadata: json.RawMessage(`[1]`)}, "body.metadata"},
		"goal":     {blocknote.TaskFields{Status: "completed", GoalID: "g-1"}, "body.goal_id"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := c.f.Validate("body.")
			var ae *apperr.Error
			require.ErrorAs(t, err, &ae)
			require.Equal(t, c.field, ae.Fields[0].Location)
		})
	}
}

// Metadata is compared as a JSON value: the same object with its keys in
// another order (as Postgres' jsonb answers it) or spaced differently is
// no change; a different value is one.
func TestSetTaskMetadataComparedByValue(t *testing.T) {
	t.Parallel()
	in := []byte(`[{"id":"t","type":"task","props":{"status":"not_started","metadata":"{\"zeta\":1,\"alpha\":{\"b\":2.0,\"a\":[1]}}"},"content":[],"children":[]}]`)
	d := parse(t, in)
	f := d.Block("t").TaskFields()
	same := *f
	same.Metadata = []byte(`{"alpha": {"a": [1], "b": 2}, "zeta": 1}`)
	require.NoError(t, d.SetTask("t", same))
	require.False(t, d.Changed())
	require.Equal(t, string(in), string(marshal(t, d)))

	other := *f
	other.Metadata = []byte(`{"alpha":{"a":[1],"b":3},"zeta":1}`)
	require.NoError(t, d.SetTask("t", other))
	require.True(t, d.Changed())
}

// Cut and Paste move a task block with its children to another document,
// ids kept, and the moved blocks read back the same.
func TestCutPasteAcrossDocuments(t *testing.T) {
	src, err := blocknote.Parse([]byte(`[
		{"id":"p","type":"paragraph","content":[{"type":"text","text":"before","styles":{}}],"children":[]},
		{"id":"t","type":"task","props":{"status":"in_progress","priority":"high"},"content":[{"type":"text","text":"Parent","styles":{}}],"children":[
			{"id":"c","type":"checkListItem","props":{"checked":true},"content":[{"type":"text","text":"Child","styles":{}}],"children":[]}]}]`), nil)
	require.NoError(t, err)
	dst, err := blocknote.Parse([]byte(`[{"id":"x","type":"task","props":{"status":"not_started"},"content":[{"type":"text","text":"Host","styles":{}}],"children":[]}]`), nil)
	require.NoError(t, err)

	b := src.Cut("t")
	require.NotNil(t, b)
	require.Equal(t, 2, b.Size())
	require.Equal(t, 1, src.Len())
	require.Nil(t, src.Block("c"))
	require.Nil(t, src.Cut("t"), "already gone")

	require.NoError(t, dst.Paste("x", b))
	require.Equal(t, 3, dst.Len())
	_, structural := dst.Edits()
	require.True(t, structural)
	out, err := dst.MarshalJSON()
	require.NoError(t, err)
	again, err := blocknote.Parse(out, nil)
	require.NoError(t, err)
	tasks := again.Tasks()
	require.Len(t, tasks, 3)
	require.Equal(t, "t", tasks[1].BlockID)
	require.Equal(t, "x", tasks[1].ParentBlockID)
	require.Equal(t, blocknote.PriorityHigh, tasks[1].Priority)
	require.Equal(t, "c", tasks[2].BlockID)
	require.Equal(t, "t", tasks[2].ParentBlockID)
	require.Equal(t, blocknote.StatusCompleted, tasks[2].Status)

	// An id the document holds already is refused; a missing parent too.
	dup, err := blocknote.Parse([]byte(`[{"id":"x","type":"paragraph","content":[],"children":[]}]`), nil)
	require.NoError(t, err)
	require.True(t, apperr.Is(dst.Paste("", dup.Cut("x")), apperr.Conflict))
	other, err := blocknote.Parse([]byte(`[{"id":"y","type":"paragraph","content":[],"children":[]}]`), nil)
	require.NoError(t, err)
	require.True(t, apperr.Is(dst.Paste("nope", other.Cut("y")), apperr.NotFound))
}

// Sources are data: any well-formed name is a source; only Consilium's own
// are built in, and every other one is outside text.
func TestSourcesAreData(t *testing.T) {
	t.Parallel()
	d := parse(t, []byte(`[{"id":"a","type":"task","props":{"status":"not_started","source":"gmail","sourceReference":"m-1"},"content":[],"children":[]}]`))
	require.Equal(t, "gmail", d.Block("a").TaskFields().Source)
	for _, s := range []string{"gmail", "clickup", "external", "my-app_2", strings.Repeat("a", 63)} {
		require.True(t, blocknote.ValidSource(s), s)
		require.NoError(t, (&blocknote.TaskFields{Status: blocknote.StatusNotStarted, Source: s}).Validate(""), s)
		require.False(t, blocknote.BuiltinSource(s), s)
	}
	for _, s := range []string{"Gmail", "2fa", "a b", "a,b", strings.Repeat("a", 64)} {
		require.False(t, blocknote.ValidSource(s), s)
	}
	for _, s := range append([]string{""}, blocknote.BuiltinSources...) {
		require.True(t, blocknote.BuiltinSource(s), s)
	}
	require.ElementsMatch(t, []string{"direct", "note", "planning", "chat"}, blocknote.BuiltinSources)
}
