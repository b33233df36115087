package tools_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/plan"
)

type goalJSON struct {
	ID             uuid.UUID  `json:"id"`
	Title          string     `json:"title"`
	Status         string     `json:"status"`
	Timeframe      string     `json:"timeframe"`
	Priority       string     `json:"priority"`
	Progress       int        `json:"progress"`
	DueDate        string     `json:"due_date"`
	ParentGoalID   *uuid.UUID `json:"parent_goal_id"`
	TasksTotal     int        `json:"tasks_total"`
	TasksCompleted int        `json:"tasks_completed"`
}

func TestGoals(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	user, other := b.newUser(), b.newUser()

	var created struct {
		Created bool     `json:"created"`
		Goal    goalJSON `json:"goal"`
	}
	c := call(user, "run-9:call-1")
	r, err := b.runCall(c, "create_goal", `{"title": "Run a half marathon", "timeframe": "quarterly", "due_date": "2026-06-30"}`)
	require.NoError(t, err)
	require.Equal(t, `created goal "Run a half marathon"`, r.Summary)
	require.NoError(t, jsonInto(r.Content, &created))
	require.True(t, created.Created)
	g := created.Goal
	require.Equal(t, "quarterly", g.Timeframe)
	require.Equal(t, "2026-06-30", g.DueDate)
	require.Equal(t, "medium", g.Priority, "plan's default")

	// The same call again answers the same goal.
	r, err = b.runCall(c, "create_goal", `{"title": "Run a half marathon", "timeframe": "quarterly", "due_date": "2026-06-30"}`)
	require.NoError(t, err)
	require.NoError(t, jsonInto(r.Content, &created))
	require.False(t, created.Created)
	require.Equal(t, g.ID, created.Goal.ID)
	require.Equal(t, 1, b.counts(user).Goals)

	var sub struct {
		Goal goalJSON `json:"goal"`
	}
	b.ok(user, "create_goal", fmt.Sprintf(`{"title": "Run 10 km", "parent_goal_id": %q, "timeframe": "monthly"}`, g.ID), &sub)
	require.Equal(t, g.ID, *sub.Goal.ParentGoalID)

	// Tasks linked to it count in list_goals.
	x := b.addTask(user, blocknote.TaskFields{Title: "Buy running shoes", GoalID: g.ID.String(), Status: blocknote.StatusCompleted})
	b.addTask(user, blocknote.TaskFields{Title: "Train 3x a week", GoalID: g.ID.String()})
	var listed struct {
		Goals []goalJSON `json:"goals"`
	}
	r = b.ok(user, "list_goals", `{"root": true}`, &listed)
	require.Equal(t, "listed 1 goal", r.Summary)
	require.Equal(t, g.ID, listed.Goals[0].ID)
	require.Equal(t, 2, listed.Goals[0].TasksTotal)
	require.Equal(t, 1, listed.Goals[0].TasksCompleted)
	b.ok(user, "list_goals", `{"timeframe": "monthly"}`, &listed)
	require.Equal(t, []goalJSON{sub.Goal}, listed.Goals)
	b.ok(user, "list_goals", fmt.Sprintf(`{"parent_goal_id": %q}`, g.ID), &listed)
	require.Len(t, listed.Goals, 1)
	b.ok(other, "list_goals", `{}`, &listed)
	require.Empty(t, listed.Goals, "another user sees none")
	require.Equal(t, g.ID.String(), b.task(user, x.ID).GoalID.String())

	var updated struct {
		Goal   goalJSON `json:"goal"`
		Before goalJSON `json:"before"`
	}
	r = b.ok(user, "update_goal", fmt.Sprintf(`{"goal_id": %q, "status": "in_progress", "progress": 40, "due_date": null}`, g.ID), &updated)
	require.Equal(t, `updated goal "Run a half marathon"`, r.Summary)
	require.Equal(t, "in_progress", updated.Goal.Status)
	require.Equal(t, 40, updated.Goal.Progress)
	require.Empty(t, updated.Goal.DueDate, "null clears")
	require.Equal(t, "2026-06-30", updated.Before.DueDate)
	b.ok(user, "update_goal", fmt.Sprintf(`{"goal_id": %q, "parent_goal_id": null}`, sub.Goal.ID), &updated)
	require.Nil(t, updated.Goal.ParentGoalID)

	before := b.counts(user)
	for tool, cases := range map[string]map[string]string{
		"create_goal": {
			`{}`:                                    "title",
			`{"title": "x", "timeframe": "decade"}`: "timeframe",
			`{"title": "x", "progress": 150}`:       "progress",
			`{"title": "x", "due_date": "soon"}`:    "due_date",
			fmt.Sprintf(`{"title": "x", "parent_goal_id": %q}`, uuid.New()): "parent_goal_id",
			`{"title": "x", "goal_id": "` + g.ID.String() + `"}`:            "goal_id",
		},
		"update_goal": {
			fmt.Sprintf(`{"goal_id": %q, "status": "done"}`, g.ID):           "status",
			fmt.Sprintf(`{"goal_id": %q}`, g.ID):                             "",
			fmt.Sprintf(`{"goal_id": %q, "parent_goal_id": %q}`, g.ID, g.ID): "parent_goal_id",
			`{"status": "completed"}`:                                        "goal_id",
		},
		"list_goals": {
			`{"status": "active"}`:  "status",
			`{"timeframe": "year"}`: "timeframe",
			`{"limit": -1}`:         "limit",
		},
	} {
		for args, f := range cases {
			_, err := b.run(user, tool, args)
			requireFields(t, err, f)
		}
	}
	require.Equal(t, before, b.counts(user))
	cur, err := b.app.Plan.GetGoal(context.Background(), user, g.ID)
	require.NoError(t, err)
	require.Equal(t, "in_progress", cur.Status)

	_, err = b.run(other, "update_goal", fmt.Sprintf(`{"goal_id": %q, "title": "Mine"}`, g.ID))
	requireNotFound(t, err)
	cur, err = b.app.Plan.GetGoal(context.Background(), user, g.ID)
	require.NoError(t, err)
	require.Equal(t, "Run a half marathon", cur.Title)
	// A goal id of another user's in a task is no such goal.
	_, err = b.run(other, "create_task", fmt.Sprintf(`{"title": "x", "goal_id": %q}`, g.ID))
	requireFields(t, err, "goal_id")
}

