package task_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/task"
)

// A task moved to another note, with its subtask, keeps its id and its
// subtask's; the hooks see an update (the parent changed), never a delete.
func TestMoveKeepsTaskIDs(t *testing.T) {
	var seen []task.Change
	b := setup(t, nil, func(_ context.Context, _ db.Tx, cs []task.Change) error {
		seen = append(seen, cs...)
		return nil
	})
	ctx := context.Background()
	a, err := b.notes.Create(ctx, b.userID, &note.CreateParams{Title: "A"})
	require.NoError(t, err)
	z, err := b.notes.Create(ctx, b.userID, &note.CreateParams{Title: "Z"})
	require.NoError(t, err)
	parent, err := b.tasks.Create(ctx, b.userID, &task.CreateParams{NoteID: &a.ID, Fields: blocknote.TaskFields{Title: "Parent", Priority: blocknote.PriorityHigh}})
	require.NoError(t, err)
	child, err := b.tasks.Create(ctx, b.userID, &task.CreateParams{ParentTaskID: &parent.ID, Fields: blocknote.TaskFields{Title: "Child"}})
	require.NoError(t, err)
	host, err := b.tasks.Create(ctx, b.userID, &task.CreateParams{NoteID: &z.ID, Fields: blocknote.TaskFields{Title: "Host"}})
	require.NoError(t, err)

	seen = nil
	require.NoError(t, b.db.InTx(ctx, func(tx db.Tx) error {
		_, err := b.tasks.MoveTx(ctx, tx, b.userID, parent.ID, &task.MoveParams{ParentTaskID: &host.ID})
		return err
	}))
	got, err := b.tasks.Get(ctx, b.userID, parent.ID)
	require.NoError(t, err)
	require.Equal(t, z.ID, got.NoteID)
	require.Equal(t, host.ID, *got.ParentTaskID)
	require.Equal(t, blocknote.PriorityHigh, got.Priority)
	gotChild, err := b.tasks.Get(ctx, b.userID, child.ID)
	require.NoError(t, err)
	require.Equal(t, z.ID, gotChild.NoteID)
	require.Equal(t, parent.ID, *gotChild.ParentTaskID)
	left, err := b.tasks.OfNote(ctx, b.userID, a.ID)
	require.NoError(t, err)
	require.Empty(t, left)
	for _, c := range seen {
		require.NotEqual(t, task.Deleted, c.Op)
		require.NotEqual(t, task.Created, c.Op)
	}
	// The source note's document no longer holds the blocks.
	n, err := b.notes.Get(ctx, b.userID, a.ID)
	require.NoError(t, err)
	require.NotContains(t, string(n.Content), "Parent")

	// Back to the top of note A; a task cannot go under its own subtask.
	require.NoError(t, b.db.InTx(ctx, func(tx db.Tx) error {
		_, err := b.tasks.MoveTx(ctx, tx, b.userID, parent.ID, &task.MoveParams{NoteID: &a.ID})
		return err
	}))
	got, err = b.tasks.Get(ctx, b.userID, parent.ID)
	require.NoError(t, err)
	require.Equal(t, a.ID, got.NoteID)
	require.Nil(t, got.ParentTaskID)
	err = b.db.InTx(ctx, func(tx db.Tx) error {
		_, err := b.tasks.MoveTx(ctx, tx, b.userID, parent.ID, &task.MoveParams{ParentTaskID: &child.ID})
		return err
	})
	require.True(t, apperr.Is(err, apperr.Invalid), "%v", err)
}
