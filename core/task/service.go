package task

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/page"
)

// SourceDirect is the source of tasks created through the tasks API.
const SourceDirect = blocknote.SourceDirect

// Service changes tasks by rewriting their blocks in their notes.
type Service struct {
	db    *db.DB
	notes *note.Service
}

// NewService returns the task service. notes must have been built with this
// package's Index as its Indexer.
func NewService(d *db.DB, notes *note.Service) *Service {
	return &Service{db: d, notes: notes}
}

// Get returns one of the user's tasks.
func (s *Service) Get(ctx context.Context, userID, id uuid.UUID) (*Task, error) {
	return Get(ctx, s.db.Q(ctx), userID, id)
}

// List returns a page of the user's tasks.
func (s *Service) List(ctx context.Context, userID uuid.UUID, p *ListParams) (*page.Page[*Task], error) {
	return List(ctx, s.db.Q(ctx), userID, p)
}

// OfNote returns the tasks of a note in document order.
func (s *Service) OfNote(ctx context.Context, userID, noteID uuid.UUID) ([]*Task, error) {
	return OfNote(ctx, s.db.Q(ctx), userID, noteID)
}

// CreateParams describe a new task. Fields.Status "" is not_started and
// Fields.Source "" is direct.
type CreateParams struct {
	Fields blocknote.TaskFields
	// NoteID is the note to append the task to; ParentTaskID makes it the
	// last subtask of that task (in that task's note). With neither, the
	// task goes to the user's Inbox note.
	NoteID       *uuid.UUID
	ParentTaskID *uuid.UUID
}

