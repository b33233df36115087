package jobs

import (
	"context"
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/consilium-hq/consilium/core/auth"
)

// PruneSessionsWorker deletes expired and long-revoked auth sessions.
type PruneSessionsWorker struct {
	river.WorkerDefaults[auth.PruneSessionsArgs]
	auth   *auth.Service
	logger *slog.Logger
}

func (w *PruneSessionsWorker) Work(ctx context.Context, job *river.Job[auth.PruneSessionsArgs]) error {
	n, err := w.auth.PruneSessions(ctx)
	if err != nil {
		return err
	}
	w.logger.InfoContext(ctx, "pruned auth sessions", "deleted", n)
	return nil
}
