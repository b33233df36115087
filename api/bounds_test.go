package api_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/apperr"
)

// TestDatesAreBounded: every date input accepts years 1 to 9999 and answers
// 422 naming the field otherwise (year 0 reached Postgres and answered 500,
// or was stored as 1 BC), and a summary period whose end cannot be written
// as a JSON time answers 422 instead of a 200 with a broken body.
func TestDatesAreBounded(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)
	g := b.createGoal(t, map[string]any{"title": "g", "due_date": "2026-05-01"})
	tk := b.createTask(t, map[string]any{"title": "t", "due_date": "2026-05-01"})
	refl := b.do(t, "POST", "/api/reflections", map[string]any{"content": "r", "reflection_type": "daily", "period_start": "2026-05-01"})
	require.Equal(t, http.StatusCreated, refl.Status, refl.String())
	r := refl.Map(t)
	snapshot := func() []string {
		var out []string
		for _, p := range []string{"/api/goals", "/api/tasks", "/api/reflections", fmt.Sprintf("/api/notes/%v", tk["note_id"])} {
			res := b.do(t, "GET", p, nil)
			require.Equal(t, http.StatusOK, res.Status, res.String())
			out = append(out, string(res.Body))
		}
		return out
	}
	before := snapshot()

	for _, bad := range []string{"0000-01-01", "0000-12-31"} {
		cases := []struct {
			method, path string
			body         map[string]any
			location     string
		}{
			{"POST", "/api/tasks", map[string]any{"title": "x", "due_date": bad}, "body.due_date"},
			{"PUT", fmt.Sprintf("/api/tasks/%v", tk["id"]), map[string]any{"due_date": bad}, "body.due_date"},
			{"GET", "/api/tasks?due_before=" + bad, nil, "query.due_before"},
			{"GET", "/api/tasks?due_after=" + bad, nil, "query.due_after"},
			{"POST", "/api/goals", map[string]any{"title": "x", "due_date": bad}, "body.due_date"},
			{"PUT", fmt.Sprintf("/api/goals/%v", g["id"]), map[string]any{"due_date": bad}, "body.due_date"},
			{"GET", "/api/goals?due_before=" + bad, nil, "query.due_before"},
			{"GET", "/api/goals?due_after=" + bad, nil, "query.due_after"},
			{"POST", "/api/reflections", map[string]any{"content": "x", "reflection_type": "daily", "period_start": bad}, "body.period_start"},
			{"PUT", fmt.Sprintf("/api/reflections/%v", r["id"]), map[string]any{"period_end": bad}, "body.period_end"},
			{"GET", "/api/reflections?from=" + bad, nil, "query.from"},
			{"GET", "/api/reflections?to=" + bad, nil, "query.to"},
			{"GET", "/api/planning/summary?period=month&date=" + bad, nil, "query.date"},
			{"POST", "/api/notes", map[string]any{"content": []any{map[string]any{"id": "a", "type": "task",
				"props": map[string]any{"dueDate": bad}, "content": "x", "children": []any{}}}}, "body.content[0].props.dueDate"},
		}
		for _, c := range cases {
			res := b.do(t, c.method, c.path, c.body)
			p := requireProblem(t, res, http.StatusUnprocessableEntity)
			requireNamesField(t, p, c.location)
		}
	}
	require.Equal(t, before, snapshot(), "nothing changed")

	// The far end of the range is a date like any other.
	last := b.createTask(t, map[string]any{"title": "last", "due_date": "9999-12-31", "due_time": "23:59"})
	require.Equal(t, "9999-12-31", last["due_date"])
	first := b.createGoal(t, map[string]any{"title": "first", "due_date": "0001-01-01"})
	require.Equal(t, "0001-01-01", first["due_date"])
	res := b.do(t, "GET", "/api/tasks?due_after=9999-12-31&due_before=9999-12-31", nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Len(t, items(t, res), 1)
	res = b.do(t, "GET", "/api/goals?due_before=0001-01-01", nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Len(t, items(t, res), 1)
}

func TestSummaryPeriodsAtTheEndsOfTime(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)
	// The period's end (until) is the midnight after its last day: a period
	// ending on 9999-12-31 ends at 10000-01-01, which JSON cannot hold.
	for _, q := range []string{"period=month&date=9999-12-31", "period=week&date=9999-12-31", "period=quarter&date=9999-12-31",
		"period=month&date=9999-12-01", "period=quarter&date=9999-10-01", "period=week&date=9999-12-27"} {
		res := b.do(t, "GET", "/api/planning/summary?"+q, nil)
		p := requireProblem(t, res, http.StatusUnprocessableEntity)
		requireNamesField(t, p, "query.date")
	}
	// The last periods that end in 9999 and the first ones are served.
	for q, until := range map[string]string{
		"period=month&date=9999-11-30":   "9999-12-01T00:00:00Z",
		"period=quarter&date=9999-09-30": "9999-10-01T00:00:00Z",
		"period=week&date=9999-12-26":    "9999-12-27T00:00:00Z", // Monday 9999-12-20 to Sunday 9999-12-26
		"period=week&date=0001-01-01":    "0001-01-08T00:00:00Z", // 0001-01-01 is a Monday
		"period=month&date=0001-01-31":   "0001-02-01T00:00:00Z",
	} {
		res := b.do(t, "GET", "/api/planning/summary?"+q, nil)
		require.Equal(t, http.StatusOK, res.Status, "%s: %s", q, res)
		var s struct {
			Period struct{ Until string } `json:"period"`
		}
		res.JSON(t, &s)
		require.Equal(t, until, s.Period.Until, q)
	}

	// With weeks starting on Sunday, the week of 0001-01-01 would start in
	// year 0; in a zone west of UTC, the last week's end stays in 9999.
	res := b.do(t, "PUT", "/api/users/preferences", map[string]any{"week_start": "sunday", "timezone": "America/New_York"})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	p := requireProblem(t, b.do(t, "GET", "/api/planning/summary?period=week&date=0001-01-01", nil), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "query.date")
	res = b.do(t, "GET", "/api/planning/summary?period=week&date=0001-01-07", nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	res = b.do(t, "GET", "/api/planning/summary?period=week&date=9999-12-25", nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Contains(t, string(res.Body), `"until":"9999-12-26T00:00:00-05:00"`)
}

// TestVersionNumbersPastInt4: versions are Postgres integers; a larger
// number in a path, a header or a cursor answers 404, 412 or 422, never
// 500, and changes nothing.
func TestVersionNumbersPastInt4(t *testing.T) {
	b := setupNotes(t)
	n := b.create(t, map[string]any{"title": "n"})
	id := n["id"].(string)
	before := b.get(t, id)

	for _, v := range []string{"2147483648", "99999999999", "9223372036854775807"} {
		requireProblem(t, b.do(t, "GET", "/api/notes/"+id+"/versions/"+v, nil), http.StatusNotFound)
		requireProblem(t, b.do(t, "POST", "/api/notes/"+id+"/versions/"+v+"/restore", nil), http.StatusNotFound)
		requireProblem(t, b.do(t, "PUT", "/api/notes/"+id, map[string]any{"title": "changed"}, `If-Match: "`+v+`"`), http.StatusPreconditionFailed)
		requireProblem(t, b.do(t, "POST", "/api/notes/"+id+"/versions/1/restore", nil, `If-Match: "`+v+`"`), http.StatusPreconditionFailed)
		cursor := base64.RawURLEncoding.EncodeToString([]byte(`{"v":` + v + `}`))
		p := requireProblem(t, b.do(t, "GET", "/api/notes/"+id+"/versions?cursor="+cursor, nil), http.StatusUnprocessableEntity)
		requireNamesField(t, p, "query.cursor")
	}
	// Another user's note still reads as not found, whatever the version.
	other := b.e.NewUser()
	requireProblem(t, b.e.Do("GET", "/api/notes/"+id+"/versions/99999999999", nil, other.Bearer()), http.StatusNotFound)
	require.Equal(t, before, b.get(t, id), "nothing changed")

	// Core callers get the same answer as the API.
	_, err := b.e.Notes.Version(t.Context(), uuid.MustParse(b.u.ID), uuid.MustParse(id), 1<<40)
	require.True(t, apperr.Is(err, apperr.NotFound), "%v", err)
}

// TestTaskCursorsAreChecked: a cursor's keys become query arguments cast to
// date and smallint; a forged one answers 422, not 500.
func TestTaskCursorsAreChecked(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)
	for sort, cur := range map[string]string{
		"due_date":  `{"s":"due_date","d":"x","id":"00000000-0000-0000-0000-000000000000"}`,
		"-due_date": `{"s":"-due_date","d":"0000-01-01","id":"00000000-0000-0000-0000-000000000000"}`,
		"priority":  `{"s":"priority","p":99999999999,"d":"2026-01-01","id":"00000000-0000-0000-0000-000000000000"}`,
	} {
		res := b.do(t, "GET", "/api/tasks?sort="+url.QueryEscape(sort)+"&cursor="+base64.RawURLEncoding.EncodeToString([]byte(cur)), nil)
		p := requireProblem(t, res, http.StatusUnprocessableEntity)
		requireNamesField(t, p, "query.cursor")
	}
}
