package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
)

// chainLength is past the 1,000 levels the cycle check used to walk.
const chainLength = 1003

// insertChain inserts a chain of rows with SQL (fast), each the child of
// the one before, and returns their ids from the root down.
func insertChain(t *testing.T, e *apitest.Env, sql string, userID string) []string {
	t.Helper()
	ids := make([]string, chainLength)
	parents := make([]string, chainLength)
	for i := range ids {
		ids[i] = uuid.NewString()
		if i > 0 {
			parents[i] = ids[i-1]
		}
	}
	_, err := e.DB.Pool.Exec(t.Context(), sql, userID, ids, parents)
	require.NoError(t, err)
	return ids
}

func TestGoalCyclesOfAnyLengthAreRefused(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)
	ids := insertChain(t, b.e, `INSERT INTO goals (user_id, id, parent_goal_id, title)
		SELECT $1, u.id::uuid, nullif(u.parent, '')::uuid, 'level ' || u.n
		FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(id, parent, n)`, b.u.ID)
	root, middle, leaf := ids[0], ids[len(ids)/2], ids[len(ids)-1]
	before := b.goal(t, root)
	require.Nil(t, before["parent_goal_id"])
	require.EqualValues(t, 1, before["children_count"])

	for _, moved := range []string{root, middle} {
		res := b.do(t, http.MethodPut, "/api/goals/"+moved, map[string]any{"parent_goal_id": leaf})
		p := requireProblem(t, res, http.StatusUnprocessableEntity)
		requireNamesField(t, p, "body.parent_goal_id")
	}
	require.Equal(t, before, b.goal(t, root), "nothing changed")
	require.Equal(t, ids[len(ids)/2-1], b.goal(t, middle)["parent_goal_id"])

	// A move that makes no cycle still works at that depth.
	other := b.createGoal(t, map[string]any{"title": "other"})
	res := b.do(t, http.MethodPut, fmt.Sprintf("/api/goals/%v", other["id"]), map[string]any{"parent_goal_id": leaf})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	res = b.do(t, http.MethodPut, "/api/goals/"+root, map[string]any{"parent_goal_id": nil})
	require.Equal(t, http.StatusOK, res.Status, res.String())
}

func TestNoteCyclesOfAnyLengthAreRefused(t *testing.T) {
	b := setupNotes(t)
	ids := insertChain(t, b.e, `INSERT INTO notes (user_id, id, parent_id, title)
		SELECT $1, u.id::uuid, nullif(u.parent, '')::uuid, 'level ' || u.n
		FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(id, parent, n)`, b.u.ID)
	root, middle, leaf := ids[0], ids[len(ids)/2], ids[len(ids)-1]
	before := b.get(t, root)
	require.Nil(t, before["parent_id"])

	for _, moved := range []string{root, middle} {
		res := b.do(t, http.MethodPut, "/api/notes/"+moved, map[string]any{"parent_id": leaf})
		p := requireProblem(t, res, http.StatusUnprocessableEntity)
		requireNamesField(t, p, "body.parent_id")
	}
	require.Equal(t, before, b.get(t, root), "nothing changed")
	require.Equal(t, ids[len(ids)/2-1], b.get(t, middle)["parent_id"])

	other := b.create(t, map[string]any{"title": "other"})
	res := b.do(t, http.MethodPut, fmt.Sprintf("/api/notes/%v", other["id"]), map[string]any{"parent_id": leaf})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	child := b.create(t, map[string]any{"title": "child of the deepest", "parent_id": leaf})
	require.Equal(t, leaf, child["parent_id"])
}
