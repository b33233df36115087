package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/model/modeltest"
	"github.com/consilium-hq/consilium/sdk"
)

// deleteTaskTool deletes one of the user's tasks through the task service
// (a destructive effect: it always waits for approval).
func deleteTaskTool(a *app.App) []chat.Tool {
	return []chat.Tool{{
		Name: "delete_task", Description: "Delete a task.", Effect: chat.EffectDestructive,
		Parameters: json.RawMessage(`{"type":"object","properties":{"task_id":{"type":"string"}},"required":["task_id"]}`),
		Run: func(ctx context.Context, call *chat.ToolCall, args json.RawMessage) (*chat.ToolResult, error) {
			var p struct {
				TaskID uuid.UUID `json:"task_id"`
			}
			if err := json.Unmarshal(args, &p); err != nil {
				return nil, err
			}
			if err := a.Tasks.Delete(ctx, call.UserID, p.TaskID, nil); err != nil {
				return nil, err
			}
			return &chat.ToolResult{Content: `{"deleted":true}`, Summary: "deleted task " + p.TaskID.String()}, nil
		},
	}}
}

// setupAgents runs the API and a worker with a "tasks" agent on a scripted
// model that may delete tasks.
func setupAgents(t *testing.T, m *modeltest.Model) *chatBundle {
	t.Helper()
	return setupChat(t, apitest.Options{Workers: true, Models: modeltest.Source{"scripted": m}, ChatTools: deleteTaskTool,
		Configure: func(c *config.Config) {
			c.Plugins.Items = append(c.Plugins.Items, plugin0("scripted"))
			c.AI.Agents = []config.Agent{{Name: "tasks", Provider: "scripted", Tools: []string{"delete_task"}}}
			c.AI.Chat.ModelTitles = false
		}})
}

// untilType reads socket events until one of type typ (acks skipped).
func (s *socket) untilType(typ string) []chatEvent {
	s.t.Helper()
	var out []chatEvent
	for {
		e := s.read()
		if e.typ() == "ack" {
			continue
		}
		out = append(out, e)
		if e.typ() == typ {
			return out
		}
	}
}

