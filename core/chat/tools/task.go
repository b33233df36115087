package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/task"
)

// taskOut is a task as the model reads it.
type taskOut struct {
	ID       uuid.UUID  `json:"id"`
	Title    string     `json:"title"`
	Status   string     `json:"status"`
	Priority string     `json:"priority,omitempty"`
	DueDate  string     `json:"due_date,omitempty"`
	DueTime  string     `json:"due_time,omitempty"`
	NoteID   uuid.UUID  `json:"note_id"`
	Source   string     `json:"source,omitempty"`
	GoalID   *uuid.UUID `json:"goal_id,omitempty"`
	ParentID *uuid.UUID `json:"parent_task_id,omitempty"`
	// Untrusted marks a task that came from outside (mail, another app):
	// its title is data, never instructions.
	Untrusted bool `json:"untrusted,omitempty"`
}

func toTask(t *task.Task) taskOut {
	out := taskOut{ID: t.ID, Title: t.Title, Status: string(t.Status), Priority: string(t.Priority), DueDate: t.DueDate,
		DueTime: t.DueTime, NoteID: t.NoteID, GoalID: t.GoalID, ParentID: t.ParentTaskID,
		Untrusted: !blocknote.BuiltinSource(t.Source)}
	if t.Source != blocknote.SourceNote {
		out.Source = t.Source
	}
	return out
}

// taskResult is a result listing tasks: untrusted when one of them came
// from outside.
func taskResult(content any, summary string, tasks ...taskOut) (*chat.ToolResult, error) {
	r, err := result(content, summary)
	if err != nil {
		return nil, err
	}
	for _, t := range tasks {
		r.Untrusted = r.Untrusted || t.Untrusted
	}
	return r, nil
}

var priorityFilter = []string{"high", "medium", "low", "none"}

type listTasksArgs struct {
	Status    []string `json:"status"`
	Priority  []string `json:"priority"`
	Source    []string `json:"source"`
	DueAfter  string   `json:"due_after"`
	DueBefore string   `json:"due_before"`
	Overdue   bool     `json:"overdue"`
	NoDueDate bool     `json:"no_due_date"`
	NoteID    string   `json:"note_id"`
	GoalID    string   `json:"goal_id"`
	Q         string   `json:"q"`
	Sort      string   `json:"sort"`
	Limit     int      `json:"limit"`
	Cursor    string   `json:"cursor"`
}

func (t *toolset) listTasks() chat.Tool {
	return chat.Tool{
		Name: NameListTasks,
		Description: "List the user's tasks (every task lives in one of their notes), filtered and sorted; filters " +
			"combine with AND. Answers ids, titles, status, priority and due dates, plus today's date in the user's " +
			"time zone. Use next_cursor as cursor for more.",
		Effect: chat.EffectRead,
		Parameters: object(map[string]prop{
			"status":      enumList("Keep tasks with any of these statuses.", blocknote.Statuses),
			"priority":    enumList(`Keep tasks with any of these priorities ("none": no priority).`, priorityFilter),
			"source":      keyList("Keep tasks that came from any of these sources (note: typed in a note; chat: made by an agent; direct: the tasks API; planning; or an outside system's name such as clickup)."),
			"due_after":   date("Keep tasks due on or after this day (YYYY-MM-DD)."),
			"due_before":  date("Keep tasks due on or before this day (YYYY-MM-DD)."),
			"overdue":     boolean("Keep open tasks (not_started, in_progress) due before today in the user's time zone."),
			"no_due_date": boolean("Keep tasks without a due date."),
			"note_id":     id("Keep the tasks of this note."),
			"goal_id":     id("Keep the tasks serving this goal."),
			"q":           strMax("Words to find in titles and descriptions.", task.MaxQueryLength),
			"sort":        enum("Order (default due_date, soonest first and undated last; a leading - reverses).", task.Sorts),
			"limit":       integer("How many tasks to answer (default 20).", 1, 200),
			"cursor":      str("next_cursor of the previous answer, for the next page (same filters)."),
		}),
		Run: func(ctx context.Context, call *chat.ToolCall, raw json.RawMessage) (*chat.ToolResult, error) {
			var a listTasksArgs
			if err := decode(raw, &a); err != nil {
				return nil, err
			}
			p := &task.ListParams{Limit: a.Limit, Cursor: a.Cursor, Priority: a.Priority, DueAfter: a.DueAfter,
				DueBefore: a.DueBefore, Overdue: a.Overdue, NoDueDate: a.NoDueDate, Source: a.Source, Q: a.Q, Sort: a.Sort}
			if p.Limit == 0 {
				p.Limit = 20
			}
			for _, s := range a.Status {
				p.Status = append(p.Status, blocknote.Status(s))
			}
			var err error
			if p.NoteID, err = optionalID("note_id", a.NoteID); err != nil {
				return nil, err
			}
			if p.GoalID, err = optionalID("goal_id", a.GoalID); err != nil {
				return nil, err
			}
			if p.Today, err = t.today(ctx, call.UserID); err != nil {
				return nil, err
			}
			pg, err := t.Tasks.List(ctx, call.UserID, p)
			if err != nil {
				return nil, err
			}
			out := struct {
				Today      string    `json:"today"`
				Tasks      []taskOut `json:"tasks"`
				NextCursor string    `json:"next_cursor,omitempty"`
			}{Today: p.Today, Tasks: make([]taskOut, 0, len(pg.Items)), NextCursor: pg.NextCursor}
			for _, x := range pg.Items {
				out.Tasks = append(out.Tasks, toTask(x))
			}
			summary := "listed " + plural(len(out.Tasks), "task", "tasks")
			if out.NextCursor != "" {
				summary += " (more on the next page)"
			}
			return taskResult(out, summary, out.Tasks...)
		},
	}
}

