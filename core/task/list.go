package task

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

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

// List returns a page of the user's tasks and the next page's cursor (""
// on the last page).
func List(ctx context.Context, q db.Querier, userID uuid.UUID, p *ListParams) ([]*Task, string, error) {
	limit, err := page.Limit(p.Limit)
	if err != nil {
		return nil, "", err
	}
	sort := p.Sort
	if sort == "" {
		sort = "due_date"
	}
	if !slices.Contains(Sorts, sort) {
		return nil, "", apperr.Field("sort", "must be one of "+strings.Join(Sorts, ", "), p.Sort)
	}
	var cur taskCursor
	hasCursor, err := page.Decode(p.Cursor, &cur)
	if err != nil {
		return nil, "", err
	}
	if hasCursor && cur.Sort != sort {
		return nil, "", apperr.Field("cursor", "belongs to another sort order; start again without a cursor", nil)
	}
	// A cursor is opaque but not trusted: its sort keys become query
	// arguments cast to date and smallint, which fail in Postgres.
	if hasCursor && !validCursor(&cur) {
		return nil, "", apperr.Field("cursor", "is not a cursor this API returned", nil)
	}

	args := []any{userID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := []string{"user_id = $1"}
	if len(p.Status) > 0 {
		for _, s := range p.Status {
			if !slices.Contains(blocknote.Statuses, s) {
				return nil, "", apperr.Field("status", "must be one of not_started, in_progress, completed, deferred", string(s))
			}
		}
		if len(p.Status) == 1 {
			where = append(where, "status = "+arg(string(p.Status[0])))
		} else {
			ss := make([]string, len(p.Status))
			for i, s := range p.Status {
				ss[i] = string(s)
			}
			where = append(where, "status = ANY("+arg(ss)+"::text[])")
		}
	}
	if len(p.Priority) > 0 {
		var ranks []int32
		for _, pr := range p.Priority {
			r := map[string]int32{"high": 1, "medium": 2, "low": 3, "none": 4}[pr]
			if r == 0 {
				return nil, "", apperr.Field("priority", "must be one of high, medium, low, none", pr)
			}
			ranks = append(ranks, r)
		}
		where = append(where, "priority_rank = ANY("+arg(ranks)+"::smallint[])")
	}
	date := func(name, s string) (string, error) {
		if _, err := field.Date(name, s); err != nil {
			return "", err
		}
		return s, nil
	}
	if p.DueAfter != "" {
		d, err := date("due_after", p.DueAfter)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "due_sort >= "+arg(d)+"::date", "due_date IS NOT NULL")
	}
	if p.DueBefore != "" {
		d, err := date("due_before", p.DueBefore)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "due_sort <= "+arg(d)+"::date")
	}
	if p.Overdue {
		today := p.Today
		if today == "" {
			today = time.Now().UTC().Format(time.DateOnly)
		}
		where = append(where, "due_sort < "+arg(today)+"::date", "status IN ('not_started', 'in_progress')")
	}
	if p.NoDueDate {
		where = append(where, "due_date IS NULL")
	}
	if p.NoteID != nil {
		where = append(where, "note_id = "+arg(*p.NoteID))
	}
	switch {
	case p.ParentTaskID != nil:
		where = append(where, "parent_task_id = "+arg(*p.ParentTaskID))
	case p.TopLevel:
		where = append(where, "parent_task_id IS NULL")
	}
	if len(p.Source) > 0 {
		for _, s := range p.Source {
			if !slices.Contains(blocknote.Sources, s) {
				return nil, "", apperr.Field("source", "must be one of "+strings.Join(blocknote.Sources, ", "), s)
			}
		}
		where = append(where, "source = ANY("+arg(p.Source)+"::text[])")
	}
	if p.GoalID != nil {
		where = append(where, "goal_id = "+arg(*p.GoalID))
	}
	if err := field.Text("q", p.Q, MaxQueryLength); err != nil {
		return nil, "", err
	}
	if s := strings.TrimSpace(p.Q); s != "" {
		where = append(where, "search @@ websearch_to_tsquery('simple', "+arg(s)+")")
	}

	col, desc := strings.TrimPrefix(sort, "-"), strings.HasPrefix(sort, "-")
	var keys []string
	switch col {
	case "due_date":
		keys = []string{"due_sort"}
	case "priority":
		keys = []string{"priority_rank", "due_sort"}
	default:
		keys = []string{col}
	}
	keys = append(keys, "id")
	op, dir := ">", "ASC"
	if desc {
		op, dir = "<", "DESC"
	}
	if hasCursor {
		var vals []string
		switch col {
		case "due_date":
			vals = []string{arg(cur.Due) + "::date"}
		case "priority":
			vals = []string{arg(cur.Rank) + "::smallint", arg(cur.Due) + "::date"}
		default:
			vals = []string{arg(cur.Time)}
		}
		vals = append(vals, arg(cur.ID))
		where = append(where, fmt.Sprintf("(%s) %s (%s)", strings.Join(keys, ", "), op, strings.Join(vals, ", ")))
	}
	order := make([]string, len(keys))
	for i, k := range keys {
		order[i] = k + " " + dir
	}
	sql := `SELECT ` + taskColumns + `, due_sort::text, priority_rank FROM tasks WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY ` + strings.Join(order, ", ") + ` LIMIT ` + arg(limit+1)
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list tasks: %w", err)
	}
	defer rows.Close()
	var out []*Task
	var last taskCursor
	for rows.Next() {
		var due string
		var rank int
		t, err := scanTask(rows, &due, &rank)
		if err != nil {
			return nil, "", fmt.Errorf("list tasks: %w", err)
		}
		if len(out) < limit {
			last = taskCursor{Sort: sort, Due: due, Rank: rank, ID: t.ID}
			switch col {
			case "created_at":
				last.Time = t.CreatedAt
			case "updated_at":
				last.Time = t.UpdatedAt
			}
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list tasks: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = page.Encode(last)
	}
	return out, next, nil
}

// validCursor checks the keys a cursor made by List can hold: due_sort as
// text (a date, or infinity for no due date) and a priority rank 1-4.
func validCursor(c *taskCursor) bool {
	col := strings.TrimPrefix(c.Sort, "-")
	if col == "due_date" || col == "priority" {
		if c.Due != "infinity" && !field.ValidDate(c.Due) {
			return false
		}
	}
	return col != "priority" || (c.Rank >= 1 && c.Rank <= 4)
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
