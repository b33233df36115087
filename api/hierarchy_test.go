package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

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

// TestConcurrentGoalMovesCannotBuildACycle: two moves of the same user
// each checked the tree as it was before the other: with Z under X, moving
// Y under Z and X under Y at the same time both succeeded (X, Y, Z, X...).
// A move now waits for one in flight and checks the tree it left.
func TestConcurrentGoalMovesCannotBuildACycle(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)
	x, y := b.createGoal(t, map[string]any{"title": "X"}), b.createGoal(t, map[string]any{"title": "Y"})
	z := b.createGoal(t, map[string]any{"title": "Z", "parent_goal_id": x["id"]})
	ctx := t.Context()

	// The move in flight, made as UpdateGoal makes it: the user's goal-tree
	// lock, then Y under Z, not committed yet.
	tx, err := b.e.DB.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var pid int32
	require.NoError(t, tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid))
	_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('goal-tree:' || $1::text, 0))`, b.u.ID)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE goals SET parent_goal_id = $2 WHERE id = $1`, y["id"], z["id"])
	require.NoError(t, err)

	done := make(chan *apitest.Response, 1)
	go func() {
		done <- b.do(t, http.MethodPut, fmt.Sprintf("/api/goals/%v", x["id"]), map[string]any{"parent_goal_id": y["id"]})
	}()
	// Wait until the API's move waits for that lock; it fails the test if
	// it does not wait at all.
	deadline := time.After(30 * time.Second)
	for waiting := false; !waiting; {
		select {
		case res := <-done:
			t.Fatalf("the move did not wait for the one in flight: %s", res)
		case <-deadline:
			t.Fatal("the move neither waited for the goal-tree lock nor finished")
		default:
		}
		require.NoError(t, b.e.DB.Pool.QueryRow(ctx, `SELECT EXISTS (
			SELECT 1 FROM pg_locks w JOIN pg_locks h ON h.locktype = 'advisory' AND h.granted AND h.pid = $1
				AND w.classid = h.classid AND w.objid = h.objid AND w.objsubid = h.objsubid
			WHERE w.locktype = 'advisory' AND NOT w.granted)`, pid).Scan(&waiting))
	}
	require.NoError(t, tx.Commit(ctx))

	p := requireProblem(t, <-done, http.StatusUnprocessableEntity)
	requireNamesField(t, p, "body.parent_goal_id")
	require.Nil(t, b.goal(t, x["id"])["parent_goal_id"], "X stays a root goal")
	require.Equal(t, z["id"], b.goal(t, y["id"])["parent_goal_id"])
}
