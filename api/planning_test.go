package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
)

type planningBundle struct {
	e *apitest.Env
	u *apitest.User
}

func setupPlanning(t *testing.T) *planningBundle {
	t.Helper()
	e := apitest.New(t, apitest.Options{})
	return &planningBundle{e: e, u: e.NewUser()}
}

func (b *planningBundle) do(t *testing.T, method, path string, body any, headers ...string) *apitest.Response {
	t.Helper()
	return b.e.Do(method, path, body, append([]string{b.u.Bearer()}, headers...)...)
}

// createGoal posts a goal and returns its JSON.
func (b *planningBundle) createGoal(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	res := b.do(t, "POST", "/api/goals", body)
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	return res.Map(t)
}

func (b *planningBundle) goal(t *testing.T, id any) map[string]any {
	t.Helper()
	res := b.do(t, "GET", fmt.Sprintf("/api/goals/%v", id), nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	return res.Map(t)
}

// createTask posts a task (into the user's Inbox note unless note_id is given).
func (b *planningBundle) createTask(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	res := b.do(t, "POST", "/api/tasks", body)
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	return res.Map(t)
}

func (b *planningBundle) setStatus(t *testing.T, taskID any, status string) map[string]any {
	t.Helper()
	res := b.do(t, "PUT", fmt.Sprintf("/api/tasks/%v/status", taskID), map[string]any{"status": status})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	return res.Map(t)
}

func TestGoalCRUD(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)

	res := b.do(t, "POST", "/api/goals", map[string]any{"title": "  Run a half marathon ", "timeframe": "yearly",
		"due_date": "2026-10-01", "priority": "high", "metadata": map[string]any{"color": "green"}})
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	require.Equal(t, `"1"`, res.Header.Get("ETag"))
	g := res.Map(t)
	require.Equal(t, "Run a half marathon", g["title"])
	require.Equal(t, "yearly", g["timeframe"])
	require.Equal(t, "not_started", g["status"])
	require.Equal(t, "manual", g["progress_mode"], "a goal without tasks or children is manual")
	require.EqualValues(t, 0, g["progress"])
	require.Equal(t, "2026-10-01", g["due_date"])
	require.Equal(t, map[string]any{"total": float64(0), "completed": float64(0)}, g["task_counts"])
	require.EqualValues(t, 0, g["children_count"])
	require.Equal(t, b.u.ID, g["user_id"])
	id := g["id"]

	res = b.do(t, "PUT", fmt.Sprintf("/api/goals/%v", id), map[string]any{"progress": 30, "status": "in_progress"})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	g = res.Map(t)
	require.EqualValues(t, 30, g["progress"])
	require.Equal(t, "in_progress", g["status"])
	require.Equal(t, "Run a half marathon", g["title"], "fields not sent stay")
	require.Equal(t, "2026-10-01", g["due_date"])
	require.EqualValues(t, 2, g["version"])

	res = b.do(t, "PUT", fmt.Sprintf("/api/goals/%v", id), map[string]any{"title": "stale"}, `If-Match: "1"`)
	requireProblem(t, res, http.StatusPreconditionFailed)
	res = b.do(t, "PUT", fmt.Sprintf("/api/goals/%v", id), map[string]any{"due_date": nil}, `If-Match: "2"`)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Nil(t, res.Map(t)["due_date"], "null clears the due date")
	require.Equal(t, "Run a half marathon", b.goal(t, id)["title"], "the refused change changed nothing")

	for name, body := range map[string]map[string]any{
		"body.title":     {"title": ""},
		"body.timeframe": {"title": "x", "timeframe": "someday"},
		"body.progress":  {"title": "x", "progress": 101},
		"body.due_date":  {"title": "x", "due_date": "tomorrow"},
		"body.status":    {"title": "x", "status": "done"},
		"body.metadata":  {"title": "x", "metadata": []int{1}},
	} {
		p := requireProblem(t, b.do(t, "POST", "/api/goals", body), http.StatusUnprocessableEntity)
		requireNamesField(t, p, name)
	}

	res = b.do(t, "DELETE", fmt.Sprintf("/api/goals/%v", id), nil)
	require.Equal(t, http.StatusNoContent, res.Status, res.String())
	requireProblem(t, b.do(t, "GET", fmt.Sprintf("/api/goals/%v", id), nil), http.StatusNotFound)
}

