package jobs

import (
	"context"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/note"
)

// RefreshNoteSearchWorker builds the search vector of a note saved with a
// large text. It completes its job in the transaction that writes the
// vector, so a save committed after it always queues a new job.
type RefreshNoteSearchWorker struct {
	river.WorkerDefaults[note.RefreshSearchArgs]
	db *db.DB
}

func (w *RefreshNoteSearchWorker) Work(ctx context.Context, job *river.Job[note.RefreshSearchArgs]) error {
	return w.db.InTx(ctx, func(tx db.Tx) error {
		if err := note.RefreshSearch(ctx, tx, job.Args.UserID, job.Args.NoteID); err != nil {
			return err
		}
		_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx.Tx, job)
		return err
	})
}
