package task

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/page"
)

// Sorts of the task list; a leading "-" sorts descending. Tasks without a
// due date sort after those with one; without a priority, after low.
var Sorts = []string{"due_date", "-due_date", "priority", "-priority", "created_at", "-created_at", "updated_at", "-updated_at"}

// MaxQueryLength bounds ListParams.Q, in characters.
const MaxQueryLength = 500

// ListParams filter and page the task list. Every filter set must hold.
type ListParams struct {
	Limit  int
	Cursor string
	Status []blocknote.Status
	// Priority lists priorities to keep; "none" keeps tasks without one.
	Priority []string
	// DueAfter and DueBefore bound the due date, both inclusive (YYYY-MM-DD).
	DueAfter  string
	DueBefore string
	// Overdue keeps open tasks (not_started, in_progress) due before Today.
	Overdue   bool
	Today     string
	NoDueDate bool
	NoteID    *uuid.UUID
	// ParentTaskID keeps the subtasks of a task; TopLevel keeps tasks with
	// no parent task.
	ParentTaskID *uuid.UUID
	TopLevel     bool
	Source       []string
	GoalID       *uuid.UUID
	// Q searches title and description (Postgres full-text search).
	Q    string
	Sort string
}

type taskCursor struct {
	Sort string    `json:"s"`
	Due  string    `json:"d,omitempty"`
	Rank int       `json:"p,omitempty"`
	Time time.Time `json:"t,omitzero"`
	ID   uuid.UUID `json:"id"`
}

// sortColumns are the columns of a sort (without its "-"), id last.
func sortColumns(col string) []string {
	switch col {
	case "due_date":
		return []string{"due_sort", "id"}
	case "priority":
		return []string{"priority_rank", "due_sort", "id"}
	}
	return []string{col, "id"}
}

func (c taskCursor) Values() []any {
	switch col, _ := page.ParseSort(c.Sort); col {
	case "due_date":
		return []any{c.Due, c.ID}
	case "priority":
		return []any{c.Rank, c.Due, c.ID}
	}
	return []any{c.Time, c.ID}
}

// Valid checks the keys a cursor made by List can hold: due_sort as text (a
// date, or infinity for no due date) and a priority rank 1-4. A cursor is
// opaque but not trusted: these keys become query arguments of type date
// and smallint, which fail in Postgres.
func (c taskCursor) Valid() bool {
	col, _ := page.ParseSort(c.Sort)
	if col == "due_date" || col == "priority" {
		if c.Due != "infinity" && !field.ValidDate(c.Due) {
			return false
		}
	}
	return col != "priority" || (c.Rank >= 1 && c.Rank <= 4)
}

