package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
)

// servedOperation is one operation of the served OpenAPI document, as much
// of it as these tests read.
type servedOperation struct {
	Method, Path string
	ID           string
	// Security is the raw "security" member: nil when absent, "[]" when
	// the operation declares that it needs no token.
	Security  json.RawMessage
	Responses map[string]struct {
		Headers map[string]json.RawMessage `json:"headers"`
	}
}

func servedOperations(t *testing.T, e *apitest.Env) []servedOperation {
	t.Helper()
	res := e.Do(http.MethodGet, "/api/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.Status)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	res.JSON(t, &doc)
	var ops []servedOperation
	for path, item := range doc.Paths {
		for method, raw := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
			default:
				continue
			}
			var op struct {
				OperationID string          `json:"operationId"`
				Security    json.RawMessage `json:"security"`
				Responses   map[string]struct {
					Headers map[string]json.RawMessage `json:"headers"`
				} `json:"responses"`
			}
			require.NoError(t, json.Unmarshal(raw, &op), "%s %s", method, path)
			ops = append(ops, servedOperation{Method: strings.ToUpper(method), Path: path, ID: op.OperationID,
				Security: op.Security, Responses: op.Responses})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].ID < ops[j].ID })
	require.NotEmpty(t, ops)
	return ops
}

// Every operation states its security: the public ones `security: []`
// (Redocly's security-defined rule), the others a bearer requirement and
// the 401 they answer without a valid token.
func TestOpenAPISecurityDeclared(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	public := map[string]bool{}
	for _, op := range servedOperations(t, e) {
		require.NotNil(t, op.Security, "%s (%s %s) declares no security", op.ID, op.Method, op.Path)
		var reqs []map[string][]string
		require.NoError(t, json.Unmarshal(op.Security, &reqs), "%s", op.ID)
		if len(reqs) == 0 {
			public[op.ID] = true
			continue
		}
		require.Contains(t, op.Responses, "401", "%s requires a token but does not declare 401", op.ID)
		require.Contains(t, op.Responses, "429", "%s is rate limited per user but does not declare 429", op.ID)
	}
	require.Equal(t, map[string]bool{"register": true, "login": true, "refresh-token": true, "oauth-callback": true}, public,
		"the operations that need no bearer token")
}

// Every 201 carries a Location header, declared in the document; a real
// create answers one that a GET finds.
func TestOpenAPICreatedLocation(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	created := map[string]bool{}
	for _, op := range servedOperations(t, e) {
		r, ok := op.Responses["201"]
		if !ok {
			continue
		}
		created[op.ID] = true
		require.Contains(t, r.Headers, "Location", "%s answers 201 without declaring Location", op.ID)
	}
	require.Equal(t, map[string]bool{"register": true, "create-note": true, "create-task": true,
		"create-goal": true, "create-reflection": true, "create-conversation": true, "accept-mail-suggestion": true}, created, "the operations that answer 201")

	u := e.NewUser()
	for _, c := range []struct {
		path, prefix string
		body         map[string]any
	}{
		{"/api/notes", "/api/notes/", map[string]any{"title": "located"}},
		{"/api/tasks", "/api/tasks/", map[string]any{"title": "located"}},
		{"/api/goals", "/api/goals/", map[string]any{"title": "located"}},
		{"/api/reflections", "/api/reflections/", map[string]any{"content": "located", "reflection_type": "daily"}},
		{"/api/conversations", "/api/conversations/", map[string]any{"title": "located"}},
	} {
		res := e.Do(http.MethodPost, c.path, c.body, u.Bearer())
		require.Equal(t, http.StatusCreated, res.Status, "%s: %s", c.path, res)
		loc := res.Header.Get("Location")
		require.Equal(t, c.prefix+res.Map(t)["id"].(string), loc, c.path)
		got := e.Do(http.MethodGet, loc, nil, u.Bearer())
		require.Equal(t, http.StatusOK, got.Status, "GET %s: %s", loc, got)
		require.Equal(t, res.Map(t)["id"], got.Map(t)["id"])
	}

	res := e.Do(http.MethodPost, "/api/auth/register", map[string]any{"email": "located@example.com", "password": "password-located"})
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	require.Equal(t, "/api/users/me", res.Header.Get("Location"))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	res.JSON(t, &tok)
	me := e.Do(http.MethodGet, res.Header.Get("Location"), nil, "Authorization: Bearer "+tok.AccessToken)
	require.Equal(t, http.StatusOK, me.Status, me.String())
	require.Equal(t, "located@example.com", me.Map(t)["email"])
}

