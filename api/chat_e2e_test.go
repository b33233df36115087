package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/model/modeltest"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/testsecrets"
	"github.com/consilium-hq/consilium/sdk"
)

// wireProvider runs the real llm plugin (./plugins/llm) under a plugin
// host, beside the offline local plugin (embeddings for search), pointed
// at srv, a local server speaking provider's streaming wire format.
func wireProvider(t *testing.T, provider string, srv *modeltest.WireServer) *plugin.Host {
	t.Helper()
	secret := "TEST_" + strings.ToUpper(provider) + "_KEY"
	testsecrets.Register("provider_api_key", "sk-test-"+provider)
	return aitest.Host(t, plugin.Config{Items: []plugin.PluginConfig{
		{Name: aitest.LocalName, Kind: sdk.KindLLM, Path: aitest.LocalPlugin(t), Enabled: true},
		{Name: provider, Kind: sdk.KindLLM, Path: aitest.LLMPlugin(t), Enabled: true,
			Config:    map[string]string{"provider": provider, "base_url": srv.URL},
			SecretEnv: map[string]string{"api_key": secret}},
	}}, plugin.WithLookupEnv(func(k string) (string, bool) {
		if k == secret {
			return "sk-test-" + provider, true
		}
		return "", false
	}))
}

// The end-to-end chat, over the real socket with real River
// workers, the real llm plugin process and a local server speaking
// OpenAI's and Anthropic's streaming formats (tool calls streamed in
// fragments): the manager searches the user's notes, delegates to the task
// agent, which creates a task with the real create_task tool, and answers
// citing the note it found. The task exists once, the answer's citation
// points at the note, the tool results are tool messages, and the events
// arrive in order.
func TestChatDelegationThroughTheLLMPlugin(t *testing.T) {
	t.Parallel()
	for _, provider := range []string{"openai", "anthropic"} {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			script := []modeltest.Turn{
				// The manager searches,
				{ToolCalls: []sdk.ToolCall{modeltest.Call("call_s1", "search", map[string]any{"query": "plumber"})},
					Usage: sdk.Usage{InputTokens: 812, OutputTokens: 21}},
				// delegates,
				{Text: []string{"Let me ask the task agent. "}, ToolCalls: []sdk.ToolCall{modeltest.Call("call_d1", "delegate_to_tasks",
					map[string]any{"brief": "Add a task: call the plumber before Tuesday", "expected_output": "the task you created"})}},
				// the task agent creates the task and answers,
				{ToolCalls: []sdk.ToolCall{modeltest.Call("call_c1", "create_task", map[string]any{"title": "Call the plumber"})}},
				{Text: []string{"Created the task “Call the plumber”."}},
				// and the manager answers, citing the note.
				{Text: []string{"The plumber comes on Tuesday at nine [1]. ", "I added a task to call him."},
					Usage: sdk.Usage{InputTokens: 1500, OutputTokens: 30}},
			}
			var srv *modeltest.WireServer
			if provider == "openai" {
				srv = modeltest.OpenAIServer(t, script...)
			} else {
				srv = modeltest.AnthropicServer(t, script...)
			}
			host := wireProvider(t, provider, srv)
			b := setupChat(t, apitest.Options{Workers: true, Models: host, Configure: func(c *config.Config) {
				c.Plugins.Items = append(c.Plugins.Items, plugin0(provider))
				c.AI.Agents = []config.Agent{
					{Name: "assistant", Provider: provider, Tools: []string{"search"}, Delegates: []string{"tasks"}},
					{Name: "tasks", Provider: provider, Tools: []string{"create_task"}},
				}
				c.AI.Chat.ModelTitles = false
			}})
			res := b.do(http.MethodPost, "/api/notes", map[string]any{"title": "House",
				"content": []map[string]any{{"type": "paragraph", "content": "The plumber comes on Tuesday at nine to fix the boiler."}}})
			require.Equal(t, http.StatusCreated, res.Status, res.String())
			noteID := res.Map(t)["id"].(string)
			(&aiBundle{e: b.e, u: b.u}).waitIndexed(t)

			conv := b.conversation(t)
			ws := b.dial(t, b.e, conv)
			zero := int64(0)
			ws.subscribe(&zero)
			runID := b.send(t, conv, "When does the plumber come? Remind me to call him.")["run_id"].(string)
			evs := ws.untilRunCompleted()
			last := evs[len(evs)-1]
			require.Equal(t, "completed", last["status"], "%v", evs)
			require.Equal(t, runID, last["run_id"])

			// The events, in order (consecutive deltas, batched by time
			// as well as size, counted as one).
			var seq []string
			var deltas strings.Builder
			var answer map[string]any
			for i, e := range evs {
				require.Equal(t, evs[0].seq()+int64(i), e.seq(), "gapless")
				k := e.typ()
				switch k {
				case chat.EventToolCallStarted, chat.EventToolCallFinished:
					k += " " + e["tool"].(string)
				case chat.EventAgentDelegated, chat.EventAgentReturned:
					k += " " + e["from"].(string) + ">" + e["to"].(string)
				case chat.EventMessageCompleted:
					m := e["message"].(map[string]any)
					k += " " + m["role"].(string)
					if m["role"] == "tool" {
						k += " " + m["metadata"].(map[string]any)["tool"].(string)
					}
					if m["role"] == "assistant" {
						answer = m
					}
				case chat.EventMessageDelta:
					deltas.WriteString(e["text"].(string))
					if seq[len(seq)-1] == k {
						continue
					}
				}
				seq = append(seq, k)
			}
			require.Equal(t, []string{
				"message.completed user",
				"run.started",
				"tool_call.started search", "tool_call.finished search", "message.completed tool search",
				"message.delta",
				"agent.delegated assistant>tasks",
				"tool_call.started create_task", "tool_call.finished create_task", "message.completed tool create_task",
				"agent.returned tasks>assistant", "message.completed tool delegate_to_tasks",
				"message.delta",
				"message.completed assistant",
				"run.completed",
			}, seq)

			// The answer: the deltas make it up; it cites the note.
			require.NotNil(t, answer)
			content := "Let me ask the task agent. The plumber comes on Tuesday at nine [1]. I added a task to call him."
			require.Equal(t, content, answer["content"])
			require.Equal(t, content, deltas.String())
			meta := answer["metadata"].(map[string]any)
			cites := meta["citations"].([]any)
			require.Len(t, cites, 1)
			cite := cites[0].(map[string]any)
			require.Equal(t, noteID, cite["id"])
			require.Equal(t, "note", cite["type"])
			require.EqualValues(t, 1, cite["index"])
			require.Nil(t, meta["incomplete"])
			require.Equal(t, map[string]any{"input_tokens": float64(2312), "output_tokens": float64(51)}, meta["usage"])

			// The task exists once, created by the real tool.
			tasks := b.do(http.MethodGet, "/api/tasks?limit=100", nil).Map(t)["items"].([]any)
			var titles []string
			for _, it := range tasks {
				titles = append(titles, it.(map[string]any)["title"].(string))
			}
			require.Equal(t, []string{"Call the plumber"}, titles)

			// The tool results are tool messages; the answer's metadata
			// names the calls and their messages.
			msgs := b.do(http.MethodGet, "/api/conversations/"+conv+"/messages?order=asc", nil).Map(t)["items"].([]any)
			var roles []string
			toolMsgs := map[string]map[string]any{}
			for _, m := range msgs {
				mm := m.(map[string]any)
				roles = append(roles, mm["role"].(string))
				if mm["role"] == "tool" {
					toolMsgs[mm["id"].(string)] = mm
				}
			}
			require.Equal(t, []string{"user", "tool", "tool", "tool", "assistant"}, roles)
			calls := meta["tool_calls"].([]any)
			require.Len(t, calls, 3)
			for _, c := range calls {
				cm := c.(map[string]any)
				tm := toolMsgs[cm["message_id"].(string)]
				require.NotNil(t, tm, "the tool message of %v", cm)
				require.Equal(t, cm["call_id"], tm["metadata"].(map[string]any)["call_id"])
				require.Equal(t, cm["agent"], tm["agent_id"])
			}
			var found struct {
				Passages []struct {
					N  int    `json:"n"`
					ID string `json:"id"`
				} `json:"passages"`
			}
			for _, tm := range toolMsgs {
				switch tm["metadata"].(map[string]any)["tool"] {
				case "search":
					require.NoError(t, json.Unmarshal([]byte(tm["content"].(string)), &found))
				case "delegate_to_tasks":
					require.Equal(t, "Created the task “Call the plumber”.", tm["content"])
				}
			}
			require.NotEmpty(t, found.Passages)
			require.Equal(t, noteID, found.Passages[0].ID)
			require.Equal(t, 1, found.Passages[0].N, "the passage the context numbered [1] keeps its number in the tool's result")

			// What went over the wire: five streamed calls; the delegate saw
			// only its brief and its own tool.
			reqs := srv.Requests()
			require.Len(t, reqs, 5)
			require.Zero(t, srv.Left())
			for _, r := range reqs {
				require.Equal(t, true, r.Body["stream"])
			}
			delegate := fmt.Sprint(reqs[2].Body["messages"])
			require.Contains(t, delegate, "Brief: Add a task: call the plumber before Tuesday")
			require.NotContains(t, delegate, "When does the plumber come")
			require.Len(t, reqs[2].Body["tools"], 1)
			back := fmt.Sprint(reqs[4].Body["messages"])
			require.Contains(t, back, "Created the task")
			require.Contains(t, back, "call_d1")

			// The audit log has each call once.
			rows, err := b.e.DB.Pool.Query(t.Context(), `SELECT tool FROM chat_tool_calls WHERE run_id = $1 ORDER BY id`, uuid.MustParse(runID))
			require.NoError(t, err)
			var audited []string
			for rows.Next() {
				var tool string
				require.NoError(t, rows.Scan(&tool))
				audited = append(audited, tool)
			}
			require.NoError(t, rows.Err())
			require.Equal(t, []string{"search", "create_task", "delegate_to_tasks"}, audited)

			// The provider cuts its stream mid-answer: the run fails with
			// an error naming the cause, and the text written so far is
			// kept, marked incomplete.
			srv.Script(modeltest.Turn{Text: []string{"The boiler is ", "due for"}, Err: sdk.Temporary("cut")})
			runID = b.send(t, conv, "And the boiler?")["run_id"].(string)
			evs = ws.untilRunCompleted()
			require.Equal(t, runID, evs[len(evs)-1]["run_id"])
			require.Equal(t, "failed", evs[len(evs)-1]["status"])
			errEv, partial := evs[len(evs)-2], evs[len(evs)-3]
			require.Equal(t, chat.EventError, errEv.typ())
			require.Equal(t, "model_temporary", errEv["code"])
			require.Contains(t, errEv["message"], "stopped before it was complete")
			require.Equal(t, chat.EventMessageCompleted, partial.typ())
			m := partial["message"].(map[string]any)
			require.Equal(t, "The boiler is due for", m["content"])
			pm := m["metadata"].(map[string]any)
			require.Equal(t, true, pm["incomplete"])
			require.Equal(t, "model_temporary", pm["stop_reason"])
			require.Contains(t, pm["error"], "stopped before it was complete")
			require.Equal(t, 6, len(srv.Requests()), "the cut call was not retried behind the run's back")
		})
	}
}