func TestGoalListFiltersAndPages(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)
	root := b.createGoal(t, map[string]any{"title": "Health", "timeframe": "yearly"})
	for i := range 5 {
		b.createGoal(t, map[string]any{"title": fmt.Sprintf("Swim %d", i), "timeframe": "weekly",
			"parent_goal_id": root["id"], "due_date": fmt.Sprintf("2026-12-0%d", i+1)})
	}
	b.createGoal(t, map[string]any{"title": "Read more books", "timeframe": "monthly", "status": "completed"})

	list := func(q string) []any {
		res := b.do(t, "GET", "/api/goals?"+q, nil)
		require.Equal(t, http.StatusOK, res.Status, res.String())
		return res.Map(t)["items"].([]any)
	}
	require.Len(t, list("timeframe=weekly"), 5)
	require.Len(t, list("root=true"), 2)
	require.Len(t, list("parent_goal_id="+root["id"].(string)), 5)
	require.Len(t, list("status=completed"), 1)
	require.Len(t, list("due_after=2026-12-02&due_before=2026-12-04"), 3)
	require.Len(t, list("q=books"), 1)

	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		require.Less(t, page, 10)
		res := b.do(t, "GET", "/api/goals?limit=3&cursor="+cursor, nil)
		require.Equal(t, http.StatusOK, res.Status, res.String())
		body := res.Map(t)
		for _, it := range body["items"].([]any) {
			seen = append(seen, it.(map[string]any)["id"].(string))
		}
		next, _ := body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	require.Len(t, seen, 7)
	require.Len(t, uniq(seen), 7, "no goal appears on two pages")
	requireProblem(t, b.do(t, "GET", "/api/goals?cursor=garbage", nil), http.StatusUnprocessableEntity)
}

func TestGoalHierarchyRefusesCycles(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)
	a := b.createGoal(t, map[string]any{"title": "A"})
	bb := b.createGoal(t, map[string]any{"title": "B", "parent_goal_id": a["id"]})
	c := b.createGoal(t, map[string]any{"title": "C", "parent_goal_id": bb["id"]})

	p := requireProblem(t, b.do(t, "PUT", fmt.Sprintf("/api/goals/%v", a["id"]), map[string]any{"parent_goal_id": c["id"]}), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "body.parent_goal_id")
	requireProblem(t, b.do(t, "PUT", fmt.Sprintf("/api/goals/%v", a["id"]), map[string]any{"parent_goal_id": a["id"]}), http.StatusUnprocessableEntity)
	require.Nil(t, b.goal(t, a["id"])["parent_goal_id"], "a refused change changes nothing")

	res := b.do(t, "PUT", fmt.Sprintf("/api/goals/%v", c["id"]), map[string]any{"parent_goal_id": nil})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Nil(t, res.Map(t)["parent_goal_id"])
	res = b.do(t, "PUT", fmt.Sprintf("/api/goals/%v", a["id"]), map[string]any{"parent_goal_id": c["id"]})
	require.Equal(t, http.StatusOK, res.Status, "once C is no longer below A, A may go under C: %s", res)

	other := b.e.NewUser()
	foreign := b.e.Do("POST", "/api/goals", map[string]any{"title": "theirs"}, other.Bearer()).Map(t)
	p = requireProblem(t, b.do(t, "POST", "/api/goals", map[string]any{"title": "x", "parent_goal_id": foreign["id"]}), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "body.parent_goal_id")
}

