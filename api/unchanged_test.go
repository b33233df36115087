package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGoalAndReflectionUnchangedSave: sending back what GET answered (the
// metadata keys in Postgres' order, or in any other, numbers spelled
// otherwise) keeps a goal's version and ETag and a reflection's
// updated_at; a real change still makes one.
func TestGoalAndReflectionUnchangedSave(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)
	g := b.createGoal(t, map[string]any{"title": "Read", "description": "books", "timeframe": "yearly",
		"priority": "high", "due_date": "2027-01-31", "metadata": map[string]any{"zeta": 1, "alpha": map[string]any{"b": 2, "a": 1}}})
	path := fmt.Sprintf("/api/goals/%v", g["id"])
	res := b.do(t, "GET", path, nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	etag := res.Header.Get("ETag")
	require.NotEmpty(t, etag)
	got := res.Map(t)
	for name, meta := range map[string]string{
		"as read":   rawField(t, res.Body, "metadata"),
		"reordered": `{"alpha":{"a":1.0,"b":2},"zeta":1}`,
	} {
		body := fmt.Sprintf(`{"title":%q,"description":%q,"timeframe":%q,"status":%q,"priority":%q,"due_date":%q,"metadata":%s}`,
			got["title"], got["description"], got["timeframe"], got["status"], got["priority"], got["due_date"], meta)
		res := b.do(t, "PUT", path, body, "If-Match: "+etag)
		require.Equal(t, http.StatusOK, res.Status, res.String())
		require.Equal(t, etag, res.Header.Get("ETag"), name)
		require.Equal(t, got["version"], res.Map(t)["version"], name)
		require.Equal(t, got["updated_at"], res.Map(t)["updated_at"], name)
	}
	res = b.do(t, "PUT", path, map[string]any{"metadata": map[string]any{"zeta": 2}}, "If-Match: "+etag)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.NotEqual(t, etag, res.Header.Get("ETag"))
	require.Equal(t, got["version"].(float64)+1, res.Map(t)["version"])

	r := b.do(t, "POST", "/api/reflections", map[string]any{"content": "went well", "reflection_type": "weekly",
		"period_start": "2026-11-30", "period_end": "2026-12-06", "metadata": map[string]any{"mood": "good", "energy": 3}})
	require.Equal(t, http.StatusCreated, r.Status, r.String())
	refl := r.Map(t)
	rpath := fmt.Sprintf("/api/reflections/%v", refl["id"])
	for _, meta := range []string{rawField(t, r.Body, "metadata"), `{"mood":"good","energy":3.0}`} {
		body := fmt.Sprintf(`{"content":%q,"reflection_type":%q,"period_start":%q,"period_end":%q,"metadata":%s}`,
			refl["content"], refl["reflection_type"], refl["period_start"], refl["period_end"], meta)
		res := b.do(t, "PUT", rpath, body)
		require.Equal(t, http.StatusOK, res.Status, res.String())
		require.Equal(t, refl["updated_at"], res.Map(t)["updated_at"], meta)
	}
	res = b.do(t, "PUT", rpath, map[string]any{"content": "went very well"})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.NotEqual(t, refl["updated_at"], res.Map(t)["updated_at"])
	require.Equal(t, "went very well", res.Map(t)["content"])
}

// rawField is a member of a JSON object as it was written.
func rawField(t *testing.T, body []byte, name string) string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &m))
	require.Contains(t, m, name)
	return string(m[name])
}

// TestTaskUnchangedSave: a task sent back as GET answered it (every
// writable field, metadata keys in Postgres' order or another), or its
// status set to what it is, keeps the task's and its note's version.
func TestTaskUnchangedSave(t *testing.T) {
	t.Parallel()
	b := setupPlanning(t)
	tk := b.createTask(t, map[string]any{"title": "Book the dentist", "description": "before March", "priority": "high",
		"due_date": "2027-03-01", "due_time": "09:30", "size": 2.5, "source_reference": "ext-1",
		"metadata": map[string]any{"zeta": []any{1, 2}, "alpha": map[string]any{"y": true, "x": "é"}}})
	path := fmt.Sprintf("/api/tasks/%v", tk["id"])
	res := b.do(t, "GET", path, nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	etag := res.Header.Get("ETag")
	got := res.Map(t)
	noteVersion := func() any {
		t.Helper()
		res := b.do(t, "GET", fmt.Sprintf("/api/notes/%v", got["note_id"]), nil)
		require.Equal(t, http.StatusOK, res.Status, res.String())
		return res.Map(t)["version"]
	}
	before := noteVersion()
	writable := []string{"title", "description", "status", "priority", "due_date", "due_time", "size", "source_reference", "goal_id"}
	for name, meta := range map[string]string{
		"as read":   rawField(t, res.Body, "metadata"),
		"reordered": `{ "alpha": {"x": "\u00e9", "y": true}, "zeta": [1.0, 2] }`,
	} {
		body := map[string]any{}
		for _, k := range writable {
			body[k] = got[k]
		}
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		raw = append(raw[:len(raw)-1], `,"metadata":`+meta+`}`...)
		res := b.do(t, "PUT", path, raw, "If-Match: "+etag)
		require.Equal(t, http.StatusOK, res.Status, res.String())
		require.Equal(t, etag, res.Header.Get("ETag"), name)
		require.Equal(t, got["version"], res.Map(t)["version"], name)
	}
	res = b.do(t, "PUT", path+"/status", map[string]any{"status": got["status"]}, "If-Match: "+etag)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, etag, res.Header.Get("ETag"))
	require.Equal(t, before, noteVersion(), "the note made no version")

	res = b.do(t, "PUT", path, map[string]any{"metadata": map[string]any{"zeta": []any{1, 3}}}, "If-Match: "+etag)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.NotEqual(t, etag, res.Header.Get("ETag"))
	require.Equal(t, before.(float64)+1, noteVersion())
}