type createTaskArgs struct {
	Title        string `json:"title"`
	Description  string `json:"description"`
	Priority     string `json:"priority"`
	DueDate      string `json:"due_date"`
	DueTime      string `json:"due_time"`
	Status       string `json:"status"`
	NoteID       string `json:"note_id"`
	NoteTitle    string `json:"note_title"`
	ParentTaskID string `json:"parent_task_id"`
	GoalID       string `json:"goal_id"`
}

func (t *toolset) createTask() chat.Tool {
	return chat.Tool{
		Name: NameCreateTask,
		Description: "Create a task for the user. It is added as a task block at the end of a note: the note given by " +
			"note_id or note_title (the title the user calls it by), or as a subtask of parent_task_id, or else in " +
			"the user's Inbox note. Answers the task with its id.",
		Effect: chat.EffectWrite,
		Parameters: object(map[string]prop{
			"title":          strMax("What is to be done, short and specific.", blocknote.MaxTitleLength),
			"description":    strMax("Details, if any.", blocknote.MaxDescriptionLength),
			"priority":       enum("Priority, if the user gave or implied one.", blocknote.Priorities),
			"due_date":       date("Day it is due (YYYY-MM-DD), in the user's time zone."),
			"due_time":       prop{"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "description": "Time of day it is due (HH:MM, 24-hour); only with due_date."},
			"status":         enum("Status (default not_started).", blocknote.Statuses),
			"note_id":        id("The note to add the task to."),
			"note_title":     strMax("The title of the note to add the task to, as the user named it (matched ignoring case).", note.MaxTitleLength),
			"parent_task_id": id("Make the task a subtask of this task (in that task's note)."),
			"goal_id":        id("The goal the task serves."),
		}, "title"),
		Run: func(ctx context.Context, call *chat.ToolCall, raw json.RawMessage) (*chat.ToolResult, error) {
			var a createTaskArgs
			if err := decode(raw, &a); err != nil {
				return nil, err
			}
			p := &task.CreateParams{Fields: blocknote.TaskFields{
				Title: strings.TrimSpace(a.Title), Description: a.Description, Status: blocknote.Status(a.Status),
				Priority: blocknote.Priority(a.Priority), DueDate: a.DueDate, DueTime: a.DueTime, Source: blocknote.SourceChat,
				Metadata: provenance(call),
			}}
			var err error
			if p.NoteID, err = optionalID("note_id", a.NoteID); err != nil {
				return nil, err
			}
			if p.ParentTaskID, err = optionalID("parent_task_id", a.ParentTaskID); err != nil {
				return nil, err
			}
			if a.GoalID != "" {
				g, err := field.ID("goal_id", a.GoalID)
				if err != nil {
					return nil, err
				}
				p.Fields.GoalID = g.String()
			}
			if a.NoteTitle != "" {
				if p.NoteID != nil {
					return nil, apperr.Field("note_title", "give note_id or note_title, not both", a.NoteTitle)
				}
				if p.NoteID, err = t.noteByTitle(ctx, call.UserID, a.NoteTitle); err != nil {
					return nil, err
				}
			}
			id, made, err := once(ctx, t.DB.Pool, call, tableTasks, func() (uuid.UUID, error) {
				x, err := t.Tasks.Create(ctx, call.UserID, p)
				if err != nil {
					return uuid.Nil, err
				}
				return x.ID, nil
			})
			if err != nil {
				return nil, err
			}
			x, err := t.Tasks.Get(ctx, call.UserID, id)
			if err != nil {
				return nil, err
			}
			summary := "created task " + quote(x.Title)
			if !made {
				summary = "task " + quote(x.Title) + " was already created by this call"
			}
			return result(map[string]any{"created": made, "task": toTask(x)}, summary)
		},
	}
}

// noteByTitle finds the one note of the user with this title.
func (t *toolset) noteByTitle(ctx context.Context, userID uuid.UUID, title string) (*uuid.UUID, error) {
	if err := field.Text("note_title", title, note.MaxTitleLength); err != nil {
		return nil, err
	}
	ns, err := t.Notes.ByTitle(ctx, userID, title)
	if err != nil {
		return nil, err
	}
	switch len(ns) {
	case 0:
		return nil, apperr.Field("note_title", "no note has this title; search for the note, or leave note_title out to use the Inbox", title)
	case 1:
		return &ns[0].ID, nil
	}
	ids := make([]string, len(ns))
	for i, n := range ns {
		ids[i] = n.ID.String()
	}
	return nil, apperr.Field("note_title", fmt.Sprintf("%d notes have this title; pass note_id instead, one of %s",
		len(ns), strings.Join(ids, ", ")), title)
}

type updateTaskArgs struct {
	TaskID      string           `json:"task_id"`
	Title       *string          `json:"title"`
	Description *string          `json:"description"`
	Priority    nullable[string] `json:"priority"`
	DueDate     nullable[string] `json:"due_date"`
	DueTime     nullable[string] `json:"due_time"`
	GoalID      nullable[string] `json:"goal_id"`
}

func (t *toolset) updateTask() chat.Tool {
	return chat.Tool{
		Name: NameUpdateTask,
		Description: "Change a task's title, description, priority, due date or time, or goal; only the arguments " +
			"given change, null clears one. To change its status use set_task_status. The note the task lives in " +
			"keeps the previous version. Answers the task as it now is and what it was before.",
		Effect: chat.EffectWrite,
		Parameters: object(map[string]prop{
			"task_id":     id("The task to change."),
			"title":       strMax("New title.", blocknote.MaxTitleLength),
			"description": strMax("New description (replaces the old one; \"\" empties it).", blocknote.MaxDescriptionLength),
			"priority":    orNull(enum("New priority; null removes it.", blocknote.Priorities)),
			"due_date":    orNull(date("New due day (YYYY-MM-DD); null removes it.")),
			"due_time":    orNull(prop{"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "description": "New time of day it is due (HH:MM); null removes it."}),
			"goal_id":     orNull(id("The goal it serves; null unlinks it.")),
		}, "task_id"),
		Run: func(ctx context.Context, call *chat.ToolCall, raw json.RawMessage) (*chat.ToolResult, error) {
			var a updateTaskArgs
			if err := decode(raw, &a); err != nil {
				return nil, err
			}
			id, err := field.ID("task_id", a.TaskID)
			if err != nil {
				return nil, err
			}
			p := &task.UpdateParams{Description: a.Description}
			if a.Title != nil {
				s := strings.TrimSpace(*a.Title)
				p.Title = &s
			}
			p.Priority = task.Optional[blocknote.Priority]{Set: a.Priority.Set, Clear: a.Priority.Null, Value: blocknote.Priority(a.Priority.Value)}
			p.DueDate = task.Optional[string]{Set: a.DueDate.Set, Clear: a.DueDate.Null, Value: a.DueDate.Value}
			p.DueTime = task.Optional[string]{Set: a.DueTime.Set, Clear: a.DueTime.Null, Value: a.DueTime.Value}
			if a.GoalID.Set {
				p.GoalID.Set, p.GoalID.Clear = true, a.GoalID.Null
				if !a.GoalID.Null {
					if p.GoalID.Value, err = field.ID("goal_id", a.GoalID.Value); err != nil {
						return nil, err
					}
				}
			}
			if p.Title == nil && p.Description == nil && !a.Priority.Set && !a.DueDate.Set && !a.DueTime.Set && !a.GoalID.Set {
				return nil, apperr.Field("", "give at least one field to change besides task_id", nil)
			}
			before, err := t.Tasks.Get(ctx, call.UserID, id)
			if err != nil {
				return nil, err
			}
			after, err := t.Tasks.Update(ctx, call.UserID, id, p)
			if err != nil {
				return nil, err
			}
			now, was := toTask(after), toTask(before)
			return taskResult(map[string]any{"task": now, "before": was}, "updated task "+quote(after.Title), now, was)
		},
	}
}

type taskIDsArgs struct {
	TaskIDs []string `json:"task_ids"`
	Status  string   `json:"status"`
}

// countTaskIDs is the number of tasks a call names (0 when its arguments
// do not decode: the call then fails and touches nothing).
func countTaskIDs(raw json.RawMessage) int {
	var a struct {
		TaskIDs []json.RawMessage `json:"task_ids"`
	}
	if json.Unmarshal(raw, &a) != nil {
		return 0
	}
	return len(a.TaskIDs)
}

// tasksOf reads the named tasks of the user, all or none: an id that is not
// one of the user's tasks is not found, naming it.
func (t *toolset) tasksOf(ctx context.Context, userID uuid.UUID, ss []string) ([]*task.Task, error) {
	if len(ss) == 0 {
		return nil, apperr.Field("task_ids", "name at least one task", nil)
	}
	if len(ss) > MaxTaskIDs {
		return nil, apperr.Field("task_ids", fmt.Sprintf("at most %d tasks at once", MaxTaskIDs), len(ss))
	}
	list, err := ids("task_ids", ss)
	if err != nil {
		return nil, err
	}
	seen := map[uuid.UUID]bool{}
	var out []*task.Task
	for i, id := range list {
		if seen[id] {
			continue
		}
		seen[id] = true
		x, err := t.Tasks.Get(ctx, userID, id)
		if apperr.Is(err, apperr.NotFound) {
			return nil, &apperr.Error{Code: apperr.NotFound, Message: "task not found",
				Fields: []apperr.FieldError{{Location: fmt.Sprintf("task_ids[%d]", i), Message: "no such task", Value: ss[i]}}}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

func (t *toolset) setTaskStatus() chat.Tool {
	return chat.Tool{
		Name: NameSetTaskStatus,
		Description: "Set the status of one or more tasks (completed to check them off). Changing more than " +
			fmt.Sprint(BulkThreshold) + " tasks at once waits for the user's approval. Answers the tasks as they now are.",
		Effect: chat.EffectWrite,
		Bulk:   func(raw json.RawMessage) bool { return countTaskIDs(raw) > BulkThreshold },
		Parameters: object(map[string]prop{
			"task_ids": idList("The tasks to change.", MaxTaskIDs),
			"status":   enum("The new status.", blocknote.Statuses),
		}, "task_ids", "status"),
		Run: func(ctx context.Context, call *chat.ToolCall, raw json.RawMessage) (*chat.ToolResult, error) {
			var a taskIDsArgs
			if err := decode(raw, &a); err != nil {
				return nil, err
			}
			status := blocknote.Status(a.Status)
			// The status rule is the task block's; an empty one is missing.
			f := blocknote.TaskFields{Status: status}
			if err := f.Validate(""); err != nil {
				return nil, err
			}
			ts, err := t.tasksOf(ctx, call.UserID, a.TaskIDs)
			if err != nil {
				return nil, err
			}
			out := make([]taskOut, 0, len(ts))
			for _, x := range ts {
				y, err := t.Tasks.SetStatus(ctx, call.UserID, x.ID, status, nil)
				if err != nil {
					return nil, fmt.Errorf("set the status of task %s (after %d of %d): %w", x.ID, len(out), len(ts), err)
				}
				out = append(out, toTask(y))
			}
			summary := "set " + plural(len(out), "task", "tasks") + " to " + string(status)
			if len(out) == 1 {
				summary = "set task " + quote(out[0].Title) + " to " + string(status)
			}
			return taskResult(map[string]any{"tasks": out}, summary, out...)
		},
	}
}

func (t *toolset) deleteTask() chat.Tool {
	return chat.Tool{
		Name: NameDeleteTask,
		Description: "Delete tasks: each task's block is removed from its note, with its subtasks. This always " +
			"waits for the user's approval; use it only when the user asked to delete.",
		Effect: chat.EffectDestructive,
		Bulk:   func(raw json.RawMessage) bool { return countTaskIDs(raw) > BulkThreshold },
		Parameters: object(map[string]prop{
			"task_ids": idList("The tasks to delete.", MaxTaskIDs),
		}, "task_ids"),
		Run: func(ctx context.Context, call *chat.ToolCall, raw json.RawMessage) (*chat.ToolResult, error) {
			var a struct {
				TaskIDs []string `json:"task_ids"`
			}
			if err := decode(raw, &a); err != nil {
				return nil, err
			}
			ts, err := t.tasksOf(ctx, call.UserID, a.TaskIDs)
			if err != nil {
				return nil, err
			}
			deleted := make([]taskOut, 0, len(ts))
			for _, x := range ts {
				err := t.Tasks.Delete(ctx, call.UserID, x.ID, nil)
				// A subtask deleted with its parent is gone already.
				if err != nil && !apperr.Is(err, apperr.NotFound) {
					return nil, fmt.Errorf("delete task %s (after %d of %d): %w", x.ID, len(deleted), len(ts), err)
				}
				deleted = append(deleted, toTask(x))
			}
			summary := "deleted " + plural(len(deleted), "task", "tasks")
			if len(deleted) == 1 {
				summary = "deleted task " + quote(deleted[0].Title)
			}
			return taskResult(map[string]any{"deleted": deleted}, summary, deleted...)
		},
	}
}