func TestGoalProgressRollsUpThreeLevels(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)
	root := b.createGoal(t, map[string]any{"title": "Year", "timeframe": "yearly"})
	mid := b.createGoal(t, map[string]any{"title": "Quarter", "timeframe": "quarterly", "parent_goal_id": root["id"]})
	leaf := b.createGoal(t, map[string]any{"title": "Week", "timeframe": "weekly", "parent_goal_id": mid["id"]})

	sized := b.createTask(t, map[string]any{"title": "long run", "size": 3, "goal_id": leaf["id"]})
	unsized := b.createTask(t, map[string]any{"title": "stretch", "goal_id": leaf["id"]})
	deferred := b.createTask(t, map[string]any{"title": "race abroad", "size": 5, "status": "deferred", "goal_id": leaf["id"]})
	midTask := b.createTask(t, map[string]any{"title": "plan", "size": 2, "goal_id": mid["id"]})
	rootTask := b.createTask(t, map[string]any{"title": "buy shoes", "goal_id": root["id"]})
	_ = deferred

	b.setStatus(t, sized["id"], "completed")
	b.setStatus(t, midTask["id"], "completed")
	b.setStatus(t, rootTask["id"], "completed")

	// leaf: sized 3 done + unsized 1 open (deferred 5 left out) = 3/4 = 75
	// mid:  own 2 done + leaf (weight 4 at 75%) = (200 + 300) / 6 = 83
	// root: own 1 done + mid (weight 6 at 83%) = (100 + 498) / 7 = 85
	g := b.goal(t, leaf["id"])
	require.EqualValues(t, 75, g["progress"])
	require.Equal(t, "auto", g["progress_mode"])
	require.Equal(t, map[string]any{"total": float64(3), "completed": float64(1)}, g["task_counts"])
	require.EqualValues(t, 83, b.goal(t, mid["id"])["progress"])
	g = b.goal(t, root["id"])
	require.EqualValues(t, 85, g["progress"])
	require.EqualValues(t, 1, g["children_count"])

	// Completing every counted task reports 100 without completing goals.
	b.setStatus(t, unsized["id"], "completed")
	for _, id := range []any{leaf["id"], mid["id"], root["id"]} {
		g := b.goal(t, id)
		require.EqualValues(t, 100, g["progress"], "goal %v", g["title"])
		require.Equal(t, "not_started", g["status"], "progress never completes a goal by itself")
	}

	// A manual child counts with the value the user set.
	res := b.do(t, "PUT", fmt.Sprintf("/api/goals/%v", mid["id"]), map[string]any{"progress": 40})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, "manual", res.Map(t)["progress_mode"])
	// root: own 1 done + mid (weight 6 at 40%) = (100 + 240) / 7 = 48
	require.EqualValues(t, 48, b.goal(t, root["id"])["progress"])
	res = b.do(t, "PUT", fmt.Sprintf("/api/goals/%v", mid["id"]), map[string]any{"progress_mode": "auto"})
	require.Equal(t, http.StatusOK, res.Status)
	require.EqualValues(t, 100, res.Map(t)["progress"])

	// Moving a task off the goal is reflected at once.
	res = b.do(t, "PUT", fmt.Sprintf("/api/tasks/%v", unsized["id"]), map[string]any{"goal_id": nil, "status": "not_started"})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.EqualValues(t, 100, b.goal(t, leaf["id"])["progress"])
	b.setStatus(t, sized["id"], "in_progress")
	require.EqualValues(t, 0, b.goal(t, leaf["id"])["progress"])

	res = b.do(t, "GET", fmt.Sprintf("/api/goals/%v/tasks", leaf["id"]), nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Len(t, res.Map(t)["items"], 2)
}