// servedDocument is the served document, decoded.
func servedDocument(t *testing.T, e *apitest.Env) map[string]any {
	t.Helper()
	res := e.Do(http.MethodGet, "/api/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.Status)
	return res.Map(t)
}

// Each operation declares 404, 409, 412 and 422 exactly where they can
// happen: 404 for an id in its path, 412 for If-Match, 422 for a body, a
// query or a path parameter the server checks (a malformed uuid, a version
// below 1), 409 where the operation says what conflicts. The contract check
// of every test's responses (apitest/contract.go) proves the other half:
// no operation answers a status it does not declare.
func TestOpenAPIErrorsDeclared(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	want := map[string][]string{
		"list-plugins": {}, "list-agents": {}, "list-agents-post": {}, "get-index-status": {}, "list-tags": {},
		"get-current-user": {}, "get-preferences": {},
		"list-mail-suggestions": {"422"}, "accept-mail-suggestion": {"404", "409", "422"}, "dismiss-mail-suggestion": {"404", "409", "422"},
		"list-documents": {"422"}, "process-document": {"422"}, "query-rag": {"422"}, "transcribe-image": {"422"},
		"get-document": {"404", "422"}, "delete-document": {"404", "422"},
		"register": {"409", "422"}, "login": {"422"}, "refresh-token": {"422"}, "logout": {"422"},
		"update-current-user": {"409", "422"}, "replace-preferences": {"422"},
		"list-goals": {"422"}, "create-jobs-ui-session": {}, "create-goal": {"422"}, "get-goal": {"404"}, "update-goal": {"404", "412", "422"},
		"delete-goal": {"404", "409", "412", "422"}, "list-goal-tasks": {"404", "422"},
		"list-notes": {"422"}, "create-note": {"422"}, "get-note": {"404", "422"}, "update-note": {"404", "412", "422"},
		"delete-note": {"404", "412", "422"}, "list-note-backlinks": {"404", "422"}, "list-note-tasks": {"404", "422"},
		"list-note-versions": {"404", "422"}, "get-note-version": {"404", "422"}, "restore-note-version": {"404", "412", "422"},
		"get-planning-summary": {"422"}, "list-reflections": {"422"}, "create-reflection": {"422"}, "get-reflection": {"404"},
		"update-reflection": {"404", "422"}, "delete-reflection": {"404"},
		"list-tasks": {"422"}, "create-task": {"422"}, "get-task": {"404", "422"}, "update-task": {"404", "412", "422"},
		"update-task-status": {"404", "412", "422"}, "delete-task": {"404", "412", "422"},
		"list-conversations": {"422"}, "create-conversation": {"422"}, "get-conversation": {"404", "422"},
		"update-conversation": {"404", "422"}, "delete-conversation": {"404", "422"}, "list-messages": {"404", "422"},
		"send-message": {"404", "409", "422"}, "get-run": {"404", "422"}, "cancel-run": {"404", "422"},
		"stream-conversation-events": {"404", "422"}, "create-chat-ticket": {"404", "422"},
		"answer-approval": {"404", "409", "422"},
		"list-providers":  {}, "connect-provider": {"404", "422"}, "oauth-callback": {"404", "422"},
		"disconnect-provider": {"404", "422"}, "connection-status": {"404", "422"}, "sync-provider": {"404", "422"},
		"sync-tasks": {"404"}, "list-external-tasks": {"422"},
	}
	got := map[string][]string{}
	for _, op := range servedOperations(t, e) {
		got[op.ID] = []string{}
		for _, code := range []string{"404", "409", "412", "422"} {
			if _, ok := op.Responses[code]; ok {
				got[op.ID] = append(got[op.ID], code)
			}
		}
		require.NotContains(t, op.Responses, "default", "%s: every status is declared on its own", op.ID)
		require.Contains(t, op.Responses, "500", op.ID)
		require.Contains(t, op.Responses, "503", op.ID)
	}
	require.Equal(t, want, got)
}

// The document reads well for the frontend developer: every operation
// says what it does, every request body has an example, schema names are
// the API's own (no names Huma made up from an operation id), and the
// overview says how to get a token.
func TestOpenAPIDocumentation(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	doc := servedDocument(t, e)
	overview := doc["info"].(map[string]any)["description"].(string)
	for _, s := range []string{"POST /api/auth/register", "POST /api/auth/login", "POST /api/auth/refresh", "Authorization: Bearer"} {
		require.Contains(t, overview, s, "the overview says how to get and renew a token")
	}
	for name := range doc["components"].(map[string]any)["schemas"].(map[string]any) {
		require.Regexp(t, `^[A-Z][A-Za-z0-9]*$`, name)
		require.NotRegexp(t, `(Body|Response|Output|Input|Struct|Item|JSON)$`, name, "a schema name made up from Go or Huma internals")
	}
	for path, item := range doc["paths"].(map[string]any) {
		for method, raw := range item.(map[string]any) {
			op := raw.(map[string]any)
			id := op["operationId"]
			require.NotEmpty(t, op["summary"], "%s %s", method, path)
			require.GreaterOrEqual(t, len(fmt.Sprint(op["description"])), 40, "%s has no description worth the name", id)
			if rb, ok := op["requestBody"].(map[string]any); ok {
				for ct, m := range rb["content"].(map[string]any) {
					require.NotNil(t, m.(map[string]any)["example"], "%s: no %s example", id, ct)
				}
			}
		}
	}
}

// A nullable field whose values are an enum lists null among them, and the
// fields that answer null say so.
func TestOpenAPINullableFields(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	doc := servedDocument(t, e)
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if types, ok := x["type"].([]any); ok && slices.Contains(types, "null") {
				if enum, ok := x["enum"].([]any); ok {
					require.Contains(t, enum, nil, "%s is nullable, so its enum must list null", at)
				}
			}
			for k, y := range x {
				walk(at+"/"+k, y)
			}
		case []any:
			for i, y := range x {
				walk(fmt.Sprintf("%s/%d", at, i), y)
			}
		}
	}
	walk("#", doc)

	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for _, f := range []string{"Task.goal_id", "Task.parent_task_id", "Task.priority", "Task.due_date", "Note.parent_id",
		"NoteSummary.parent_id", "NoteVersion.parent_id", "Goal.parent_goal_id", "Goal.due_date", "Reflection.goal_id",
		"SummaryTask.goal_id", "SummaryTask.priority"} {
		schema, prop, _ := strings.Cut(f, ".")
		p := schemas[schema].(map[string]any)["properties"].(map[string]any)[prop].(map[string]any)
		require.Contains(t, p["type"], "null", "%s answers null", f)
	}
}