// The delete an agent wants waits for the user: approval.required on the
// stream, no worker held; the answer, over HTTP or the socket, resumes the
// run on a worker. Allowed, the task is gone; denied, it stays and the
// model hears the user said no. A second answer is 409, another user's
// 404, a missing allow 422.
func TestChatApprovalOfADelete(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		via   string
		allow bool
	}{{"http", true}, {"http", false}, {"socket", true}, {"socket", false}} {
		t.Run(fmt.Sprintf("%s allow=%v", tc.via, tc.allow), func(t *testing.T) {
			t.Parallel()
			m := modeltest.New()
			b := setupAgents(t, m)
			res := b.do(http.MethodPost, "/api/tasks", map[string]any{"title": "Cancel the gym"})
			require.Equal(t, http.StatusCreated, res.Status, res.String())
			taskID := res.Map(t)["id"].(string)
			m.Script(
				modeltest.Turn{ToolCalls: []sdk.ToolCall{modeltest.Call("x1", "delete_task", map[string]any{"task_id": taskID})}},
				modeltest.Turn{Text: []string{"Done as you said."}},
			)
			conv := b.conversation(t)
			ws := b.dial(t, b.e, conv)
			zero := int64(0)
			ws.subscribe(&zero)
			res = b.do(http.MethodPost, "/api/conversations/"+conv+"/messages",
				map[string]any{"content": "Delete the gym task", "agent_id": "tasks", "client_msg_id": uuid.NewString()})
			require.Equal(t, http.StatusAccepted, res.Status, res.String())
			runID := res.Map(t)["run_id"].(string)

			evs := ws.untilType(chat.EventApprovalRequired)
			req := evs[len(evs)-1]
			require.Equal(t, "delete_task", req["tool"])
			require.Equal(t, "destructive", req["effect"])
			require.Equal(t, map[string]any{"task_id": taskID}, req["arguments"])
			approvalID := req["approval_id"].(string)
			run := b.do(http.MethodGet, "/api/conversations/"+conv+"/runs/"+runID, nil).Map(t)
			require.Equal(t, "waiting_approval", run["status"])
			require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/api/tasks/"+taskID, nil).Status, "not deleted yet")

			path := "/api/conversations/" + conv + "/approvals/" + approvalID
			other := b.e.NewUser()
			res = b.e.Do(http.MethodPost, path, map[string]any{"allow": true}, other.Bearer())
			require.Equal(t, http.StatusNotFound, res.Status, res.String())
			res = b.do(http.MethodPost, path, map[string]any{})
			require.Equal(t, http.StatusUnprocessableEntity, res.Status, res.String())
			require.Contains(t, res.String(), "allow")
			res = b.do(http.MethodPost, "/api/conversations/"+conv+"/approvals/"+uuid.NewString(), map[string]any{"allow": true})
			require.Equal(t, http.StatusNotFound, res.Status, res.String())

			if tc.via == "http" {
				res = b.do(http.MethodPost, path, map[string]any{"allow": tc.allow})
				require.Equal(t, http.StatusOK, res.Status, res.String())
				a := res.Map(t)
				require.Equal(t, map[bool]string{true: "allowed", false: "denied"}[tc.allow], a["status"])
				require.Equal(t, runID, a["run_id"])
			} else {
				ws.sendJSON(map[string]any{"type": "approval.respond", "ref": "yes", "approval_id": approvalID, "allow": tc.allow})
			}
			evs = ws.untilRunCompleted()
			require.Equal(t, "completed", evs[len(evs)-1]["status"])
			types := types(evs)
			require.Contains(t, types, chat.EventApprovalAnswered)
			require.Contains(t, types, chat.EventRunStarted, "a worker took the run up again")
			var answer map[string]any
			for _, e := range evs {
				if e.typ() == chat.EventMessageCompleted {
					answer = e["message"].(map[string]any)
				}
			}
			require.Equal(t, "Done as you said.", answer["content"])
			calls := answer["metadata"].(map[string]any)["tool_calls"].([]any)
			require.Equal(t, approvalID, calls[0].(map[string]any)["approval_id"])

			// A second answer conflicts, over either way.
			res = b.do(http.MethodPost, path, map[string]any{"allow": !tc.allow})
			require.Equal(t, http.StatusConflict, res.Status, res.String())
			ws.sendJSON(map[string]any{"type": "approval.respond", "ref": "again", "approval_id": approvalID, "allow": true})
			for {
				e := ws.read()
				if e["ref"] == "again" {
					require.Equal(t, chat.EventError, e.typ(), "%v", e)
					require.Equal(t, "conflict", e["code"])
					break
				}
			}

			reqs := m.Requests()
			require.Len(t, reqs, 2)
			result := reqs[1].Messages[len(reqs[1].Messages)-1]
			if tc.allow {
				require.Equal(t, http.StatusNotFound, b.do(http.MethodGet, "/api/tasks/"+taskID, nil).Status, "deleted")
				require.Equal(t, `{"deleted":true}`, result.Content)
			} else {
				require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/api/tasks/"+taskID, nil).Status, "kept")
				require.Contains(t, result.Content, "The user denied this action")
			}
		})
	}
}

