package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
)

// RunTurnWorker works one chat run: core does the work, Runner answers.
type RunTurnWorker struct {
	river.WorkerDefaults[chat.RunTurnArgs]
	chat   *chat.Service
	runner chat.Runner
	// timeout bounds one attempt of a turn (model calls and tools
	// included; jobs.chat_turn_timeout). River's rescuer retries a turn
	// whose worker died once it has run this long (and
	// jobs.rescue_stuck_after), so it is also how long such a turn holds
	// its conversation up.
	timeout time.Duration
}

func (w *RunTurnWorker) Timeout(*river.Job[chat.RunTurnArgs]) time.Duration {
	if w.timeout <= 0 {
		return config.Default().Jobs.ChatTurnTimeout
	}
	return w.timeout
}

func (w *RunTurnWorker) Work(ctx context.Context, job *river.Job[chat.RunTurnArgs]) error {
	err := w.chat.RunTurn(ctx, job.Args, w.runner, chat.TurnJob{Final: job.Attempt >= job.MaxAttempts})
	if errors.Is(err, chat.ErrEarlierRun) {
		// Turns of a conversation run in order: wait for the one before.
		return river.JobSnooze(500 * time.Millisecond)
	}
	return err
}

// PruneChatWorker deletes chat events past their retention and expired
// socket tickets.
type PruneChatWorker struct {
	river.WorkerDefaults[chat.PruneArgs]
	db     *db.DB
	logger *slog.Logger
}

func (w *PruneChatWorker) Work(ctx context.Context, job *river.Job[chat.PruneArgs]) error {
	n, err := chat.Prune(ctx, w.db)
	if err != nil {
		return err
	}
	w.logger.InfoContext(ctx, "pruned chat events", "deleted", n)
	return nil
}

// FailOrphansWorker ends the chat runs whose job River gave up without
// ending them (see chat.Service.FailOrphanedRuns).
type FailOrphansWorker struct {
	river.WorkerDefaults[chat.FailOrphansArgs]
	chat   *chat.Service
	logger *slog.Logger
}

func (w *FailOrphansWorker) Work(ctx context.Context, job *river.Job[chat.FailOrphansArgs]) error {
	n, err := w.chat.FailOrphanedRuns(ctx)
	if n > 0 {
		w.logger.WarnContext(ctx, "failed orphaned chat runs", "runs", n)
	}
	return err
}