func TestWriteReflection(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	user, other := b.newUser(), b.newUser()
	g, err := b.app.Plan.CreateGoal(context.Background(), user, &plan.GoalFields{Title: ptr("Write a book")})
	require.NoError(t, err)

	var out struct {
		Created    bool `json:"created"`
		Reflection struct {
			ID             uuid.UUID `json:"id"`
			ReflectionType string    `json:"reflection_type"`
			PeriodStart    string    `json:"period_start"`
			PeriodEnd      string    `json:"period_end"`
			Excerpt        string    `json:"excerpt"`
		} `json:"reflection"`
	}
	c := call(user, "run-3:call-2")
	args := `{"content": "A calm week. Finished the draft.", "reflection_type": "weekly", "period_start": "2026-03-02", "period_end": "2026-03-08"}`
	r, err := b.runCall(c, "write_reflection", args)
	require.NoError(t, err)
	require.Equal(t, "wrote a weekly reflection", r.Summary)
	require.NoError(t, jsonInto(r.Content, &out))
	require.True(t, out.Created)
	require.Equal(t, "2026-03-02", out.Reflection.PeriodStart)
	require.Equal(t, "A calm week. Finished the draft.", out.Reflection.Excerpt)
	first := out.Reflection.ID
	r, err = b.runCall(c, "write_reflection", args)
	require.NoError(t, err)
	require.NoError(t, jsonInto(r.Content, &out))
	require.False(t, out.Created)
	require.Equal(t, first, out.Reflection.ID)
	require.Equal(t, 1, b.counts(user).Reflections)

	b.ok(user, "write_reflection", fmt.Sprintf(`{"content": "Two chapters in.", "reflection_type": "goal_review", "goal_id": %q}`, g.ID), &out)
	require.Equal(t, "goal_review", out.Reflection.ReflectionType)

	before, otherBefore := b.counts(user), b.counts(other)
	for args, f := range map[string]string{
		`{"reflection_type": "weekly"}`:                      "content",
		`{"content": "   ", "reflection_type": "weekly"}`:    "content",
		`{"content": "x"}`:                                   "reflection_type",
		`{"content": "x", "reflection_type": "hourly"}`:      "reflection_type",
		`{"content": "x", "reflection_type": "goal_review"}`: "goal_id",
		`{"content": "x", "reflection_type": "daily", "period_start": "2026-03-05", "period_end": "2026-03-01"}`: "period_end",
		`{"content": "x", "reflection_type": "daily", "period_end": "someday"}`:                                  "period_end",
	} {
		_, err := b.run(user, "write_reflection", args)
		requireFields(t, err, f)
	}
	_, err = b.run(other, "write_reflection", fmt.Sprintf(`{"content": "x", "reflection_type": "goal_review", "goal_id": %q}`, g.ID))
	requireFields(t, err, "goal_id")
	require.Equal(t, before, b.counts(user))
	require.Equal(t, otherBefore, b.counts(other))
}

