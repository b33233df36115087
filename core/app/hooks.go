package app

import (
	"context"

	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/task"
)

// The graph's own hooks. They are methods of App that find their service
// when they run, so a service built after the notes service (the AI
// service; integrations next) can still follow every save: hooks run only
// once New has returned. They run before the caller's Options hooks, in
// the save's transaction.

// noteHooks run on every note save.
func (a *App) noteHooks() []note.Hook {
	return []note.Hook{a.indexNote}
}

// taskHooks run on every change of the task index: a change to a task
// from an outside system queues its push (in the change's transaction).
func (a *App) taskHooks() []task.Hook {
	return []task.Hook{a.pushTask}
}

// pushTask queues the push of changed tasks that have outside references.
func (a *App) pushTask(ctx context.Context, tx db.Tx, changes []task.Change) error {
	if a.Integrations == nil {
		return nil
	}
	return a.Integrations.TaskHook(ctx, tx, changes)
}

// indexNote keeps the AI index in step with the note: it queues the
// embedding job, or hides the chunks of an archived note.
func (a *App) indexNote(ctx context.Context, tx db.Tx, c *note.Change) error {
	return a.AI.NoteHook(ctx, tx, c)
}
