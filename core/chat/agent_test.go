package chat_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/model/modeltest"
)

// An empty ai.agents ships the team on the chat provider: the manager
// first (it answers messages that name no agent), delegating to the four
// specialists; configured agents come in config order, take the chat
// provider when they name none, and are available while their provider is.
func TestRegistry(t *testing.T) {
	t.Parallel()
	m := modeltest.New()
	models := modeltest.Source{"local": m}
	r := chat.NewRegistry(config.AI{ChatModel: "m1"}, "local", models)
	var names []string
	for _, a := range r.Agents() {
		names = append(names, a.Name)
		require.Equal(t, "local", a.Provider)
		require.Equal(t, "m1", a.Model)
		require.True(t, a.Available)
		require.NotEmpty(t, a.SystemPrompt)
		for _, tool := range a.Tools {
			if tool == config.AllExternalTools {
				require.Equal(t, "inbox", a.Name, "only the inbox agent uses outside apps' tools")
				continue
			}
			require.Contains(t, config.AgentTools, tool, "agent %s", a.Name)
		}
	}
	inbox, found := r.Agent("inbox")
	require.True(t, found)
	require.Contains(t, inbox.Tools, config.AllExternalTools, "the inbox agent gets the outside apps' tools")
	require.Equal(t, []string{"assistant", "planner", "tasks", "researcher", "inbox"}, names)
	manager, ok := r.Agent("assistant")
	require.True(t, ok)
	require.Equal(t, []string{"planner", "tasks", "researcher", "inbox"}, manager.Delegates)

	r = chat.NewRegistry(config.AI{ChatProvider: "elsewhere", Agents: []config.Agent{
		{Name: "here", Provider: "local", Delegates: []string{"there"}}, {Name: "there"}}}, "elsewhere", models)
	agents := r.Agents()
	require.Len(t, agents, 2)
	require.Equal(t, []string{"local", "elsewhere"}, []string{agents[0].Provider, agents[1].Provider})
	require.Equal(t, []bool{true, false}, []bool{agents[0].Available, agents[1].Available}, "elsewhere is not served")
	require.Equal(t, []string{"there"}, agents[0].Delegates)
	require.Equal(t, []string{}, agents[1].Tools)
	m.SetAvailable(false)
	require.False(t, r.Agents()[0].Available)
	_, ok = r.Agent("nobody")
	require.False(t, ok)
}