func TestGoalLinkLivesInTheNote(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)
	g1 := b.createGoal(t, map[string]any{"title": "G1"})
	g2 := b.createGoal(t, map[string]any{"title": "G2"})
	tk := b.createTask(t, map[string]any{"title": "linked", "goal_id": g1["id"]})
	require.Equal(t, g1["id"], tk["goal_id"])
	noteID := tk["note_id"].(string)

	noteRes := b.do(t, "GET", "/api/notes/"+noteID, nil)
	require.Equal(t, http.StatusOK, noteRes.Status)
	block := findBlock(t, noteRes.Map(t)["content"], tk["block_id"].(string))
	require.Equal(t, g1["id"], block["props"].(map[string]any)["goalId"], "the goal link is in the block's props")
	v1 := noteRes.Header.Get("ETag")

	// Changing props.goalId in the note moves the task to the other goal.
	content := noteRes.Map(t)["content"].([]any)
	setGoalProp(content, tk["block_id"].(string), g2["id"])
	res := b.do(t, "PUT", "/api/notes/"+noteID, map[string]any{"content": content})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, g2["id"], b.do(t, "GET", fmt.Sprintf("/api/tasks/%v", tk["id"]), nil).Map(t)["goal_id"])
	require.Equal(t, map[string]any{"total": float64(1), "completed": float64(0)}, b.goal(t, g2["id"])["task_counts"])
	require.Equal(t, map[string]any{"total": float64(0), "completed": float64(0)}, b.goal(t, g1["id"])["task_counts"])

	// Restoring the earlier version brings the first link back.
	res = b.do(t, "POST", fmt.Sprintf("/api/notes/%s/versions/%s/restore", noteID, trimQuotes(v1)), nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, g1["id"], b.do(t, "GET", fmt.Sprintf("/api/tasks/%v", tk["id"]), nil).Map(t)["goal_id"])
	require.EqualValues(t, 1, b.goal(t, g1["id"])["task_counts"].(map[string]any)["total"])

	// Deleting the goal keeps the task and removes the link, in the note too.
	require.Equal(t, http.StatusNoContent, b.do(t, "DELETE", fmt.Sprintf("/api/goals/%v", g1["id"]), nil).Status)
	after := b.do(t, "GET", fmt.Sprintf("/api/tasks/%v", tk["id"]), nil)
	require.Equal(t, http.StatusOK, after.Status)
	require.Nil(t, after.Map(t)["goal_id"])
	block = findBlock(t, b.do(t, "GET", "/api/notes/"+noteID, nil).Map(t)["content"], tk["block_id"].(string))
	require.Empty(t, block["props"].(map[string]any)["goalId"], "the block no longer names the goal")
}

func trimQuotes(s string) string {
	if len(s) >= 2 && s[0] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

func findBlock(t *testing.T, content any, id string) map[string]any {
	t.Helper()
	var walk func(bs []any) map[string]any
	walk = func(bs []any) map[string]any {
		for _, raw := range bs {
			blk := raw.(map[string]any)
			if blk["id"] == id {
				return blk
			}
			if kids, ok := blk["children"].([]any); ok {
				if found := walk(kids); found != nil {
					return found
				}
			}
		}
		return nil
	}
	blk := walk(content.([]any))
	require.NotNil(t, blk, "block %s not in the note", id)
	return blk
}

func setGoalProp(content []any, id string, goal any) {
	for _, raw := range content {
		blk := raw.(map[string]any)
		if blk["id"] == id {
			blk["props"].(map[string]any)["goalId"] = goal
		}
		if kids, ok := blk["children"].([]any); ok {
			setGoalProp(kids, id, goal)
		}
	}
}

func TestGoalDeleteWithChildren(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)
	root := b.createGoal(t, map[string]any{"title": "root"})
	child := b.createGoal(t, map[string]any{"title": "child", "parent_goal_id": root["id"]})
	grandchild := b.createGoal(t, map[string]any{"title": "grandchild", "parent_goal_id": child["id"]})
	tk := b.createTask(t, map[string]any{"title": "serves the grandchild", "goal_id": grandchild["id"]})
	refl := b.do(t, "POST", "/api/reflections", map[string]any{"content": "went well", "reflection_type": "goal_review", "goal_id": grandchild["id"]})
	require.Equal(t, http.StatusCreated, refl.Status, refl.String())

	p := requireProblem(t, b.do(t, "DELETE", fmt.Sprintf("/api/goals/%v", root["id"]), nil), http.StatusConflict)
	require.Contains(t, p["detail"], "cascade=true")
	b.goal(t, grandchild["id"]) // still there

	require.Equal(t, http.StatusNoContent, b.do(t, "DELETE", fmt.Sprintf("/api/goals/%v?cascade=true", root["id"]), nil).Status)
	for _, g := range []map[string]any{root, child, grandchild} {
		requireProblem(t, b.do(t, "GET", fmt.Sprintf("/api/goals/%v", g["id"]), nil), http.StatusNotFound)
	}
	res := b.do(t, "GET", fmt.Sprintf("/api/tasks/%v", tk["id"]), nil)
	require.Equal(t, http.StatusOK, res.Status, "tasks outlive their goals")
	require.Nil(t, res.Map(t)["goal_id"])
	r := b.do(t, "GET", fmt.Sprintf("/api/reflections/%v", refl.Map(t)["id"]), nil)
	require.Equal(t, http.StatusOK, r.Status, "reflections outlive their goals")
	require.Nil(t, r.Map(t)["goal_id"])
}

