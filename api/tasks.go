package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/page"
	"github.com/consilium-hq/consilium/core/task"
)

// TaskJSON is a task: a task block inside a note, as the index shows it.
type TaskJSON struct {
	ID              uuid.UUID  `json:"id"`
	UserID          uuid.UUID  `json:"user_id"`
	NoteID          uuid.UUID  `json:"note_id" doc:"The note whose content holds the task block."`
	BlockID         string     `json:"block_id" doc:"The id of the task block in the note's content."`
	BlockType       string     `json:"block_type" enum:"checkListItem,task" doc:"checkListItem holds only title and done/not done; task holds every field."`
	Title           string     `json:"title" doc:"The plain text of the block's inline content."`
	Description     string     `json:"description"`
	Status          string     `json:"status" enum:"not_started,in_progress,completed,deferred"`
	Priority        *string    `json:"priority" enum:"high,medium,low"`
	DueDate         *string    `json:"due_date" format:"date" example:"2026-03-02"`
	DueTime         *string    `json:"due_time" pattern:"^([01][0-9]|2[0-3]):[0-5][0-9]$" example:"09:30"`
	Size            *float64   `json:"size" doc:"Effort, in whatever unit the user counts (greater than 0)."`
	ParentTaskID    *uuid.UUID `json:"parent_task_id" nullable:"true" doc:"The task whose block encloses this one (a subtask); null for a task that is no subtask."`
	Source          string     `json:"source" pattern:"^[a-z][a-z0-9_-]*$" maxLength:"63" example:"note" doc:"Where the task came from: direct (the tasks API), note (typed in a note), planning, chat (made by an agent), or the name of the outside system (an integration plugin) it came from, such as clickup."`
	SourceReference *string    `json:"source_reference" doc:"The task's id in the outside system it came from."`
	GoalID          *uuid.UUID `json:"goal_id" nullable:"true" doc:"The goal this task serves: the block's props.goalId when it names one of your goals; null otherwise (an id that names no goal of yours stays in the note, unlinked)."`
	CompletedAt     *time.Time `json:"completed_at" doc:"When the task became completed; null while it is not."`
	Metadata        JSONObject `json:"metadata"`
	Version         int        `json:"version" doc:"Increases by one whenever the task changes; sent as the ETag."`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toTaskJSON(t *task.Task) TaskJSON {
	return TaskJSON{
		ID: t.ID, UserID: t.UserID, NoteID: t.NoteID, BlockID: t.BlockID, BlockType: t.BlockType,
		Title: t.Title, Description: t.Description, Status: string(t.Status), Priority: strPtr(string(t.Priority)),
		DueDate: strPtr(t.DueDate), DueTime: strPtr(t.DueTime), Size: t.Size, ParentTaskID: t.ParentTaskID,
		Source: t.Source, SourceReference: strPtr(t.SourceReference), GoalID: t.GoalID, CompletedAt: t.CompletedAt,
		Metadata: JSONObject(t.Metadata), Version: t.Version, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
	}
}

// TaskCreateRequest is a new task.
type TaskCreateRequest struct {
	Title           string     `json:"title" minLength:"1" maxLength:"2000" example:"Book the dentist"`
	Description     string     `json:"description,omitempty" maxLength:"20000"`
	Status          string     `json:"status,omitempty" enum:"not_started,in_progress,completed,deferred" default:"not_started"`
	Priority        string     `json:"priority,omitempty" enum:"high,medium,low"`
	DueDate         string     `json:"due_date,omitempty" format:"date"`
	DueTime         string     `json:"due_time,omitempty" pattern:"^([01][0-9]|2[0-3]):[0-5][0-9]$"`
	Size            *float64   `json:"size,omitempty" exclusiveMinimum:"0"`
	NoteID          *uuid.UUID `json:"note_id,omitempty" doc:"The note to append the task to."`
	ParentTaskID    *uuid.UUID `json:"parent_task_id,omitempty" doc:"Make the task the last subtask of this task, in its note."`
	SourceReference string     `json:"source_reference,omitempty" maxLength:"1000"`
	GoalID          *uuid.UUID `json:"goal_id,omitempty"`
	Metadata        JSONObject `json:"metadata,omitempty"`
}

// TaskUpdateRequest changes only the fields sent; null clears a field.
type TaskUpdateRequest struct {
	Title           *string                `json:"title,omitempty" maxLength:"2000"`
	Description     *string                `json:"description,omitempty" maxLength:"20000"`
	Status          *string                `json:"status,omitempty" enum:"not_started,in_progress,completed,deferred"`
	Priority        patchValue[string]     `json:"priority,omitempty" enum:"high,medium,low"`
	DueDate         patchValue[string]     `json:"due_date,omitempty" format:"date"`
	DueTime         patchValue[string]     `json:"due_time,omitempty" pattern:"^([01][0-9]|2[0-3]):[0-5][0-9]$"`
	Size            patchValue[float64]    `json:"size,omitempty" exclusiveMinimum:"0"`
	SourceReference patchValue[string]     `json:"source_reference,omitempty" maxLength:"1000"`
	GoalID          patchValue[uuid.UUID]  `json:"goal_id,omitempty"`
	Metadata        patchValue[JSONObject] `json:"metadata,omitempty" doc:"Replaces the task's metadata; null clears it."`
}

// TaskStatusRequest sets a task's status.
type TaskStatusRequest struct {
	Status string `json:"status" enum:"not_started,in_progress,completed,deferred"`
}

type taskOutput struct {
	ETag string `header:"ETag" doc:"The task's version, to send back as If-Match."`
	Body TaskJSON
}

func taskOut(t *task.Task) *taskOutput {
	return &taskOutput{ETag: versionETag(t.Version), Body: toTaskJSON(t)}
}

// taskCreatedOutput is the 201 of create-task.
type taskCreatedOutput struct {
	Location string `header:"Location" doc:"The new task: /api/tasks/{task_id}."`
	ETag     string `header:"ETag" doc:"The task's version, to send back as If-Match."`
	Body     TaskJSON
}

// TaskList is a page of tasks.
type TaskList page.Page[TaskJSON]

type taskListOutput struct {
	Body TaskList
}

func taskList(p *page.Page[*task.Task]) *taskListOutput {
	return &taskListOutput{Body: TaskList(page.Map(p, toTaskJSON))}
}

type taskPath struct {
	TaskID string `path:"task_id" doc:"The task's id." format:"uuid"`
}

type taskWrite struct {
	TaskID  string `path:"task_id" doc:"The task's id." format:"uuid"`
	IfMatch string `header:"If-Match" doc:"The ETag of the task version this change is based on; a stale one answers 412."`
}

var taskTags = []string{"tasks"}

// userToday is today's date where the user is (preferences.timezone, an
// IANA zone name; UTC otherwise).
func userToday(ctx context.Context) string {
	loc := time.UTC
	var prefs struct {
		Timezone string `json:"timezone"`
	}
	if p := principal(ctx); p != nil && json.Unmarshal(p.User.Preferences, &prefs) == nil && prefs.Timezone != "" {
		if l, err := field.TimeZone("timezone", prefs.Timezone); err == nil {
			loc = l
		}
	}
	return time.Now().In(loc).Format(time.DateOnly)
}

// splitList accepts both ?status=a&status=b and ?status=a,b.
func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func registerTasks(authed huma.API, tasks *task.Service) {
	huma.Register(authed, huma.Operation{
		OperationID: "list-tasks", Method: http.MethodGet, Path: "/tasks",
		Summary: "List tasks", Tags: taskTags,
		Description: "Every task block in the signed-in user's notes, filtered and sorted. Filters combine with AND; " +
			"repeatable ones (status, priority, source) match any of their values. Page with next_cursor.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		Limit        int      `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
		Cursor       string   `query:"cursor" doc:"next_cursor of the previous page."`
		Status       []string `query:"status,explode" doc:"Repeatable: not_started, in_progress, completed, deferred."`
		Priority     []string `query:"priority,explode" doc:"Repeatable: high, medium, low, none."`
		DueAfter     string   `query:"due_after" format:"date" doc:"Due on or after this date."`
		DueBefore    string   `query:"due_before" format:"date" doc:"Due on or before this date."`
		Overdue      bool     `query:"overdue" doc:"Only open tasks (not_started, in_progress) due before today in the user's timezone (preferences.timezone, else UTC)."`
		NoDueDate    bool     `query:"no_due_date" doc:"Only tasks without a due date."`
		NoteID       string   `query:"note_id" format:"uuid" doc:"Only tasks in this note."`
		ParentTaskID string   `query:"parent_task_id" doc:"Only subtasks of this task; 'none' for tasks that are no subtask."`
		Source       []string `query:"source,explode" doc:"Repeatable: task sources (direct, note, planning, chat, or an outside system's name such as clickup); each lower case letters, digits, - or _, starting with a letter, at most 63 characters."`
		GoalID       string   `query:"goal_id" format:"uuid" doc:"Only tasks serving this goal."`
		Q            string   `query:"q" maxLength:"500" doc:"Full-text search over title and description."`
		Sort         string   `query:"sort" enum:"due_date,-due_date,priority,-priority,created_at,-created_at,updated_at,-updated_at" default:"due_date" doc:"Sort key; a leading - sorts descending. No due date or no priority sorts last."`
	}) (*taskListOutput, error) {
		p := &task.ListParams{
			Limit: in.Limit, Cursor: in.Cursor, Priority: splitList(in.Priority), DueAfter: in.DueAfter,
			DueBefore: in.DueBefore, Overdue: in.Overdue, NoDueDate: in.NoDueDate, Source: splitList(in.Source),
			Q: in.Q, Sort: in.Sort,
		}
		for _, s := range splitList(in.Status) {
			p.Status = append(p.Status, blocknote.Status(s))
		}
		if p.Overdue {
			p.Today = userToday(ctx)
		}
		uuidParam := func(name, v string) (*uuid.UUID, error) {
			if v == "" {
				return nil, nil
			}
			id, err := field.ID(name, v)
			if err != nil {
				return nil, err
			}
			return &id, nil
		}
		var err error
		if p.NoteID, err = uuidParam("note_id", in.NoteID); err != nil {
			return nil, err
		}
		if p.GoalID, err = uuidParam("goal_id", in.GoalID); err != nil {
			return nil, err
		}
		if in.ParentTaskID == "none" {
			p.TopLevel = true
		} else if p.ParentTaskID, err = uuidParam("parent_task_id", in.ParentTaskID); err != nil {
			return nil, err
		}
		res, err := tasks.List(ctx, principal(ctx).User.ID, p)
		if err != nil {
			return nil, err
		}
		return taskList(res), nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "create-task", Method: http.MethodPost, Path: "/tasks",
		Summary: "Create a task", Tags: taskTags, DefaultStatus: http.StatusCreated,
		Description: "Creates the task block: appended to note_id, or as the last subtask of parent_task_id, or " +
			"else in the user's Inbox note (created on first use). The note gets a new version. The response names " +
			"the note_id and block_id, its Location and ETag.",
		RequestBody: jsonExample(map[string]any{"title": "Book the dentist", "priority": "high", "due_date": "2026-03-06",
			"due_time": "09:30", "size": 1}),
		Errors: []int{http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		Body TaskCreateRequest
	}) (*taskCreatedOutput, error) {
		b := in.Body
		f := blocknote.TaskFields{
			Title: strings.TrimSpace(b.Title), Description: b.Description, Status: blocknote.Status(b.Status),
			Priority: blocknote.Priority(b.Priority), DueDate: b.DueDate, DueTime: b.DueTime, Size: b.Size,
			SourceReference: b.SourceReference,
		}
		if b.GoalID != nil {
			f.GoalID = b.GoalID.String()
		}
		if b.Metadata != nil {
			if string(b.Metadata) != "{}" {
				f.Metadata = json.RawMessage(b.Metadata)
			}
		}
		t, err := tasks.Create(ctx, principal(ctx).User.ID, &task.CreateParams{Fields: f, NoteID: b.NoteID, ParentTaskID: b.ParentTaskID})
		if err != nil {
			return nil, err
		}
		out := taskOut(t)
		return &taskCreatedOutput{Location: apiPrefix + "/tasks/" + out.Body.ID.String(), ETag: out.ETag, Body: out.Body}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "get-task", Method: http.MethodGet, Path: "/tasks/{task_id}",
		Summary: "Get a task", Tags: taskTags,
		Description: "One task as the index shows it, with the note and block it lives in. The ETag header carries " +
			"its version, to send back as If-Match with a change.",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *taskPath) (*taskOutput, error) {
		id, err := parseID(in.TaskID, "task")
		if err != nil {
			return nil, err
		}
		t, err := tasks.Get(ctx, principal(ctx).User.ID, id)
		if err != nil {
			return nil, err
		}
		return taskOut(t), nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "update-task", Method: http.MethodPut, Path: "/tasks/{task_id}",
		Summary: "Change a task", Tags: taskTags,
		Description: "Only the fields sent change; null clears a field. The task's block is rewritten in place in its " +
			"note (the rest of the document is untouched) and the note gets a new version. A checkListItem that " +
			"must hold more than done/not done (in_progress, deferred, a priority, a due date, ...) becomes a task " +
			"block with the same id, content and children. With If-Match, a stale task version answers 412.",
		RequestBody: jsonExample(map[string]any{"status": "in_progress", "priority": nil, "due_date": "2026-03-13"}),
		Errors:      []int{http.StatusNotFound, http.StatusPreconditionFailed, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		TaskID  string `path:"task_id" doc:"The task's id." format:"uuid"`
		IfMatch string `header:"If-Match" doc:"The ETag of the task version this change is based on; a stale one answers 412."`
		Body    TaskUpdateRequest
	}) (*taskOutput, error) {
		id, ifv, err := writeTarget(in.TaskID, "task", in.IfMatch)
		if err != nil {
			return nil, err
		}
		b := in.Body
		p := &task.UpdateParams{Description: b.Description, IfVersion: ifv}
		if b.Title != nil {
			t := strings.TrimSpace(*b.Title)
			p.Title = &t
		}
		if b.Status != nil {
			s := blocknote.Status(*b.Status)
			p.Status = &s
		}
		p.Priority = task.Optional[blocknote.Priority]{Set: b.Priority.Set, Clear: b.Priority.Null, Value: blocknote.Priority(b.Priority.Value)}
		p.DueDate = task.Optional[string]{Set: b.DueDate.Set, Clear: b.DueDate.Null, Value: b.DueDate.Value}
		p.DueTime = task.Optional[string]{Set: b.DueTime.Set, Clear: b.DueTime.Null, Value: b.DueTime.Value}
		p.Size = task.Optional[float64]{Set: b.Size.Set, Clear: b.Size.Null, Value: b.Size.Value}
		p.SourceReference = task.Optional[string]{Set: b.SourceReference.Set, Clear: b.SourceReference.Null, Value: b.SourceReference.Value}
		p.GoalID = task.Optional[uuid.UUID]{Set: b.GoalID.Set, Clear: b.GoalID.Null, Value: b.GoalID.Value}
		p.Metadata = task.Optional[json.RawMessage]{Set: b.Metadata.Set, Clear: b.Metadata.Null, Value: json.RawMessage(b.Metadata.Value)}
		t, err := tasks.Update(ctx, principal(ctx).User.ID, id, p)
		if err != nil {
			return nil, err
		}
		return taskOut(t), nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "update-task-status", Method: http.MethodPut, Path: "/tasks/{task_id}/status",
		Summary: "Change a task's status", Tags: taskTags,
		Description: "Sets the status in the task's block (checked on a checkListItem; in_progress or deferred turn " +
			"a checkListItem into a task block). With If-Match, a stale task version answers 412.",
		RequestBody: jsonExample(map[string]any{"status": "completed"}),
		Errors:      []int{http.StatusNotFound, http.StatusPreconditionFailed, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		TaskID  string `path:"task_id" doc:"The task's id." format:"uuid"`
		IfMatch string `header:"If-Match" doc:"The ETag of the task version this change is based on; a stale one answers 412."`
		Body    TaskStatusRequest
	}) (*taskOutput, error) {
		id, ifv, err := writeTarget(in.TaskID, "task", in.IfMatch)
		if err != nil {
			return nil, err
		}
		t, err := tasks.SetStatus(ctx, principal(ctx).User.ID, id, blocknote.Status(in.Body.Status), ifv)
		if err != nil {
			return nil, err
		}
		return taskOut(t), nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "delete-task", Method: http.MethodDelete, Path: "/tasks/{task_id}",
		Summary: "Delete a task", Tags: taskTags, DefaultStatus: http.StatusNoContent,
		Description: "Removes the task's block from its note, with the blocks nested in it (subtasks included); " +
			"the note gets a new version. With If-Match, a stale task version answers 412.",
		Errors: []int{http.StatusNotFound, http.StatusPreconditionFailed},
	}, func(ctx context.Context, in *taskWrite) (*struct{}, error) {
		id, ifv, err := writeTarget(in.TaskID, "task", in.IfMatch)
		if err != nil {
			return nil, err
		}
		return nil, tasks.Delete(ctx, principal(ctx).User.ID, id, ifv)
	})

	huma.Register(authed, huma.Operation{
		OperationID: "list-note-tasks", Method: http.MethodGet, Path: "/notes/{note_id}/tasks",
		Summary: "The tasks in a note", Tags: append([]string{}, "notes", "tasks"),
		Description: "Every task block of the note, in document order.",
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *notePath) (*taskListOutput, error) {
		id, err := parseID(in.NoteID, "note")
		if err != nil {
			return nil, err
		}
		items, err := tasks.OfNote(ctx, principal(ctx).User.ID, id)
		if err != nil {
			return nil, err
		}
		return taskList(&page.Page[*task.Task]{Items: items}), nil
	})
}
