package api_test

import (
	"encoding/json"
	"net/http"
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
	require.Equal(t, map[string]bool{"register": true, "login": true, "refresh-token": true}, public,
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
		"create-goal": true, "create-reflection": true, "create-conversation": true}, created, "the operations that answer 201")

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