// List returns a page of the user's tasks.
func List(ctx context.Context, q db.Querier, userID uuid.UUID, p *ListParams) (*page.Page[*Task], error) {
	sort := cmp.Or(p.Sort, "due_date")
	col, order := page.ParseSort(sort)
	l, err := page.NewList(p.Limit, p.Cursor, func(t listedTask) taskCursor {
		c := taskCursor{Sort: sort, Due: t.due, Rank: t.rank, ID: t.ID}
		switch col {
		case "created_at":
			c.Time = t.CreatedAt
		case "updated_at":
			c.Time = t.UpdatedAt
		}
		return c
	})
	if err != nil {
		return nil, err
	}
	if !slices.Contains(Sorts, sort) {
		return nil, apperr.Field("sort", "must be one of "+strings.Join(Sorts, ", "), p.Sort)
	}
	if l.After != nil && l.After.Sort != sort {
		return nil, apperr.Field("cursor", "belongs to another sort order; start again without a cursor", nil)
	}

	l.Where("user_id = @user_id", pgx.NamedArgs{"user_id": userID})
	if len(p.Status) > 0 {
		ss := make([]string, len(p.Status))
		for i, s := range p.Status {
			if !slices.Contains(blocknote.Statuses, s) {
				return nil, apperr.Field("status", "must be one of not_started, in_progress, completed, deferred", string(s))
			}
			ss[i] = string(s)
		}
		if len(ss) == 1 {
			l.Where("status = @status", pgx.NamedArgs{"status": ss[0]})
		} else {
			l.Where("status = ANY(@status::text[])", pgx.NamedArgs{"status": ss})
		}
	}
	if len(p.Priority) > 0 {
		var ranks []int32
		for _, pr := range p.Priority {
			r := map[string]int32{"high": 1, "medium": 2, "low": 3, "none": 4}[pr]
			if r == 0 {
				return nil, apperr.Field("priority", "must be one of high, medium, low, none", pr)
			}
			ranks = append(ranks, r)
		}
		l.Where("priority_rank = ANY(@priority_ranks::smallint[])", pgx.NamedArgs{"priority_ranks": ranks})
	}
	if p.DueAfter != "" {
		if _, err := field.Date("due_after", p.DueAfter); err != nil {
			return nil, err
		}
		l.Where("due_sort >= @due_after::date AND due_date IS NOT NULL", pgx.NamedArgs{"due_after": p.DueAfter})
	}
	if p.DueBefore != "" {
		if _, err := field.Date("due_before", p.DueBefore); err != nil {
			return nil, err
		}
		l.Where("due_sort <= @due_before::date", pgx.NamedArgs{"due_before": p.DueBefore})
	}
	if p.Overdue {
		today := cmp.Or(p.Today, time.Now().UTC().Format(time.DateOnly))
		l.Where("due_sort < @today::date AND status IN ('not_started', 'in_progress')", pgx.NamedArgs{"today": today})
	}
	if p.NoDueDate {
		l.Where("due_date IS NULL")
	}
	if p.NoteID != nil {
		l.Where("note_id = @note_id", pgx.NamedArgs{"note_id": *p.NoteID})
	}
	switch {
	case p.ParentTaskID != nil:
		l.Where("parent_task_id = @parent_task_id", pgx.NamedArgs{"parent_task_id": *p.ParentTaskID})
	case p.TopLevel:
		l.Where("parent_task_id IS NULL")
	}
	if len(p.Source) > 0 {
		for _, s := range p.Source {
			if !blocknote.ValidSource(s) {
				return nil, apperr.Field("source", blocknote.SourceRule, s)
			}
		}
		l.Where("source = ANY(@sources::text[])", pgx.NamedArgs{"sources": p.Source})
	}
	if p.GoalID != nil {
		l.Where("goal_id = @goal_id", pgx.NamedArgs{"goal_id": *p.GoalID})
	}
	if err := field.Text("q", p.Q, MaxQueryLength); err != nil {
		return nil, err
	}
	if s := strings.TrimSpace(p.Q); s != "" {
		l.Where("search @@ websearch_to_tsquery('simple', @q)", pgx.NamedArgs{"q": s})
	}

	l.OrderBy(order, sortColumns(col)...)
	// The cursor keeps due_sort and priority_rank as the database computes
	// them.
	out, err := l.Fetch(ctx, q, `SELECT `+taskColumns+`, due_sort::text, priority_rank FROM tasks`,
		func(r pgx.Row) (t listedTask, err error) {
			t.Task, err = scanTask(r, &t.due, &t.rank)
			return t, err
		})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	res := page.Map(out, func(t listedTask) *Task { return t.Task })
	return &res, nil
}

// listedTask is a task with its sort keys.
type listedTask struct {
	*Task
	due  string
	rank int
}

// Get returns one task.
func Get(ctx context.Context, q db.Querier, userID, id uuid.UUID) (*Task, error) {
	t, err := scanTask(q.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = $1 AND user_id = $2`, id, userID))
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return nil, fmt.Errorf("get task %s: %w", id, err)
	}
	return t, err
}

// OfNote returns the tasks of one of the user's notes in document order.
func OfNote(ctx context.Context, q db.Querier, userID, noteID uuid.UUID) ([]*Task, error) {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM notes WHERE id = $1 AND user_id = $2)`, noteID, userID).Scan(&ok); err != nil {
		return nil, fmt.Errorf("find note %s: %w", noteID, err)
	}
	if !ok {
		return nil, apperr.New(apperr.NotFound, "note not found")
	}
	ts, err := noteTasks(ctx, q, userID, noteID)
	if ts == nil {
		ts = []*Task{}
	}
	return ts, err
}
