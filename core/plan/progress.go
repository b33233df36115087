package plan

import (
	"context"
	"fmt"
	"math"

	"github.com/google/uuid"
)

// goalNode is one goal of a subtree with what progress needs.
type goalNode struct {
	id             uuid.UUID
	parent         *uuid.UUID
	manual         int
	modeSet        string
	taskTotal      int
	taskCompleted  int
	weight         float64 // sizes of non-deferred tasks (1 when unsized)
	doneWeight     float64
	children       []uuid.UUID
	childrenCount  int
	progress       int
	effectiveMode  string
	subtreeWeight  float64
	computed, busy bool
}

// rollup loads the subtrees under the given goals with their task sums and
// computes every goal's effective progress. It runs on each read, so
// progress is consistent right after any task or goal change.
//
// Auto progress: own tasks weigh their size (1 when unsized), deferred ones
// are left out; each child goal weighs the work under it (at least 1) and
// counts with its own progress, manual or auto. The result is rounded down,
// so 100 means everything counted is done.
func rollup(ctx context.Context, q Querier, userID uuid.UUID, roots []uuid.UUID) (map[uuid.UUID]*goalNode, error) {
	rows, err := q.Query(ctx, `
		WITH RECURSIVE sub AS (
			SELECT id, parent_goal_id, progress, progress_mode FROM goals
			WHERE user_id = $1 AND id = ANY($2)
			UNION
			SELECT g.id, g.parent_goal_id, g.progress, g.progress_mode
			FROM goals g JOIN sub ON g.parent_goal_id = sub.id
			WHERE g.user_id = $1
		)
		SELECT s.id, s.parent_goal_id, s.progress, coalesce(s.progress_mode, ''),
			coalesce(t.total, 0), coalesce(t.completed, 0), coalesce(t.weight, 0), coalesce(t.done_weight, 0)
		FROM sub s
		LEFT JOIN LATERAL (
			SELECT count(*) AS total,
				count(*) FILTER (WHERE status = 'completed') AS completed,
				sum(coalesce(size, 1)) FILTER (WHERE status <> 'deferred') AS weight,
				sum(coalesce(size, 1)) FILTER (WHERE status = 'completed') AS done_weight
			FROM tasks WHERE user_id = $1 AND goal_id = s.id
		) t ON true`, userID, roots)
	if err != nil {
		return nil, fmt.Errorf("goal rollup: %w", err)
	}
	defer rows.Close()
	nodes := map[uuid.UUID]*goalNode{}
	for rows.Next() {
		n := &goalNode{}
		if err := rows.Scan(&n.id, &n.parent, &n.manual, &n.modeSet, &n.taskTotal, &n.taskCompleted, &n.weight, &n.doneWeight); err != nil {
			return nil, fmt.Errorf("goal rollup: %w", err)
		}
		nodes[n.id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("goal rollup: %w", err)
	}
	for _, n := range nodes {
		if n.parent != nil {
			if p, ok := nodes[*n.parent]; ok {
				p.children = append(p.children, n.id)
			}
		}
	}
	for _, n := range nodes {
		n.childrenCount = len(n.children)
		compute(nodes, n)
	}
	return nodes, nil
}

func compute(nodes map[uuid.UUID]*goalNode, n *goalNode) {
	if n.computed || n.busy { // busy: a cycle, which writes refuse; never loop
		return
	}
	n.busy = true
	total, done := n.weight, n.doneWeight*100
	for _, cid := range n.children {
		c := nodes[cid]
		compute(nodes, c)
		w := math.Max(c.subtreeWeight, 1)
		total += w
		done += w * float64(c.progress)
	}
	n.subtreeWeight = n.weight
	for _, cid := range n.children {
		n.subtreeWeight += math.Max(nodes[cid].subtreeWeight, 1)
	}
	n.effectiveMode = n.modeSet
	if n.effectiveMode == "" {
		n.effectiveMode = "manual"
		if n.taskTotal > 0 || len(n.children) > 0 {
			n.effectiveMode = "auto"
		}
	}
	switch {
	case n.effectiveMode == "manual":
		n.progress = n.manual
	case total > 0:
		n.progress = int(math.Floor(done/total + 1e-9))
	default:
		n.progress = 0
	}
	n.busy, n.computed = false, true
}

// decorate fills the derived fields of goals read from the store.
func decorate(ctx context.Context, q Querier, userID uuid.UUID, goals []*Goal) error {
	if len(goals) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(goals))
	for i, g := range goals {
		ids[i] = g.ID
	}
	nodes, err := rollup(ctx, q, userID, ids)
	if err != nil {
		return err
	}
	for _, g := range goals {
		if n, ok := nodes[g.ID]; ok {
			g.Progress, g.ProgressMode = n.progress, n.effectiveMode
			g.TaskTotal, g.TaskCompleted, g.ChildrenCount = n.taskTotal, n.taskCompleted, n.childrenCount
		}
	}
	return nil
}
