package integration_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/integration"
	"github.com/consilium-hq/consilium/sdk"
)

var scriptTools = []sdk.Tool{
	{Name: "send_message", Description: "Send a message to a channel.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"channel":{"type":"string"},"text":{"type":"string"}},"required":["text"]}`)},
	{Name: "list_channels", Description: "List the channels.", InputSchema: json.RawMessage(`{"type":"object","properties":{}}`)},
}

func readOnly(names ...string) func(*config.Config) {
	return func(c *config.Config) { c.Plugins.Items[0].ReadOnlyTools = names }
}

// A connected user's outside tools are listed with the user's connection
// (once per ToolsCacheTTL), the admin's read-only marks on them, and run
// with the user's connection; a user who is not connected sees none and
// runs none.
func TestToolsListAndExecute(t *testing.T) {
	t.Parallel()
	e := newSyncEnv(t, readOnly("list_channels"))
	ctx := context.Background()
	e.out.mu.Lock()
	e.out.tools = scriptTools
	e.out.mu.Unlock()

	list, err := e.app.Integrations.Tools(ctx, e.user)
	require.NoError(t, err)
	require.Len(t, list, 2)
	byName := map[string]integration.Tool{}
	for _, tool := range list {
		require.Equal(t, provider, tool.Provider)
		byName[tool.Name] = tool
	}
	require.False(t, byName["send_message"].ReadOnly)
	require.True(t, byName["list_channels"].ReadOnly, "read_only_tools of the plugin item")
	require.JSONEq(t, string(scriptTools[0].InputSchema), string(byName["send_message"].InputSchema))
	_, err = e.app.Integrations.Tools(ctx, e.user)
	require.NoError(t, err)
	e.out.mu.Lock()
	require.Equal(t, 1, e.out.listCalls, "the second listing is the cached one")
	e.out.mu.Unlock()

	out, err := e.app.Integrations.ExecuteTool(ctx, e.user, provider, "send_message", json.RawMessage(`{"text":"hi"}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"echo":{"text":"hi"}}`, string(out))
	require.Equal(t, []execution{{Name: "send_message", Arguments: json.RawMessage(`{"text":"hi"}`)}}, e.out.executed())

	_, err = e.app.Integrations.ExecuteTool(ctx, e.user, provider, "send_message", json.RawMessage(`[1]`))
	var ae *apperr.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, apperr.Invalid, ae.Code, "%v", err)
	require.Len(t, ae.Fields, 1)
	require.Equal(t, "arguments", ae.Fields[0].Location)
	_, err = e.app.Integrations.ExecuteTool(ctx, e.user, "nosuch", "send_message", nil)
	require.True(t, apperr.Is(err, apperr.NotFound), "%v", err)

	other := newUser(t, e.app.DB)
	list, err = e.app.Integrations.Tools(ctx, other)
	require.NoError(t, err)
	require.Empty(t, list, "another user sees none of this user's tools")
	_, err = e.app.Integrations.ExecuteTool(ctx, other, provider, "send_message", json.RawMessage(`{"text":"x"}`))
	require.True(t, apperr.Is(err, apperr.NotFound), "%v", err)
	require.Len(t, e.out.executed(), 1, "nothing ran for the other user")
}

// Typed plugin errors become clear tool errors; refused credentials turn
// the connection to needs_reauth (off the schedule, its tools no longer
// listed, later calls refused without reaching the plugin).
func TestToolErrors(t *testing.T) {
	t.Parallel()
	e := newSyncEnv(t)
	ctx := context.Background()
	e.out.mu.Lock()
	e.out.tools = scriptTools
	e.out.toolAnswers = map[string]ctlAnswer{
		"slow":      {Error: &ctlError{Code: sdk.CodeRateLimited, Message: "too many", RetryAfterMS: 1500}},
		"refused":   {Error: &ctlError{Code: sdk.CodePermanent, Message: "channel is required"}},
		"flaky":     {Error: &ctlError{Code: sdk.CodeTemporary, Message: "upstream 502"}},
		"gone":      {Error: &ctlError{Code: sdk.CodeNotFound, Message: "no tool gone"}},
		"expired":   {Error: &ctlError{Code: sdk.CodeNeedsReauth, Message: "token expired"}},
		"misconfig": {Error: &ctlError{Code: sdk.CodeInvalidConfig, Message: "workspace unset"}},
	}
	e.out.mu.Unlock()

	for name, want := range map[string]struct {
		code apperr.Code
		msg  string
	}{
		"refused":   {apperr.Invalid, "Script refused the call: channel is required"},
		"flaky":     {apperr.Unavailable, "try again later"},
		"gone":      {apperr.NotFound, "no tool gone"},
		"misconfig": {apperr.Unavailable, "an admin must fix its plugin settings"},
	} {
		_, err := e.app.Integrations.ExecuteTool(ctx, e.user, provider, name, nil)
		var ae *apperr.Error
		require.ErrorAs(t, err, &ae, name)
		require.Equal(t, want.code, ae.Code, "%s: %v", name, err)
		require.Contains(t, ae.Message, want.msg, name)
		st, err := e.app.Integrations.Status(ctx, e.user, provider)
		require.NoError(t, err)
		require.Equal(t, integration.StateConnected, st.State, "%s leaves the connection connected", name)
	}

	// A rate limit, on a connection of its own (the host holds back that
	// connection's next calls for the wait).
	slowUser := newUser(t, e.app.DB)
	_, _, err := e.app.Integrations.Connect(ctx, slowUser, provider, "good-token")
	require.NoError(t, err)
	_, err = e.app.Integrations.ExecuteTool(ctx, slowUser, provider, "slow", nil)
	var ae *apperr.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, apperr.RateLimited, ae.Code, "%v", err)
	require.Equal(t, 1500*time.Millisecond, ae.RetryAfter)
	require.Contains(t, ae.Message, "Script asks to slow down")

	before := len(e.out.executed())
	_, err = e.app.Integrations.ExecuteTool(ctx, e.user, provider, "expired", nil)
	require.ErrorAs(t, err, &ae)
	require.Equal(t, apperr.Conflict, ae.Code, "%v", err)
	require.Contains(t, ae.Message, "the connection to Script needs to be renewed")
	st, err := e.app.Integrations.Status(ctx, e.user, provider)
	require.NoError(t, err)
	require.Equal(t, integration.StateNeedsReauth, st.State)
	require.Nil(t, st.NextSyncAt, "off the sync schedule")
	require.Contains(t, st.LastError, "token expired")

	list, err := e.app.Integrations.Tools(ctx, e.user)
	require.NoError(t, err)
	require.Empty(t, list, "a connection that needs re-auth offers no tools")
	_, err = e.app.Integrations.ExecuteTool(ctx, e.user, provider, "send_message", json.RawMessage(`{"text":"x"}`))
	require.ErrorAs(t, err, &ae)
	require.Equal(t, apperr.Conflict, ae.Code, "%v", err)
	require.Len(t, e.out.executed(), before+1, "refused before reaching the plugin")

	// Connecting again brings the tools back.
	_, _, err = e.app.Integrations.Connect(ctx, e.user, provider, "good-token")
	require.NoError(t, err)
	list, err = e.app.Integrations.Tools(ctx, e.user)
	require.NoError(t, err)
	require.Len(t, list, 2)
}
