package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/plugin"
)

// embedTimeout is jobs.embed_timeout, or its default: one embedding job
// (a note of 2,000 chunks is about 30 Embed calls). River's rescuer retries
// an embedding whose worker died once it has run this long (and
// jobs.rescue_stuck_after).
func embedTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return config.Default().Jobs.EmbedTimeout
	}
	return d
}

// EmbedNoteWorker embeds a note after a change.
type EmbedNoteWorker struct {
	river.WorkerDefaults[ai.EmbedNoteArgs]
	ai      *ai.Service
	timeout time.Duration // jobs.embed_timeout
}

func (w *EmbedNoteWorker) Timeout(*river.Job[ai.EmbedNoteArgs]) time.Duration {
	return embedTimeout(w.timeout)
}

func (w *EmbedNoteWorker) Work(ctx context.Context, job *river.Job[ai.EmbedNoteArgs]) error {
	err := w.ai.EmbedNote(ctx, job.Args, run(job))
	if errors.Is(err, ai.ErrNoteChanging) {
		// Being edited right now: try again when the typing has stopped.
		return river.JobSnooze(5 * time.Second)
	}
	return plugin.JobOutcome(err)
}

// ProcessDocumentWorker extracts, chunks and embeds an uploaded document.
type ProcessDocumentWorker struct {
	river.WorkerDefaults[ai.ProcessDocumentArgs]
	ai      *ai.Service
	timeout time.Duration // jobs.embed_timeout
}

func (w *ProcessDocumentWorker) Timeout(*river.Job[ai.ProcessDocumentArgs]) time.Duration {
	return embedTimeout(w.timeout)
}

func (w *ProcessDocumentWorker) Work(ctx context.Context, job *river.Job[ai.ProcessDocumentArgs]) error {
	return plugin.JobOutcome(w.ai.ProcessDocument(ctx, job.Args, run(job)))
}

// BuildVectorIndexWorker builds an HNSW index (minutes for millions of
// chunks).
type BuildVectorIndexWorker struct {
	river.WorkerDefaults[ai.BuildVectorIndexArgs]
	ai *ai.Service
}

func (w *BuildVectorIndexWorker) Timeout(*river.Job[ai.BuildVectorIndexArgs]) time.Duration {
	return 6 * time.Hour
}

func (w *BuildVectorIndexWorker) Work(ctx context.Context, job *river.Job[ai.BuildVectorIndexArgs]) error {
	return w.ai.BuildVectorIndex(ctx, job.Args)
}

// run tells the service about the job: whether this is its last attempt,
// and how to complete it inside the transaction that writes the result.
func run[T river.JobArgs](job *river.Job[T]) ai.JobRun {
	return ai.JobRun{
		Final: job.Attempt >= job.MaxAttempts,
		Complete: func(ctx context.Context, tx pgx.Tx) error {
			_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
			return err
		},
	}
}
