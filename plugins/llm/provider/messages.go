package provider

import (
	"encoding/json"
	"strings"

	"github.com/tmc/langchaingo/llms"

	"github.com/consilium-hq/consilium/sdk"
)

// messages converts the conversation to langchaingo's form. Two provider
// quirks are handled here rather than left to fail at the provider:
//
//   - Anthropic takes one system prompt: the system messages are joined, in
//     order, into one.
//   - langchaingo's Anthropic client sends only the first part of an
//     assistant message, so an assistant turn with text and tool calls is
//     split into one assistant message per part. Anthropic's Messages API
//     combines consecutive turns of the same role into one turn.
//
// Each tool result is its own tool message, as both of langchaingo's clients
// require.
func (s *Settings) messages(in []sdk.Message) ([]llms.MessageContent, error) {
	var out []llms.MessageContent
	var system []string
	for i, m := range in {
		switch m.Role {
		case sdk.RoleSystem:
			if s.Provider == Anthropic {
				system = append(system, m.Content)
				continue
			}
			out = append(out, llms.TextParts(llms.ChatMessageTypeSystem, m.Content))
		case sdk.RoleUser:
			out = append(out, llms.TextParts(llms.ChatMessageTypeHuman, m.Content))
		case sdk.RoleAssistant:
			var parts []llms.ContentPart
			if m.Content != "" {
				parts = append(parts, llms.TextPart(m.Content))
			}
			for _, tc := range m.ToolCalls {
				parts = append(parts, llms.ToolCall{ID: tc.ID, Type: "function",
					FunctionCall: &llms.FunctionCall{Name: tc.Name, Arguments: arguments(tc.Arguments)}})
			}
			if s.Provider == Anthropic {
				for _, p := range parts {
					out = append(out, llms.MessageContent{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{p}})
				}
			} else if len(parts) > 0 {
				out = append(out, llms.MessageContent{Role: llms.ChatMessageTypeAI, Parts: parts})
			}
		case sdk.RoleTool:
			if m.ToolCallID == "" {
				return nil, sdk.Permanent("message %d: a tool message needs the id of the tool call it answers", i)
			}
			out = append(out, llms.MessageContent{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{
				llms.ToolCallResponse{ToolCallID: m.ToolCallID, Name: m.Name, Content: m.Content}}})
		default:
			return nil, sdk.Permanent("message %d has role %q, want system, user, assistant or tool", i, m.Role)
		}
	}
	if len(system) > 0 {
		out = append([]llms.MessageContent{llms.TextParts(llms.ChatMessageTypeSystem, strings.Join(system, "\n\n"))}, out...)
	}
	if len(out) == 0 {
		return nil, sdk.Permanent("the conversation has no messages")
	}
	return out, nil
}

func arguments(raw json.RawMessage) string {
	if len(strings.TrimSpace(string(raw))) == 0 {
		return "{}"
	}
	return string(raw)
}

// emptyObjectSchema is offered for tools that take no arguments.
var emptyObjectSchema = json.RawMessage(`{"type":"object","properties":{}}`)

func tools(in []sdk.ToolDefinition) []llms.Tool {
	out := make([]llms.Tool, 0, len(in))
	for _, t := range in {
		params := t.Parameters
		if len(params) == 0 {
			params = emptyObjectSchema
		}
		out = append(out, llms.Tool{Type: "function", Function: &llms.FunctionDefinition{
			Name: t.Name, Description: t.Description, Parameters: params}})
	}
	return out
}

// isToolCallChunk tells the tool-call JSON that langchaingo's openai client
// passes to the streaming function (the marshalled tool_calls delta: an array
// of {"id"?, "type", "function": {"name", "arguments"}}) from text. A text
// delta of exactly that shape is not something a model streams.
func isToolCallChunk(chunk []byte) bool {
	if len(chunk) < 2 || chunk[0] != '[' {
		return false
	}
	var calls []map[string]json.RawMessage
	if json.Unmarshal(chunk, &calls) != nil || len(calls) == 0 {
		return false
	}
	for _, c := range calls {
		fn, hasFn := c["function"]
		_, hasType := c["type"]
		if !hasFn || !hasType || len(c) > 3 {
			return false
		}
		var f map[string]json.RawMessage
		if json.Unmarshal(fn, &f) != nil {
			return false
		}
		if _, ok := f["arguments"]; !ok || len(f) != 2 {
			return false
		}
	}
	return true
}
