package task_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/plan"
	"github.com/consilium-hq/consilium/core/task"
)

// A task created and deleted inside a caller's transaction (db.WithTx, as
// the chat orchestrator runs a tool's write with its audit row) is part of
// it: the service reads its own write back, the note hooks' jobs go into
// the same transaction, and a rollback undoes all of it.
func TestTaskWritesJoinTheCallersTransaction(t *testing.T) {
	queue := func(ctx context.Context, tx db.Tx, c *note.Change) error {
		_, err := tx.InsertJob(ctx, noteChangedArgs{NoteID: c.Note.ID, Version: c.Note.Version}, nil)
		return err
	}
	b := setup(t, []note.Hook{queue})
	ctx := context.Background()
	rollback := errors.New("rollback")
	var created *task.Task
	err := b.db.InTx(ctx, func(tx db.Tx) error {
		jctx := db.WithTx(ctx, tx)
		var err error
		created, err = b.tasks.Create(jctx, b.userID, &task.CreateParams{Fields: blocknote.TaskFields{Title: "Joined"}})
		require.NoError(t, err)
		got, err := b.tasks.Get(jctx, b.userID, created.ID)
		require.NoError(t, err, "read back inside the transaction")
		require.Equal(t, "Joined", got.Title)
		_, err = b.tasks.Get(ctx, b.userID, created.ID)
		require.True(t, apperr.Is(err, apperr.NotFound), "not visible outside before commit: %v", err)
		require.Equal(t, 0, b.jobs(created.NoteID), "the hook's job is not committed yet")
		return rollback
	})
	require.ErrorIs(t, err, rollback)
	_, err = b.tasks.Get(ctx, b.userID, created.ID)
	require.True(t, apperr.Is(err, apperr.NotFound), "rolled back: %v", err)

	require.NoError(t, b.db.InTx(ctx, func(tx db.Tx) error {
		var err error
		created, err = b.tasks.Create(db.WithTx(ctx, tx), b.userID, &task.CreateParams{Fields: blocknote.TaskFields{Title: "Kept"}})
		return err
	}))
	got, err := b.tasks.Get(ctx, b.userID, created.ID)
	require.NoError(t, err)
	require.Equal(t, "Kept", got.Title)
	require.Positive(t, b.jobs(created.NoteID), "the hook's job committed with it")
	require.NoError(t, b.db.InTx(ctx, func(tx db.Tx) error {
		return b.tasks.Delete(db.WithTx(ctx, tx), b.userID, created.ID, nil)
	}))
	_, err = b.tasks.Get(ctx, b.userID, created.ID)
	require.True(t, apperr.Is(err, apperr.NotFound), "%v", err)
}

// A goal created inside a caller's transaction is read back by the plan
// service (CreateGoal reads the row it wrote) and goes with a rollback.
func TestGoalCreateJoinsTheCallersTransaction(t *testing.T) {
	b := setup(t, nil)
	ctx := context.Background()
	plans := plan.NewService(b.db, b.tasks)
	title := "Run a marathon"
	rollback := errors.New("rollback")
	var id uuid.UUID
	err := b.db.InTx(ctx, func(tx db.Tx) error {
		g, err := plans.CreateGoal(db.WithTx(ctx, tx), b.userID, &plan.GoalFields{Title: &title})
		require.NoError(t, err)
		require.Equal(t, title, g.Title)
		id = g.ID
		return rollback
	})
	require.ErrorIs(t, err, rollback)
	_, err = plans.GetGoal(ctx, b.userID, id)
	require.True(t, apperr.Is(err, apperr.NotFound), "%v", err)
}