func TestReflections(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)
	g := b.createGoal(t, map[string]any{"title": "Learn Go"})

	p := requireProblem(t, b.do(t, "POST", "/api/reflections", map[string]any{"content": "x", "reflection_type": "goal_review"}), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "body.goal_id")
	p = requireProblem(t, b.do(t, "POST", "/api/reflections", map[string]any{"content": "x", "reflection_type": "daily",
		"period_start": "2026-11-02", "period_end": "2026-11-01"}), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "body.period_end")

	mk := func(body map[string]any) map[string]any {
		res := b.do(t, "POST", "/api/reflections", body)
		require.Equal(t, http.StatusCreated, res.Status, res.String())
		return res.Map(t)
	}
	weekly := mk(map[string]any{"content": "A calm week of deliberate practice", "reflection_type": "weekly",
		"period_start": "2026-11-16", "period_end": "2026-11-22"})
	review := mk(map[string]any{"content": "Generics finally clicked", "reflection_type": "goal_review", "goal_id": g["id"]})
	mk(map[string]any{"content": "Tired", "reflection_type": "daily", "period_start": "2026-11-03", "period_end": "2026-11-03"})

	list := func(q string) []any {
		res := b.do(t, "GET", "/api/reflections?"+q, nil)
		require.Equal(t, http.StatusOK, res.Status, res.String())
		return res.Map(t)["items"].([]any)
	}
	require.Len(t, list(""), 3)
	require.Len(t, list("reflection_type=weekly"), 1)
	require.Len(t, list("goal_id="+g["id"].(string)), 1)
	require.Len(t, list("from=2026-11-10&to=2026-11-20"), 1)
	require.Len(t, list("q=deliberate"), 1)

	res := b.do(t, "PUT", fmt.Sprintf("/api/reflections/%v", weekly["id"]), map[string]any{"content": "A calm week, revised"})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, "A calm week, revised", res.Map(t)["content"])
	require.Equal(t, "2026-11-16", res.Map(t)["period_start"])
	requireProblem(t, b.do(t, "PUT", fmt.Sprintf("/api/reflections/%v", review["id"]), map[string]any{"goal_id": nil}), http.StatusUnprocessableEntity)

	require.Equal(t, http.StatusNoContent, b.do(t, "DELETE", fmt.Sprintf("/api/reflections/%v", weekly["id"]), nil).Status)
	require.Len(t, list(""), 2)
}

func TestPlanningIsScopedToItsUser(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)
	g := b.createGoal(t, map[string]any{"title": "mine"})
	r := b.do(t, "POST", "/api/reflections", map[string]any{"content": "mine", "reflection_type": "daily"}).Map(t)
	intruder := b.e.NewUser()

	for _, c := range []struct{ method, path string }{
		{"GET", "/api/goals/%v"}, {"PUT", "/api/goals/%v"}, {"DELETE", "/api/goals/%v"}, {"GET", "/api/goals/%v/tasks"},
	} {
		var body any
		if c.method == "PUT" {
			body = map[string]any{"title": "hijacked"}
		}
		requireProblem(t, b.e.Do(c.method, fmt.Sprintf(c.path, g["id"]), body, intruder.Bearer()), http.StatusNotFound)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/reflections/%v"}, {"PUT", "/api/reflections/%v"}, {"DELETE", "/api/reflections/%v"},
	} {
		var body any
		if c.method == "PUT" {
			body = map[string]any{"content": "hijacked"}
		}
		requireProblem(t, b.e.Do(c.method, fmt.Sprintf(c.path, r["id"]), body, intruder.Bearer()), http.StatusNotFound)
	}
	requireProblem(t, b.e.Do("GET", "/api/goals/not-a-uuid", nil, intruder.Bearer()), http.StatusNotFound)
	p := requireProblem(t, b.e.Do("POST", "/api/reflections", map[string]any{"content": "x", "reflection_type": "goal_review", "goal_id": g["id"]}, intruder.Bearer()), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "body.goal_id")
	require.Empty(t, b.e.Do("GET", "/api/goals", nil, intruder.Bearer()).Map(t)["items"])
	require.Empty(t, b.e.Do("GET", "/api/reflections", nil, intruder.Bearer()).Map(t)["items"])

	require.Equal(t, "mine", b.goal(t, g["id"])["title"], "nothing the intruder sent changed the goal")
}