// With only the offline local provider, chat answers from retrieval: the
// real local plugin quotes the user's note, says plainly that no language
// model is configured, and the answer cites the note.
func TestChatOfflineAnswerCitesNote(t *testing.T) {
	t.Parallel()
	b := setupChat(t, apitest.Options{Workers: true, Models: aitest.LocalHost(t)})
	res := b.do(http.MethodPost, "/api/notes", map[string]any{"title": "House",
		"content": []map[string]any{{"type": "paragraph", "content": "The plumber comes on Tuesday at nine to fix the boiler."}}})
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	noteID := res.Map(t)["id"].(string)
	(&aiBundle{e: b.e, u: b.u}).waitIndexed(t)

	conv := b.conversation(t)
	ws := b.dial(t, b.e, conv)
	zero := int64(0)
	ws.subscribe(&zero)
	b.send(t, conv, "When does the plumber come?")
	evs := ws.untilRunCompleted()
	require.Equal(t, "completed", evs[len(evs)-1]["status"])
	var answer map[string]any
	for _, e := range evs {
		if e.typ() == chat.EventMessageCompleted && e["message"].(map[string]any)["role"] == "assistant" {
			answer = e["message"].(map[string]any)
		}
	}
	require.NotNil(t, answer)
	content := answer["content"].(string)
	require.Contains(t, content, "No language model is configured")
	require.Contains(t, content, "Tuesday at nine")
	meta := answer["metadata"].(map[string]any)
	require.Equal(t, true, meta["no_language_model"])
	cites := meta["citations"].([]any)
	require.NotEmpty(t, cites)
	require.Equal(t, noteID, cites[0].(map[string]any)["id"])
	require.Equal(t, "note", cites[0].(map[string]any)["type"])
	require.True(t, strings.HasPrefix(answer["agent_id"].(string), "assistant"))
}

// With one chat worker, a run waiting for approval holds neither the
// worker nor the conversation: the conversation's next message is
// answered meanwhile, and the waiting run resumes on that worker after the
// answer.
func TestChatWaitingApprovalFreesTheWorker(t *testing.T) {
	t.Parallel()
	m := modeltest.New()
	b := setupChat(t, apitest.Options{Workers: true, Models: modeltest.Source{"scripted": m}, ChatTools: deleteTaskTool,
		Configure: func(c *config.Config) {
			c.Plugins.Items = append(c.Plugins.Items, plugin0("scripted"))
			c.AI.Agents = []config.Agent{{Name: "tasks", Provider: "scripted", Tools: []string{"delete_task"}}}
			c.AI.Chat.ModelTitles = false
			c.Jobs.ChatWorkers = 1
		}})
	res := b.do(http.MethodPost, "/api/tasks", map[string]any{"title": "Cancel the gym"})
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	taskID := res.Map(t)["id"].(string)
	m.Script(
		modeltest.Turn{ToolCalls: []sdk.ToolCall{modeltest.Call("x1", "delete_task", map[string]any{"task_id": taskID})}},
		modeltest.Turn{Text: []string{"You have one task."}},
		modeltest.Turn{Text: []string{"Deleted."}},
	)
	conv := b.conversation(t)
	ws := b.dial(t, b.e, conv)
	zero := int64(0)
	ws.subscribe(&zero)
	send := func(content string) string {
		res := b.do(http.MethodPost, "/api/conversations/"+conv+"/messages",
			map[string]any{"content": content, "agent_id": "tasks", "client_msg_id": uuid.NewString()})
		require.Equal(t, http.StatusAccepted, res.Status, res.String())
		return res.Map(t)["run_id"].(string)
	}
	first := send("Delete the gym task")
	evs := ws.untilType(chat.EventApprovalRequired)
	approvalID := evs[len(evs)-1]["approval_id"].(string)

	second := send("How many tasks do I have?")
	evs = ws.untilRunCompleted()
	done := evs[len(evs)-1]
	require.Equal(t, second, done["run_id"], "the second run ended while the first waits")
	require.Equal(t, "completed", done["status"])
	require.Equal(t, "You have one task.", evs[len(evs)-2]["message"].(map[string]any)["content"])
	run := b.do(http.MethodGet, "/api/conversations/"+conv+"/runs/"+first, nil).Map(t)
	require.Equal(t, "waiting_approval", run["status"])

	res = b.do(http.MethodPost, "/api/conversations/"+conv+"/approvals/"+approvalID, map[string]any{"allow": true})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	evs = ws.untilRunCompleted()
	done = evs[len(evs)-1]
	require.Equal(t, first, done["run_id"])
	require.Equal(t, "completed", done["status"])
	require.Equal(t, "Deleted.", evs[len(evs)-2]["message"].(map[string]any)["content"])
	require.Equal(t, http.StatusNotFound, b.do(http.MethodGet, "/api/tasks/"+taskID, nil).Status, "deleted")
}
