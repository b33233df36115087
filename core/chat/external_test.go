package chat

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Outside tools get model names by the tool-name rule, unique and stable
// (the same pair always gets the same name), and a tool without an object
// schema is left out.
func TestExternalToolNames(t *testing.T) {
	t.Parallel()
	o := NewOrchestrator(OrchestratorOptions{Logger: slog.New(slog.DiscardHandler),
		Tools: []Tool{{Name: "list_tasks", Effect: EffectRead}}})
	obj := json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}}}`)
	long := strings.Repeat("x", 100)
	got := o.namedExternal(context.Background(), []ExternalTool{
		{Provider: "composio", Name: "GITHUB_LIST_ISSUES", Parameters: obj},
		{Provider: "slack", Name: "Send.Message v2"},
		{Provider: "dup", Name: "a.b", Parameters: obj},
		{Provider: "dup", Name: "a_b", Parameters: obj},
		{Provider: "list", Name: "tasks", Parameters: obj},
		{Provider: "delegate", Name: "to_planner", Parameters: obj},
		{Provider: "composio", Name: long, Parameters: obj},
		{Provider: "composio", Name: "BROKEN", Parameters: json.RawMessage(`{"type":"array"}`)},
		{Provider: "composio", Name: "BAD_JSON", Parameters: json.RawMessage(`{"type":`)},
		{Provider: "composio", Name: "BAD_PROPS", Parameters: json.RawMessage(`{"type":"object","properties":[]}`)},
	})
	var names []string
	for name, tool := range got {
		require.Regexp(t, `^[a-zA-Z0-9_-]{1,64}$`, name)
		require.Equal(t, name, tool.Name)
		require.Equal(t, EffectExternal, tool.Effect)
		names = append(names, name)
	}
	require.Len(t, got, 7, "%v", names)
	require.Contains(t, got, "composio_GITHUB_LIST_ISSUES")
	require.Equal(t, "composio", got["composio_GITHUB_LIST_ISSUES"].Provider)
	require.JSONEq(t, string(obj), string(got["composio_GITHUB_LIST_ISSUES"].Parameters))
	require.Contains(t, got, "slack_Send_Message_v2")
	require.JSONEq(t, `{"type":"object","properties":{}}`, string(got["slack_Send_Message_v2"].Parameters), "no schema: no arguments")
	require.NotContains(t, got, "dup_a_b", "two tools that would share a name both get a hash")
	require.NotContains(t, got, "list_tasks", "an outside tool never takes one of ours")
	for _, name := range names {
		require.False(t, strings.HasPrefix(name, delegatePrefix), "%s would read as a delegation", name)
		require.NotContains(t, name, "BROKEN")
		require.NotContains(t, name, "BAD_")
	}

	// The same pair gets the same name whatever else is listed.
	again := o.namedExternal(context.Background(), []ExternalTool{{Provider: "dup", Name: "a_b", Parameters: obj},
		{Provider: "dup", Name: "a.b", Parameters: obj}})
	for name := range again {
		require.Contains(t, got, name)
	}
}

// Outside output reaches the model wrapped as untrusted data, its JSON
// kept, anything else as a string, cut at MaxExternalResult.
func TestUntrustedOutput(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		out     string
		want    any
		cut     bool
		maxSize int
	}{
		"json":     {out: `{"ok":true}`, want: map[string]any{"ok": true}},
		"empty":    {out: ``, want: nil},
		"not json": {out: `plain <b>text</b>`, want: "plain <b>text</b>"},
		"too long": {out: `"` + strings.Repeat("é", MaxExternalResult) + `"`, cut: true, maxSize: MaxExternalResult + 200},
	} {
		t.Run(name, func(t *testing.T) {
			content, cut := untrustedOutput("composio", "GITHUB_GET_ISSUE", json.RawMessage(tc.out))
			require.Equal(t, tc.cut, cut)
			var got struct {
				Source    string `json:"source"`
				Tool      string `json:"tool"`
				Output    any    `json:"untrusted_output"`
				Truncated bool   `json:"truncated"`
			}
			require.NoError(t, json.Unmarshal([]byte(content), &got), content)
			require.Equal(t, "composio", got.Source)
			require.Equal(t, "GITHUB_GET_ISSUE", got.Tool)
			require.Equal(t, tc.cut, got.Truncated)
			if tc.cut {
				require.LessOrEqual(t, len(content), tc.maxSize)
				s, ok := got.Output.(string)
				require.True(t, ok)
				require.True(t, strings.HasPrefix(s, `"éé`), "the cut output keeps its start")
				require.NotContains(t, s, "\uFFFD", "cut on a character boundary")
				return
			}
			require.Equal(t, tc.want, got.Output)
		})
	}
}

// An external tool waits for approval unless marked read-only.
func TestExternalApprovalReason(t *testing.T) {
	t.Parallel()
	require.Equal(t, ReasonExternal, approvalReason(Tool{Effect: EffectExternal}, nil, false))
	require.Equal(t, "", approvalReason(Tool{Effect: EffectExternal, ReadOnly: true}, nil, false))
	require.Equal(t, ReasonUntrusted, approvalReason(Tool{Effect: EffectWrite}, nil, true))
}
