package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/integration/integrationtest"
)

// exampleOperation is an operation of the served document that takes a
// body, with the examples it documents.
type exampleOperation struct {
	ID, Method, Path string
	// Examples by media type, as the document serves them.
	Examples map[string]json.RawMessage
	// Binary names the multipart fields that are files.
	Binary map[string]bool
	Public bool
}

func exampleOperations(t *testing.T, e *apitest.Env) []exampleOperation {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string            `json:"operationId"`
			Security    []json.RawMessage `json:"security"`
			RequestBody *struct {
				Content map[string]struct {
					Example json.RawMessage `json:"example"`
					Schema  struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Format string `json:"format"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	res := e.Do(http.MethodGet, "/api/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.Status)
	res.JSON(t, &doc)
	var ops []exampleOperation
	for path, item := range doc.Paths {
		for method, op := range item {
			if op.RequestBody == nil {
				continue
			}
			o := exampleOperation{ID: op.OperationID, Method: strings.ToUpper(method), Path: path,
				Examples: map[string]json.RawMessage{}, Binary: map[string]bool{}, Public: len(op.Security) == 0}
			for ct, m := range op.RequestBody.Content {
				require.NotEmpty(t, m.Example, "%s documents no %s example", o.ID, ct)
				o.Examples[ct] = m.Example
				schema := doc.Components.Schemas[strings.TrimPrefix(m.Schema.Ref, "#/components/schemas/")]
				for name, p := range schema.Properties {
					if p.Format == "binary" {
						o.Binary[name] = true
					}
				}
			}
			ops = append(ops, o)
		}
	}
	slices.SortFunc(ops, func(a, b exampleOperation) int { return strings.Compare(a.ID, b.ID) })
	return ops
}

// Every request example of the document is one the server accepts: each
// operation that takes a body gets its documented example, as served, and
// answers 2xx (and, like every response in these tests, matches the
// document). What the test must supply itself is only what names
// something of this user: the ids in the path, a live refresh token, an
// email not taken yet, and the image of a transcription (no image fits in
// a JSON document).
func TestOpenAPIRequestExamples(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Models: aitest.LocalHost(t), Hello: true})
	u := e.NewUser()
	ids := map[string]string{"provider": integrationtest.HelloName}
	for param, path := range map[string]string{"note_id": "/api/notes", "task_id": "/api/tasks", "goal_id": "/api/goals"} {
		res := e.Do(http.MethodPost, path, map[string]any{"title": "example target"}, u.Bearer())
		require.Equal(t, http.StatusCreated, res.Status, res.String())
		ids[param] = res.Map(t)["id"].(string)
	}
	res := e.Do(http.MethodPost, "/api/reflections", map[string]any{"content": "example target", "reflection_type": "daily"}, u.Bearer())
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	ids["reflection_id"] = res.Map(t)["id"].(string)
	res = e.Do(http.MethodPost, "/api/conversations", map[string]any{"title": "example target"}, u.Bearer())
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	ids["conversation_id"] = res.Map(t)["id"].(string)
	ids["approval_id"] = pendingApproval(t, e, u, ids["conversation_id"])
	scan, err := aitest.ScannedPage([]string{"Weekly plan", "[ ] buy milk"})
	require.NoError(t, err)

	email := "example-" + uuid.NewString()[:8] + "@example.com"
	var refreshToken string
	ops := exampleOperations(t, e)
	// register before login (it creates the account the login example
	// signs in to), refresh after login.
	order := map[string]int{"register": -3, "login": -2, "refresh-token": -1}
	slices.SortStableFunc(ops, func(a, b exampleOperation) int { return order[a.ID] - order[b.ID] })
	var seen []string
	for _, op := range ops {
		seen = append(seen, op.ID)
		path := "/api" + op.Path
		for param, id := range ids {
			path = strings.ReplaceAll(path, "{"+param+"}", id)
		}
		require.NotContains(t, path, "{", "%s: a path parameter this test does not fill", op.ID)
		bearer := u.Bearer()
		if op.ID == "logout" {
			bearer = e.NewUser().Bearer() // logging out ends the session of its bearer token
		}
		for ct, raw := range op.Examples {
			headers := []string{"Content-Type: " + ct}
			if !op.Public {
				headers = append(headers, bearer)
			}
			var body []byte
			switch ct {
			case "application/json":
				body = raw
				var fields map[string]any
				if json.Unmarshal(raw, &fields) == nil {
					if _, ok := fields["email"]; ok && op.Public {
						fields["email"] = email
					}
					if _, ok := fields["conversation_id"]; ok {
						fields["conversation_id"] = ids["conversation_id"]
					}
					if _, ok := fields["refresh_token"]; ok {
						if op.ID == "logout" {
							delete(fields, "refresh_token") // the other user's session ends by its bearer token
						} else {
							fields["refresh_token"] = refreshToken
						}
					}
					body, err = json.Marshal(fields)
					require.NoError(t, err)
				}
			case "multipart/form-data":
				var fields map[string]any
				require.NoError(t, json.Unmarshal(raw, &fields), op.ID)
				var buf bytes.Buffer
				w := multipart.NewWriter(&buf)
				for name, v := range fields {
					switch {
					case op.ID == "transcribe-image" && name == "image":
						fw, err := w.CreateFormFile(name, "page.png")
						require.NoError(t, err)
						_, err = fw.Write(scan)
						require.NoError(t, err)
					case op.Binary[name]:
						fw, err := w.CreateFormFile(name, "example.txt")
						require.NoError(t, err)
						_, err = fw.Write([]byte(v.(string)))
						require.NoError(t, err)
					default:
						require.NoError(t, w.WriteField(name, fmt.Sprint(v)))
					}
				}
				require.NoError(t, w.Close())
				body, headers[0] = buf.Bytes(), "Content-Type: "+w.FormDataContentType()
			default:
				t.Fatalf("%s: no way to send an example of %s", op.ID, ct)
			}
			res := e.Do(op.Method, path, body, headers...)
			require.True(t, res.Status >= 200 && res.Status < 300, "%s (%s) with its %s example: %s", op.ID, path, ct, res)
			if op.ID == "login" || op.ID == "refresh-token" {
				refreshToken = res.Map(t)["refresh_token"].(string)
			}
		}
	}
	require.Subset(t, seen, []string{"register", "login", "refresh-token", "logout", "create-note", "update-note",
		"create-task", "update-task", "update-task-status", "create-goal", "update-goal", "create-reflection",
		"update-reflection", "update-current-user", "replace-preferences", "query-rag", "process-document", "transcribe-image",
		"create-conversation", "update-conversation", "send-message", "create-chat-ticket", "answer-approval"})
}

// pendingApproval stores an approval of the user's conversation waiting
// for its answer, as the orchestrator does when an agent's action needs one.
func pendingApproval(t testing.TB, e *apitest.Env, u *apitest.User, convID string) string {
	t.Helper()
	ctx := context.Background()
	sent, err := e.App.Chat.Send(ctx, uuid.MustParse(u.ID), uuid.MustParse(convID), &chat.SendParams{Content: "delete the example", ClientMsgID: uuid.NewString()})
	require.NoError(t, err)
	pool := e.App.DB.Pool
	_, err = pool.Exec(ctx, `UPDATE chat_runs SET status = 'waiting_approval' WHERE id = $1`, sent.RunID)
	require.NoError(t, err)
	var id string
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO chat_approvals (user_id, conversation_id, run_id, idempotency_key, agent, tool,
		call_id, arguments, effect, reason) VALUES ($1, $2, $3, $4, 'tasks', 'delete_task', 'c1', '{}', 'destructive', 'destructive')
		RETURNING id`, u.ID, convID, sent.RunID, sent.RunID.String()+":0").Scan(&id))
	return id
}

// A body in another media type than the operation takes answers a 4xx the
// operation declares (the contract check fails the test otherwise).
func TestOpenAPIWrongMediaTypeDeclared(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	u := e.NewUser()
	for _, op := range exampleOperations(t, e) {
		path := "/api" + strings.NewReplacer("{note_id}", uuid.NewString(), "{task_id}", uuid.NewString(),
			"{goal_id}", uuid.NewString(), "{reflection_id}", uuid.NewString(), "{conversation_id}", uuid.NewString(),
			"{run_id}", uuid.NewString()).Replace(op.Path)
		raw := op.Examples["application/json"]
		if raw == nil {
			raw = []byte(`{}`)
		}
		res := e.Do(op.Method, path, raw, u.Bearer(), "Content-Type: text/plain")
		require.True(t, res.Status >= 400 && res.Status < 500, "%s: %s", op.ID, res)
	}
}
