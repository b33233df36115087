package task

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/note"
)

// MoveParams say where a task goes: the end of note NoteID, or the last
// subtask of ParentTaskID (in that task's note).
type MoveParams struct {
	NoteID       *uuid.UUID
	ParentTaskID *uuid.UUID
}

// MoveTx moves a task's block, with the blocks nested in it, to another
// place, in the caller's transaction. The task and its subtasks keep their
// ids (the block ids travel with them and their index rows follow them to
// the other note), so nothing reads the move as a delete and a create.
// Both notes get a new version.
func (s *Service) MoveTx(ctx context.Context, tx db.Tx, userID, id uuid.UUID, p *MoveParams) (*Task, error) {
	t, err := Get(ctx, tx, userID, id)
	if err != nil {
		return nil, err
	}
	var dst uuid.UUID
	parentBlock := ""
	switch {
	case p.ParentTaskID != nil:
		parent, err := Get(ctx, tx, userID, *p.ParentTaskID)
		if apperr.Is(err, apperr.NotFound) {
			return nil, apperr.Field("parent_task_id", "no such task", p.ParentTaskID.String())
		}
		if err != nil {
			return nil, err
		}
		if inside, err := isWithin(ctx, tx, userID, parent.ID, id); err != nil {
			return nil, err
		} else if inside {
			return nil, apperr.Field("parent_task_id", "is the task itself or one of its subtasks", p.ParentTaskID.String())
		}
		dst, parentBlock = parent.NoteID, parent.BlockID
	case p.NoteID != nil:
		dst = *p.NoteID
	default:
		return nil, apperr.Field("note_id", "is required (or parent_task_id)", nil)
	}
	if dst == t.NoteID {
		_, err := s.notes.EditTx(ctx, tx, userID, dst, note.ChangeTaskUpdate, func(_ *note.Note, doc *blocknote.Document) error {
			b := doc.Cut(t.BlockID)
			if b == nil {
				return fmt.Errorf("task %s: block %s is not in note %s: the index is out of date", id, t.BlockID, dst)
			}
			return doc.Paste(parentBlock, b)
		})
		if err != nil {
			return nil, err
		}
		return Get(ctx, tx, userID, id)
	}
	_, err = s.notes.EditTx(ctx, tx, userID, t.NoteID, note.ChangeTaskDelete, func(_ *note.Note, src *blocknote.Document) error {
		b := src.Cut(t.BlockID)
		if b == nil {
			return fmt.Errorf("task %s: block %s is not in note %s: the index is out of date", id, t.BlockID, t.NoteID)
		}
		// The moved rows change notes first, so that the destination's
		// index finds them by block id (and keeps their ids), and the
		// source's, written after this edit, no longer holds them.
		if _, err := tx.Exec(ctx, `WITH RECURSIVE sub AS (
				SELECT id FROM tasks WHERE id = $1 AND user_id = $2
				UNION ALL SELECT c.id FROM tasks c JOIN sub ON c.parent_task_id = sub.id WHERE c.user_id = $2)
			UPDATE tasks SET note_id = $3 WHERE user_id = $2 AND id IN (SELECT id FROM sub)`, id, userID, dst); err != nil {
			return fmt.Errorf("move task rows: %w", err)
		}
		_, err := s.notes.EditTx(ctx, tx, userID, dst, note.ChangeTaskCreate, func(_ *note.Note, doc *blocknote.Document) error {
			return doc.Paste(parentBlock, b)
		})
		if apperr.Is(err, apperr.NotFound) && p.ParentTaskID == nil {
			return apperr.Field("note_id", "no such note", dst.String())
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return Get(ctx, tx, userID, id)
}

// isWithin reports whether task x is task root or nested in it.
func isWithin(ctx context.Context, q db.Querier, userID, x, root uuid.UUID) (bool, error) {
	var in bool
	err := q.QueryRow(ctx, `WITH RECURSIVE up AS (
			SELECT id, parent_task_id FROM tasks WHERE id = $1 AND user_id = $3
			UNION ALL SELECT t.id, t.parent_task_id FROM tasks t JOIN up ON t.id = up.parent_task_id WHERE t.user_id = $3)
		SELECT EXISTS (SELECT 1 FROM up WHERE id = $2)`, x, root, userID).Scan(&in)
	return in, err
}
