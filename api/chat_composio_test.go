package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/integration/integrationtest"
	"github.com/consilium-hq/consilium/core/model/modeltest"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/sharedfixtures"
	"github.com/consilium-hq/consilium/core/testsecrets"
	"github.com/consilium-hq/consilium/plugins/composio/composiotest"
	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

// composioExecutes are the tool runs the local Composio received, each as
// its tool slug and the connected account it ran for.
func composioExecutes(t *testing.T, s *composiotest.Server) [][2]string {
	t.Helper()
	var out [][2]string
	for _, r := range s.Log() {
		slug, ok := strings.CutPrefix(r.Path, "/api/v3/tools/execute/")
		if !ok || r.Method != http.MethodPost {
			continue
		}
		var body struct {
			ConnectedAccountID string `json:"connected_account_id"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &body), "%s", r.Body)
		out = append(out, [2]string{slug, body.ConnectedAccountID})
	}
	return out
}

// The chat agents use Composio's tools end to end: the real composio
// plugin process against the local Composio (composiotest, with the
// recorded Gmail tools from ../shared/fixtures/composio). A user links
// Gmail through Composio's hosted connect page; the inbox agent is then
// offered composio_<SLUG> with Composio's JSON schema; a call waits for the
// user's approval, runs once for the linked account when allowed and
// reaches the model as untrusted_output; denied, nothing reaches Composio;
// a tool the admin marked read-only runs at once; another user is offered
// none and is not connected; an account Composio expired ends the run with
// a clear tool error and turns the connection to needs_reauth.
func TestChatComposioTools(t *testing.T) {
	t.Parallel()
	catalogue := sharedfixtures.Read(t, "composio", "gmail-tools-list.json")
	s := composiotest.Start(t, composiotest.Options{Tools: catalogue})
	bin := plugintest.Build(t, "../plugins/composio")
	testsecrets.Register("composio_api_key", composiotest.APIKey)
	const keyEnv = "COMPOSIO_CHAT_TEST_API_KEY"
	lookup := func(k string) (string, bool) {
		if k == keyEnv {
			return composiotest.APIKey, true
		}
		return os.LookupEnv(k)
	}
	item := plugin.PluginConfig{Name: "composio", Kind: sdk.KindIntegration, Path: bin, Enabled: true,
		Config:        map[string]string{"base_url": s.BaseURL(), "toolkits": "gmail@20250901_00", "auth_configs": "gmail=ac_gmail"},
		SecretEnv:     map[string]string{"api_key": keyEnv},
		ReadOnlyTools: []string{"GMAIL_LIST_LABELS"}}
	host := plugin.New(plugin.Config{Items: []plugin.PluginConfig{item}}.WithDefaults(), testsecrets.Logger("composio-host"), plugin.WithLookupEnv(lookup))
	host.Start(context.Background())
	t.Cleanup(host.Stop)
	wctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, host.WaitReady(wctx))

	m := modeltest.New()
	b := setupChat(t, apitest.Options{Workers: true, Models: modeltest.Source{"scripted": m}, Integrations: host,
		Configure: func(c *config.Config) {
			c.Plugins.Items = []plugin.PluginConfig{item, plugin0("scripted")}
			c.Integrations.MasterKey = integrationtest.MasterKey
			testsecrets.Register("integration_master_key", c.Integrations.MasterKey)
			c.HTTP.PublicURL = "https://consilium.example"
			c.AI.Agents = []config.Agent{
				{Name: "inbox", Provider: "scripted", Tools: []string{config.AllExternalTools, "create_task", "list_tasks"}},
			}
			c.AI.Chat.ModelTitles = false
		}})
	status := func(u *apitest.User) map[string]any {
		t.Helper()
		res := b.e.Do(http.MethodGet, "/api/external/status/composio", nil, u.Bearer())
		require.Equal(t, http.StatusOK, res.Status, res.String())
		return res.Map(t)
	}

	// 1. The link flow: connect, Composio's connect page, the callback.
	res := b.do(http.MethodPost, "/api/external/connect/composio", map[string]any{"toolkit": "gmail"})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	authorize, _ := res.Map(t)["authorize_url"].(string)
	require.True(t, strings.HasPrefix(authorize, s.URL+"/link/"), res.String())
	noFollow := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page, err := noFollow.Get(authorize)
	require.NoError(t, err)
	page.Body.Close()
	require.Equal(t, http.StatusFound, page.StatusCode)
	back, err := url.Parse(page.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "consilium.example", back.Host)
	require.Equal(t, "/api/external/callback/composio", back.Path)
	account := back.Query().Get("connected_account_id")
	require.NotEmpty(t, account)
	res = b.e.Do(http.MethodGet, back.Path+"?"+back.RawQuery, nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, "connected", res.Map(t)["state"])
	st := status(b.u)
	require.Equal(t, "connected", st["state"])
	require.Equal(t, true, st["connected"])

	conv := b.conversation(t)
	ws := b.dial(t, b.e, conv)
	zero := int64(0)
	ws.subscribe(&zero)
	send := func(content string) string {
		t.Helper()
		res := b.do(http.MethodPost, "/api/conversations/"+conv+"/messages",
			map[string]any{"content": content, "agent_id": "inbox", "client_msg_id": uuid.NewString()})
		require.Equal(t, http.StatusAccepted, res.Status, res.String())
		return res.Map(t)["run_id"].(string)
	}
	answer := func(approvalID string, allow bool) {
		t.Helper()
		res := b.do(http.MethodPost, "/api/conversations/"+conv+"/approvals/"+approvalID, map[string]any{"allow": allow})
		require.Equal(t, http.StatusOK, res.Status, res.String())
	}
	finishedCalls := func(evs []chatEvent) []chatEvent {
		var out []chatEvent
		for _, e := range evs {
			if e.typ() == chat.EventToolCallFinished {
				out = append(out, e)
			}
		}
		return out
	}

	// 2. Offered with Composio's schema; allowed, it runs once for the
	// linked account and reaches the model as untrusted_output.
	m.Script(
		modeltest.Turn{ToolCalls: []sdk.ToolCall{modeltest.Call("c1", "composio_GMAIL_FETCH_EMAILS", map[string]any{"max_results": 2})}},
		modeltest.Turn{Text: []string{"You have two new emails."}},
	)
	n := len(m.Requests())
	runID := send("What is new in my mail?")
	evs := ws.untilType(chat.EventApprovalRequired)
	req := evs[len(evs)-1]
	require.Equal(t, runID, req["run_id"])
	require.Equal(t, "composio_GMAIL_FETCH_EMAILS", req["tool"])
	require.Equal(t, "external", req["effect"])
	require.Equal(t, chat.ReasonExternal, req["reason"])
	require.Equal(t, "composio", req["provider"])
	require.Equal(t, map[string]any{"max_results": float64(2)}, req["arguments"])
	require.Empty(t, composioExecutes(t, s), "nothing reaches Composio before the user allows it")

	var fixture []struct {
		Slug            string          `json:"slug"`
		InputParameters json.RawMessage `json:"input_parameters"`
	}
	require.NoError(t, json.Unmarshal(catalogue, &fixture))
	schemas := map[string]json.RawMessage{}
	for _, f := range fixture {
		schemas[f.Slug] = f.InputParameters
	}
	first := m.Requests()[n]
	names := toolNames(first.Tools)
	require.Subset(t, names, []string{"create_task", "list_tasks", "composio_GMAIL_FETCH_EMAILS", "composio_GMAIL_LIST_LABELS"})
	offered := 0
	for _, d := range first.Tools {
		slug, ok := strings.CutPrefix(d.Name, "composio_")
		if !ok {
			continue
		}
		offered++
		require.Contains(t, schemas, slug, "offered %s, which Composio does not list", d.Name)
		require.JSONEq(t, string(schemas[slug]), string(d.Parameters), "the schema of %s", d.Name)
		if slug == "GMAIL_FETCH_EMAILS" {
			require.NotEmpty(t, d.Description)
		}
	}
	require.Equal(t, len(s.ToolSlugs("gmail")), offered, "every Gmail tool of the catalogue is offered")

	answer(req["approval_id"].(string), true)
	evs = ws.untilRunCompleted()
	require.Equal(t, "completed", evs[len(evs)-1]["status"])
	require.Equal(t, [][2]string{{"GMAIL_FETCH_EMAILS", account}}, composioExecutes(t, s), "one run, for the linked account")
	var result struct {
		Source string         `json:"source"`
		Tool   string         `json:"tool"`
		Output map[string]any `json:"untrusted_output"`
	}
	raw := lastToolResult(t, m.Requests()[n+1])
	require.NoError(t, json.Unmarshal([]byte(raw), &result), raw)
	require.Equal(t, "composio", result.Source)
	require.Equal(t, "GMAIL_FETCH_EMAILS", result.Tool)
	require.Equal(t, account, result.Output["connected_account_id"], raw)
	require.Equal(t, map[string]any{"max_results": float64(2)}, result.Output["arguments"], raw)

	// Denied: nothing reaches Composio and the model hears it.
	m.Script(
		modeltest.Turn{ToolCalls: []sdk.ToolCall{modeltest.Call("c2", "composio_GMAIL_FETCH_EMAILS", map[string]any{"max_results": 5})}},
		modeltest.Turn{Text: []string{"I did not read your mail."}},
	)
	n = len(m.Requests())
	send("Read my mail again")
	evs = ws.untilType(chat.EventApprovalRequired)
	req = evs[len(evs)-1]
	require.Equal(t, "composio_GMAIL_FETCH_EMAILS", req["tool"])
	answer(req["approval_id"].(string), false)
	evs = ws.untilRunCompleted()
	require.Equal(t, "completed", evs[len(evs)-1]["status"])
	require.Len(t, composioExecutes(t, s), 1, "a denied call does not reach Composio")
	require.Contains(t, lastToolResult(t, m.Requests()[n+1]), "The user denied this action")

	// 3. A tool the admin marked read-only runs at once.
	m.Script(
		modeltest.Turn{ToolCalls: []sdk.ToolCall{modeltest.Call("c3", "composio_GMAIL_LIST_LABELS", map[string]any{})}},
		modeltest.Turn{Text: []string{"You have the usual labels."}},
	)
	n = len(m.Requests())
	send("Which labels do I have?")
	evs = ws.untilRunCompleted()
	require.Equal(t, "completed", evs[len(evs)-1]["status"])
	require.NotContains(t, types(evs), chat.EventApprovalRequired)
	fin := finishedCalls(evs)
	require.Len(t, fin, 1)
	require.Equal(t, "composio_GMAIL_LIST_LABELS", fin[0]["tool"])
	require.Equal(t, "completed", fin[0]["status"])
	require.Equal(t, [][2]string{{"GMAIL_FETCH_EMAILS", account}, {"GMAIL_LIST_LABELS", account}}, composioExecutes(t, s))
	require.Contains(t, lastToolResult(t, m.Requests()[n+1]), `"untrusted_output"`)

	// 5. Another user is offered none of these tools, runs none, and is
	// not connected.
	bob := b.e.NewUser()
	bst := status(bob)
	require.Equal(t, "disconnected", bst["state"], "%v", bst)
	require.Equal(t, false, bst["connected"], "%v", bst)
	res = b.e.Do(http.MethodPost, "/api/conversations", map[string]any{}, bob.Bearer())
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	bobConv := res.Map(t)["id"].(string)
	bws, dres, err := dial(t, b.e, bobConv, "", bob.Bearer())
	require.NoError(t, err, "dial: %v", dres)
	bws.subscribe(&zero)
	m.Script(
		modeltest.Turn{ToolCalls: []sdk.ToolCall{modeltest.Call("c4", "composio_GMAIL_FETCH_EMAILS", map[string]any{})}},
		modeltest.Turn{Text: []string{"I cannot read your mail."}},
	)
	n = len(m.Requests())
	res = b.e.Do(http.MethodPost, "/api/conversations/"+bobConv+"/messages",
		map[string]any{"content": "What is in my mail?", "agent_id": "inbox", "client_msg_id": uuid.NewString()}, bob.Bearer())
	require.Equal(t, http.StatusAccepted, res.Status, res.String())
	evs = bws.untilRunCompleted()
	require.Equal(t, "completed", evs[len(evs)-1]["status"])
	require.NotContains(t, types(evs), chat.EventApprovalRequired)
	for _, name := range toolNames(m.Requests()[n].Tools) {
		require.False(t, strings.HasPrefix(name, "composio_"), "bob is offered none of alice's Composio tools: %s", name)
	}
	require.Contains(t, lastToolResult(t, m.Requests()[n+1]), "there is no tool")
	require.Len(t, composioExecutes(t, s), 2, "nothing ran for bob")

	// 4. The account expired on Composio: the call fails with a clear
	// message to the model, the run completes, and the connection needs
	// re-auth.
	s.Expire(account)
	m.Script(
		modeltest.Turn{ToolCalls: []sdk.ToolCall{modeltest.Call("c5", "composio_GMAIL_LIST_LABELS", map[string]any{})}},
		modeltest.Turn{Text: []string{"Please connect Gmail again."}},
	)
	n = len(m.Requests())
	send("Which labels do I have now?")
	evs = ws.untilRunCompleted()
	require.Equal(t, "completed", evs[len(evs)-1]["status"])
	fin = finishedCalls(evs)
	require.Len(t, fin, 1)
	require.Equal(t, "composio_GMAIL_LIST_LABELS", fin[0]["tool"])
	require.Equal(t, "failed", fin[0]["status"])
	require.Contains(t, fin[0]["summary"], "the connection to Composio needs to be renewed")
	require.Contains(t, lastToolResult(t, m.Requests()[n+1]), "error: the connection to Composio needs to be renewed")
	require.Equal(t, [][2]string{{"GMAIL_FETCH_EMAILS", account}, {"GMAIL_LIST_LABELS", account}, {"GMAIL_LIST_LABELS", account}},
		composioExecutes(t, s), "the expired account met Composio once")
	st = status(b.u)
	require.Equal(t, "needs_reauth", st["state"], "%v", st)
	require.Equal(t, true, st["needs_reauth"], "%v", st)
	require.Equal(t, "disconnected", status(bob)["state"])

	// Until the user connects again, the agent is offered no Composio
	// tools.
	m.Script(modeltest.Turn{Text: []string{"Connect Gmail again first."}})
	n = len(m.Requests())
	send("And now?")
	evs = ws.untilRunCompleted()
	require.Equal(t, "completed", evs[len(evs)-1]["status"])
	for _, name := range toolNames(m.Requests()[n].Tools) {
		require.False(t, strings.HasPrefix(name, "composio_"), "a connection needing re-auth offers no tools: %s", name)
	}
	require.Len(t, composioExecutes(t, s), 3)
}
