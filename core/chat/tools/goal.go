package tools

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/plan"
)

// goalOut is a goal as the model reads it.
type goalOut struct {
	ID             uuid.UUID  `json:"id"`
	Title          string     `json:"title"`
	Status         string     `json:"status"`
	Timeframe      string     `json:"timeframe"`
	Priority       string     `json:"priority"`
	Progress       int        `json:"progress"`
	DueDate        string     `json:"due_date,omitempty"`
	ParentGoalID   *uuid.UUID `json:"parent_goal_id,omitempty"`
	TasksTotal     int        `json:"tasks_total"`
	TasksCompleted int        `json:"tasks_completed"`
}

func toGoal(g *plan.Goal) goalOut {
	out := goalOut{ID: g.ID, Title: g.Title, Status: g.Status, Timeframe: g.Timeframe, Priority: g.Priority,
		Progress: g.Progress, ParentGoalID: g.ParentGoalID, TasksTotal: g.TaskTotal, TasksCompleted: g.TaskCompleted}
	if g.DueDate != nil {
		out.DueDate = g.DueDate.Format(field.DateLayout)
	}
	return out
}

// checkOneOf refuses a value that is not one of core's allowed values (for
// filters, which core applies as given).
func checkOneOf(name, v string, allowed []string) error {
	if v != "" && !slices.Contains(allowed, v) {
		return apperr.Field(name, "must be one of "+strings.Join(allowed, ", "), v)
	}
	return nil
}

type listGoalsArgs struct {
	Status       string `json:"status"`
	Timeframe    string `json:"timeframe"`
	ParentGoalID string `json:"parent_goal_id"`
	Root         bool   `json:"root"`
	Q            string `json:"q"`
	Limit        int    `json:"limit"`
	Cursor       string `json:"cursor"`
}

func (t *toolset) listGoals() chat.Tool {
	return chat.Tool{
		Name: NameListGoals,
		Description: "List the user's goals, newest first, with their progress (0-100) and how many of their " +
			"tasks are done. Use next_cursor as cursor for more.",
		Effect: chat.EffectRead,
		Parameters: object(map[string]prop{
			"status":         enum("Keep goals with this status.", plan.GoalStatuses),
			"timeframe":      enum("Keep goals of this timeframe.", plan.Timeframes),
			"parent_goal_id": id("Keep the sub-goals of this goal."),
			"root":           boolean("Keep only top-level goals."),
			"q":              strMax("Words to find in titles and descriptions.", plan.MaxQueryLength),
			"limit":          integer("How many goals to answer (default 20).", 1, 200),
			"cursor":         str("next_cursor of the previous answer, for the next page (same filters)."),
		}),
		Run: func(ctx context.Context, call *chat.ToolCall, raw json.RawMessage) (*chat.ToolResult, error) {
			var a listGoalsArgs
			if err := decode(raw, &a); err != nil {
				return nil, err
			}
			if err := checkOneOf("status", a.Status, plan.GoalStatuses); err != nil {
				return nil, err
			}
			if err := checkOneOf("timeframe", a.Timeframe, plan.Timeframes); err != nil {
				return nil, err
			}
			f := &plan.GoalFilter{Status: a.Status, Timeframe: a.Timeframe, Root: a.Root, Q: a.Q, Limit: a.Limit, Cursor: a.Cursor}
			if f.Limit == 0 {
				f.Limit = 20
			}
			var err error
			if f.ParentGoalID, err = optionalID("parent_goal_id", a.ParentGoalID); err != nil {
				return nil, err
			}
			pg, err := t.Plan.ListGoals(ctx, call.UserID, f)
			if err != nil {
				return nil, err
			}
			out := struct {
				Goals      []goalOut `json:"goals"`
				NextCursor string    `json:"next_cursor,omitempty"`
			}{Goals: make([]goalOut, 0, len(pg.Items)), NextCursor: pg.NextCursor}
			for _, g := range pg.Items {
				out.Goals = append(out.Goals, toGoal(g))
			}
			return result(out, "listed "+plural(len(out.Goals), "goal", "goals"))
		},
	}
}

// goalArgs are the fields of create_goal and update_goal.
type updateGoalArgs struct {
	GoalID string `json:"goal_id"`
	goalArgs
}

type goalArgs struct {
	Title        *string          `json:"title"`
	Description  *string          `json:"description"`
	Timeframe    *string          `json:"timeframe"`
	Status       *string          `json:"status"`
	Priority     *string          `json:"priority"`
	Progress     *int             `json:"progress"`
	DueDate      nullable[string] `json:"due_date"`
	ParentGoalID nullable[string] `json:"parent_goal_id"`
}