func TestPlanningSummaryBoundaries(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)
	// Weeks start on Sunday in Tokyo (UTC+9) for this user.
	res := b.do(t, "PUT", "/api/users/preferences", map[string]any{"timezone": "Asia/Tokyo", "week_start": "sunday"})
	require.Equal(t, http.StatusOK, res.Status)

	// A fixed past week, so that nothing done "now" falls in it: the week of
	// Wed 2025-03-12 is Sun 2025-03-09 .. Sat 2025-03-15 in Tokyo, i.e.
	// [2025-03-08T15:00Z, 2025-03-15T15:00Z).
	start := time.Date(2025, 3, 8, 15, 0, 0, 0, time.UTC)
	end := time.Date(2025, 3, 15, 15, 0, 0, 0, time.UTC)
	completedAt := map[string]time.Time{
		"second before": start.Add(-time.Second),
		"first instant": start,
		"last second":   end.Add(-time.Second),
		"second after":  end,
	}
	ids := map[string]string{}
	for name, at := range completedAt {
		tk := b.createTask(t, map[string]any{"title": name})
		b.setStatus(t, tk["id"], "completed")
		_, err := b.e.DB.Pool.Exec(t.Context(), `UPDATE tasks SET completed_at = $2 WHERE id = $1`, tk["id"], at)
		require.NoError(t, err)
		ids[name] = tk["id"].(string)
	}
	b.createTask(t, map[string]any{"title": "due sunday", "due_date": "2025-03-09"})
	b.createTask(t, map[string]any{"title": "due saturday", "due_date": "2025-03-15"})
	b.createTask(t, map[string]any{"title": "due next sunday", "due_date": "2025-03-16"})
	done := b.createTask(t, map[string]any{"title": "due and done", "due_date": "2025-03-11"})
	b.setStatus(t, done["id"], "completed")
	_, err := b.e.DB.Pool.Exec(t.Context(), `UPDATE tasks SET completed_at = '2025-02-01T12:00:00Z' WHERE id = $1`, done["id"])
	require.NoError(t, err)
	b.createTask(t, map[string]any{"title": "long overdue", "due_date": "2020-01-01"})
	b.createGoal(t, map[string]any{"title": "this week's goal", "timeframe": "weekly", "due_date": "2025-03-15"})
	b.createGoal(t, map[string]any{"title": "next week's goal", "timeframe": "weekly", "due_date": "2025-03-22"})
	b.createGoal(t, map[string]any{"title": "a monthly goal", "timeframe": "monthly"})
	b.do(t, "POST", "/api/reflections", map[string]any{"content": "written now", "reflection_type": "weekly"})

	res = b.do(t, "GET", "/api/planning/summary?period=week&date=2025-03-12", nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	s := res.Map(t)
	period := s["period"].(map[string]any)
	require.Equal(t, "2025-03-09", period["start"])
	require.Equal(t, "2025-03-15", period["end"])
	require.Equal(t, "Asia/Tokyo", period["timezone"])

	titles := func(list any) []string {
		var out []string
		for _, it := range list.(map[string]any)["items"].([]any) {
			out = append(out, it.(map[string]any)["title"].(string))
		}
		return out
	}
	require.ElementsMatch(t, []string{"first instant", "last second"}, titles(s["completed_tasks"]),
		"completed a second before or at the end instant is outside the week")
	require.EqualValues(t, 2, s["completed_tasks"].(map[string]any)["count"])
	require.ElementsMatch(t, []string{"due sunday", "due saturday"}, titles(s["due_tasks"]))
	require.Contains(t, titles(s["overdue_tasks"]), "long overdue")
	require.NotContains(t, titles(s["overdue_tasks"]), "due and done")
	var goals []string
	for _, g := range s["goals"].([]any) {
		goals = append(goals, g.(map[string]any)["title"].(string))
	}
	require.Equal(t, []string{"this week's goal"}, goals)
	require.Empty(t, s["reflections"], "the reflection was written now, not in that week")

	// The same instant falls in the previous week for a Monday-starting UTC user.
	res = b.do(t, "PUT", "/api/users/preferences", map[string]any{})
	require.Equal(t, http.StatusOK, res.Status)
	s = b.do(t, "GET", "/api/planning/summary?period=week&date=2025-03-09", nil).Map(t)
	require.Equal(t, "2025-03-03", s["period"].(map[string]any)["start"])
	require.ElementsMatch(t, []string{"second before", "first instant"}, titles(s["completed_tasks"]),
		"2025-03-08T14:59:59Z and 15:00Z are both Saturday in UTC")

	requireProblem(t, b.do(t, "GET", "/api/planning/summary?period=year", nil), http.StatusUnprocessableEntity)
	requireProblem(t, b.do(t, "GET", "/api/planning/summary?date=25/11/2026", nil), http.StatusUnprocessableEntity)
	require.Equal(t, http.StatusOK, b.do(t, "GET", "/api/planning/summary?period=quarter", nil).Status)
}

