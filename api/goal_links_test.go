package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// taskBlock is a task block whose props.goalId is goalID.
func taskBlock(id, title, goalID string) map[string]any {
	return map[string]any{"id": id, "type": "task", "props": map[string]any{"goalId": goalID, "status": "in_progress"},
		"content": []any{map[string]any{"type": "text", "text": title, "styles": map[string]any{}}}, "children": []any{}}
}

// TestNoteGoalIDNeverLinksAcrossUsers: a goalId in a note's task block links
// the task only to one of the note owner's goals. Another user's goal id
// (or an unknown one) stays in the note and links nothing.
func TestNoteGoalIDNeverLinksAcrossUsers(t *testing.T) {
	t.Parallel()
	a := setupPlanning(t)
	goalA := a.createGoal(t, map[string]any{"title": "A's goal", "timeframe": "monthly"})
	gid := goalA["id"].(string)
	own := a.createTask(t, map[string]any{"title": "A's task", "goal_id": gid})
	a.setStatus(t, own["id"], "completed")
	goalBefore := a.goal(t, gid)
	summaryBefore := a.do(t, http.MethodGet, "/api/planning/summary?period=month", nil)
	require.Equal(t, http.StatusOK, summaryBefore.Status, summaryBefore.String())

	b := &planningBundle{e: a.e, u: a.e.NewUser()}
	goalB := b.createGoal(t, map[string]any{"title": "B's goal"})
	unknown := uuid.NewString()
	res := b.do(t, http.MethodPost, "/api/notes", map[string]any{"title": "B's note", "content": []any{
		taskBlock("foreign", "serves A's goal?", gid),
		taskBlock("unknown", "serves no goal", unknown),
		taskBlock("mine", "serves B's goal", goalB["id"].(string)),
	}})
	require.Equal(t, http.StatusCreated, res.Status, "the note is saved whole: %s", res)
	n := res.Map(t)
	nid := n["id"].(string)
	props := func(n map[string]any, block string) map[string]any {
		return blockMap(n["content"])[block]["props"].(map[string]any)
	}
	require.Equal(t, gid, props(n, "foreign")["goalId"], "the note keeps the prop")
	require.Equal(t, unknown, props(n, "unknown")["goalId"])

	res = b.do(t, http.MethodGet, "/api/notes/"+nid+"/tasks", nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	ts := taskByBlock(items(t, res))
	require.Nil(t, ts["foreign"]["goal_id"], "never linked to another user's goal")
	require.Nil(t, ts["unknown"]["goal_id"])
	require.Equal(t, goalB["id"], ts["mine"]["goal_id"], "the owner's own goal links")

	res = b.do(t, http.MethodGet, "/api/tasks?goal_id="+gid, nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Empty(t, items(t, res), "B's task listing shows nothing under A's goal")
	res = b.do(t, http.MethodGet, "/api/tasks", nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	for _, tk := range items(t, res) {
		require.NotEqual(t, gid, tk["goal_id"], "B's tasks: %v", tk["title"])
	}
	requireProblem(t, b.do(t, http.MethodGet, fmt.Sprintf("/api/goals/%s/tasks", gid), nil), http.StatusNotFound)

	// A sees only A's task under A's goal; its progress and the summary
	// are as they were.
	res = a.do(t, http.MethodGet, fmt.Sprintf("/api/goals/%s/tasks", gid), nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	got := items(t, res)
	require.Len(t, got, 1)
	require.Equal(t, own["id"], got[0]["id"])
	require.Equal(t, goalBefore, a.goal(t, gid))
	summaryAfter := a.do(t, http.MethodGet, "/api/planning/summary?period=month", nil)
	require.Equal(t, http.StatusOK, summaryAfter.Status, summaryAfter.String())
	require.Equal(t, jsonValue(t, summaryBefore.Body), jsonValue(t, summaryAfter.Body))

	// Editing B's note or its task keeps the prop and still links nothing;
	// linking it through the tasks API is refused as before.
	foreignID := ts["foreign"]["id"].(string)
	res = b.do(t, http.MethodPut, "/api/tasks/"+foreignID, map[string]any{"title": "renamed"})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Nil(t, res.Map(t)["goal_id"])
	require.Equal(t, gid, props(b.do(t, http.MethodGet, "/api/notes/"+nid, nil).Map(t), "foreign")["goalId"])
	p := requireProblem(t, b.do(t, http.MethodPut, "/api/tasks/"+foreignID, map[string]any{"goal_id": gid}), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "body.goal_id")
	res = a.do(t, http.MethodGet, fmt.Sprintf("/api/goals/%s/tasks", gid), nil)
	require.Len(t, items(t, res), 1)
}