// fields converts the arguments to core's goal fields; the rules on their
// values are plan's.
func (a *goalArgs) fields() (*plan.GoalFields, error) {
	f := &plan.GoalFields{Title: a.Title, Description: a.Description, Timeframe: a.Timeframe, Status: a.Status,
		Priority: a.Priority, Progress: a.Progress}
	if a.DueDate.Set {
		var d *time.Time
		if !a.DueDate.Null {
			day, err := field.Date("due_date", a.DueDate.Value)
			if err != nil {
				return nil, err
			}
			d = &day
		}
		f.DueDate = &d
	}
	if a.ParentGoalID.Set {
		var p *uuid.UUID
		if !a.ParentGoalID.Null {
			id, err := field.ID("parent_goal_id", a.ParentGoalID.Value)
			if err != nil {
				return nil, err
			}
			p = &id
		}
		f.ParentGoalID = &p
	}
	return f, nil
}

func goalProps(update bool) map[string]prop {
	due := date("Day the goal is due (YYYY-MM-DD).")
	parent := id("The goal this one is part of.")
	if update {
		due, parent = orNull(date("New due day (YYYY-MM-DD); null removes it.")), orNull(id("New parent goal; null makes it top-level."))
	}
	props := map[string]prop{
		"title":          strMax("Short title.", plan.MaxGoalTitleLength),
		"description":    strMax("What achieving it means.", plan.MaxDescriptionLength),
		"timeframe":      enum("Horizon (default long_term).", plan.Timeframes),
		"priority":       enum("Priority (default medium).", plan.Priorities),
		"status":         enum("Status (default not_started).", plan.GoalStatuses),
		"due_date":       due,
		"parent_goal_id": parent,
		"progress":       integer("Progress in percent, set by hand.", 0, 100),
	}
	if update {
		props["goal_id"] = id("The goal to change.")
	}
	return props
}

func (t *toolset) createGoal() chat.Tool {
	return chat.Tool{
		Name:        NameCreateGoal,
		Description: "Create a goal for the user. Answers the goal with its id; link tasks to it with their goal_id.",
		Effect:      chat.EffectWrite,
		Parameters:  object(goalProps(false), "title"),
		Run: func(ctx context.Context, call *chat.ToolCall, raw json.RawMessage) (*chat.ToolResult, error) {
			var a goalArgs
			if err := decode(raw, &a); err != nil {
				return nil, err
			}
			f, err := a.fields()
			if err != nil {
				return nil, err
			}
			meta := provenance(call)
			f.Metadata = &meta
			id, made, err := once(ctx, t.DB.Pool, call, tableGoals, func() (uuid.UUID, error) {
				g, err := t.Plan.CreateGoal(ctx, call.UserID, f)
				if err != nil {
					return uuid.Nil, err
				}
				return g.ID, nil
			})
			if err != nil {
				return nil, err
			}
			g, err := t.Plan.GetGoal(ctx, call.UserID, id)
			if err != nil {
				return nil, err
			}
			summary := "created goal " + quote(g.Title)
			if !made {
				summary = "goal " + quote(g.Title) + " was already created by this call"
			}
			return result(map[string]any{"created": made, "goal": toGoal(g)}, summary)
		},
	}
}

func (t *toolset) updateGoal() chat.Tool {
	return chat.Tool{
		Name: NameUpdateGoal,
		Description: "Change a goal: only the arguments given change, null clears one. Answers the goal as it now " +
			"is and what it was before.",
		Effect:     chat.EffectWrite,
		Parameters: object(goalProps(true), "goal_id"),
		Run: func(ctx context.Context, call *chat.ToolCall, raw json.RawMessage) (*chat.ToolResult, error) {
			var a updateGoalArgs
			if err := decode(raw, &a); err != nil {
				return nil, err
			}
			id, err := field.ID("goal_id", a.GoalID)
			if err != nil {
				return nil, err
			}
			f, err := a.fields()
			if err != nil {
				return nil, err
			}
			if *f == (plan.GoalFields{}) {
				return nil, apperr.Field("", "give at least one field to change besides goal_id", nil)
			}
			before, err := t.Plan.GetGoal(ctx, call.UserID, id)
			if err != nil {
				return nil, err
			}
			after, err := t.Plan.UpdateGoal(ctx, call.UserID, id, nil, f)
			if err != nil {
				return nil, err
			}
			return result(map[string]any{"goal": toGoal(after), "before": toGoal(before)}, "updated goal "+quote(after.Title))
		},
	}
}