func TestTaskCompletedAtAndGoalChecks(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)
	tk := b.createTask(t, map[string]any{"title": "water plants"})
	require.Nil(t, tk["completed_at"])

	before := time.Now().Add(-time.Minute)
	done := b.setStatus(t, tk["id"], "completed")
	at, err := time.Parse(time.RFC3339Nano, done["completed_at"].(string))
	require.NoError(t, err)
	require.True(t, at.After(before), "completed_at is the moment it was completed")

	// Another change keeps the moment; leaving completed clears it.
	res := b.do(t, "PUT", fmt.Sprintf("/api/tasks/%v", tk["id"]), map[string]any{"title": "water all plants"})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, done["completed_at"], res.Map(t)["completed_at"])
	require.Nil(t, b.setStatus(t, tk["id"], "in_progress")["completed_at"])

	// A checklist item ticked in the editor gets one too.
	note := b.do(t, "POST", "/api/notes", map[string]any{"title": "list", "content": []any{
		map[string]any{"id": "c1", "type": "checkListItem", "props": map[string]any{"checked": true},
			"content": []any{map[string]any{"type": "text", "text": "ticked", "styles": map[string]any{}}}, "children": []any{}},
	}})
	require.Equal(t, http.StatusCreated, note.Status, note.String())
	items := b.do(t, "GET", fmt.Sprintf("/api/notes/%v/tasks", note.Map(t)["id"]), nil).Map(t)["items"].([]any)
	require.Len(t, items, 1)
	require.NotNil(t, items[0].(map[string]any)["completed_at"])

	other := b.e.NewUser()
	theirs := b.e.Do("POST", "/api/goals", map[string]any{"title": "theirs"}, other.Bearer()).Map(t)
	p := requireProblem(t, b.do(t, "POST", "/api/tasks", map[string]any{"title": "x", "goal_id": theirs["id"]}), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "body.goal_id")
	p = requireProblem(t, b.do(t, "PUT", fmt.Sprintf("/api/tasks/%v", tk["id"]), map[string]any{"goal_id": theirs["id"]}), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "body.goal_id")
	require.Nil(t, b.do(t, "GET", fmt.Sprintf("/api/tasks/%v", tk["id"]), nil).Map(t)["goal_id"])
}
