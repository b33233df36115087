package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/consilium-hq/consilium/plugins/llm/internal/replay"
	"github.com/consilium-hq/consilium/sdk"
)

// anthropicNormalize makes two spellings the Messages API treats alike
// compare equal: "content": "text" and [{"type":"text","text":"text"}], and
// a tool_result with and without "is_error": false.
func anthropicNormalize(v any) any {
	m, _ := v.(map[string]any)
	msgs, _ := m["messages"].([]any)
	for _, raw := range msgs {
		msg, _ := raw.(map[string]any)
		if s, ok := msg["content"].(string); ok {
			msg["content"] = []any{map[string]any{"type": "text", "text": s}}
		}
		blocks, _ := msg["content"].([]any)
		for _, b := range blocks {
			if block, ok := b.(map[string]any); ok && block["is_error"] == false {
				delete(block, "is_error")
			}
		}
	}
	return v
}

var anthropicStrict = replay.Options{Strict: true, Normalize: anthropicNormalize,
	Headers: []string{"X-Api-Key", "Anthropic-Version"}}

func TestAnthropicChat(t *testing.T) {
	t.Parallel()
	b := setup(t, Anthropic, load(t, "anthropic/TestClient_CreateMessage.httprr"), anthropicStrict)
	resp, _, err := b.chat(t, sdk.ChatRequest{Model: "claude-3-opus-20240229", MaxTokens: 100, Temperature: ptr(0.0),
		Messages: []sdk.Message{user("Hello, how are you?")}})
	if err != nil {
		t.Fatal(err)
	}
	want := "Hello! As an AI language model, I don't have feelings, but I'm functioning properly and ready to assist you. How can I help you today?"
	if resp.Message.Content != want || resp.StopReason != "stop" || resp.Usage != (sdk.Usage{InputTokens: 13, OutputTokens: 35}) {
		t.Errorf("got %q, stop %q, usage %+v", resp.Message.Content, resp.StopReason, resp.Usage)
	}
}

func TestAnthropicChatStream(t *testing.T) {
	t.Parallel()
	b := setup(t, Anthropic, load(t, "anthropic/TestClient_CreateMessageStream.httprr"), anthropicStrict)
	resp, events, err := b.chat(t, sdk.ChatRequest{Model: "claude-3-opus-20240229", MaxTokens: 100, Temperature: ptr(0.0),
		Stream: true, Messages: []sdk.Message{user("Count from 1 to 5")}})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := streamedText(events)
	if resp.Message.Content != "1\n2\n3\n4\n5" || text != resp.Message.Content || len(events) != 3 {
		t.Errorf("content %q, streamed %q in %d events", resp.Message.Content, text, len(events))
	}
	if resp.Usage != (sdk.Usage{InputTokens: 15, OutputTokens: 13}) || resp.StopReason != "stop" {
		t.Errorf("usage %+v, stop %q", resp.Usage, resp.StopReason)
	}
}