func TestPlanningSummary(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	user, other := b.newUser(), b.newUser()
	b.addTask(user, blocknote.TaskFields{Title: "Late report", DueDate: "2026-03-02"})
	b.addTask(user, blocknote.TaskFields{Title: "Friday review", DueDate: "2026-03-06", Priority: "high"})
	b.addTask(user, blocknote.TaskFields{Title: "Next month", DueDate: "2026-04-06"})
	done := b.addTask(user, blocknote.TaskFields{Title: "Done today"})
	_, err := b.app.Tasks.SetStatus(context.Background(), user, done.ID, blocknote.StatusCompleted, nil)
	require.NoError(t, err)
	_, err = b.app.Plan.CreateGoal(context.Background(), user, &plan.GoalFields{Title: ptr("Ship v1"), Timeframe: ptr("weekly")})
	require.NoError(t, err)
	b.addTask(other, blocknote.TaskFields{Title: "Not yours", DueDate: "2026-03-03"})

	type list struct {
		Count int `json:"count"`
		Tasks []struct {
			Title    string `json:"title"`
			Priority string `json:"priority"`
			DueDate  string `json:"due_date"`
		} `json:"tasks"`
	}
	var s struct {
		Period struct {
			Kind, Start, End, Timezone string
		} `json:"period"`
		Completed list       `json:"completed"`
		DueOpen   list       `json:"due_open"`
		Overdue   list       `json:"overdue"`
		Goals     []goalJSON `json:"goals"`
	}
	// "Done today" was completed at the database's now, not in the week of
	// the tools' fixed clock: it counts in no list of that week.
	r := b.ok(user, "planning_summary", `{"date": "2026-03-04"}`, &s)
	require.Equal(t, "week", s.Period.Kind)
	require.Equal(t, "2026-03-02", s.Period.Start, "weeks start on Monday")
	require.Equal(t, "2026-03-08", s.Period.End)
	require.Equal(t, "UTC", s.Period.Timezone)
	require.Equal(t, 2, s.DueOpen.Count, "due in the week and open: the late report and the review")
	require.Equal(t, "Friday review", s.DueOpen.Tasks[1].Title)
	require.Equal(t, "high", s.DueOpen.Tasks[1].Priority)
	require.Equal(t, 1, s.Overdue.Count, "open and due before today (2026-03-04)")
	require.Equal(t, "Late report", s.Overdue.Tasks[0].Title)
	require.Len(t, s.Goals, 1)
	require.Equal(t, "Ship v1", s.Goals[0].Title)
	require.Equal(t, "week 2026-03-02 to 2026-03-08: 0 completed, 2 due, 1 overdue, 1 goal", r.Summary)

	b.ok(user, "planning_summary", `{"period": "month", "date": "2026-04-15", "items": 1}`, &s)
	require.Equal(t, "2026-04-01", s.Period.Start)
	require.Equal(t, 1, s.DueOpen.Count)

	_, err = b.app.Users.ReplacePreferences(context.Background(), user, []byte(`{"timezone": "America/New_York", "week_start": "Sunday"}`))
	require.NoError(t, err)
	b.ok(user, "planning_summary", `{"date": "2026-03-04"}`, &s)
	require.Equal(t, "2026-03-01", s.Period.Start)
	require.Equal(t, "America/New_York", s.Period.Timezone)

	for args, f := range map[string]string{
		`{"period": "year"}`:   "period",
		`{"date": "tomorrow"}`: "date",
		`{"items": 500}`:       "items",
	} {
		_, err := b.run(user, "planning_summary", args)
		requireFields(t, err, f)
	}
}

func ptr[T any](v T) *T { return &v }
