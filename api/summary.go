package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/plan"
)

// SummaryTask is a task as the review summary lists it.
type SummaryTask struct {
	ID          uuid.UUID  `json:"id"`
	NoteID      uuid.UUID  `json:"note_id"`
	Title       string     `json:"title"`
	Status      string     `json:"status"`
	Priority    *string    `json:"priority" enum:"high,medium,low"`
	DueDate     *string    `json:"due_date" format:"date"`
	CompletedAt *time.Time `json:"completed_at"`
	GoalID      *uuid.UUID `json:"goal_id" nullable:"true" doc:"The goal the task serves; null when none."`
}

// SummaryTaskList is an exact count and the first tasks (see items).
type SummaryTaskList struct {
	Count int           `json:"count"`
	Items []SummaryTask `json:"items" nullable:"false"`
}

// SummaryPeriod is the span a summary covers, in the user's time zone.
type SummaryPeriod struct {
	Kind     string    `json:"kind" enum:"week,month,quarter"`
	Start    string    `json:"start" format:"date" doc:"First day."`
	End      string    `json:"end" format:"date" doc:"Last day (inclusive)."`
	Timezone string    `json:"timezone" example:"Europe/Paris"`
	From     time.Time `json:"from" doc:"The period's first instant."`
	Until    time.Time `json:"until" doc:"The instant the period ends (exclusive)."`
}

// PlanningSummary is what a review screen shows.
type PlanningSummary struct {
	Period         SummaryPeriod   `json:"period"`
	CompletedTasks SummaryTaskList `json:"completed_tasks" doc:"Tasks completed in the period."`
	DueTasks       SummaryTaskList `json:"due_tasks" doc:"Tasks due in the period and still open."`
	OverdueTasks   SummaryTaskList `json:"overdue_tasks" doc:"Open tasks due before today."`
	Goals          []Goal          `json:"goals" nullable:"false" doc:"Goals of the period's timeframe (weekly, monthly, quarterly) due in it or open."`
	Reflections    []Reflection    `json:"reflections" nullable:"false" doc:"Reflections written in the period."`
}

func toSummaryTasks(l plan.TaskList) SummaryTaskList {
	out := SummaryTaskList{Count: l.Count, Items: make([]SummaryTask, 0, len(l.Items))}
	for _, t := range l.Items {
		out.Items = append(out.Items, SummaryTask{ID: t.ID, NoteID: t.NoteID, Title: t.Title, Status: t.Status,
			Priority: t.Priority, DueDate: formatDate(t.DueDate), CompletedAt: t.CompletedAt, GoalID: t.GoalID})
	}
	return out
}

func registerSummary(authed huma.API, svc *plan.Service) {
	huma.Register(authed, huma.Operation{
		OperationID: "get-planning-summary", Method: http.MethodGet, Path: "/planning/summary", Tags: []string{"planning"},
		Summary: "Review summary of a week, month or quarter",
		Description: "For the period containing date: weeks start on the user's week_start preference (Monday by default), " +
			"days are in the user's timezone preference (UTC by default).",
		Errors: []int{http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		Period string `query:"period" enum:"week,month,quarter" default:"week"`
		Date   string `query:"date" format:"date" doc:"Any day of the period; today by default. The period must start on or after 0001-01-01 and end (at the midnight after its last day) by 9999-12-31, else 422: the last month served is November 9999."`
		Items  int    `query:"items" minimum:"1" maximum:"200" default:"50" doc:"How many tasks each list shows at most; counts are always exact."`
	}) (*struct{ Body PlanningSummary }, error) {
		u := principal(ctx).User
		date, err := parseDate("date", in.Date)
		if err != nil {
			return nil, err
		}
		s, err := svc.Summarize(ctx, u.ID, in.Period, date, time.Now(), u.Preferences, in.Items)
		if err != nil {
			return nil, err
		}
		// Huma writes the status before it encodes the body, and
		// time.Time.MarshalJSON fails on a year past 9999: such an instant
		// must never reach the encoder. PeriodFor refuses those periods
		// (422); this keeps any other from turning into a 200 with a
		// broken body.
		if !field.WritableInstant(s.Period.Start) || !field.WritableInstant(s.Period.End) {
			return nil, fmt.Errorf("summary period %s..%s cannot be written as JSON times",
				s.Period.Start.Format(dateLayout), s.Period.End.Format(dateLayout))
		}
		last := s.Period.LastDay()
		out := PlanningSummary{
			Period: SummaryPeriod{Kind: s.Period.Kind, Start: s.Period.Start.Format(dateLayout), End: last.Format(dateLayout),
				Timezone: s.Period.Location.String(), From: s.Period.Start, Until: s.Period.End},
			CompletedTasks: toSummaryTasks(s.Completed),
			DueTasks:       toSummaryTasks(s.DueOpen),
			OverdueTasks:   toSummaryTasks(s.Overdue),
			Goals:          make([]Goal, 0, len(s.Goals)),
			Reflections:    make([]Reflection, 0, len(s.Reflections)),
		}
		for _, g := range s.Goals {
			out.Goals = append(out.Goals, toGoal(g))
		}
		for _, r := range s.Reflections {
			out.Reflections = append(out.Reflections, toReflection(r))
		}
		return &struct{ Body PlanningSummary }{Body: out}, nil
	})
}