// TestAnthropicSystemAndTools checks the request form of tools and a system
// prompt: several system messages become Anthropic's one system field.
func TestAnthropicSystemAndTools(t *testing.T) {
	t.Parallel()
	b := setup(t, Anthropic, load(t, "anthropic/TestClient_WithAnthropicBetaHeader.httprr"), replay.Options{Normalize: anthropicNormalize})
	weather := sdk.ToolDefinition{Name: "get_weather", Description: "Get the weather for a location",
		Parameters: json.RawMessage(`{"properties":{"location":{"description":"The location to get weather for","type":"string"}},"required":["location"],"type":"object"}`)}
	resp, _, err := b.chat(t, sdk.ChatRequest{Model: "claude-3-opus-20240229", MaxTokens: 100, Temperature: ptr(0.0),
		Messages: []sdk.Message{{Role: sdk.RoleSystem, Content: "You plan."}, user("What's the weather like?"),
			{Role: sdk.RoleSystem, Content: "Passages: none."}},
		Tools: []sdk.ToolDefinition{weather}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StopReason != "length" || len(resp.Message.ToolCalls) != 0 {
		t.Errorf("stop %q (the recording ran into max_tokens), calls %v", resp.StopReason, resp.Message.ToolCalls)
	}
	got := b.srv.Last(t).JSON(t)
	var recorded map[string]any
	if err := json.Unmarshal(load(t, "anthropic/TestClient_WithAnthropicBetaHeader.httprr")[0].RequestBody, &recorded); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got["tools"], recorded["tools"]) {
		t.Errorf("tools = %v\nrecorded %v", got["tools"], recorded["tools"])
	}
	if got["system"] != "You plan.\n\nPassages: none." {
		t.Errorf("system = %q", got["system"])
	}
	if msgs := got["messages"].([]any); len(msgs) != 1 {
		t.Errorf("messages = %v, want only the user's", msgs)
	}
}

func TestAnthropicToolUse(t *testing.T) {
	t.Parallel()
	b := setup(t, Anthropic, []replay.Exchange{replay.JSON(http.MethodPost, "/v1/messages", http.StatusOK,
		string(sharedFile(t, "anthropic/vercel-ai_anthropic-tool-no-args.json")))}, replay.Options{})
	resp, events, err := b.chat(t, sdk.ChatRequest{Model: "claude-3-opus-20240229", Stream: false,
		Messages: []sdk.Message{user("Update the issue list")},
		Tools:    []sdk.ToolDefinition{{Name: "updateIssueList", Description: "Update the list"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Message.ToolCalls) != 1 || resp.StopReason != "tool_calls" || len(events) != 0 {
		t.Fatalf("calls %+v, stop %q, events %d", resp.Message.ToolCalls, resp.StopReason, len(events))
	}
	tc := resp.Message.ToolCalls[0]
	if tc.ID != "toolu_01LRmxn9vGM1d2DZSDBowdZ1" || tc.Name != "updateIssueList" || string(tc.Arguments) != "{}" {
		t.Errorf("tool call %+v (%s)", tc, tc.Arguments)
	}
	if resp.Message.Content == "" || resp.Usage != (sdk.Usage{InputTokens: 602, OutputTokens: 93}) {
		t.Errorf("text %q (the text block before the tool call), usage %+v", resp.Message.Content, resp.Usage)
	}
	tools := b.srv.Last(t).JSON(t)["tools"].([]any)
	schema := tools[0].(map[string]any)["input_schema"]
	if !reflect.DeepEqual(schema, map[string]any{"type": "object", "properties": map[string]any{}}) {
		t.Errorf("a tool without parameters was offered with input_schema %v", schema)
	}
}

func TestAnthropicStreamedToolUse(t *testing.T) {
	t.Parallel()
	body := replay.SSE(sharedFile(t, "anthropic/vercel-ai_anthropic-json-tool.1.chunks.jsonl"), true, false)
	b := setup(t, Anthropic, []replay.Exchange{replay.Stream(http.MethodPost, "/v1/messages", body)}, replay.Options{})
	resp, events, err := b.chat(t, sdk.ChatRequest{Model: "claude-haiku-4-5", Stream: true,
		Messages: []sdk.Message{user("Weather?")}, Tools: []sdk.ToolDefinition{{Name: "json"}}})
	if err != nil {
		t.Fatal(err)
	}
	text, calls := streamedText(events)
	if text != "" || len(calls) != 1 || resp.StopReason != "tool_calls" {
		t.Fatalf("streamed %q and %d calls, stop %q", text, len(calls), resp.StopReason)
	}
	var args map[string]any
	if err := json.Unmarshal(calls[0].Arguments, &args); err != nil {
		t.Fatalf("arguments %s: %v", calls[0].Arguments, err)
	}
	want := map[string]any{"elements": []any{map[string]any{"location": "San Francisco", "temperature": 58.0, "condition": "sunny"}}}
	if calls[0].ID != "toolu_01KFbKqPYSuAKujiL6mTfzYA" || !reflect.DeepEqual(args, want) {
		t.Errorf("call %s %s", calls[0].ID, calls[0].Arguments)
	}
	if !reflect.DeepEqual(resp.Message.ToolCalls, calls) {
		t.Errorf("final tool calls %+v differ from the streamed ones", resp.Message.ToolCalls)
	}
	// message_start says 849 in and 10 out so far; message_delta, 47 out.
	if resp.Usage != (sdk.Usage{InputTokens: 849, OutputTokens: 47}) {
		t.Errorf("usage %+v, want 849 in and 47 out", resp.Usage)
	}
}

// cassette is the part of a VCR cassette (pydantic-ai's tests) we read.
type cassette struct {
	Interactions []struct {
		Request struct {
			ParsedBody map[string]any `yaml:"parsed_body"`
		} `yaml:"request"`
		Response struct {
			ParsedBody map[string]any `yaml:"parsed_body"`
			Status     struct {
				Code int `yaml:"code"`
			} `yaml:"status"`
		} `yaml:"response"`
	} `yaml:"interactions"`
}

func loadCassette(t *testing.T, name string) *cassette {
	t.Helper()
	var c cassette
	if err := yaml.Unmarshal(sharedFile(t, name), &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAnthropicToolResult sends the history of a recorded agent turn (a
// tool_use answered by a tool_result) and compares our messages with the
// recorded ones.
func TestAnthropicToolResult(t *testing.T) {
	t.Parallel()
	c := loadCassette(t, "anthropic/pydantic-ai_test_anthropic_tool_output.yaml")
	second := c.Interactions[1]
	b := setup(t, Anthropic, []replay.Exchange{replay.JSON(http.MethodPost, "/v1/messages", second.Response.Status.Code,
		mustJSON(t, second.Response.ParsedBody))}, replay.Options{})
	history := []sdk.Message{
		user("What is the largest city in the user country?"),
		{Role: sdk.RoleAssistant, ToolCalls: []sdk.ToolCall{{ID: "toolu_01X9wcHKKAZD9tBC711xipPa", Name: "get_user_country", Arguments: json.RawMessage(`{}`)}}},
		{Role: sdk.RoleTool, ToolCallID: "toolu_01X9wcHKKAZD9tBC711xipPa", Name: "get_user_country", Content: "Mexico"},
	}
	resp, _, err := b.chat(t, sdk.ChatRequest{Model: "claude-sonnet-4-5", Messages: history,
		Tools: []sdk.ToolDefinition{{Name: "get_user_country"}, {Name: "final_result", Description: "The final response which ends this conversation",
			Parameters: json.RawMessage(`{"properties":{"city":{"type":"string"},"country":{"type":"string"}},"required":["city","country"],"title":"CityLocation","type":"object"}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	got := anthropicNormalize(b.srv.Last(t).JSON(t)).(map[string]any)["messages"]
	var want any
	if err := json.Unmarshal([]byte(mustJSON(t, second.Request.ParsedBody["messages"])), &want); err != nil {
		t.Fatal(err)
	}
	want = anthropicNormalize(map[string]any{"messages": want}).(map[string]any)["messages"]
	if !reflect.DeepEqual(got, want) {
		t.Errorf("messages sent:\n%s\nrecorded:\n%s", mustJSON(t, got), mustJSON(t, want))
	}
	if len(resp.Message.ToolCalls) != 1 || string(resp.Message.ToolCalls[0].Arguments) != `{"city":"Mexico City","country":"Mexico"}` {
		t.Errorf("answer %+v", resp.Message.ToolCalls)
	}
}

// TestAnthropicSplitsAssistantTurns: text and two tool calls in one
// assistant turn go out as consecutive assistant messages, which the API
// combines; langchaingo would otherwise send only the first part.
func TestAnthropicSplitsAssistantTurns(t *testing.T) {
	t.Parallel()
	b := setup(t, Anthropic, load(t, "anthropic/TestClient_CreateMessage.httprr"), replay.Options{})
	history := []sdk.Message{user("Plan my day"),
		{Role: sdk.RoleAssistant, Content: "Looking.", ToolCalls: []sdk.ToolCall{
			{ID: "a", Name: "tasks", Arguments: json.RawMessage(`{"due":"today"}`)}, {ID: "b", Name: "goals"}}},
		{Role: sdk.RoleTool, ToolCallID: "a", Content: "[]"}, {Role: sdk.RoleTool, ToolCallID: "b", Content: "[]"}}
	if _, _, err := b.chat(t, sdk.ChatRequest{Messages: history}); err != nil {
		t.Fatal(err)
	}
	msgs := b.srv.Last(t).JSON(t)["messages"].([]any)
	var roles, types []string
	for _, m := range msgs {
		mm := m.(map[string]any)
		roles = append(roles, mm["role"].(string))
		for _, blk := range mm["content"].([]any) {
			types = append(types, blk.(map[string]any)["type"].(string))
		}
	}
	if !reflect.DeepEqual(roles, []string{"user", "assistant", "assistant", "assistant", "user", "user"}) ||
		!reflect.DeepEqual(types, []string{"text", "text", "tool_use", "tool_use", "tool_result", "tool_result"}) {
		t.Errorf("roles %v, blocks %v", roles, types)
	}
	if got := b.srv.Last(t).JSON(t)["model"]; got != "claude-haiku-4-5" {
		t.Errorf("model %v, want the default chat model", got)
	}
}

func TestAnthropicTranscribe(t *testing.T) {
	t.Parallel()
	b := setup(t, Anthropic, load(t, "anthropic/TestClient_CreateMessage.httprr"), replay.Options{})
	if _, err := b.p.Transcribe(context.Background(), &sdk.TranscribeRequest{Connection: b.conn, Image: tinyPNG, MIMEType: "image/png"}); err != nil {
		t.Fatal(err)
	}
	msgs := b.srv.Last(t).JSON(t)["messages"].([]any)
	img := msgs[0].(map[string]any)["content"].([]any)[0].(map[string]any)
	src, _ := img["source"].(map[string]any)
	if img["type"] != "image" || src["type"] != "base64" || src["media_type"] != "image/png" || src["data"] == "" {
		t.Errorf("image block %v", img)
	}
}

func TestAnthropicHasNoEmbeddings(t *testing.T) {
	t.Parallel()
	b := setup(t, Anthropic, nil, replay.Options{})
	_, err := b.p.Embed(context.Background(), &sdk.EmbedRequest{Connection: b.conn, Texts: []string{"x"}})
	requireCode(t, err, sdk.CodeUnimplemented)
}
