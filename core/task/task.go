// Package task owns the task index: one row per task block (checkListItem
// or Consilium's task block) across a user's notes, derived from the notes
// in the same transaction as every save and rebuildable from them. Its
// Service changes tasks by rewriting their blocks through the note service,
// so a task view and the note it lives in never disagree.
package task

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
)

// Task is a row of the task index.
type Task struct {
	ID        uuid.UUID
	UserID    uuid.UUID
	NoteID    uuid.UUID
	BlockID   string
	BlockType string
	// Position is the task's order among its note's tasks.
	Position    int
	Title       string
	Description string
	Status      blocknote.Status
	Priority    blocknote.Priority // "" = none
	DueDate     string             // YYYY-MM-DD, "" = none
	DueTime     string             // HH:MM, "" = none
	Size        *float64
	// ParentTaskID is the task whose block encloses this one.
	ParentTaskID    *uuid.UUID
	Source          string
	SourceReference string // "" = none
	GoalID          *uuid.UUID
	// CompletedAt is when the task last became completed; nil while it is
	// not. The database sets it (see migration 00003).
	CompletedAt *time.Time
	Metadata    json.RawMessage
	Version     int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Fields are the task as its block says it.
func (t *Task) Fields() blocknote.TaskFields {
	f := blocknote.TaskFields{
		Title: t.Title, Description: t.Description, Status: t.Status, Priority: t.Priority,
		DueDate: t.DueDate, DueTime: t.DueTime, Size: t.Size, Source: t.Source, SourceReference: t.SourceReference,
	}
	if f.Source == blocknote.SourceNote {
		f.Source = ""
	}
	if t.GoalID != nil {
		f.GoalID = t.GoalID.String()
	}
	if len(t.Metadata) > 0 && string(t.Metadata) != "{}" {
		f.Metadata = t.Metadata
	}
	return f
}

const taskColumns = `id, user_id, note_id, block_id, block_type, position, title, description, status,
	coalesce(priority, ''), due_date, due_time, size, parent_task_id, source, coalesce(source_reference, ''),
	goal_id, completed_at, metadata, version, created_at, updated_at`

var errNotFound = apperr.New(apperr.NotFound, "task not found")

func scanTask(row pgx.Row, extra ...any) (*Task, error) {
	var t Task
	var status, priority string
	var due pgtype.Date
	var at pgtype.Time
	dest := append([]any{&t.ID, &t.UserID, &t.NoteID, &t.BlockID, &t.BlockType, &t.Position, &t.Title,
		&t.Description, &status, &priority, &due, &at, &t.Size, &t.ParentTaskID, &t.Source, &t.SourceReference,
		&t.GoalID, &t.CompletedAt, &t.Metadata, &t.Version, &t.CreatedAt, &t.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, errNotFound
		}
		return nil, err
	}
	t.Status, t.Priority = blocknote.Status(status), blocknote.Priority(priority)
	if due.Valid {
		t.DueDate = due.Time.Format(time.DateOnly)
	}
	if at.Valid {
		m := at.Microseconds / 60e6
		t.DueTime = fmt.Sprintf("%02d:%02d", m/60, m%60)
	}
	return &t, nil
}
