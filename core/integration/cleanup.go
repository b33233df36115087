package integration

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/db"
)

// CleanupArgs is the periodic integration.cleanup job.
type CleanupArgs struct{}

func (CleanupArgs) Kind() string { return "integration.cleanup" }

// CleanupInterval is how often completed outside tasks are looked for.
const CleanupInterval = time.Hour

// cleanupBatch is how many tasks one transaction cleans out.
const cleanupBatch = 500

// CleanCompleted takes the tasks from outside that were completed more
// than integrations.completed_grace ago out of their notes, every user's.
// Their references stay (state cleaned, no task), so the next sync does not
// bring them back; a record reopened outside is placed again. A task with
// subtasks still open here is kept; subtasks with references of their own
// move to their list's note before their parent goes. It answers how many
// tasks it took out.
func (s *Service) CleanCompleted(ctx context.Context) (int, error) {
	cutoff := s.o.Now().Add(-s.o.CompletedGrace)
	total := 0
	for {
		type cand struct {
			ref, task, user uuid.UUID
			system          string
		}
		rows, err := s.o.DB.Pool.Query(ctx, `SELECT r.id, r.task_id, r.user_id, r.system FROM external_refs r
			JOIN tasks t ON t.id = r.task_id AND t.user_id = r.user_id
			WHERE r.state = 'active' AND t.status = 'completed' AND t.completed_at < $1
				AND NOT EXISTS (SELECT 1 FROM tasks c WHERE c.parent_task_id = t.id AND c.user_id = t.user_id AND c.status <> 'completed'
					AND NOT EXISTS (SELECT 1 FROM external_refs cr WHERE cr.task_id = c.id AND cr.state = 'active'))
			ORDER BY r.user_id, r.system LIMIT $2`, cutoff, cleanupBatch)
		if err != nil {
			return total, err
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (cand, error) {
			var c cand
			return c, r.Scan(&c.ref, &c.task, &c.user, &c.system)
		})
		if err != nil {
			return total, err
		}
		if len(list) == 0 {
			return total, nil
		}
		for i := 0; i < len(list); {
			j := i
			for j < len(list) && list[j].user == list[i].user && list[j].system == list[i].system {
				j++
			}
			group := list[i:j]
			err := s.o.DB.InTx(ctx, func(tx db.Tx) error {
				refs := make([]uuid.UUID, len(group))
				tasks := make([]uuid.UUID, len(group))
				for k, c := range group {
					refs[k], tasks[k] = c.ref, c.task
				}
				// Re-checked under the lock: a task reopened meanwhile stays.
				rows, err := tx.Query(ctx, `UPDATE external_refs r SET state = 'cleaned', task_id = NULL, last_synced_at = now()
					FROM tasks t WHERE r.id = ANY($1) AND r.state = 'active' AND t.id = r.task_id AND t.status = 'completed'
					AND t.completed_at < $2 RETURNING t.id`, refs, cutoff)
				if err != nil {
					return err
				}
				gone, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
				if err != nil {
					return err
				}
				p := &syncPage{tx: tx, c: &connection{UserID: group[0].user, Provider: group[0].system},
					display: s.displayName(group[0].system), counts: map[string]int64{}, created: map[string]uuid.UUID{}}
				if err := s.removeTasks(ctx, p, gone); err != nil {
					return err
				}
				total += len(gone)
				return nil
			})
			if err != nil {
				return total, err
			}
			i = j
		}
		if len(list) < cleanupBatch {
			return total, nil
		}
	}
}
