package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/page"
	"github.com/consilium-hq/consilium/core/plan"
	"github.com/consilium-hq/consilium/core/task"
)

// Goal is a goal as the API shows it.
type Goal struct {
	ID           uuid.UUID  `json:"id"`
	UserID       uuid.UUID  `json:"user_id"`
	Title        string     `json:"title" example:"Run a half marathon"`
	Description  string     `json:"description"`
	Timeframe    string     `json:"timeframe" enum:"long_term,yearly,quarterly,monthly,weekly,daily"`
	ParentGoalID *uuid.UUID `json:"parent_goal_id" nullable:"true" doc:"The goal this one is a sub-goal of; null for a root goal."`
	Status       string     `json:"status" enum:"not_started,in_progress,completed,deferred,abandoned"`
	Progress     int        `json:"progress" minimum:"0" maximum:"100" doc:"0-100. In auto mode: derived from the goal's tasks (weighted by size, deferred ones left out) and child goals."`
	ProgressMode string     `json:"progress_mode" enum:"manual,auto" doc:"auto is the default once a goal has tasks or child goals."`
	Priority     string     `json:"priority" enum:"high,medium,low"`
	DueDate      *string    `json:"due_date" format:"date"`
	Metadata     JSONObject `json:"metadata"`
	Version      int        `json:"version"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	TaskCounts   TaskCounts `json:"task_counts"`
	ChildCount   int        `json:"children_count"`
}

// TaskCounts counts the tasks linked to a goal directly.
type TaskCounts struct {
	Total     int `json:"total"`
	Completed int `json:"completed"`
}

func toGoal(g *plan.Goal) Goal {
	return Goal{
		ID: g.ID, UserID: g.UserID, Title: g.Title, Description: g.Description, Timeframe: g.Timeframe,
		ParentGoalID: g.ParentGoalID, Status: g.Status, Progress: g.Progress, ProgressMode: g.ProgressMode,
		Priority: g.Priority, DueDate: formatDate(g.DueDate), Metadata: JSONObject(g.Metadata), Version: g.Version,
		CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt,
		TaskCounts: TaskCounts{Total: g.TaskTotal, Completed: g.TaskCompleted}, ChildCount: g.ChildrenCount,
	}
}

// GoalRequest creates or changes a goal; PUT changes only the fields sent,
// and null clears parent_goal_id or due_date.
type GoalRequest struct {
	Title        *string            `json:"title,omitempty" minLength:"1" maxLength:"500"`
	Description  *string            `json:"description,omitempty" maxLength:"20000"`
	Timeframe    *string            `json:"timeframe,omitempty" enum:"long_term,yearly,quarterly,monthly,weekly,daily"`
	ParentGoalID patchValue[string] `json:"parent_goal_id,omitempty" doc:"The parent goal's id; null makes it a root goal."`
	Status       *string            `json:"status,omitempty" enum:"not_started,in_progress,completed,deferred,abandoned"`
	Progress     *int               `json:"progress,omitempty" minimum:"0" maximum:"100" doc:"Setting it makes the goal manual unless progress_mode is sent."`
	ProgressMode *string            `json:"progress_mode,omitempty" enum:"manual,auto"`
	Priority     *string            `json:"priority,omitempty" enum:"high,medium,low"`
	DueDate      patchValue[string] `json:"due_date,omitempty" doc:"YYYY-MM-DD; null clears it."`
	Metadata     *JSONObject        `json:"metadata,omitempty"`
}

func (r *GoalRequest) fields() (*plan.GoalFields, error) {
	f := &plan.GoalFields{Title: r.Title, Description: r.Description, Timeframe: r.Timeframe, Status: r.Status,
		Progress: r.Progress, ProgressMode: r.ProgressMode, Priority: r.Priority, Metadata: rawObject(r.Metadata)}
	if r.ParentGoalID.Set {
		var parent *uuid.UUID
		if !r.ParentGoalID.Null {
			id, err := field.ID("parent_goal_id", r.ParentGoalID.Value)
			if err != nil {
				return nil, err
			}
			parent = &id
		}
		f.ParentGoalID = &parent
	}
	if r.DueDate.Set {
		var due *time.Time
		if !r.DueDate.Null {
			d, err := parseDate("due_date", r.DueDate.Value)
			if err != nil {
				return nil, err
			}
			due = d
		}
		f.DueDate = &due
	}
	return f, nil
}

func rawObject(o *JSONObject) *json.RawMessage {
	if o == nil {
		return nil
	}
	raw := json.RawMessage(*o)
	return &raw
}

type goalOutput struct {
	ETag string `header:"ETag"`
	Body Goal
}

func goalOut(g *plan.Goal) *goalOutput {
	return &goalOutput{ETag: versionETag(g.Version), Body: toGoal(g)}
}

// goalCreatedOutput is the 201 of create-goal.
type goalCreatedOutput struct {
	Location string `header:"Location" doc:"The new goal: /api/goals/{goal_id}."`
	ETag     string `header:"ETag"`
	Body     Goal
}

// reflectionCreatedOutput is the 201 of create-reflection.
type reflectionCreatedOutput struct {
	Location string `header:"Location" doc:"The new reflection: /api/reflections/{reflection_id}."`
	Body     Reflection
}

type GoalPathParam struct {
	GoalID string `path:"goal_id" doc:"The goal's id."`
}

func (p *GoalPathParam) id() (uuid.UUID, error) { return parseID(p.GoalID, "goal") }

// GoalList is a page of goals.
type GoalList page.Page[Goal]

// Reflection is a reflection as the API shows it.
type Reflection struct {
	ID             uuid.UUID  `json:"id"`
	UserID         uuid.UUID  `json:"user_id"`
	Content        string     `json:"content"`
	ReflectionType string     `json:"reflection_type" enum:"daily,weekly,monthly,quarterly,yearly,goal_review"`
	GoalID         *uuid.UUID `json:"goal_id" nullable:"true" doc:"The goal a goal_review is about; null otherwise."`
	PeriodStart    *string    `json:"period_start" format:"date"`
	PeriodEnd      *string    `json:"period_end" format:"date"`
	Metadata       JSONObject `json:"metadata"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

func toReflection(r *plan.Reflection) Reflection {
	return Reflection{ID: r.ID, UserID: r.UserID, Content: r.Content, ReflectionType: r.ReflectionType,
		GoalID: r.GoalID, PeriodStart: formatDate(r.PeriodStart), PeriodEnd: formatDate(r.PeriodEnd),
		Metadata: JSONObject(r.Metadata), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// ReflectionRequest creates or changes a reflection; null clears goal_id
// and the period dates.
type ReflectionRequest struct {
	Content        *string            `json:"content,omitempty" minLength:"1"`
	ReflectionType *string            `json:"reflection_type,omitempty" enum:"daily,weekly,monthly,quarterly,yearly,goal_review" doc:"goal_review requires goal_id."`
	GoalID         patchValue[string] `json:"goal_id,omitempty"`
	PeriodStart    patchValue[string] `json:"period_start,omitempty" doc:"YYYY-MM-DD"`
	PeriodEnd      patchValue[string] `json:"period_end,omitempty" doc:"YYYY-MM-DD"`
	Metadata       *JSONObject        `json:"metadata,omitempty"`
}

func (r *ReflectionRequest) fields() (*plan.ReflectionFields, error) {
	f := &plan.ReflectionFields{Content: r.Content, ReflectionType: r.ReflectionType, Metadata: rawObject(r.Metadata)}
	if r.GoalID.Set {
		var id *uuid.UUID
		if !r.GoalID.Null {
			g, err := field.ID("goal_id", r.GoalID.Value)
			if err != nil {
				return nil, err
			}
			id = &g
		}
		f.GoalID = &id
	}
	for _, d := range []struct {
		src *patchValue[string]
		dst ***time.Time
		loc string
	}{{&r.PeriodStart, &f.PeriodStart, "period_start"}, {&r.PeriodEnd, &f.PeriodEnd, "period_end"}} {
		if !d.src.Set {
			continue
		}
		var t *time.Time
		if !d.src.Null {
			p, err := parseDate(d.loc, d.src.Value)
			if err != nil {
				return nil, err
			}
			t = p
		}
		*d.dst = &t
	}
	return f, nil
}

type ReflectionPathParam struct {
	ReflectionID string `path:"reflection_id" doc:"The reflection's id."`
}

func (p *ReflectionPathParam) id() (uuid.UUID, error) { return parseID(p.ReflectionID, "reflection") }

// ReflectionList is a page of reflections.
type ReflectionList page.Page[Reflection]

func registerPlanning(authed huma.API, svc *plan.Service, tasks *task.Service) {
	tags := []string{"planning"}
	huma.Register(authed, huma.Operation{
		OperationID: "list-goals", Method: http.MethodGet, Path: "/goals", Tags: tags,
		Summary: "List goals",
		Description: "The signed-in user's goals, newest first, each with its progress, task counts and number of " +
			"sub-goals; filtered by timeframe, status, parent, due date or text. Page with next_cursor.",
	}, func(ctx context.Context, in *struct {
		Timeframe    string `query:"timeframe" enum:"long_term,yearly,quarterly,monthly,weekly,daily"`
		Status       string `query:"status" enum:"not_started,in_progress,completed,deferred,abandoned"`
		ParentGoalID string `query:"parent_goal_id" format:"uuid" doc:"Only the children of this goal."`
		Root         bool   `query:"root" doc:"Only goals without a parent."`
		DueBefore    string `query:"due_before" format:"date"`
		DueAfter     string `query:"due_after" format:"date"`
		Q            string `query:"q" maxLength:"200" doc:"Full-text search over title and description."`
		Limit        int    `query:"limit" minimum:"1" maximum:"200" doc:"Page size, 50 by default."`
		Cursor       string `query:"cursor"`
	}) (*struct{ Body GoalList }, error) {
		f := &plan.GoalFilter{Timeframe: in.Timeframe, Status: in.Status, Root: in.Root, Q: in.Q, Limit: in.Limit, Cursor: in.Cursor}
		if in.ParentGoalID != "" {
			id, err := field.ID("parent_goal_id", in.ParentGoalID)
			if err != nil {
				return nil, err
			}
			f.ParentGoalID = &id
		}
		var err error
		if f.DueBefore, err = parseDate("due_before", in.DueBefore); err != nil {
			return nil, err
		}
		if f.DueAfter, err = parseDate("due_after", in.DueAfter); err != nil {
			return nil, err
		}
		res, err := svc.ListGoals(ctx, principal(ctx).User.ID, f)
		if err != nil {
			return nil, err
		}
		return &struct{ Body GoalList }{Body: GoalList(page.Map(res, toGoal))}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "create-goal", Method: http.MethodPost, Path: "/goals", Tags: tags,
		Summary: "Create a goal", DefaultStatus: http.StatusCreated,
		Description: "Creates a goal; title is required. parent_goal_id nests it under another of your goals (one " +
			"that names none answers 422). Its progress is what you set (progress_mode manual), or, by default once " +
			"it has tasks or sub-goals, rolled up from them on every read (auto). Tasks join a goal through their " +
			"goal_id. Answers 201 with the goal, its Location and ETag.",
		RequestBody: jsonExample(map[string]any{"title": "Run a half marathon", "description": "Finish in under two hours.",
			"timeframe": "quarterly", "priority": "high", "due_date": "2026-06-30"}),
		Errors: []int{http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct{ Body GoalRequest }) (*goalCreatedOutput, error) {
		f, err := in.Body.fields()
		if err != nil {
			return nil, err
		}
		g, err := svc.CreateGoal(ctx, principal(ctx).User.ID, f)
		if err != nil {
			return nil, err
		}
		out := goalOut(g)
		return &goalCreatedOutput{Location: apiPrefix + "/goals/" + out.Body.ID.String(), ETag: out.ETag, Body: out.Body}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "get-goal", Method: http.MethodGet, Path: "/goals/{goal_id}", Tags: tags,
		Summary: "Get a goal with its progress", Errors: []int{http.StatusNotFound},
		Description: "The goal with its progress (in auto mode rolled up from its tasks and sub-goals on this read), " +
			"its task counts and number of sub-goals. The ETag header carries its version, to send back as If-Match.",
	}, func(ctx context.Context, in *GoalPathParam) (*goalOutput, error) {
		id, err := in.id()
		if err != nil {
			return nil, err
		}
		g, err := svc.GetGoal(ctx, principal(ctx).User.ID, id)
		if err != nil {
			return nil, err
		}
		return goalOut(g), nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "update-goal", Method: http.MethodPut, Path: "/goals/{goal_id}", Tags: tags,
		Summary: "Change a goal",
		Description: "Changes only the fields sent. With If-Match, a stale version answers 412. A parent that would make a cycle " +
			"(the goal itself or any of its sub-goals, at any depth) answers 422: goals nest without a depth limit. " +
			"null clears parent_goal_id (a root goal) or due_date.",
		RequestBody: jsonExample(map[string]any{"status": "in_progress", "progress": 40}),
		Errors:      []int{http.StatusNotFound, http.StatusPreconditionFailed, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		GoalPathParam
		IfMatch string `header:"If-Match"`
		Body    GoalRequest
	}) (*goalOutput, error) {
		id, v, err := writeTarget(in.GoalID, "goal", in.IfMatch)
		if err != nil {
			return nil, err
		}
		f, err := in.Body.fields()
		if err != nil {
			return nil, err
		}
		g, err := svc.UpdateGoal(ctx, principal(ctx).User.ID, id, v, f)
		if err != nil {
			return nil, err
		}
		return goalOut(g), nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "delete-goal", Method: http.MethodDelete, Path: "/goals/{goal_id}", Tags: tags,
		Summary: "Delete a goal", DefaultStatus: http.StatusNoContent,
		Description: "A goal with sub-goals answers 409 unless cascade=true. Its tasks stay and lose the link.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed},
	}, func(ctx context.Context, in *struct {
		GoalPathParam
		IfMatch string `header:"If-Match"`
		Cascade bool   `query:"cascade" doc:"Also delete every sub-goal."`
	}) (*struct{}, error) {
		id, v, err := writeTarget(in.GoalID, "goal", in.IfMatch)
		if err != nil {
			return nil, err
		}
		return nil, svc.DeleteGoal(ctx, principal(ctx).User.ID, id, v, in.Cascade)
	})

	huma.Register(authed, huma.Operation{
		OperationID: "list-goal-tasks", Method: http.MethodGet, Path: "/goals/{goal_id}/tasks", Tags: tags,
		Summary: "List the tasks serving a goal",
		Description: "The tasks whose goal_id is this goal (set through the tasks API or props.goalId in the note), sorted by due date. " +
			"Only your own tasks: a goalId in another user's note never links to your goal.",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		GoalPathParam
		Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
		Cursor string `query:"cursor"`
	}) (*taskListOutput, error) {
		id, err := in.id()
		if err != nil {
			return nil, err
		}
		userID := principal(ctx).User.ID
		if _, err := svc.GetGoal(ctx, userID, id); err != nil {
			return nil, err
		}
		res, err := tasks.List(ctx, userID, &task.ListParams{GoalID: &id, Limit: in.Limit, Cursor: in.Cursor})
		if err != nil {
			return nil, err
		}
		return taskList(res), nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "list-reflections", Method: http.MethodGet, Path: "/reflections", Tags: tags,
		Summary: "List reflections",
		Description: "The signed-in user's reflections, newest first, filtered by type, goal, date or text. from/to " +
			"compare with the reflection's period_start, or the day it was written. Page with next_cursor.",
	}, func(ctx context.Context, in *struct {
		ReflectionType string `query:"reflection_type" enum:"daily,weekly,monthly,quarterly,yearly,goal_review"`
		GoalID         string `query:"goal_id" format:"uuid"`
		From           string `query:"from" format:"date"`
		To             string `query:"to" format:"date"`
		Q              string `query:"q" maxLength:"200"`
		Limit          int    `query:"limit" minimum:"1" maximum:"200"`
		Cursor         string `query:"cursor"`
	}) (*struct{ Body ReflectionList }, error) {
		f := &plan.ReflectionFilter{ReflectionType: in.ReflectionType, Q: in.Q, Limit: in.Limit, Cursor: in.Cursor}
		if in.GoalID != "" {
			id, err := field.ID("goal_id", in.GoalID)
			if err != nil {
				return nil, err
			}
			f.GoalID = &id
		}
		var err error
		if f.From, err = parseDate("from", in.From); err != nil {
			return nil, err
		}
		if f.To, err = parseDate("to", in.To); err != nil {
			return nil, err
		}
		res, err := svc.ListReflections(ctx, principal(ctx).User.ID, f)
		if err != nil {
			return nil, err
		}
		return &struct{ Body ReflectionList }{Body: ReflectionList(page.Map(res, toReflection))}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "create-reflection", Method: http.MethodPost, Path: "/reflections", Tags: tags,
		Summary: "Write a reflection", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusUnprocessableEntity},
		Description: "Writes a reflection on a day, week, month, quarter or year (reflection_type), or a goal_review " +
			"about goal_id; content and reflection_type are required. period_start and period_end (YYYY-MM-DD) " +
			"place it in time; the planning summary shows the reflections of its period. Answers 201 with the " +
			"reflection and its Location.",
		RequestBody: jsonExample(map[string]any{"content": "A calm week: the report went out on time, and two runs were enough.",
			"reflection_type": "weekly", "period_start": "2026-03-02", "period_end": "2026-03-08"}),
	}, func(ctx context.Context, in *struct{ Body ReflectionRequest }) (*reflectionCreatedOutput, error) {
		f, err := in.Body.fields()
		if err != nil {
			return nil, err
		}
		r, err := svc.CreateReflection(ctx, principal(ctx).User.ID, f)
		if err != nil {
			return nil, err
		}
		return &reflectionCreatedOutput{Location: apiPrefix + "/reflections/" + r.ID.String(), Body: toReflection(r)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "get-reflection", Method: http.MethodGet, Path: "/reflections/{reflection_id}", Tags: tags,
		Summary: "Get a reflection", Errors: []int{http.StatusNotFound},
		Description: "One reflection of the signed-in user, with its type, period and goal.",
	}, func(ctx context.Context, in *ReflectionPathParam) (*struct{ Body Reflection }, error) {
		id, err := in.id()
		if err != nil {
			return nil, err
		}
		r, err := svc.GetReflection(ctx, principal(ctx).User.ID, id)
		if err != nil {
			return nil, err
		}
		return &struct{ Body Reflection }{Body: toReflection(r)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "update-reflection", Method: http.MethodPut, Path: "/reflections/{reflection_id}", Tags: tags,
		Summary:     "Change a reflection",
		Description: "Changes only the fields sent; null clears goal_id, period_start or period_end.",
		RequestBody: jsonExample(map[string]any{"content": "A calm week: the report went out on time; next week, three runs."}),
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		ReflectionPathParam
		Body ReflectionRequest
	}) (*struct{ Body Reflection }, error) {
		id, err := in.id()
		if err != nil {
			return nil, err
		}
		f, err := in.Body.fields()
		if err != nil {
			return nil, err
		}
		r, err := svc.UpdateReflection(ctx, principal(ctx).User.ID, id, f)
		if err != nil {
			return nil, err
		}
		return &struct{ Body Reflection }{Body: toReflection(r)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "delete-reflection", Method: http.MethodDelete, Path: "/reflections/{reflection_id}", Tags: tags,
		Summary: "Delete a reflection", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
		Description: "Deletes the reflection for good; it has no history.",
	}, func(ctx context.Context, in *ReflectionPathParam) (*struct{}, error) {
		id, err := in.id()
		if err != nil {
			return nil, err
		}
		return nil, svc.DeleteReflection(ctx, principal(ctx).User.ID, id)
	})

	registerSummary(authed, svc)
}