// Create appends a task block to a note and returns its index row.
func (s *Service) Create(ctx context.Context, userID uuid.UUID, p *CreateParams) (*Task, error) {
	var out *Task
	err := s.db.InTx(ctx, func(tx db.Tx) error {
		var err error
		out, err = s.CreateTx(ctx, tx, userID, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateTx is Create in the caller's transaction (an import that stores
// tasks with the records they came from).
func (s *Service) CreateTx(ctx context.Context, tx db.Tx, userID uuid.UUID, p *CreateParams) (*Task, error) {
	f := p.Fields
	if f.Status == "" {
		f.Status = blocknote.StatusNotStarted
	}
	if f.Source == "" {
		f.Source = SourceDirect
	}
	f.Title = strings.TrimSpace(f.Title)
	if err := field.Required("title", f.Title); err != nil {
		return nil, err
	}
	if f.Metadata != nil {
		m, err := compactMetadata(f.Metadata)
		if err != nil {
			return nil, err
		}
		f.Metadata = m
	}
	if err := f.Validate(""); err != nil {
		return nil, err
	}
	var out *Task
	err := func() error {
		if err := checkGoal(ctx, tx, userID, f.GoalID); err != nil {
			return err
		}
		var noteID uuid.UUID
		var parent *Task
		switch {
		case p.ParentTaskID != nil:
			var err error
			parent, err = Get(ctx, tx, userID, *p.ParentTaskID)
			if apperr.Is(err, apperr.NotFound) {
				return apperr.Field("parent_task_id", "no such task", p.ParentTaskID.String())
			}
			if err != nil {
				return err
			}
			if p.NoteID != nil && *p.NoteID != parent.NoteID {
				return apperr.Field("note_id", "must be the note of the parent task (or left out)", p.NoteID.String())
			}
			noteID = parent.NoteID
		case p.NoteID != nil:
			noteID = *p.NoteID
		default:
			var err error
			if noteID, err = s.notes.InboxTx(ctx, tx, userID); err != nil {
				return err
			}
		}
		var blockID string
		_, err := s.notes.EditTx(ctx, tx, userID, noteID, note.ChangeTaskCreate, func(_ *note.Note, doc *blocknote.Document) error {
			parentBlock := ""
			if parent != nil {
				parentBlock = parent.BlockID
				if b := doc.Block(parentBlock); b == nil || !b.IsTask() {
					return apperr.Field("parent_task_id", "no such task", p.ParentTaskID.String())
				}
			}
			b, err := doc.AppendTask(parentBlock, f)
			if err != nil {
				return err
			}
			blockID = b.ID()
			return nil
		})
		if apperr.Is(err, apperr.NotFound) && p.ParentTaskID == nil && p.NoteID != nil {
			return apperr.Field("note_id", "no such note", p.NoteID.String())
		}
		if err != nil {
			return err
		}
		out, err = s.byBlock(ctx, tx, userID, noteID, blockID)
		return err
	}()
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) byBlock(ctx context.Context, q db.Querier, userID, noteID uuid.UUID, blockID string) (*Task, error) {
	t, err := scanTask(q.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE note_id = $1 AND block_id = $2 AND user_id = $3`,
		noteID, blockID, userID))
	if err != nil {
		return nil, fmt.Errorf("read task of block %s: %w", blockID, err)
	}
	return t, nil
}

// Optional is a field an update may set; Clear sets it to nothing.
type Optional[T any] struct {
	Set   bool
	Clear bool
	Value T
}

// UpdateParams change only the fields that are set.
type UpdateParams struct {
	Title           *string
	Description     *string
	Status          *blocknote.Status
	Priority        Optional[blocknote.Priority]
	DueDate         Optional[string]
	DueTime         Optional[string]
	Size            Optional[float64]
	Source          *string
	SourceReference Optional[string]
	GoalID          Optional[uuid.UUID]
	Metadata        Optional[json.RawMessage]
	// IfVersion, when set, must be the task's current version.
	IfVersion *int
}

func (p *UpdateParams) apply(f *blocknote.TaskFields) {
	set := func(dst *string, o Optional[string]) {
		switch {
		case o.Clear:
			*dst = ""
		case o.Set:
			*dst = o.Value
		}
	}
	if p.Title != nil {
		f.Title = *p.Title
	}
	if p.Description != nil {
		f.Description = *p.Description
	}
	if p.Status != nil {
		f.Status = *p.Status
	}
	switch {
	case p.Priority.Clear:
		f.Priority = ""
	case p.Priority.Set:
		f.Priority = p.Priority.Value
	}
	set(&f.DueDate, p.DueDate)
	set(&f.DueTime, p.DueTime)
	switch {
	case p.Size.Clear:
		f.Size = nil
	case p.Size.Set:
		v := p.Size.Value
		f.Size = &v
	}
	if p.Source != nil {
		f.Source = *p.Source
	}
	set(&f.SourceReference, p.SourceReference)
	switch {
	case p.GoalID.Clear:
		f.GoalID = ""
	case p.GoalID.Set:
		f.GoalID = p.GoalID.Value.String()
	}
	switch {
	case p.Metadata.Clear:
		f.Metadata = nil
	case p.Metadata.Set:
		f.Metadata = p.Metadata.Value
	}
}

// Update changes a task: its block is rewritten in place in its note (a
// checkListItem becomes a task block when it must), the note gets a new
// version and the index follows, all in one transaction.
func (s *Service) Update(ctx context.Context, userID, id uuid.UUID, p *UpdateParams) (*Task, error) {
	var out *Task
	err := s.db.InTx(ctx, func(tx db.Tx) error {
		if p.GoalID.Set && !p.GoalID.Clear {
			if err := checkGoal(ctx, tx, userID, p.GoalID.Value.String()); err != nil {
				return err
			}
		}
		err := s.editTask(ctx, tx, userID, id, p.IfVersion, note.ChangeTaskUpdate, func(doc *blocknote.Document, t *Task) error {
			f := *doc.Block(t.BlockID).TaskFields()
			p.apply(&f)
			if f.Metadata != nil {
				m, err := compactMetadata(f.Metadata)
				if err != nil {
					return err
				}
				f.Metadata = m
			}
			if err := f.Validate(""); err != nil {
				return err
			}
			return doc.SetTask(t.BlockID, f)
		})
		if err != nil {
			return err
		}
		out, err = Get(ctx, tx, userID, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// compactMetadata checks a task's metadata (field.Object) and returns it
// compacted; the empty object is no metadata (nil).
func compactMetadata(raw json.RawMessage) (json.RawMessage, error) {
	m, err := field.Object("metadata", raw)
	if err != nil || string(m) == "{}" {
		return nil, err
	}
	return m, nil
}

// checkGoal refuses a goal that is not one of the user's (another user's
// goal id reads as no such goal). An empty id is no goal.
func checkGoal(ctx context.Context, q db.Querier, userID uuid.UUID, goalID string) error {
	if goalID == "" {
		return nil
	}
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM goals WHERE user_id = $1 AND id = $2::uuid)`, userID, goalID).Scan(&ok); err != nil {
		return fmt.Errorf("check goal: %w", err)
	}
	if !ok {
		return apperr.Field("goal_id", "no such goal", goalID)
	}
	return nil
}

// SetStatus changes a task's status.
func (s *Service) SetStatus(ctx context.Context, userID, id uuid.UUID, status blocknote.Status, ifVersion *int) (*Task, error) {
	return s.Update(ctx, userID, id, &UpdateParams{Status: &status, IfVersion: ifVersion})
}

// Delete removes a task's block (with the blocks nested in it, subtasks
// included) from its note.
func (s *Service) Delete(ctx context.Context, userID, id uuid.UUID, ifVersion *int) error {
	return s.db.InTx(ctx, func(tx db.Tx) error { return s.DeleteTx(ctx, tx, userID, id, ifVersion) })
}

// DeleteTx is Delete in the caller's transaction.
func (s *Service) DeleteTx(ctx context.Context, tx db.Tx, userID, id uuid.UUID, ifVersion *int) error {
	return s.editTask(ctx, tx, userID, id, ifVersion, note.ChangeTaskDelete, func(doc *blocknote.Document, t *Task) error {
		doc.Remove(t.BlockID)
		return nil
	})
}

// editTask finds a task's note, locks it, re-reads the task under the lock
// (it may have gone meanwhile), checks its version and lets edit change the
// document.
func (s *Service) editTask(ctx context.Context, tx db.Tx, userID, id uuid.UUID, ifVersion *int, kind note.ChangeKind,
	edit func(doc *blocknote.Document, t *Task) error) error {
	t, err := Get(ctx, tx, userID, id)
	if err != nil {
		return err
	}
	_, err = s.notes.EditTx(ctx, tx, userID, t.NoteID, kind, func(_ *note.Note, doc *blocknote.Document) error {
		cur, err := Get(ctx, tx, userID, id)
		if err != nil {
			return err
		}
		if ifVersion != nil && *ifVersion != cur.Version {
			return &apperr.Error{Code: apperr.PreconditionFailed,
				Message: fmt.Sprintf("the task has changed: it is at version %d, not %d; reload it and try again", cur.Version, *ifVersion)}
		}
		if b := doc.Block(cur.BlockID); b == nil || !b.IsTask() {
			return fmt.Errorf("task %s: block %s is not a task block of note %s: the index is out of date", id, cur.BlockID, t.NoteID)
		}
		return edit(doc, cur)
	})
	if apperr.Is(err, apperr.NotFound) {
		return errNotFound
	}
	return err
}

// UnlinkGoals clears the goal of every task that serves one of the goals,
// in the task blocks and in the index, in tx (planning calls it when goals
// are deleted).
func (s *Service) UnlinkGoals(ctx context.Context, tx db.Tx, userID uuid.UUID, goalIDs []uuid.UUID) error {
	if len(goalIDs) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT note_id, block_id FROM tasks WHERE user_id = $1 AND goal_id = ANY($2)
		ORDER BY note_id`, userID, goalIDs)
	if err != nil {
		return fmt.Errorf("find tasks of goals: %w", err)
	}
	blocks := map[uuid.UUID][]string{}
	var notes []uuid.UUID
	for rows.Next() {
		var n uuid.UUID
		var b string
		if err := rows.Scan(&n, &b); err != nil {
			rows.Close()
			return fmt.Errorf("find tasks of goals: %w", err)
		}
		if _, ok := blocks[n]; !ok {
			notes = append(notes, n)
		}
		blocks[n] = append(blocks[n], b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find tasks of goals: %w", err)
	}
	// Notes are locked in id order, so concurrent callers cannot deadlock.
	slices.SortFunc(notes, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	for _, n := range notes {
		_, err := s.notes.EditTx(ctx, tx, userID, n, note.ChangeTaskUpdate, func(_ *note.Note, doc *blocknote.Document) error {
			for _, id := range blocks[n] {
				b := doc.Block(id)
				if b == nil || !b.IsTask() {
					continue
				}
				f := *b.TaskFields()
				f.GoalID = ""
				if err := doc.SetTask(id, f); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return err
		}
	}
	return nil
}
