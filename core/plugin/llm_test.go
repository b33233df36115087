package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/core/model/modeltest"
	"github.com/consilium-hq/consilium/sdk"
)

var llmBinary struct {
	once sync.Once
	path string
	err  error
}

// buildLLM builds the shipped llm plugin (./plugins/llm) once.
func buildLLM(t *testing.T) string {
	t.Helper()
	llmBinary.once.Do(func() {
		root, err := filepath.Abs("../..")
		if err != nil {
			llmBinary.err = err
			return
		}
		llmBinary.path = filepath.Join(testBinaries.dir, "llm")
		cmd := exec.Command("go", "build", "-o", llmBinary.path, "./plugins/llm")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			llmBinary.err = fmt.Errorf("go build ./plugins/llm: %v\n%s", err, out)
		}
	})
	if llmBinary.err != nil {
		t.Fatal(llmBinary.err)
	}
	return llmBinary.path
}

// TestLLMPluginStreamsToolCalls runs the shipped llm plugin under the host,
// as a process does, against a local server speaking OpenAI's streaming
// format, and checks what reaches the core: the text as it came, each
// complete tool call once, then the whole answer.
func TestLLMPluginStreamsToolCalls(t *testing.T) {
	t.Parallel()
	// A line of text, then two tool calls in parallel, their arguments
	// streamed in fragments split mid-JSON; then the usage chunk.
	calls := []sdk.ToolCall{
		{ID: "call_Ab12", Name: "create_task", Arguments: json.RawMessage(`{"title":"Buy \"oat\" milk","due_date":"2026-03-06"}`)},
		{ID: "call_Cd34", Name: "search", Arguments: json.RawMessage(`{"query":"milk brands"}`)},
	}
	srv := modeltest.OpenAIServer(t, modeltest.Turn{Text: []string{"Adding it", " now."}, ToolCalls: calls,
		Usage: sdk.Usage{InputTokens: 412, OutputTokens: 57}, Model: "gpt-4o-2024-08-06"})

	pc := PluginConfig{Name: "openai", Kind: sdk.KindLLM, Path: buildLLM(t), Enabled: true,
		Config:    map[string]string{"provider": "openai", "base_url": srv.URL, "chat_model": "gpt-4o"},
		SecretEnv: map[string]string{"api_key": "TEST_OPENAI_KEY"}}
	b := setup(t, testConfig(pc), WithLookupEnv(func(k string) (string, bool) {
		if k == "TEST_OPENAI_KEY" {
			return "sk-test-123", true
		}
		return "", false
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	llm, err := b.host.Model("openai")
	if err != nil {
		t.Fatal(err)
	}
	if !llm.Available() {
		t.Fatalf("the llm plugin is not running: %+v", b.host.States())
	}

	var events []sdk.ChatEvent
	resp, err := llm.Chat(ctx, &sdk.ChatRequest{Stream: true,
		Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "Add oat milk to my list and look up brands"}},
		Tools: []sdk.ToolDefinition{
			{Name: "create_task", Description: "Create a task.", Parameters: json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"},"due_date":{"type":"string","format":"date"}},"required":["title"],"additionalProperties":false}`)},
			{Name: "search", Description: "Search notes.", Parameters: json.RawMessage(`{"type":"object","properties":{"query":{"type":"string"}},"required":["query"],"additionalProperties":false}`)},
		}}, sdk.ChatStreamFunc(func(ev *sdk.ChatEvent) error {
		events = append(events, *ev)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}

	want := []sdk.ChatEvent{{Text: "Adding it"}, {Text: " now."}, {ToolCall: &calls[0]}, {ToolCall: &calls[1]}}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events:\n%s\nwant\n%s", fmtEvents(events), fmtEvents(want))
	}
	wantResp := &sdk.ChatResponse{Message: sdk.Message{Role: sdk.RoleAssistant, Content: "Adding it now.", ToolCalls: calls},
		Model: "gpt-4o", StopReason: "tool_calls", Usage: sdk.Usage{InputTokens: 412, OutputTokens: 57}}
	if !reflect.DeepEqual(resp, wantResp) {
		t.Errorf("response:\n%+v\nwant\n%+v", resp, wantResp)
	}

	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	got := reqs[0]
	if got.Path != "/v1/chat/completions" || got.Header.Get("Authorization") != "Bearer sk-test-123" {
		t.Errorf("request to %s with Authorization %q", got.Path, got.Header.Get("Authorization"))
	}
	so, _ := got.Body["stream_options"].(map[string]any)
	tools, _ := got.Body["tools"].([]any)
	if got.Body["stream"] != true || so["include_usage"] != true || got.Body["model"] != "gpt-4o" || len(tools) != 2 {
		t.Errorf("request body: %v", got.Body)
	}
}

func fmtEvents(evs []sdk.ChatEvent) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.ToolCall != nil {
			fmt.Fprintf(&b, "  call %s %s %s\n", ev.ToolCall.ID, ev.ToolCall.Name, ev.ToolCall.Arguments)
		} else {
			fmt.Fprintf(&b, "  text %q\n", ev.Text)
		}
	}
	return b.String()
}

// TestLLMPluginStreamsAnthropicToolUse: the same through the shipped
// plugin for Anthropic's format; the arguments are the model's JSON as it
// was streamed (key order and a number beyond float64 kept).
func TestLLMPluginStreamsAnthropicToolUse(t *testing.T) {
	t.Parallel()
	calls := []sdk.ToolCall{
		{ID: "toolu_01Ab12", Name: "create_task", Arguments: json.RawMessage(`{"title": "Buy \"oat\" milk", "due_date": "2026-03-06"}`)},
		{ID: "toolu_01Cd34", Name: "search", Arguments: json.RawMessage(`{"query": "milk brands", "k": 9007199254740993}`)},
	}
	srv := modeltest.AnthropicServer(t, modeltest.Turn{Text: []string{"Adding it", " now."}, ToolCalls: calls,
		Usage: sdk.Usage{InputTokens: 472, OutputTokens: 89}, Model: "claude-sonnet-4-5-20250929"})

	pc := PluginConfig{Name: "claude", Kind: sdk.KindLLM, Path: buildLLM(t), Enabled: true,
		Config:    map[string]string{"provider": "anthropic", "base_url": srv.URL, "chat_model": "claude-sonnet-4-5"},
		SecretEnv: map[string]string{"api_key": "TEST_ANTHROPIC_KEY"}}
	b := setup(t, testConfig(pc), WithLookupEnv(func(k string) (string, bool) {
		if k == "TEST_ANTHROPIC_KEY" {
			return "sk-ant-test", true
		}
		return "", false
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	llm, err := b.host.Model("claude")
	if err != nil {
		t.Fatal(err)
	}
	var events []sdk.ChatEvent
	resp, err := llm.Chat(ctx, &sdk.ChatRequest{Stream: true, MaxTokens: 1024,
		Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "Add oat milk to my list and look up brands"}},
		Tools:    []sdk.ToolDefinition{{Name: "create_task", Description: "Create a task."}, {Name: "search", Description: "Search notes."}}},
		sdk.ChatStreamFunc(func(ev *sdk.ChatEvent) error {
			events = append(events, *ev)
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	want := []sdk.ChatEvent{{Text: "Adding it"}, {Text: " now."}, {ToolCall: &calls[0]}, {ToolCall: &calls[1]}}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events:\n%s\nwant\n%s", fmtEvents(events), fmtEvents(want))
	}
	wantResp := &sdk.ChatResponse{Message: sdk.Message{Role: sdk.RoleAssistant, Content: "Adding it now.", ToolCalls: calls},
		Model: "claude-sonnet-4-5", StopReason: "tool_calls", Usage: sdk.Usage{InputTokens: 472, OutputTokens: 89}}
	if !reflect.DeepEqual(resp, wantResp) {
		t.Errorf("response:\n%+v\nwant\n%+v", resp, wantResp)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	if got := reqs[0]; got.Path != "/v1/messages" || got.Header.Get("X-Api-Key") != "sk-ant-test" || got.Body["stream"] != true {
		t.Errorf("request to %s with key %q, stream %v", got.Path, got.Header.Get("X-Api-Key"), got.Body["stream"])
	}
}
