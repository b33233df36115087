package chat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
)

// OrphanCheckInterval is how often the worker processes' leader looks for
// orphaned runs (FailOrphanedRuns).
const OrphanCheckInterval = time.Minute

// orphanGrace is how long a run must have been left untouched before it
// can count as orphaned.
const orphanGrace = time.Minute

// FailOrphansArgs is the periodic job that ends orphaned runs.
type FailOrphansArgs struct{}

func (FailOrphansArgs) Kind() string { return "chat.fail_orphaned_runs" }

// FailOrphanedRuns ends, as failed with the code worker_lost, every run
// still queued or running whose River job has ended (or is gone): River
// gave the job up (its worker died on the last attempt and the rescuer
// discarded it, or every attempt failed on the database) without the run
// being ended. Such a run would hold its conversation's later messages back
// for good; ended, the user sees why and may send the message again. It
// returns the runs it ended.
func (s *Service) FailOrphanedRuns(ctx context.Context) (int, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+runColumns+` FROM chat_runs r
		WHERE r.status IN ('queued', 'running') AND r.updated_at < now() - make_interval(secs => $1)
		  AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.kind = $2
			AND j.args @> jsonb_build_object('run_id', r.id::text)
			AND j.state NOT IN ('completed', 'cancelled', 'discarded'))`,
		orphanGrace.Seconds(), RunTurnArgs{}.Kind())
	if err != nil {
		return 0, fmt.Errorf("find orphaned runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Run, error) { return scanRun(row) })
	if err != nil {
		return 0, fmt.Errorf("find orphaned runs: %w", err)
	}
	n := 0
	for _, r := range runs {
		ended := false
		err := s.db.InTx(ctx, func(tx db.Tx) error {
			if _, err := lockConversation(ctx, tx, r.UserID, r.ConversationID, ""); err != nil {
				return err
			}
			// Still active now that the conversation is locked: it was not
			// ended (or taken up again) meanwhile.
			var active bool
			if err := tx.QueryRow(ctx, `SELECT status IN ('queued', 'running') FROM chat_runs WHERE user_id = $1 AND id = $2 FOR UPDATE`,
				r.UserID, r.ID).Scan(&active); err != nil || !active {
				return err
			}
			s.logger.WarnContext(ctx, "chat run orphaned: its job ended without it; failing it", "run_id", r.ID)
			_, err := finishRun(ctx, tx, r, RunFailed, "worker_lost",
				"the worker answering this message stopped and the answer could not be finished; send the message again to retry")
			ended = err == nil
			return err
		})
		if err != nil && !errors.Is(err, errNotFound) && !apperr.Is(err, apperr.NotFound) {
			return n, err
		}
		if ended {
			n++
			s.metrics.ChatRunEnded(RunFailed)
		}
	}
	return n, nil
}
