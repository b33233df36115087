package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/plan"
)

type reflectionArgs struct {
	Content        *string `json:"content"`
	ReflectionType *string `json:"reflection_type"`
	GoalID         string  `json:"goal_id"`
	PeriodStart    string  `json:"period_start"`
	PeriodEnd      string  `json:"period_end"`
}

type reflectionOut struct {
	ID             uuid.UUID  `json:"id"`
	ReflectionType string     `json:"reflection_type"`
	GoalID         *uuid.UUID `json:"goal_id,omitempty"`
	PeriodStart    string     `json:"period_start,omitempty"`
	PeriodEnd      string     `json:"period_end,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	// Excerpt is the start of the content.
	Excerpt string `json:"excerpt"`
}

const excerptLength = 200

func toReflection(r *plan.Reflection) reflectionOut {
	out := reflectionOut{ID: r.ID, ReflectionType: r.ReflectionType, GoalID: r.GoalID, CreatedAt: r.CreatedAt,
		Excerpt: r.Content}
	if c := []rune(r.Content); len(c) > excerptLength {
		out.Excerpt = string(c[:excerptLength-1]) + "…"
	}
	if r.PeriodStart != nil {
		out.PeriodStart = r.PeriodStart.Format(field.DateLayout)
	}
	if r.PeriodEnd != nil {
		out.PeriodEnd = r.PeriodEnd.Format(field.DateLayout)
	}
	return out
}

func optionalDate(name, s string) (**time.Time, error) {
	if s == "" {
		return nil, nil
	}
	d, err := field.Date(name, s)
	if err != nil {
		return nil, err
	}
	p := &d
	return &p, nil
}

func (t *toolset) writeReflection() chat.Tool {
	return chat.Tool{
		Name: NameWriteReflection,
		Description: "Record a reflection the user wrote or agreed to: looking back on a day, week, month, quarter, " +
			"year, or on a goal (goal_review, with goal_id). Write it in the user's words.",
		Effect: chat.EffectWrite,
		Parameters: object(map[string]prop{
			"content":         strMax("The reflection's text (Markdown).", plan.MaxReflectionLength),
			"reflection_type": enum("What it looks back on.", plan.ReflectionKind),
			"goal_id":         id("The goal it reviews (required for goal_review)."),
			"period_start":    date("First day of the period it covers (YYYY-MM-DD)."),
			"period_end":      date("Last day of the period it covers (YYYY-MM-DD)."),
		}, "content", "reflection_type"),
		Run: func(ctx context.Context, call *chat.ToolCall, raw json.RawMessage) (*chat.ToolResult, error) {
			var a reflectionArgs
			if err := decode(raw, &a); err != nil {
				return nil, err
			}
			meta := provenance(call)
			f := &plan.ReflectionFields{Content: a.Content, ReflectionType: a.ReflectionType, Metadata: &meta}
			var err error
			if a.GoalID != "" {
				g, err := field.ID("goal_id", a.GoalID)
				if err != nil {
					return nil, err
				}
				gp := &g
				f.GoalID = &gp
			}
			if f.PeriodStart, err = optionalDate("period_start", a.PeriodStart); err != nil {
				return nil, err
			}
			if f.PeriodEnd, err = optionalDate("period_end", a.PeriodEnd); err != nil {
				return nil, err
			}
			id, made, err := once(ctx, t.DB.Pool, call, tableReflections, func() (uuid.UUID, error) {
				r, err := t.Plan.CreateReflection(ctx, call.UserID, f)
				if err != nil {
					return uuid.Nil, err
				}
				return r.ID, nil
			})
			if err != nil {
				return nil, err
			}
			r, err := t.Plan.GetReflection(ctx, call.UserID, id)
			if err != nil {
				return nil, err
			}
			summary := "wrote a " + r.ReflectionType + " reflection"
			if !made {
				summary = "the " + r.ReflectionType + " reflection was already written by this call"
			}
			return result(map[string]any{"created": made, "reflection": toReflection(r)}, summary)
		},
	}
}

type summaryList struct {
	Count int           `json:"count"`
	Tasks []summaryTask `json:"tasks"`
}

type summaryTask struct {
	ID        uuid.UUID  `json:"id"`
	Title     string     `json:"title"`
	Status    string     `json:"status"`
	Priority  string     `json:"priority,omitempty"`
	DueDate   string     `json:"due_date,omitempty"`
	GoalID    *uuid.UUID `json:"goal_id,omitempty"`
	Untrusted bool       `json:"untrusted,omitempty"`
}

func toSummaryList(l plan.TaskList) summaryList {
	out := summaryList{Count: l.Count, Tasks: make([]summaryTask, 0, len(l.Items))}
	for _, x := range l.Items {
		s := summaryTask{ID: x.ID, Title: x.Title, Status: x.Status, GoalID: x.GoalID}
		if x.Priority != nil {
			s.Priority = *x.Priority
		}
		if x.DueDate != nil {
			s.DueDate = x.DueDate.Format(field.DateLayout)
		}
		out.Tasks = append(out.Tasks, s)
	}
	return out
}

func (t *toolset) planningSummary() chat.Tool {
	return chat.Tool{
		Name: NamePlanningSummary,
		Description: "The review summary of a week, month or quarter in the user's time zone: tasks completed in " +
			"it, open tasks due in it, overdue tasks, the goals of that timeframe and the reflections written in it. " +
			"Counts are exact; task lists are capped by items.",
		Effect: chat.EffectRead,
		Parameters: object(map[string]prop{
			"period": enum("Which period (default week).", []string{"week", "month", "quarter"}),
			"date":   date("Any day of the period (YYYY-MM-DD); default today."),
			"items":  integer("How many tasks each list shows at most (default 20).", 1, plan.MaxSummaryItems),
		}),
		Run: func(ctx context.Context, call *chat.ToolCall, raw json.RawMessage) (*chat.ToolResult, error) {
			var a struct {
				Period string `json:"period"`
				Date   string `json:"date"`
				Items  int    `json:"items"`
			}
			if err := decode(raw, &a); err != nil {
				return nil, err
			}
			if a.Period == "" {
				a.Period = "week"
			}
			if a.Items == 0 {
				a.Items = 20
			}
			d, err := field.OptionalDate("date", a.Date)
			if err != nil {
				return nil, err
			}
			_, prefs, err := t.location(ctx, call.UserID)
			if err != nil {
				return nil, err
			}
			s, err := t.Plan.Summarize(ctx, call.UserID, a.Period, d, t.Now(), prefs, a.Items)
			if err != nil {
				return nil, err
			}
			out := struct {
				Period struct {
					Kind     string `json:"kind"`
					Start    string `json:"start"`
					End      string `json:"end"`
					Timezone string `json:"timezone"`
				} `json:"period"`
				Completed   summaryList     `json:"completed"`
				DueOpen     summaryList     `json:"due_open"`
				Overdue     summaryList     `json:"overdue"`
				Goals       []goalOut       `json:"goals"`
				Reflections []reflectionOut `json:"reflections"`
			}{Completed: toSummaryList(s.Completed), DueOpen: toSummaryList(s.DueOpen), Overdue: toSummaryList(s.Overdue),
				Goals: make([]goalOut, 0, len(s.Goals)), Reflections: make([]reflectionOut, 0, len(s.Reflections))}
			out.Period.Kind, out.Period.Timezone = s.Period.Kind, s.Period.Location.String()
			out.Period.Start, out.Period.End = s.Period.Start.Format(field.DateLayout), s.Period.LastDay().Format(field.DateLayout)
			for _, g := range s.Goals {
				out.Goals = append(out.Goals, toGoal(g))
			}
			outside, err := t.outsideTasks(ctx, call.UserID, &out.Completed, &out.DueOpen, &out.Overdue)
			if err != nil {
				return nil, err
			}
			for _, r := range s.Reflections {
				out.Reflections = append(out.Reflections, toReflection(r))
			}
			summary := fmt.Sprintf("%s %s to %s: %d completed, %d due, %d overdue, %s", s.Period.Kind, out.Period.Start,
				out.Period.End, s.Completed.Count, s.DueOpen.Count, s.Overdue.Count, plural(len(s.Goals), "goal", "goals"))
			r, err := result(out, summary)
			if err != nil {
				return nil, err
			}
			r.Untrusted = outside
			return r, nil
		},
	}
}

// outsideTasks marks the listed tasks that came from outside (the summary
// does not carry sources) and reports whether there is one.
func (t *toolset) outsideTasks(ctx context.Context, userID uuid.UUID, lists ...*summaryList) (bool, error) {
	var ids []uuid.UUID
	for _, l := range lists {
		for _, x := range l.Tasks {
			ids = append(ids, x.ID)
		}
	}
	if len(ids) == 0 {
		return false, nil
	}
	rows, err := t.DB.Pool.Query(ctx, `SELECT id FROM tasks WHERE user_id = $1 AND id = ANY($2) AND NOT source = ANY($3)`,
		userID, ids, blocknote.BuiltinSources)
	if err != nil {
		return false, fmt.Errorf("read task sources: %w", err)
	}
	outside, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return false, fmt.Errorf("read task sources: %w", err)
	}
	for _, l := range lists {
		for i := range l.Tasks {
			l.Tasks[i].Untrusted = slices.Contains(outside, l.Tasks[i].ID)
		}
	}
	return len(outside) > 0, nil
}
